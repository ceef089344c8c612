"""Reply parsing shared by the first-party games: strict by default, lenient on request.

**Strict** (the default, :func:`strict_move`). A reply states its move in one of two forms:

* a line of its own that starts with the game's label, ``Move: b2`` (``Guess:`` in the guessing
  games, ``Action:`` in poker), holding the move and nothing else; text before and after that
  line is free, and markdown emphasis, quotes, brackets and a final full stop around the move
  are ignored (``**Move:** b2.``);
* the move alone (``b2``), with the same decorations allowed.

Anything else is an invalid move: a move mentioned in prose, a label line that holds a list or
a sentence, a label that does not start its line (so an echoed example such as
``for example 'Move: b2'`` is not a move), and several label lines that name different moves.
Each game states this form in its instructions, so the invalid-move rate measures whether a
model follows the stated format.

**Lenient** (env option ``lenient=True``, for models that cannot follow formats). Every game
reads the reply in two steps: :func:`focus` narrows it to the part that states the move (the
last ``<move>...</move>``-style tag, else the text after the last ``Move:``/``Guess:``/...
label up to the end of its line, else the whole reply), then the game takes the **last** match
of its move pattern there. :func:`format_metrics` still counts the replies that strict parsing
would have refused, so a lenient evaluation reports its format violations.

Nothing here raises anything but :class:`~gymnpt.core.env.InvalidAction`.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from gymnpt import InvalidAction

__all__ = [
    "brief",
    "focus",
    "format_metrics",
    "last_match",
    "reply_format",
    "require_text",
    "strict_move",
]

_TAG_RE = re.compile(r"<(move|action|answer|guess)>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
_LABEL_RE = re.compile(
    r"\b(?:final\s+answer|move|action|answer|guess|play|choice)\s*[:=]\s*([^\n]*)", re.IGNORECASE
)
#: Characters around a move that carry no meaning: markdown emphasis, quotes and brackets.
_DECOR = " \t\r*_`\"'[](){}<>"
_LABEL_LINE_CACHE: dict[str, re.Pattern[str]] = {}


def require_text(text: str, hint: str) -> str:
    """Return ``text`` stripped, or raise InvalidAction with ``hint`` when it is blank."""
    stripped = text.strip()
    if not stripped:
        raise InvalidAction(f"the reply was empty. {hint}")
    return stripped


def focus(text: str) -> str:
    """The part of a reply that states the move, in lenient mode (see the module docstring)."""
    last_tag = last_match(_TAG_RE, text)
    if last_tag is not None and last_tag.group(2).strip():
        return last_tag.group(2)
    last_label = None
    for m in _LABEL_RE.finditer(text):
        if m.group(1).strip():
            last_label = m
    if last_label is not None:
        return last_label.group(1)
    return text


def last_match(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """The last non-overlapping match of ``pattern`` in ``text`` (None when there is none)."""
    tail = deque(pattern.finditer(text), maxlen=1)
    return tail[0] if tail else None


def brief(text: str, limit: int = 40) -> str:
    """A short printable quote of ``text`` for error messages."""
    text = " ".join(text.split())
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bare(text: str) -> str:
    """``text`` without surrounding decoration and a final full stop or exclamation mark."""
    out = text.strip(_DECOR)
    while out and out[-1] in ".!":
        out = out[:-1].strip(_DECOR)
    return out


def _label_line(label: str) -> re.Pattern[str]:
    pattern = _LABEL_LINE_CACHE.get(label)
    if pattern is None:
        pattern = re.compile(
            rf"^[ \t>#*_-]*{re.escape(label)}[ \t*_]*:(?P<rest>[^\n]*)$",
            re.IGNORECASE | re.MULTILINE,
        )
        _LABEL_LINE_CACHE[label] = pattern
    return pattern


def strict_move(text: str, *, label: str, token: re.Pattern[str], what: str, hint: str) -> str:
    """The move a reply states in the strict format (see the module docstring).

    Args:
        text: the reply.
        label: the game's label, e.g. ``"Move"``.
        token: the syntax of one move; it must match the whole stated move.
        what: what a move is, for error messages ("one cell such as b2").
        hint: the sentence that tells the player how to reply.

    Returns:
        The stated move as written (without decoration); the game checks that it is legal.

    Raises:
        InvalidAction: when the reply does not state exactly one move in the strict format.
    """
    stripped = require_text(text, hint)
    stated: list[str] = []
    for m in _label_line(label).finditer(stripped):
        move = _bare(m.group("rest"))
        if not token.fullmatch(move):
            raise InvalidAction(
                f"the '{label}:' line must hold {what} and nothing else, "
                f"not {brief(move) or 'nothing'!r}. {hint}"
            )
        stated.append(move)
    if stated:
        distinct = list(dict.fromkeys(s.lower() for s in stated))
        if len(distinct) > 1:
            raise InvalidAction(
                f"the reply states {len(distinct)} different moves ({', '.join(distinct[:4])}); "
                f"state exactly one. {hint}"
            )
        return stated[-1]
    move = _bare(stripped)
    if token.fullmatch(move):
        return move
    raise InvalidAction(f"no line starting '{label}:' in {brief(stripped)!r}. {hint}")


def reply_format(label: str, placeholder: str, example: str, what: str) -> str:
    """The sentence every game's instructions end with: the strict reply format.

    The example is quoted inside the sentence, never at the start of a line, so a reply that
    echoes the instructions does not state a move.
    """
    return (
        f"Reply with your {what} on a line of its own, written as {label}: {placeholder} "
        f"(for example '{label}: {example}'); you may reason before that line. A reply that is "
        f"only the {what} also counts. Any other reply is an invalid move."
    )


def _assistant_texts(trajectory: Any) -> list[str]:
    messages = (
        trajectory.get("messages", [])
        if isinstance(trajectory, dict)
        else getattr(trajectory, "messages", [])
    )
    return [str(m.get("content", "")) for m in messages if m.get("role") == "assistant"]


def format_metrics(
    check: Callable[[str], object],
) -> Callable[[Sequence[Any]], dict[str, float | int]]:
    """An ``EnvSpec.metrics`` function that counts replies outside the strict format.

    Args:
        check: raises InvalidAction when a reply is not in the strict format (legality aside).

    Returns:
        ``fn(trajectories) -> {"replies", "format_violations", "format_violation_rate"}``,
        counted over every model reply (retries included), whichever mode the env ran in.
    """

    def metrics(trajectories: Sequence[Any]) -> dict[str, float | int]:
        replies = violations = 0
        for traj in trajectories:
            for text in _assistant_texts(traj):
                replies += 1
                try:
                    check(text)
                except InvalidAction:
                    violations += 1
        return {
            "replies": replies,
            "format_violations": violations,
            "format_violation_rate": violations / replies if replies else 0.0,
        }

    return metrics
