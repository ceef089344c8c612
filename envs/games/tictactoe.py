"""Tic-tac-toe: seats ``x`` and ``o``; ``x`` moves first.

Cells are named by column letter and row number, ``a1`` (top left) to ``c3`` (bottom
right), ``b2`` being the centre. A reply states its cell on a line ``Move: b2`` or is the cell
alone (the strict format of :mod:`._parsing`). With ``lenient=True`` the last cell mentioned
is read instead, and three other spellings are accepted:

* a number 1-9 counted like a phone keypad: ``1 2 3`` is the top row, ``7 8 9`` the bottom;
* ``row,column`` pairs such as ``2,3`` (row 2, column 3 = ``c2``);
* ``row 2 column 3``.

Rewards: +1 to the winner, -1 to the loser, 0 each for a draw.
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

__all__ = ["TicTacToeEnv", "LINES", "winner_of", "cell_name", "parse_cell", "episode_metrics"]

#: The eight winning lines as cell indices (index = row * 3 + column).
LINES: tuple[tuple[int, int, int], ...] = (
    (0, 1, 2),
    (3, 4, 5),
    (6, 7, 8),
    (0, 3, 6),
    (1, 4, 7),
    (2, 5, 8),
    (0, 4, 8),
    (2, 4, 6),
)
_LINES_THROUGH = [tuple(line for line in LINES if i in line) for i in range(9)]
_NAMES = [f"{'abc'[i % 3]}{i // 3 + 1}" for i in range(9)]
_MOVE_RE = re.compile(
    r"row\s*(?P<r1>[1-3])\D{0,15}?col(?:umn)?\s*(?P<c1>[1-3])"
    r"|\b(?P<col>[a-c])(?P<row>[1-3])\b"
    r"|\b(?P<r2>[1-3])\s*,\s*(?P<c2>[1-3])\b"
    r"|(?<![-.])\b(?P<num>[1-9])\b(?!\.\d)",
    re.IGNORECASE,
)
_CELL_RE = re.compile(r"[a-c][1-3]", re.IGNORECASE)
_HINT = "State one empty cell on a line of its own, for example 'Move: b2'."
_LENIENT_HINT = "Reply with a cell such as 'b2' (columns a-c, rows 1-3; 1-9 keypad numbers work)."


def cell_name(index: int) -> str:
    """``0`` -> ``"a1"``, ``4`` -> ``"b2"``, ``8`` -> ``"c3"``."""
    return _NAMES[index]


def parse_cell(text: str, lenient: bool = False) -> int:
    """Read a cell index (0-8) from a reply.

    Strict (default): ``Move: b2`` on a line of its own, or ``b2`` alone. Lenient: the last
    cell mentioned in the focused part of the reply, in any of the spellings above.

    Raises:
        InvalidAction: when no cell is stated in the expected form.
    """
    if not lenient:
        cell = strict_move(
            text, label="Move", token=_CELL_RE, what="one cell such as b2", hint=_HINT
        )
        return (int(cell[1]) - 1) * 3 + "abc".index(cell[0].lower())
    part = focus(require_text(text, _LENIENT_HINT))
    m = last_match(_MOVE_RE, part)
    if m is None:
        raise InvalidAction(f"no cell found in {brief(part)!r}. {_LENIENT_HINT}")
    if m.group("r1"):
        return (int(m.group("r1")) - 1) * 3 + int(m.group("c1")) - 1
    if m.group("col"):
        return (int(m.group("row")) - 1) * 3 + "abc".index(m.group("col").lower())
    if m.group("r2"):
        return (int(m.group("r2")) - 1) * 3 + int(m.group("c2")) - 1
    return int(m.group("num")) - 1


#: ``EnvSpec.metrics``: replies outside the strict format (counted in lenient runs too).
episode_metrics = format_metrics(parse_cell)


def winner_of(cells: list[str] | str) -> str | None:
    """``"x"`` or ``"o"`` when that mark has three in a row, else None."""
    for a, b, c in LINES:
        if cells[a] != "." and cells[a] == cells[b] == cells[c]:
            return cells[a]
    return None


class TicTacToeEnv(MultiAgentEnv):
    """Tic-tac-toe for two seats, ``x`` (first) and ``o``.

    Args:
        lenient: read moves leniently (see the module docstring); strict by default.
        render_mode: ``"ansi"`` or None.

    ``reset(options={"board": "x.o......"})`` starts from a position (nine characters of
    ``x``, ``o`` and ``.``, row by row); the side to move follows from the counts.
    """

    seats = ("x", "o")
    instructions = (
        "You play tic-tac-toe on a 3x3 board. Columns are a, b, c (left to right) and rows 1, 2, 3 "
        "(top to bottom), so a1 is the top-left cell, b2 the centre and c3 the bottom-right. Get "
        "three of your marks in a row, column or diagonal to win. Empty cells are shown as '.'.\n"
        + reply_format("Move", "<cell>", "b2", "cell")
    )

    def __init__(self, lenient: bool = False, render_mode: str | None = None) -> None:
        super().__init__(render_mode=render_mode)
        self.lenient = bool(lenient)

    def seat_instructions(self, seat: str) -> str:
        return f"{self.instructions}\nYou play '{seat.upper()}'; X moves first."

    def _new_game(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        board = options.get("board")
        if board is None:
            self.cells = ["."] * 9
        else:
            text = str(board).lower()
            if (
                len(text) != 9
                or set(text) - set("xo.")
                or not 0 <= text.count("x") - text.count("o") <= 1
            ):
                raise ValueError(
                    f"board must be 9 characters of x, o and '.', with x moving first; got {board!r}"
                )
            if winner_of(text):
                raise ValueError(f"board {board!r} is already won")
            self.cells = list(text)
        self.to_move = "x" if self.cells.count("x") == self.cells.count("o") else "o"
        self.moves: list[int] = []
        self.winner: str | None = None
        if "." not in self.cells:
            self._finish({"x": Outcome.DRAW, "o": Outcome.DRAW}, reason="board full")

    def _to_act(self) -> list[str]:
        return [self.to_move]

    def board_text(self) -> str:
        """The board with coordinates."""
        c = [ch.upper() for ch in self.cells]
        return (
            "   a   b   c\n"
            f"1  {c[0]} | {c[1]} | {c[2]}\n  ---+---+---\n"
            f"2  {c[3]} | {c[4]} | {c[5]}\n  ---+---+---\n"
            f"3  {c[6]} | {c[7]} | {c[8]}"
        )

    def _observe(self, seat: str) -> str:
        board = self.board_text()
        if self._done:
            if self.winner is None:
                result = "The game is a draw."
            else:
                result = (
                    "You won." if self.winner == seat else f"{self.winner.upper()} won; you lost."
                )
            return f"{board}\nGame over. {result}"
        if seat != self.to_move:
            return f"You are {seat.upper()}.\n{board}\nWaiting for {self.to_move.upper()} to move."
        legal = ", ".join(_NAMES[i] for i in range(9) if self.cells[i] == ".")
        return f"You are {seat.upper()}; your move.\n{board}\nLegal moves: {legal}."

    def _parse(self, seat: str, text: str) -> int:
        cell = parse_cell(text, self.lenient)
        if self.cells[cell] != ".":
            raise InvalidAction(
                f"cell {_NAMES[cell]} is taken by {self.cells[cell].upper()}; pick an empty cell."
            )
        return cell

    def _apply(self, moves: dict[str, Any]) -> dict[str, float]:
        seat = self.to_move
        cell = moves[seat]
        self.cells[cell] = seat
        self.moves.append(cell)
        other = "o" if seat == "x" else "x"
        self.to_move = other
        cells = self.cells
        for a, b, c in _LINES_THROUGH[cell]:
            if cells[a] == cells[b] == cells[c]:
                self.winner = seat
                self._finish(
                    {seat: Outcome.WIN, other: Outcome.LOSS}, reason=f"{seat} made three in a row"
                )
                return {seat: 1.0, other: -1.0}
        if "." not in cells:
            self._finish({"x": Outcome.DRAW, "o": Outcome.DRAW}, reason="board full")
        return {"x": 0.0, "o": 0.0}

    def legal_actions(self, seat: str) -> list[str]:
        """Empty cells as ``a1``..``c3`` when ``seat`` is to move, else []."""
        if self._done or seat != self.to_move:
            return []
        return [_NAMES[i] for i in range(9) if self.cells[i] == "."]

    def render_text(self) -> str:
        status = "game over" if self._done else f"{self.to_move.upper()} to move"
        return f"{self.board_text()}\n{status}"
