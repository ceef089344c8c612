"""Lenient reply parsing shared by the first-party games.

Every game reads a model's reply in the same two steps:

1. :func:`focus` narrows the reply to the part that states the move. The last
   ``<move>...</move>`` (or ``<action>``/``<answer>``/``<guess>``) tag wins; failing that, the
   text after the last ``Move:``/``Action:``/``Answer:``/``Guess:``/``Final answer:`` label up to
   the end of that line; failing that, the whole reply.
2. The game looks for its move pattern in that part and takes the **last** match, so that a
   reply that thinks aloud ("b1 looks weak, so I play b2") is read as its conclusion.

Nothing here raises anything but :class:`~gymnpt.core.env.InvalidAction`.
"""

from __future__ import annotations

import re
from collections import deque

from gymnpt.core.env import InvalidAction

__all__ = ["focus", "last_match", "require_text", "brief"]

_TAG_RE = re.compile(r"<(move|action|answer|guess)>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
_LABEL_RE = re.compile(
    r"\b(?:final\s+answer|move|action|answer|guess|play|choice)\s*[:=]\s*([^\n]*)", re.IGNORECASE
)


def require_text(text: str, hint: str) -> str:
    """Return ``text`` stripped, or raise InvalidAction with ``hint`` when it is blank."""
    stripped = text.strip()
    if not stripped:
        raise InvalidAction(f"the reply was empty. {hint}")
    return stripped


def focus(text: str) -> str:
    """The part of a reply that states the move (see the module docstring)."""
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
