"""Image game: the instructor makes the drawer redraw a 5x5 letter grid.

Seats: ``instructor`` (sees the target grid) and ``drawer`` (sees only the instructions).
Cells hold a capital letter or ``.`` (empty). The drawer starts from an empty grid.

* The instructor replies ``Instruction: <text>``, or ``Instruction: DONE`` when finished.
* The drawer replies with its whole current grid: five lines of five cells (letters or
  ``.``, spaces between cells allowed). Anything else is a format violation.

At most ``rounds`` instructions (6). Main score: the F1 of the drawn filled cells against
the target's (a cell counts when it holds the same letter), times 100. A played episode is a
success when the grid is exactly right, else lose.
"""

from __future__ import annotations

import random
import re
from typing import Any

import numpy as np

from gymnpt import InvalidAction

from .master import DialogueGame, after_prefix, clean

__all__ = ["ImageGame", "grid_f1", "parse_grid", "apply_instruction"]

_EMPTY = "." * 25
_PLACE_RE = re.compile(
    r"\bput\s+([A-Z])\s+in\s+((?:\s*,?\s*(?:and\s+)?row\s+\d\s+col(?:umn)?\s+\d)+)", re.IGNORECASE
)
_CLEAR_RE = re.compile(
    r"\bclear\s+((?:\s*,?\s*(?:and\s+)?row\s+\d\s+col(?:umn)?\s+\d)+)", re.IGNORECASE
)
_CELL_RE = re.compile(r"row\s+(\d)\s+col(?:umn)?\s+(\d)", re.IGNORECASE)


def grid_f1(drawn: str, target: str) -> float:
    """F1 (0-1) of the filled cells of ``drawn`` against ``target`` (same letter required)."""
    hits = sum(1 for a, b in zip(drawn, target) if a != "." and a == b)
    n_drawn = sum(1 for a in drawn if a != ".")
    n_target = sum(1 for b in target if b != ".")
    if n_target == 0 and n_drawn == 0:
        return 1.0
    if hits == 0:
        return 0.0
    p, r = hits / n_drawn, hits / n_target
    return 2 * p * r / (p + r)


def parse_grid(text: str) -> str:
    """Read a 5x5 grid (25 characters of A-Z and '.') from a reply.

    Raises:
        InvalidAction: when the reply is not five rows of five cells.
    """
    rows = []
    for line in text.strip().splitlines():
        cells = line.replace(" ", "").replace("\t", "")
        if not cells:
            continue
        rows.append(cells)
    if len(rows) != 5 or any(len(r) != 5 or not re.fullmatch(r"[A-Za-z.]{5}", r) for r in rows):
        raise InvalidAction(
            "the reply must be the whole grid: five lines of five cells, each a letter or '.'."
        )
    return "".join(rows).upper()


def apply_instruction(grid: str, text: str) -> str:
    """Apply the ``put <L> in row r column c[, row r column c ...]`` and ``clear row r column
    c[, ...]`` phrases of ``text`` to ``grid`` (in that order)."""
    cells = list(grid)
    for m in _CLEAR_RE.finditer(text):
        for r, c in _CELL_RE.findall(m.group(1)):
            if 1 <= int(r) <= 5 and 1 <= int(c) <= 5:
                cells[(int(r) - 1) * 5 + int(c) - 1] = "."
    for m in _PLACE_RE.finditer(text):
        letter = m.group(1).upper()
        for r, c in _CELL_RE.findall(m.group(2)):
            if 1 <= int(r) <= 5 and 1 <= int(c) <= 5:
                cells[(int(r) - 1) * 5 + int(c) - 1] = letter
    return "".join(cells)


def _grid_text(grid: str) -> str:
    return "\n".join(" ".join(grid[i : i + 5]) for i in range(0, 25, 5))


