"""Guess the number: find a secret integer in ``[low, high]`` within ``max_guesses`` guesses.

After each wrong guess the env answers ``higher`` (the secret is above the guess) or
``lower``. A correct guess ends the episode with outcome ``success`` and reward
``(guesses left + 1) / max_guesses`` -- 1.0 for a first-guess hit, ``1 / max_guesses`` on
the last guess. Running out of guesses ends it with ``failure`` and reward 0.

A reply states its guess on a line ``Guess: 50`` or is the number alone (the strict format of
:mod:`._parsing`); with ``lenient=True`` the last whole number in the reply is read instead.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from gymnpt.core.env import InvalidAction, Outcome, TextEnv

from ._parsing import (
    brief,
    focus,
    format_metrics,
    last_match,
    reply_format,
    require_text,
    strict_move,
)

__all__ = ["GuessTheNumberEnv", "parse_guess", "episode_metrics"]

_NUMBER_RE = re.compile(r"(?<![\w.])-?\d+(?![\w.]\d)")
_STRICT_RE = re.compile(r"-?\d+")
_MAX_DIGITS = 18
#: legal_actions lists every number only for ranges up to this size.
LEGAL_LIST_LIMIT = 10_000


def parse_guess(text: str, lenient: bool = False) -> int:
    """Read an integer guess from a reply.

    Strict (default): ``Guess: 42`` on a line of its own, or ``42`` alone. Lenient: the last
    whole number in the focused part of the reply.

    Raises:
        InvalidAction: when no number is stated in the expected form, or it has more than 18
            digits.
    """
    if lenient:
        hint = "Reply with one whole number, for example 'Guess: 42'."
        part = focus(require_text(text, hint))
        m = last_match(_NUMBER_RE, part)
        if m is None:
            raise InvalidAction(f"no whole number found in {brief(part)!r}. {hint}")
        digits = m.group(0)
    else:
        hint = "State one whole number on a line of its own, for example 'Guess: 42'."
        what = "one whole number"
        digits = strict_move(text, label="Guess", token=_STRICT_RE, what=what, hint=hint)
    if len(digits.lstrip("-")) > _MAX_DIGITS:
        raise InvalidAction(f"the number {brief(digits, 24)} is far out of range. {hint}")
    return int(digits)


#: ``EnvSpec.metrics``: replies outside the strict format (counted in lenient runs too).
episode_metrics = format_metrics(parse_guess)


class GuessTheNumberEnv(TextEnv):
    """Find the secret number with higher/lower hints.

    Args:
        low: smallest possible secret.
        high: largest possible secret.
        max_guesses: guesses allowed.
        lenient: read guesses leniently (see the module docstring); strict by default.
        render_mode: ``"ansi"`` or None.

    ``reset(options={"secret": 37})`` fixes the secret.
    """

    def __init__(
        self,
        low: int = 1,
        high: int = 100,
        max_guesses: int = 7,
        lenient: bool = False,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(render_mode=render_mode)
        self.lenient = bool(lenient)
        if not isinstance(low, int) or not isinstance(high, int) or low >= high:
            raise ValueError(f"need integers low < high, got low={low!r}, high={high!r}")
        if abs(low) >= 10**_MAX_DIGITS or abs(high) >= 10**_MAX_DIGITS:
            raise ValueError(f"low and high must have at most {_MAX_DIGITS} digits")
        if not isinstance(max_guesses, int) or max_guesses < 1:
            raise ValueError(f"max_guesses must be a positive integer, got {max_guesses!r}")
        self.low, self.high, self.max_guesses = low, high, max_guesses
        self.max_turns = None

    @property
    def instructions(self) -> str:  # type: ignore[override]
        return (
            f"I am thinking of a whole number from {self.low} to {self.high}. Guess it in at most "
            f"{self.max_guesses} guesses. After each wrong guess I say 'higher' (the number is above "
            "your guess) or 'lower' (it is below). Fewer guesses earn a higher reward.\n"
            + reply_format("Guess", "<number>", str((self.low + self.high) // 2), "guess")
        )

    def _new_game(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        secret = options.get("secret")
        if secret is None:
            secret = int(rng.integers(self.low, self.high + 1))
        elif not isinstance(secret, int) or not self.low <= secret <= self.high:
            raise ValueError(
                f"secret must be an integer in [{self.low}, {self.high}], got {secret!r}"
            )
        self.secret = secret
        self.guesses: list[tuple[int, str]] = []
        #: The range still consistent with the hints so far.
        self.lo, self.hi = self.low, self.high

    @property
    def guesses_left(self) -> int:
        return self.max_guesses - len(self.guesses)

    def _to_act(self) -> list[str]:
        return ["player"]

    def _observe(self, seat: str) -> str:
        if not self.guesses:
            return (
                f"Guess the number from {self.low} to {self.high}. "
                f"You have {self.max_guesses} guesses."
            )
        g, hint = self.guesses[-1]
        if hint == "correct":
            return f"{g} is correct! You found the number in {len(self.guesses)} guesses."
        if self._done:
            return f"{g} is wrong: the number was {self.secret}. Out of guesses."
        history = ", ".join(f"{x} ({h})" for x, h in self.guesses)
        left = self.guesses_left
        return (
            f"{g} is too {'low' if hint == 'higher' else 'high'}: the number is {hint}. "
            f"Guesses so far: {history}. {left} guess{'es' if left != 1 else ''} left."
        )

    def _parse(self, seat: str, text: str) -> int:
        guess = parse_guess(text, self.lenient)
        if not self.low <= guess <= self.high:
            raise InvalidAction(f"{guess} is outside the range {self.low} to {self.high}.")
        return guess

    def _apply(self, moves: dict[str, Any]) -> dict[str, float]:
        guess = moves["player"]
        if guess == self.secret:
            self.guesses.append((guess, "correct"))
            reward = (self.guesses_left + 1) / self.max_guesses
            self._finish(
                {"player": Outcome.SUCCESS}, reason=f"found in {len(self.guesses)} guesses"
            )
            return {"player": reward}
        hint = "higher" if self.secret > guess else "lower"
        self.guesses.append((guess, hint))
        if hint == "higher":
            self.lo = max(self.lo, guess + 1)
        else:
            self.hi = min(self.hi, guess - 1)
        if self.guesses_left <= 0:
            self._finish({"player": Outcome.FAILURE}, reason="out of guesses")
        return {"player": 0.0}

    def legal_actions(self, seat: str) -> list[str] | None:
        """Every number in range (None when the range has more than 10,000 numbers)."""
        if self._done:
            return []
        if self.high - self.low + 1 > LEGAL_LIST_LIMIT:
            return None
        return [str(n) for n in range(self.low, self.high + 1)]

    def render_text(self) -> str:
        return (
            f"secret={self.secret} consistent range=[{self.lo}, {self.hi}] guesses={self.guesses}"
        )
