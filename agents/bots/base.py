"""The base class of the scripted bots.

A bot reads the live game from ``request.env`` (the env the rollout engine plays; for
single-agent envs its ``.unwrapped`` is the game) and answers with a move in the game's
canonical notation. Its randomness comes from :meth:`GameBot.rng_for`, which derives a
generator from the bot's ``seed``, the episode's seed, the turn and the seat, so the same
seeds replay the same games however episodes are interleaved or batched.
"""

from __future__ import annotations

import random
from typing import Any

from gymnpt.rollout.policy import BasePolicy, Request

__all__ = ["GameBot", "game_of"]


def game_of(request: Request, expected: type | tuple[type, ...] | None = None) -> Any:
    """The live game object of ``request`` (``request.env.unwrapped`` when there is one).

    Raises:
        ValueError: when the request carries no env, or the game is not of ``expected`` type.
    """
    env = request.env
    if env is None:
        raise ValueError(
            "a scripted bot needs Request.env (the live game); it can only play through the "
            "rollout engine or an env it is handed, not over a network API"
        )
    game = getattr(env, "unwrapped", env)
    if expected is not None and not isinstance(game, expected):
        names = (
            expected.__name__
            if isinstance(expected, type)
            else "/".join(t.__name__ for t in expected)
        )
        raise ValueError(f"this bot plays {names}, not {type(game).__name__}")
    return game


class GameBot(BasePolicy):
    """A scripted bot: subclasses implement :meth:`act`.

    Args:
        env_id: the env the bot was made for (informational).
        seed: base seed of the bot's random choices.
        name: the bot's name in trajectories and tables.
    """

    name = "bot"

    def __init__(
        self, env_id: str | None = None, seed: int = 0, name: str | None = None, **_: Any
    ) -> None:
        self.env_id = env_id
        self.seed = int(seed)
        if name is not None:
            self.name = name

    def rng_for(self, request: Request, game: Any) -> random.Random:
        """A generator determined by the bot seed, episode seed, turn, seat and retry count."""
        stats = getattr(game, "_seat_state", {}).get(request.seat)
        retry = getattr(stats, "invalid_moves", 0)
        episode = getattr(game, "seed", None)
        if episode is None:  # an unseeded episode: fall back to the engine's episode id
            episode = request.episode_id
        key = f"{self.seed}|{episode}|{getattr(game, 'turn', 0)}|{request.seat}|{retry}"
        return random.Random(key)
