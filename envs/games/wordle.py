"""Wordle: find a secret five-letter word in six guesses.

Each guess must be a word from the bundled lists (``wordle_answers.txt`` -- the possible
secrets -- plus ``wordle_guesses.txt``). The reply to a guess marks each letter:

* ``G`` (green): right letter, right place;
* ``Y`` (yellow): the letter is in the word, elsewhere;
* ``_``: the letter is not in the word (or all its copies are already marked).

Repeated letters follow the usual rule: greens are marked first, then yellows left to right,
and a letter gets at most as many G/Y marks as the secret has copies of it. Solving gives
reward 1 and outcome ``success``; six misses give 0 and ``failure``. An unknown word is an
invalid move and costs no guess.

A reply states its word on a line ``Guess: CRANE`` or is the word alone (the strict format of
:mod:`._parsing`); with ``lenient=True`` a word is picked out of prose as :func:`parse_word`
describes.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from gymnpt.core.env import InvalidAction, Outcome, TextEnv

from ._parsing import brief, focus, format_metrics, reply_format, require_text, strict_move

__all__ = [
    "WordleEnv",
    "score_guess",
    "answer_words",
    "guess_words",
    "parse_word",
    "episode_metrics",
]

_TOKEN_RE = re.compile(r"(?<![A-Za-z])[A-Za-z]{5}(?![A-Za-z])")
_STRICT_RE = re.compile(r"[A-Za-z]{5}")
_STRICT_HINT = "State one five-letter word on a line of its own, for example 'Guess: CRANE'."
#: Common words of prose that a reply may contain besides its guess; skipped when the reply
#: also names another valid word.
_PROSE = frozenset(
    "guess which there their these those would could about think maybe first start right "
    "since while after words where again still being other reply might".split()
)


def _load(name: str) -> tuple[str, ...]:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    words = (line.strip().lower() for line in text.splitlines())
    return tuple(sorted({w for w in words if w and not w.startswith("#")}))


@lru_cache(maxsize=1)
def answer_words() -> tuple[str, ...]:
    """The possible secret words, sorted."""
    return _load("wordle_answers.txt")


@lru_cache(maxsize=1)
def guess_words() -> frozenset[str]:
    """Every word accepted as a guess (the answers included)."""
    return frozenset(answer_words()) | frozenset(_load("wordle_guesses.txt"))


def score_guess(guess: str, answer: str) -> str:
    """The feedback for ``guess`` against ``answer``: five characters of ``G``, ``Y``, ``_``."""
    marks = ["_"] * 5
    left: dict[str, int] = {}
    for i in range(5):
        if guess[i] == answer[i]:
            marks[i] = "G"
        else:
            left[answer[i]] = left.get(answer[i], 0) + 1
    for i in range(5):
        if marks[i] != "G":
            ch = guess[i]
            if left.get(ch, 0) > 0:
                marks[i] = "Y"
                left[ch] -= 1
    return "".join(marks)


def parse_word(text: str, valid: frozenset[str] | None = None, lenient: bool = False) -> str:
    """Read a guess from a reply.

    Strict (default): ``Guess: CRANE`` on a line of its own, or ``CRANE`` alone (any case).
    With ``valid`` None only the format is checked.

    Lenient: among the five-letter words in the focused part of the reply, the last one written in
    capitals that is a valid word wins; otherwise the last valid word (common prose words such
    as "guess" or "think" count only when nothing else is valid).

    Raises:
        InvalidAction: when there is no valid five-letter word in the expected form.
    """
    if not lenient:
        what = "one five-letter word"
        word = strict_move(text, label="Guess", token=_STRICT_RE, what=what, hint=_STRICT_HINT)
        if valid is not None and word.lower() not in valid:
            raise InvalidAction(f"'{word.upper()}' is not in the word list. {_STRICT_HINT}")
        return word.lower()
    valid = guess_words() if valid is None else valid
    hint = "Reply with one five-letter English word, for example 'Guess: CRANE'."
    part = focus(require_text(text, hint))
    tokens = _TOKEN_RE.findall(part)
    if not tokens:
        raise InvalidAction(f"no five-letter word found in {brief(part)!r}. {hint}")
    words = [t for t in tokens if t.lower() in valid]
    if not words:
        raise InvalidAction(f"'{brief(tokens[-1])}' is not in the word list. {hint}")
    caps = [w for w in words if w.isupper()]
    if caps:
        return caps[-1].lower()
    plain = [w for w in words if w.lower() not in _PROSE]
    return (plain or words)[-1].lower()


#: ``EnvSpec.metrics``: replies outside the strict format (counted in lenient runs too).
episode_metrics = format_metrics(parse_word)


class WordleEnv(TextEnv):
    """Wordle with the bundled word lists.

    Args:
        max_guesses: guesses allowed (6 in the classic game).
        lenient: read guesses leniently (see :func:`parse_word`); strict by default.
        render_mode: ``"ansi"`` or None.

    ``reset(options={"answer": "crane"})`` fixes the secret (any valid guess word).
    """

    def __init__(
        self, max_guesses: int = 6, lenient: bool = False, render_mode: str | None = None
    ) -> None:
        super().__init__(render_mode=render_mode)
        self.lenient = bool(lenient)
        if not isinstance(max_guesses, int) or max_guesses < 1:
            raise ValueError(f"max_guesses must be a positive integer, got {max_guesses!r}")
        self.max_guesses = max_guesses
        self.answers = answer_words()
        self.valid = guess_words()

    @property
    def instructions(self) -> str:  # type: ignore[override]
        return (
            f"You play Wordle. Find the secret five-letter English word in {self.max_guesses} "
            "guesses. After each guess every letter is marked: G = right letter in the right place, "
            "Y = the letter is in the word but elsewhere, _ = not in the word (a repeated letter is "
            "marked only as often as it occurs in the secret). Guesses must be real words.\n"
            + reply_format("Guess", "<word>", "CRANE", "word")
        )

    def _new_game(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        answer = options.get("answer")
        if answer is None:
            answer = self.answers[int(rng.integers(len(self.answers)))]
        elif not isinstance(answer, str) or answer.lower() not in self.valid:
            raise ValueError(f"answer must be a word from the Wordle lists, got {answer!r}")
        self.answer = answer.lower()
        self.history: list[tuple[str, str]] = []

    @property
    def guesses_left(self) -> int:
        return self.max_guesses - len(self.history)

    def _to_act(self) -> list[str]:
        return ["player"]

    def _board(self) -> str:
        return "\n".join(
            f"{i}. {g.upper()}  {' '.join(m)}" for i, (g, m) in enumerate(self.history, 1)
        )

    def _observe(self, seat: str) -> str:
        if not self.history:
            return f"Guess the secret five-letter word. You have {self.max_guesses} guesses."
        board = self._board()
        if self.history[-1][1] == "GGGGG":
            return f"{board}\nSolved in {len(self.history)} guesses!"
        if self._done:
            return f"{board}\nOut of guesses. The word was {self.answer.upper()}."
        absent = sorted(
            {g[i] for g, m in self.history for i in range(5) if m[i] == "_"}
            - {g[i] for g, m in self.history for i in range(5) if m[i] != "_"}
        )
        missing = f"\nLetters not in the word: {' '.join(absent).upper()}." if absent else ""
        left = self.guesses_left
        return f"{board}{missing}\n{left} guess{'es' if left != 1 else ''} left."

    def _parse(self, seat: str, text: str) -> str:
        return parse_word(text, self.valid, self.lenient)

    def _apply(self, moves: dict[str, Any]) -> dict[str, float]:
        guess = moves["player"]
        marks = score_guess(guess, self.answer)
        self.history.append((guess, marks))
        if marks == "GGGGG":
            self._finish(
                {"player": Outcome.SUCCESS}, reason=f"solved in {len(self.history)} guesses"
            )
            return {"player": 1.0}
        if self.guesses_left <= 0:
            self._finish({"player": Outcome.FAILURE}, reason="out of guesses")
        return {"player": 0.0}

    def render_text(self) -> str:
        return f"answer={self.answer.upper()}\n{self._board()}"
