"""Bots for Wordle: ``bot:solver`` (consistent candidates) and ``bot:random``."""

from __future__ import annotations

from typing import Any

from gymnpt.envs.games.wordle import WordleEnv, score_guess
from gymnpt.rollout.policy import Request

from .base import GameBot, game_of

__all__ = ["WordleSolver", "RandomWordBot", "make_solver", "make_random", "candidates"]


def candidates(answers: tuple[str, ...] | list[str], history: list[tuple[str, str]]) -> list[str]:
    """The answers that would have produced every (guess, feedback) pair in ``history``."""
    out = list(answers)
    for guess, marks in history:
        out = [w for w in out if score_guess(guess, w) == marks]
    return out


class WordleSolver(GameBot):
    """Keeps the answers consistent with all feedback so far and guesses one of them.

    The first guess is ``opener`` (default ``slate``); later guesses are a seeded random pick
    among the consistent candidates.

    Args:
        opener: the first guess (a valid word), or None to start at random.
    """

    name = "bot:solver"

    def __init__(
        self, env_id: str | None = None, opener: str | None = "slate", **kwargs: Any
    ) -> None:
        super().__init__(env_id=env_id, **kwargs)
        self.opener = opener.lower() if opener else None

    def act(self, request: Request) -> str:
        game = game_of(request, WordleEnv)
        if not game.history and self.opener and self.opener in game.valid:
            return self.opener.upper()
        pool = candidates(game.answers, game.history)
        if not pool:  # the secret is a guess-list word: fall back to that list
            pool = candidates(sorted(game.valid), game.history)
        return pool[self.rng_for(request, game).randrange(len(pool))].upper()


class RandomWordBot(GameBot):
    """Guesses a random valid word, ignoring the feedback."""

    name = "bot:random"

    def act(self, request: Request) -> str:
        game = game_of(request, WordleEnv)
        words = game.answers
        return words[self.rng_for(request, game).randrange(len(words))].upper()


def make_solver(env_id: str | None = None, **kwargs: Any) -> WordleSolver:
    """Factory of ``bot:solver``."""
    kwargs.pop("level", None)
    return WordleSolver(env_id=env_id, **kwargs)


def make_random(env_id: str | None = None, **kwargs: Any) -> RandomWordBot:
    """Factory of ``bot:random`` for Wordle."""
    kwargs.pop("level", None)
    return RandomWordBot(env_id=env_id, **kwargs)
