"""``bot:minimax`` for tic-tac-toe: alpha-beta search, perfect play by default.

``level`` is the search depth in plies (``bot:minimax-2`` looks two moves ahead and then
scores open lines); the default searches to the end of the game, which never loses. Among
equally good moves the bot picks at random (seeded), so its games vary.
"""

from __future__ import annotations

from typing import Any

from gymnpt.envs.games.tictactoe import LINES, TicTacToeEnv, cell_name
from gymnpt.rollout.policy import Request

from .base import GameBot, game_of
from .search import WIN, choose

__all__ = ["TicTacToeSearch", "MinimaxTicTacToe", "make_minimax", "state_of"]

_LINE_MASKS = tuple((1 << a) | (1 << b) | (1 << c) for a, b, c in LINES)
_ORDER = (4, 0, 2, 6, 8, 1, 3, 5, 7)
_FULL = (1 << 9) - 1
_LINE_VALUE = (0, 1, 10, 100)


class TicTacToeSearch:
    """Tic-tac-toe for :mod:`.search`: a state is (my marks, opponent's marks) as 9-bit masks."""

    def moves(self, state: tuple[int, int]) -> list[int]:
        taken = state[0] | state[1]
        return [i for i in _ORDER if not taken >> i & 1]

    def play(self, state: tuple[int, int], move: int) -> tuple[int, int]:
        return state[1], state[0] | (1 << move)

    def terminal(self, state: tuple[int, int], ply: int) -> float | None:
        opp = state[1]
        for m in _LINE_MASKS:
            if opp & m == m:
                return -(WIN - ply)
        return 0.0 if state[0] | state[1] == _FULL else None

    def heuristic(self, state: tuple[int, int]) -> float:
        me, opp = state
        score = 0
        for m in _LINE_MASKS:
            if not opp & m:
                score += _LINE_VALUE[(me & m).bit_count()]
            elif not me & m:
                score -= _LINE_VALUE[(opp & m).bit_count()]
        return float(score)


def state_of(env: TicTacToeEnv) -> tuple[int, int]:
    """The search state of the live game, from the side to move."""
    me = opp = 0
    for i, ch in enumerate(env.cells):
        if ch == env.to_move:
            me |= 1 << i
        elif ch != ".":
            opp |= 1 << i
    return me, opp


class MinimaxTicTacToe(GameBot):
    """Alpha-beta tic-tac-toe bot.

    Args:
        level: search depth in plies; None (default) searches to the end (perfect play).
    """

    name = "bot:minimax"

    def __init__(self, env_id: str | None = None, level: int | None = None, **kwargs: Any) -> None:
        super().__init__(env_id=env_id, **kwargs)
        if level is not None and (not isinstance(level, int) or level < 1):
            raise ValueError(f"level (search depth) must be a positive integer, got {level!r}")
        self.depth = 9 if level is None else min(level, 9)
        if level is not None and kwargs.get("name") is None:
            self.name = f"bot:minimax-{level}"
        self.search = TicTacToeSearch()

    def act(self, request: Request) -> str:
        game = game_of(request, TicTacToeEnv)
        move = choose(self.search, state_of(game), self.depth, self.rng_for(request, game))
        return cell_name(move)


def make_minimax(env_id: str | None = None, **kwargs: Any) -> MinimaxTicTacToe:
    """Factory of ``bot:minimax`` for tic-tac-toe."""
    return MinimaxTicTacToe(env_id=env_id, **kwargs)
