"""``bot:random`` for any env that lists its legal moves."""

from __future__ import annotations

from typing import Any

from gymnpt.rollout.policy import Request

from .base import GameBot, game_of

__all__ = ["RandomBot", "make_random"]


class RandomBot(GameBot):
    """Plays a uniformly random move from the env's ``legal_actions(seat)``."""

    name = "bot:random"

    def act(self, request: Request) -> str:
        game = game_of(request)
        legal_fn = getattr(request.env, "legal_actions", None) or getattr(
            game, "legal_actions", None
        )
        legal = legal_fn(request.seat) if callable(legal_fn) else None
        if not legal:
            raise ValueError(
                f"bot:random cannot play {type(game).__name__}: it does not list legal moves for seat "
                f"{request.seat!r} (legal_actions returned {legal!r})"
            )
        return legal[self.rng_for(request, game).randrange(len(legal))]


def make_random(env_id: str | None = None, **kwargs: Any) -> RandomBot:
    """Factory of the generic ``bot:random``."""
    return RandomBot(env_id=env_id, **kwargs)