class ImageGame(DialogueGame):
    """The image game (see the module docstring).

    Args:
        rounds: most instructions per episode.
        filled: filled cells of the target grid.
        letters: distinct letters used in the target grid.
        **kwargs: master settings (``reprompt``, ``max_reply_chars``, ``invalid_penalty``).
    """

    game = "imagegame"
    seats = ("instructor", "drawer")
    roles = {
        "instructor": (
            "You are the instructor in a drawing game. You see a 5x5 grid of capital letters "
            "and '.' (empty). Your partner starts from an empty grid and must redraw yours from "
            "your instructions; rows and columns are numbered 1-5 from the top left. Reply with "
            "one line 'Instruction: <what to draw>'; when the drawing is complete reply "
            "'Instruction: DONE'."
        ),
        "drawer": (
            "You are the drawer in a drawing game. Your partner describes a 5x5 grid of capital "
            "letters and '.' (empty); you start from an empty grid. After each instruction "
            "reply with your whole current grid: five lines of five cells separated by spaces, "
            "for example '. A . . .'. Reply with the grid only."
        ),
    }

    def __init__(self, rounds: int = 6, filled: int = 7, letters: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if rounds < 1 or not 1 <= filled <= 25 or not 1 <= letters <= 5:
            raise ValueError("rounds >= 1, filled in 1..25 and letters in 1..5 are required")
        self.rounds = int(rounds)
        self.filled = int(filled)
        self.letters = int(letters)

    def setup(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        alphabet = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        letters = [alphabet[i] for i in rng.choice(26, size=self.letters, replace=False)]
        cells = ["."] * 25
        for i in rng.choice(25, size=self.filled, replace=False):
            cells[int(i)] = letters[int(rng.integers(len(letters)))]
        self.target = str(options.get("target") or "".join(cells))
        self.drawn = _EMPTY
        self.instructions_given: list[str] = []
        self.tell(
            "instructor",
            f"Target grid:\n{_grid_text(self.target)}\n\nYou have at most {self.rounds} "
            "instructions. Give your first instruction.",
        )
        self.next_turn("instructor")

    def parse_reply(self, seat: str, text: str) -> str:
        if seat == "instructor":
            body = after_prefix("Instruction:", text)
            if not body:
                raise InvalidAction("the reply must start with 'Instruction:'.")
            return " ".join(body.split())
        return parse_grid(text)

    def _score(self) -> None:
        f1 = grid_f1(self.drawn, self.target)
        if self.drawn == self.target:
            self.succeed(100.0 * f1, reason="the grid is exact")
        else:
            self.lose(f"the grid differs from the target (F1 {f1:.2f})", score=100.0 * f1)

    def advance(self, seat: str, move: str) -> None:
        if seat == "instructor":
            if move.upper().rstrip(".!") == "DONE":
                self._score()
                return
            self.instructions_given.append(move)
            self.tell("drawer", f"Instruction: {clean(move, 1500)}")
            self.next_turn("drawer")
            return
        self.drawn = move
        if len(self.instructions_given) >= self.rounds:
            self._score()
            return
        self.tell("instructor", f"The drawer's grid now:\n{_grid_text(move)}\nNext instruction?")
        self.next_turn("instructor")

    def view(self, seat: str) -> dict[str, Any]:
        if seat == "instructor":
            return {"target": self.target, "drawn": self.drawn}
        return {"instructions": list(self.instructions_given), "drawn": self.drawn}

    def reference_reply(self, seat: str, rng: random.Random) -> str:
        v = self.view(seat)
        if seat == "drawer":
            grid = apply_instruction(v["drawn"], v["instructions"][-1] if v["instructions"] else "")
            return _grid_text(grid)
        wrong = [i for i in range(25) if v["drawn"][i] != v["target"][i]]
        if not wrong:
            return "Instruction: DONE"
        parts: list[str] = []
        by_letter: dict[str, list[int]] = {}
        for i in wrong:
            by_letter.setdefault(v["target"][i], []).append(i)
        for letter, idx in sorted(by_letter.items()):
            where = ", ".join(f"row {i // 5 + 1} column {i % 5 + 1}" for i in idx)
            if letter == ".":
                parts.insert(0, f"clear {where}")
                continue
            where = ", ".join(f"row {i // 5 + 1} column {i % 5 + 1}" for i in idx)
            parts.append(f"put {letter} in {where}")
        return "Instruction: " + "; ".join(parts)

    def random_reply(self, seat: str, rng: random.Random) -> str:
        if seat == "instructor":
            return (
                f"Instruction: put {rng.choice('ABCXYZ')} in row {rng.randint(1, 5)} "
                f"column {rng.randint(1, 5)}"
            )
        return _grid_text("".join(rng.choice("..X") for _ in range(25)))
