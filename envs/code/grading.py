"""Pulling code out of a reply, comparing outputs, and turning test results into rewards."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "extract_code",
    "outputs_match",
    "GradeResult",
    "reward_for",
    "REWARD_MODES",
    "clip",
]

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(
    r"^[ \t]*(```+|~~~+)[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.DOTALL | re.MULTILINE
)
_OPEN_FENCE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([\w+#.-]*)[^\n]*\n", re.MULTILINE)


def extract_code(reply: str, fences: Sequence[str] = ()) -> str:
    """The program in a model's reply, found leniently.

    In order: the last fenced block tagged with one of ``fences``; else the last fenced block
    of any tag; else the text after an unclosed opening fence (a cut-off reply); else the
    whole reply. ``<think>`` sections are ignored. Returns "" when nothing is left.
    """
    text = _THINK.sub("", reply.replace("\r\n", "\n"))
    if "<think>" in text.lower():  # an unclosed thinking section: keep what follows the last fence
        text = text[text.lower().rfind("<think>") :]
    blocks = [(m.group(2).lower(), m.group(3)) for m in _FENCE.finditer(text)]
    wanted = {f.lower() for f in fences}
    tagged = [code for tag, code in blocks if tag in wanted]
    if tagged:
        return tagged[-1].strip("\n")
    if blocks:
        return blocks[-1][1].strip("\n")
    opened = list(_OPEN_FENCE.finditer(text))
    if opened:
        return text[opened[-1].end() :].strip("\n")
    return text.strip()


def _lines(text: str) -> list[str]:
    lines = [ln.rstrip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _num(tok: str) -> float | None:
    try:
        value = float(tok)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def outputs_match(actual: str, expected: str, *, float_tol: float = 1e-6) -> bool:
    """SandboxFusion-style comparison of a program's stdout with the expected output.

    Line endings are normalized, trailing whitespace on each line and trailing blank lines
    are ignored. When that is not an exact match, the outputs still match when they have the
    same tokens line by line, numeric tokens being equal within ``float_tol`` (absolute or
    relative), so ``2.5`` matches ``2.500000``.
    """
    a, e = _lines(actual), _lines(expected)
    if a == e:
        return True
    if len(a) != len(e):
        return False
    for la, le in zip(a, e):
        ta, te = la.split(), le.split()
        if len(ta) != len(te):
            return False
        for x, y in zip(ta, te):
            if x == y:
                continue
            fx, fy = _num(x), _num(y)
            if fx is None or fy is None:
                return False
            if not math.isclose(fx, fy, rel_tol=float_tol, abs_tol=float_tol):
                return False
    return True


#: What a submission can come to, from best to worst.
VERDICTS = (
    "passed",
    "wrong_answer",
    "runtime_error",
    "timeout",
    "memory",
    "output_limit",
    "compile_error",
    "sandbox_error",
)


@dataclass
class GradeResult:
    """The grade of one submission."""

    #: One of :data:`VERDICTS` ("passed" when every test passed).
    verdict: str
    passed: int
    total: int
    #: Text shown to the model about the first failing test ("" when all passed).
    feedback: str = ""

    @property
    def all_passed(self) -> bool:
        """Whether every test passed."""
        return self.verdict == "passed"

    @property
    def fraction(self) -> float:
        """Share of tests passed."""
        return self.passed / self.total if self.total else 0.0


#: Reward modes: ``binary`` (1 when all pass), ``fraction`` (share passed), ``coderl``
#: (CodeRL's shaping: +1 pass, -0.3 wrong answer, -0.6 runtime error, -1 compile error).
REWARD_MODES = ("binary", "fraction", "coderl")


def reward_for(grade: GradeResult, mode: str) -> float:
    """The reward of a graded submission under ``mode``."""
    if mode == "binary":
        return 1.0 if grade.all_passed else 0.0
    if mode == "fraction":
        return grade.fraction
    if mode == "coderl":
        if grade.all_passed:
            return 1.0
        if grade.verdict == "wrong_answer":
            return -0.3
        if grade.verdict == "compile_error":
            return -1.0
        if grade.verdict == "sandbox_error":
            return 0.0
        return -0.6
    raise ValueError(f"unknown reward mode {mode!r}; choose from {REWARD_MODES}")


def clip(text: str, limit: int = 600) -> str:
    """Shorten text for feedback, keeping its start and end."""
    text = text.replace("\r\n", "\n")
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... [{len(text) - limit} characters cut] ...\n{text[-half:]}"
