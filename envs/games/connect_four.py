"""Connect Four: seats ``red`` and ``yellow`` drop discs into a 7-column, 6-row grid.

``red`` moves first. A move names a column, 1 (left) to 7 (right); the disc falls to the
lowest empty cell. Four discs of one colour in a row, column or diagonal win; a full grid
is a draw. Rewards: +1 to the winner, -1 to the loser, 0 each for a draw.

A reply states its column on a line ``Move: 4`` or is the digit alone (the strict format of
:mod:`._parsing`); with ``lenient=True`` the last ``column N`` or digit 1-7 mentioned is read.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from gymnpt.core.env import InvalidAction, MultiAgentEnv, Outcome

from ._parsing import (
    brief,
    focus,
    format_metrics,
    last_match,
    reply_format,
    require_text,
    strict_move,
)

__all__ = ["ConnectFourEnv", "ROWS", "COLS", "parse_column", "four_in_a_row", "episode_metrics"]

ROWS = 6
COLS = 7
_COLUMN_RE = re.compile(r"\bcol(?:umn)?\s*#?\s*([1-7])\b", re.IGNORECASE)
_DIGIT_RE = re.compile(r"(?<![-.])\b([1-7])\b(?!\.\d)")
_STRICT_RE = re.compile(r"[1-7]")
_HINT = "State one column from 1 (left) to 7 (right) on a line of its own, for example 'Move: 4'."
_SYMBOL = {"red": "R", "yellow": "Y"}


def parse_column(text: str, lenient: bool = False) -> int:
    """Read a column index (0-6) from a reply.

    Strict (default): ``Move: 4`` on a line of its own, or ``4`` alone. Lenient: in the focused
    part of the reply the last ``column N`` wins; without one, the last standalone digit 1-7.

    Raises:
        InvalidAction: when no column is stated in the expected form.
    """
    if not lenient:
        what = "one column number 1-7"
        return int(strict_move(text, label="Move", token=_STRICT_RE, what=what, hint=_HINT)) - 1
    part = focus(require_text(text, _HINT))
    m = last_match(_COLUMN_RE, part) or last_match(_DIGIT_RE, part)
    if m is None:
        raise InvalidAction(f"no column 1-7 found in {brief(part)!r}. {_HINT}")
    return int(m.group(1)) - 1


#: ``EnvSpec.metrics``: replies outside the strict format (counted in lenient runs too).
episode_metrics = format_metrics(parse_column)


def four_in_a_row(grid: list[list[str]], row: int, col: int) -> bool:
    """Whether the disc at (row, col) is part of four in a line (row 0 is the top)."""
    me = grid[row][col]
    if me == ".":
        return False
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        n = 1
        r, c = row + dr, col + dc
        while 0 <= r < ROWS and 0 <= c < COLS and grid[r][c] == me:
            n += 1
            r += dr
            c += dc
        r, c = row - dr, col - dc
        while 0 <= r < ROWS and 0 <= c < COLS and grid[r][c] == me:
            n += 1
            r -= dr
            c -= dc
        if n >= 4:
            return True
    return False


class ConnectFourEnv(MultiAgentEnv):
    """Connect Four for ``red`` (first) and ``yellow``.

    Args:
        lenient: read moves leniently (see the module docstring); strict by default.
        render_mode: ``"ansi"`` or None.

    ``reset(options={"moves": [4, 4, 3]})`` replays columns (1-7) from the empty grid first.
    """

    seats = ("red", "yellow")
    instructions = (
        "You play Connect Four on a grid of 7 columns and 6 rows. Players take turns dropping a "
        "disc into a column (1 = left, 7 = right); it falls to the lowest empty cell. Red discs are "
        "'R', yellow discs 'Y', empty cells '.'. Four of your discs in a row, column or diagonal "
        "win; a full grid is a draw.\n" + reply_format("Move", "<column>", "4", "column")
    )

    def __init__(self, lenient: bool = False, render_mode: str | None = None) -> None:
        super().__init__(render_mode=render_mode)
        self.lenient = bool(lenient)

    def seat_instructions(self, seat: str) -> str:
        return f"{self.instructions}\nYou play {seat} ('{_SYMBOL[seat]}'); red moves first."

    def _new_game(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        self.grid = [["."] * COLS for _ in range(ROWS)]
        self.heights = [0] * COLS
        self.to_move = "red"
        self.moves: list[int] = []
        self.winner: str | None = None
        for col in options.get("moves", ()):
            if self._done:
                raise ValueError("options['moves'] continues past the end of the game")
            c = int(col) - 1
            if not 0 <= c < COLS or self.heights[c] >= ROWS:
                raise ValueError(f"options['moves'] has an illegal column {col!r}")
            self._apply({self.to_move: c})

    def _to_act(self) -> list[str]:
        return [self.to_move]

    def board_text(self) -> str:
        """The grid, top row first, with column numbers underneath."""
        rows = [" ".join(r) for r in self.grid]
        return "\n".join(rows) + "\n1 2 3 4 5 6 7"

    def _observe(self, seat: str) -> str:
        board = self.board_text()
        if self._done:
            if self.winner is None:
                result = "The game is a draw."
            else:
                result = (
                    "You won."
                    if self.winner == seat
                    else f"{self.winner.capitalize()} won; you lost."
                )
            return f"{board}\nGame over. {result}"
        me = f"You are {seat} ({_SYMBOL[seat]})"
        if seat != self.to_move:
            return f"{me}.\n{board}\nWaiting for {self.to_move} to move."
        legal = ", ".join(str(c + 1) for c in range(COLS) if self.heights[c] < ROWS)
        return f"{me}; your move.\n{board}\nLegal columns: {legal}."

    def _parse(self, seat: str, text: str) -> int:
        col = parse_column(text, self.lenient)
        if self.heights[col] >= ROWS:
            raise InvalidAction(f"column {col + 1} is full; pick another column.")
        return col

    def _apply(self, moves: dict[str, Any]) -> dict[str, float]:
        seat = self.to_move
        col = moves[seat]
        row = ROWS - 1 - self.heights[col]
        self.grid[row][col] = _SYMBOL[seat]
        self.heights[col] += 1
        self.moves.append(col)
        other = "yellow" if seat == "red" else "red"
        self.to_move = other
        if four_in_a_row(self.grid, row, col):
            self.winner = seat
            self._finish({seat: Outcome.WIN, other: Outcome.LOSS}, reason=f"{seat} connected four")
            return {seat: 1.0, other: -1.0}
        if len(self.moves) == ROWS * COLS:
            self._finish({"red": Outcome.DRAW, "yellow": Outcome.DRAW}, reason="grid full")
        return {"red": 0.0, "yellow": 0.0}

    def legal_actions(self, seat: str) -> list[str]:
        """Columns ``"1"``..``"7"`` that are not full, when ``seat`` is to move; else []."""
        if self._done or seat != self.to_move:
            return []
        return [str(c + 1) for c in range(COLS) if self.heights[c] < ROWS]

    def render_text(self) -> str:
        status = "game over" if self._done else f"{self.to_move} to move"
        return f"{self.board_text()}\n{status}"
