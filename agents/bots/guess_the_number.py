"""Bots for guess the number: ``bot:binary`` (bisection) and ``bot:random``."""

from __future__ import annotations

from typing import Any

from gymnpt.envs.games.guess_the_number import GuessTheNumberEnv
from gymnpt.rollout.policy import Request

from .base import GameBot, game_of

__all__ = ["BinarySearchBot", "RandomGuessBot", "make_binary", "make_random"]


class BinarySearchBot(GameBot):
    """Guesses the middle of the range still consistent with the hints.

    It needs at most ``ceil(log2(high - low + 2))`` guesses.
    """

    name = "bot:binary"

    def act(self, request: Request) -> str:
        game = game_of(request, GuessTheNumberEnv)
        return f"Guess: {(game.lo + game.hi) // 2}"


class RandomGuessBot(GameBot):
    """Guesses uniformly at random.

    Args:
        consistent: draw from the range still consistent with the hints (default); when
            False, from the whole range.
    """

    name = "bot:random"

    def __init__(self, env_id: str | None = None, consistent: bool = True, **kwargs: Any) -> None:
        super().__init__(env_id=env_id, **kwargs)
        self.consistent = bool(consistent)

    def act(self, request: Request) -> str:
        game = game_of(request, GuessTheNumberEnv)
        lo, hi = (game.lo, game.hi) if self.consistent else (game.low, game.high)
        return f"Guess: {self.rng_for(request, game).randint(lo, hi)}"


def make_binary(env_id: str | None = None, **kwargs: Any) -> BinarySearchBot:
    """Factory of ``bot:binary``."""
    kwargs.pop("level", None)
    return BinarySearchBot(env_id=env_id, **kwargs)


def make_random(env_id: str | None = None, **kwargs: Any) -> RandomGuessBot:
    """Factory of ``bot:random`` for guess the number."""
    kwargs.pop("level", None)
    return RandomGuessBot(env_id=env_id, **kwargs)
