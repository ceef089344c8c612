"""``bot:minimax`` for Connect Four: depth-limited alpha-beta over bitboards.

``level`` is the search depth in plies (default 4). At the frontier a position is scored by
its open windows of four cells: +2 / +5 for each window holding two / three of the mover's
discs and none of the opponent's, -2 / -4 for the opponent's, and +3 per disc in the centre
column (weighting the opponent's threats more makes deep searches timid: measured, depth 4
then lost to depth 2). Wins found by the search are worth far more than any heuristic score, and quicker
wins more than slower ones, so a deeper search plays strictly more tactically.

Bitboard layout: bit ``col * 7 + row`` (row 0 at the bottom), with one spare bit on top of
each column so that shifts never wrap between columns.
"""

from __future__ import annotations

from typing import Any

from gymnpt.envs.games.connect_four import COLS, ROWS, ConnectFourEnv
from gymnpt.rollout.policy import Request

from .base import GameBot, game_of
from .search import WIN, choose

__all__ = ["ConnectFourSearch", "MinimaxConnectFour", "make_minimax", "state_of"]

_H = ROWS + 1
_ORDER = (3, 2, 4, 1, 5, 0, 6)
_BOTTOM = [1 << (c * _H) for c in range(COLS)]
_TOP = [1 << (c * _H + ROWS - 1) for c in range(COLS)]
_CENTER = ((1 << ROWS) - 1) << (3 * _H)


def _windows() -> tuple[int, ...]:
    out = []
    for c in range(COLS):
        for r in range(ROWS):
            for dc, dr in ((1, 0), (0, 1), (1, 1), (1, -1)):
                cells = [(c + dc * k, r + dr * k) for k in range(4)]
                if all(0 <= cc < COLS and 0 <= rr < ROWS for cc, rr in cells):
                    mask = 0
                    for cc, rr in cells:
                        mask |= 1 << (cc * _H + rr)
                    out.append(mask)
    return tuple(out)


_WINDOWS = _windows()
_MINE = (0, 0, 2, 5, 0)
_THEIRS = (0, 0, 2, 4, 0)


def _aligned(pos: int) -> bool:
    for shift in (1, _H, _H - 1, _H + 1):
        m = pos & (pos >> shift)
        if m & (m >> (2 * shift)):
            return True
    return False


class ConnectFourSearch:
    """Connect Four for :mod:`.search`: a state is (mover's discs, all discs, discs played)."""

    def moves(self, state: tuple[int, int, int]) -> list[int]:
        mask = state[1]
        return [c for c in _ORDER if not mask & _TOP[c]]

    def play(self, state: tuple[int, int, int], col: int) -> tuple[int, int, int]:
        current, mask, n = state
        return current ^ mask, mask | (mask + _BOTTOM[col]), n + 1

    def terminal(self, state: tuple[int, int, int], ply: int) -> float | None:
        current, mask, n = state
        if _aligned(current ^ mask):  # the side that just moved
            return -(WIN - ply)
        return 0.0 if n >= ROWS * COLS else None

    def heuristic(self, state: tuple[int, int, int]) -> float:
        me, mask, _ = state
        opp = me ^ mask
        score = 3 * ((me & _CENTER).bit_count() - (opp & _CENTER).bit_count())
        for w in _WINDOWS:
            if not opp & w:
                score += _MINE[(me & w).bit_count()]
            elif not me & w:
                score -= _THEIRS[(opp & w).bit_count()]
        return float(score)


def state_of(env: ConnectFourEnv) -> tuple[int, int, int]:
    """The search state of the live game, from the side to move."""
    me_sym = "R" if env.to_move == "red" else "Y"
    current = mask = 0
    for c in range(COLS):
        for r in range(ROWS):
            ch = env.grid[ROWS - 1 - r][c]
            if ch == ".":
                break
            bit = 1 << (c * _H + r)
            mask |= bit
            if ch == me_sym:
                current |= bit
    return current, mask, len(env.moves)


class MinimaxConnectFour(GameBot):
    """Alpha-beta Connect Four bot.

    Args:
        level: search depth in plies (default 4).
    """

    name = "bot:minimax"

    def __init__(self, env_id: str | None = None, level: int | None = None, **kwargs: Any) -> None:
        super().__init__(env_id=env_id, **kwargs)
        if level is not None and (not isinstance(level, int) or level < 1):
            raise ValueError(f"level (search depth) must be a positive integer, got {level!r}")
        self.depth = 4 if level is None else level
        if level is not None and kwargs.get("name") is None:
            self.name = f"bot:minimax-{level}"
        self.search = ConnectFourSearch()

    def act(self, request: Request) -> str:
        game = game_of(request, ConnectFourEnv)
        col = choose(self.search, state_of(game), self.depth, self.rng_for(request, game))
        return str(col + 1)


def make_minimax(env_id: str | None = None, **kwargs: Any) -> MinimaxConnectFour:
    """Factory of ``bot:minimax`` for Connect Four."""
    return MinimaxConnectFour(env_id=env_id, **kwargs)
