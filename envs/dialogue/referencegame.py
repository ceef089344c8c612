"""Reference game: the describer refers to one of three grids; the guesser picks it.

Seats: ``describer`` and ``guesser``. Both see the same three 5x5 grids of ``X`` (filled)
and ``.`` (empty), each in its own order; only the describer is told which one is the
target. The two distractors differ from the target in a few cells.

* The describer replies ``Expression: <text>`` (any text that singles out the target).
* The guesser replies ``Answer: first``, ``Answer: second`` or ``Answer: third``.

One round. Main score: 100 when the guesser picks the target, else 0 (lose).
"""

from __future__ import annotations

import random
import re
from typing import Any

import numpy as np

from gymnpt import InvalidAction

from .master import DialogueGame, after_prefix, clean

__all__ = ["ReferenceGame", "grid_text", "ORDINALS"]

ORDINALS = ("first", "second", "third")
_ROW_RE = re.compile(r"[X.]{5}")
_ANSWER_RE = re.compile(r"^(first|second|third)\b", re.IGNORECASE)


def grid_text(grid: str) -> str:
    """A 25-character grid as five lines of five characters."""
    return "\n".join(grid[i : i + 5] for i in range(0, 25, 5))


def _grids_block(grids: list[str]) -> str:
    return "\n\n".join(
        f"{ORDINALS[i].capitalize()} grid:\n{grid_text(g)}" for i, g in enumerate(grids)
    )


class ReferenceGame(DialogueGame):
    """The reference game (see the module docstring).

    Args:
        filled: number of filled cells of the target grid.
        changes: cells flipped to make each distractor.
        **kwargs: master settings (``reprompt``, ``max_reply_chars``, ``invalid_penalty``).
    """

    game = "referencegame"
    seats = ("describer", "guesser")
    roles = {
        "describer": (
            "You are playing a reference game as the describer. You see three 5x5 grids made "
            "of 'X' (filled) and '.' (empty) and are told which one is the target. Your partner "
            "sees the same grids, possibly in another order. Write one expression that lets "
            "your partner pick the target. Reply with one line starting with 'Expression:'."
        ),
        "guesser": (
            "You are playing a reference game as the guesser. You see three 5x5 grids and your "
            "partner's expression for one of them. Reply with exactly one line: "
            "'Answer: first', 'Answer: second' or 'Answer: third'."
        ),
    }

    def __init__(self, filled: int = 10, changes: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 1 <= filled <= 24 or not 1 <= changes <= 12:
            raise ValueError("filled must be in 1..24 and changes in 1..12")
        self.filled = int(filled)
        self.changes = int(changes)

    def setup(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        cells = rng.choice(25, size=self.filled, replace=False)
        target = "".join("X" if i in set(cells.tolist()) else "." for i in range(25))
        grids = [target]
        while len(grids) < 3:
            flips = set(rng.choice(25, size=self.changes, replace=False).tolist())
            g = "".join(
                ("." if c == "X" else "X") if i in flips else c for i, c in enumerate(target)
            )
            if g not in grids:
                grids.append(g)
        self.target = target
        self.order_a = [grids[i] for i in rng.permutation(3)]
        self.order_b = [grids[i] for i in rng.permutation(3)]
        self.expression: str | None = None
        self.answer: str | None = None
        pos = self.order_a.index(target)
        self.tell(
            "describer",
            f"{_grids_block(self.order_a)}\n\nThe target is the {ORDINALS[pos]} grid. "
            "Give your expression.",
        )
        self.next_turn("describer")

    def parse_reply(self, seat: str, text: str) -> str:
        if seat == "describer":
            expr = after_prefix("Expression:", text)
            if not expr:
                raise InvalidAction(
                    "the reply must start with 'Expression:' and describe the target."
                )
            return " ".join(expr.split())
        m = _ANSWER_RE.match(after_prefix("Answer:", text) or "")
        if not m:
            raise InvalidAction(
                "the reply must be 'Answer: first', 'Answer: second' or 'Answer: third'."
            )
        return m.group(1).lower()

    def advance(self, seat: str, move: str) -> None:
        if seat == "describer":
            self.expression = move
            self.tell(
                "guesser",
                f"{_grids_block(self.order_b)}\n\nYour partner's expression: {clean(move, 1500)}\n"
                "Which grid is it?",
            )
            self.next_turn("guesser")
            return
        self.answer = move
        if self.order_b[ORDINALS.index(move)] == self.target:
            self.succeed(100.0, reason="the guesser picked the target")
        else:
            self.lose("the guesser picked a distractor")

    def view(self, seat: str) -> dict[str, Any]:
        if seat == "describer":
            return {"grids": list(self.order_a), "target": self.order_a.index(self.target)}
        return {"grids": list(self.order_b), "expression": self.expression}

    def reference_reply(self, seat: str, rng: random.Random) -> str:
        v = self.view(seat)
        if seat == "describer":
            rows = grid_text(v["grids"][v["target"]]).split("\n")
            return "Expression: the grid whose rows are " + " / ".join(rows)
        rows = _ROW_RE.findall((v["expression"] or "").upper())[:5]

        def match(g: str) -> int:
            return sum(
                a == b for r, row in enumerate(rows) for a, b in zip(row, g[5 * r : 5 * r + 5])
            )

        best = max(range(3), key=lambda i: (match(v["grids"][i]), -i))
        return f"Answer: {ORDINALS[best]}"

    def random_reply(self, seat: str, rng: random.Random) -> str:
        if seat == "describer":
            return (
                "Expression: the " + rng.choice(["left", "busy", "sparse", "odd", "plain"]) + " one"
            )
        return f"Answer: {rng.choice(ORDINALS)}"
