"""``bot:greedy`` for Snake: head for the nearest apple, but never into a trap.

For each move that does not die at once, the bot runs one breadth-first search from the new
head over the cells that would be free. It prefers, in order: not stepping next to another
snake's head (a possible head-on crash), keeping at least as much reachable room as the
snake is long (so it cannot wall itself in), the shortest path to an apple, and then the
most reachable room. With no apple reachable it simply keeps the most room. Ties are broken
at random (seeded).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from gymnpt.envs.games.snake import DIRECTIONS, SnakeBoard, SnakeEnv, SnakeMultiEnv
from gymnpt.rollout.policy import Request

from .base import GameBot, game_of

__all__ = ["GreedySnakeBot", "make_greedy", "explore"]

_STEPS = tuple(DIRECTIONS.values())


def explore(
    board: SnakeBoard, start: tuple[int, int], blocked: set[tuple[int, int]]
) -> tuple[int, int | None]:
    """BFS from ``start`` over cells not in ``blocked``: (cells reachable, steps to the nearest apple)."""
    size = board.size
    apples = set(board.apples)
    seen = {start}
    frontier = deque([(start, 0)])
    nearest: int | None = None
    while frontier:
        (r, c), d = frontier.popleft()
        if nearest is None and (r, c) in apples:
            nearest = d
        for dr, dc in _STEPS:
            nxt = (r + dr, c + dc)
            if nxt in seen or nxt in blocked or not (0 <= nxt[0] < size and 0 <= nxt[1] < size):
                continue
            seen.add(nxt)
            frontier.append((nxt, d + 1))
    return len(seen), nearest


class GreedySnakeBot(GameBot):
    """Greedy-but-safe Snake bot for ``snake`` and ``snake-multi``."""

    name = "bot:greedy"

    def act(self, request: Request) -> str:
        game = game_of(request, (SnakeEnv, SnakeMultiEnv))
        board: SnakeBoard = game.board
        index = 0 if isinstance(game, SnakeEnv) else game.seats.index(request.seat)
        me = board.snakes[index]
        legal = me.legal_moves()
        size = board.size
        apples = set(board.apples)
        tail = me.body[-1]
        danger: set[tuple[int, int]] = set()
        for j, other in enumerate(board.snakes):
            if j != index and other.alive:
                hr, hc = other.head
                danger.update((hr + dr, hc + dc) for dr, dc in _STEPS)
        scored: list[tuple[tuple[Any, ...], str]] = []
        hr, hc = me.head
        for move in legal:
            dr, dc = DIRECTIONS[move]
            nh = (hr + dr, hc + dc)
            if not (0 <= nh[0] < size and 0 <= nh[1] < size):
                continue
            eats = nh in apples
            if nh in board.occupied and not (nh == tail and not eats and len(me.body) > 1):
                continue
            blocked = set(board.occupied)
            if not eats:
                blocked.discard(tail)
            room, nearest = explore(board, nh, blocked)
            if eats:
                nearest = 0
            roomy = room >= len(me.body) + (1 if eats else 0)
            key = (nh not in danger, roomy, -nearest if nearest is not None else -(10**6), room)
            scored.append((key, move))
        if not scored:  # every move dies; any legal one will do
            return legal[self.rng_for(request, game).randrange(len(legal))]
        best = max(k for k, _ in scored)
        ties = [m for k, m in scored if k == best]
        return ties[self.rng_for(request, game).randrange(len(ties))]


def make_greedy(env_id: str | None = None, **kwargs: Any) -> GreedySnakeBot:
    """Factory of ``bot:greedy``."""
    kwargs.pop("level", None)
    return GreedySnakeBot(env_id=env_id, **kwargs)
