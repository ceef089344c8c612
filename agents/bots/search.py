"""Depth-limited negamax with alpha-beta pruning, shared by the board-game bots.

A game plugs in through :class:`SearchGame`: states are immutable values seen from the side
to move, ``terminal`` scores finished positions, ``heuristic`` scores the frontier. Wins are
worth ``WIN - ply`` so that the search prefers quicker wins and slower losses.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any, Protocol

__all__ = ["SearchGame", "WIN", "negamax", "root_values", "choose"]

#: The value of a won position (minus the plies it takes); heuristics stay well below it.
WIN = 10_000.0
_INF = float("inf")


class SearchGame(Protocol):
    """What the search needs to know about a game."""

    def moves(self, state: Any) -> Sequence[Any]:
        """Legal moves in ``state``, best-first if possible (ordering speeds up pruning)."""
        ...

    def play(self, state: Any, move: Any) -> Any:
        """The state after ``move``, seen from the next side to move."""
        ...

    def terminal(self, state: Any, ply: int) -> float | None:
        """The value of a finished game for the side to move, or None when it goes on."""
        ...

    def heuristic(self, state: Any) -> float:
        """An estimate of ``state`` for the side to move (|value| much less than WIN)."""
        ...


def negamax(
    game: SearchGame, state: Any, depth: int, alpha: float, beta: float, ply: int = 0
) -> float:
    """The negamax value of ``state`` searched ``depth`` plies deep (fail-soft alpha-beta)."""
    done = game.terminal(state, ply)
    if done is not None:
        return done
    if depth <= 0:
        return game.heuristic(state)
    best = -_INF
    for move in game.moves(state):
        value = -negamax(game, game.play(state, move), depth - 1, -beta, -alpha, ply + 1)
        if value > best:
            best = value
            if value > alpha:
                alpha = value
                if alpha >= beta:
                    break
    return best


_CACHE: OrderedDict[Hashable, list[tuple[Any, float]]] = OrderedDict()
_CACHE_SIZE = 50_000


def root_values(
    game: SearchGame, state: Hashable, depth: int, eps: float = 1e-6
) -> list[tuple[Any, float]]:
    """Each root move with its value, exact for the moves within ``eps`` of the best.

    Moves that are clearly worse get an upper bound instead of their value (which is all that
    choosing among the best needs). Results are cached per (game type, state, depth).
    """
    key = (type(game).__name__, state, depth)
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    out: list[tuple[Any, float]] = []
    best = -_INF
    for move in game.moves(state):
        value = -negamax(game, game.play(state, move), depth - 1, -_INF, -(best - eps), 1)
        out.append((move, value))
        best = max(best, value)
    _CACHE[key] = out
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return out


def choose(
    game: SearchGame, state: Hashable, depth: int, rng: random.Random, eps: float = 1e-6
) -> Any:
    """A best move at ``depth``; ties are broken by ``rng``."""
    values = root_values(game, state, depth, eps)
    if not values:
        raise ValueError("no legal moves to choose from")
    best = max(v for _, v in values)
    ties = [m for m, v in values if v > best - eps]
    return ties[rng.randrange(len(ties))]
