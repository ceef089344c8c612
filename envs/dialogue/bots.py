"""Reference and random players of the dialogue games (``bot:reference``, ``bot:random``).

A bot reads only what its seat has been told (:meth:`DialogueGame.view` of the live game
that the rollout engine hands it in ``Request.env``) and answers in the game's form. Its
randomness is derived from the bot's seed, the episode seed, the seat and the turn, so the
same seeds replay the same episodes however they are batched.
"""

from __future__ import annotations

import random
from typing import Any

from gymnpt import BasePolicy, Request

from .master import DialogueGame

__all__ = ["DialogueBot", "make_reference", "make_random"]


class DialogueBot(BasePolicy):
    """A scripted player for every seat of every dialogue game.

    Args:
        kind: ``"reference"`` (strong) or ``"random"`` (well-formed random replies).
        env_id: the env the bot was made for (informational).
        seed: base seed of the bot's random choices.
        name: the bot's name in trajectories and tables.
    """

    def __init__(
        self,
        kind: str = "reference",
        env_id: str | None = None,
        seed: int = 0,
        name: str | None = None,
        **_: Any,
    ) -> None:
        if kind not in ("reference", "random"):
            raise ValueError(f"kind must be 'reference' or 'random', got {kind!r}")
        self.kind = kind
        self.env_id = env_id
        self.seed = int(seed)
        self.name = name or f"bot:{kind}"

    def act(self, request: Request) -> str:
        env = request.env
        game = getattr(env, "unwrapped", env)
        if not isinstance(game, DialogueGame):
            raise ValueError(
                f"{self.name} plays the dialogue games through the rollout engine "
                f"(it needs Request.env), not {type(game).__name__}"
            )
        episode = game.seed if game.seed is not None else request.episode_id
        n = game.requests[request.seat]["requests"]
        rng = random.Random(f"{self.seed}|{episode}|{request.seat}|{n}")
        if self.kind == "random":
            return game.random_reply(request.seat, rng)
        return game.reference_reply(request.seat, rng)


def make_reference(env_id: str | None = None, **kwargs: Any) -> DialogueBot:
    """Factory of ``bot:reference``."""
    return DialogueBot("reference", env_id=env_id, **kwargs)


def make_random(env_id: str | None = None, **kwargs: Any) -> DialogueBot:
    """Factory of ``bot:random``."""
    return DialogueBot("random", env_id=env_id, **kwargs)
