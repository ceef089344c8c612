"""Wordle with a clue, and Wordle with a clue and a critic.

The secret is a common five-letter word; the clue is a word related to it (from WordNet).
After each guess the master marks every letter: ``G`` right letter in the right place,
``Y`` in the word elsewhere, ``_`` not in the word (greens first, then yellows left to
right, never more marks than the secret has copies of a letter).

* ``dialogue/wordle_withclue`` -- one seat, ``guesser``, replies
  ``guess: <word>`` (optionally followed by a line ``explanation: ...``).
* ``dialogue/wordle_withcritic`` -- seats ``guesser`` and ``critic``. Each round the guesser
  proposes ``guess: <word>``; the critic, who sees the clue, the proposal and the feedback
  so far, replies ``agreement: yes`` or ``agreement: no`` (and an optional explanation);
  the guesser then gives its final ``guess: <word>`` for the round (the same or another).

A guess that is not a five-letter word from the word list is a format violation. Six
guesses. Main score: ``100 / guesses used`` on success, 0 when lost.
"""

from __future__ import annotations

import random
import re
from typing import Any

import numpy as np

from gymnpt import InvalidAction

from .master import DialogueGame, after_prefix, clean
from .words import five_letter_targets, related, relates, reverse_related, wordle_words

__all__ = ["WordleWithClue", "WordleWithCritic", "score_guess", "consistent"]

_GUESS_RE = re.compile(r"^([A-Za-z]{5})\b\s*(?:\n.*)?$", re.DOTALL)
_AGREE_RE = re.compile(r"^(yes|no)\b", re.IGNORECASE)


def score_guess(guess: str, secret: str) -> str:
    """Marks of ``guess`` against ``secret``: five characters of ``G``, ``Y`` and ``_``."""
    marks = ["_"] * 5
    left: dict[str, int] = {}
    for i, (g, s) in enumerate(zip(guess, secret)):
        if g == s:
            marks[i] = "G"
        else:
            left[s] = left.get(s, 0) + 1
    for i, g in enumerate(guess):
        if marks[i] == "_" and left.get(g, 0) > 0:
            marks[i] = "Y"
            left[g] -= 1
    return "".join(marks)


def consistent(word: str, history: list[tuple[str, str]]) -> bool:
    """True when ``word`` could be the secret given (guess, marks) pairs."""
    return all(score_guess(g, word) == m for g, m in history)


class _Wordle(DialogueGame):
    """Shared rules of the two Wordle games."""

    with_critic = False

    def __init__(self, guesses: int = 6, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if guesses < 1:
            raise ValueError("guesses must be at least 1")
        self.max_guesses = int(guesses)

    def setup(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        words = five_letter_targets()
        self.secret = str(options.get("secret") or words[int(rng.integers(len(words)))])
        rel = related().get(self.secret, ())
        self.clue = str(options.get("clue") or (rel[0] if rel else "none"))
        self.history: list[tuple[str, str]] = []
        self.proposal: str | None = None
        self.critique: str | None = None
        self.tell(
            "guesser",
            f"Clue: {self.clue}\nYou have {self.max_guesses} guesses. Make your first guess.",
        )
        self.next_turn("guesser")

    def _read_guess(self, text: str) -> str:
        body = after_prefix("guess:", text)
        m = _GUESS_RE.match(body or "")
        if not m:
            raise InvalidAction("the reply must start with 'guess: <five-letter word>'.")
        word = m.group(1).lower()
        if word not in _word_set():
            raise InvalidAction(f"{word!r} is not in the word list; guess a common English word.")
        return word

    def parse_reply(self, seat: str, text: str) -> str:
        if seat == "critic":
            m = _AGREE_RE.match(after_prefix("agreement:", text) or "")
            if not m:
                raise InvalidAction(
                    "the reply must start with 'agreement: yes' or 'agreement: no'."
                )
            return " ".join(text.split())
        return self._read_guess(text)

    def _evaluate(self, guess: str) -> None:
        marks = score_guess(guess, self.secret)
        self.history.append((guess, marks))
        n = len(self.history)
        if guess == self.secret:
            self.succeed(100.0 / n, reason=f"found {self.secret!r} in {n} guesses")
            return
        if n >= self.max_guesses:
            self.lose(f"no guess left; the word was {self.secret!r}")
            return
        self.proposal = None
        feedback = f"Feedback for {guess}: {marks} ({self.max_guesses - n} guesses left)."
        for s in self.seats:
            self.tell(s, feedback)
        self.tell("guesser", "Make your next guess.")
        self.next_turn("guesser")

    def view(self, seat: str) -> dict[str, Any]:
        return {
            "clue": self.clue,
            "history": list(self.history),
            "proposal": self.proposal,
            "critique": self.critique if seat == "guesser" else None,
        }

    # ---- reference players ----------------------------------------------------------------
    @staticmethod
    def _ranked(clue: str, history: list[tuple[str, str]]) -> list[str]:
        pool = [w for w in five_letter_targets() if consistent(w, history)]
        linked = set(reverse_related().get(clue, ())) | set(related().get(clue, ()))
        close = [w for w in pool if w in linked or relates(w, clue)]
        rest = [w for w in pool if w not in close]
        if not pool:
            rest = [w for w in wordle_words() if consistent(w, history)]
        return close + rest

    def reference_reply(self, seat: str, rng: random.Random) -> str:
        v = self.view(seat)
        ranked = self._ranked(v["clue"], v["history"])
        if seat == "critic":
            ok = v["proposal"] in ranked[:3] or (
                v["proposal"] in ranked and relates(v["proposal"], v["clue"])
            )
            word = "yes" if ok else "no"
            why = "it fits the clue and the feedback" if ok else "it does not fit the feedback"
            return f"agreement: {word}\nexplanation: {why}"
        pick = ranked[0] if ranked else rng.choice(wordle_words())
        critique = v["critique"] or ""
        if v["proposal"] and critique.lower().startswith("agreement: no") and len(ranked) > 1:
            pick = next((w for w in ranked if w != v["proposal"]), pick)
        elif v["proposal"]:
            pick = v["proposal"]
        return f"guess: {pick}\nexplanation: consistent with the clue {v['clue']!r} and the marks"

    def random_reply(self, seat: str, rng: random.Random) -> str:
        if seat == "critic":
            return f"agreement: {rng.choice(['yes', 'no'])}"
        return f"guess: {rng.choice(wordle_words())}"


def _word_set() -> frozenset[str]:
    global _WORDS
    if _WORDS is None:
        _WORDS = frozenset(wordle_words())
    return _WORDS


_WORDS: frozenset[str] | None = None


class WordleWithClue(_Wordle):
    """Wordle for one guesser who also gets a clue word.

    Args:
        guesses: number of guesses.
        **kwargs: master settings (``reprompt``, ``max_reply_chars``, ``invalid_penalty``).
    """

    game = "wordle_withclue"
    seats = ("guesser",)
    roles = {
        "guesser": (
            "You are playing Wordle. Find a secret five-letter English word; you also get a clue "
            "word related to it. After each guess you get one mark per letter: G = right letter "
            "in the right place, Y = in the word but elsewhere, _ = not in the word. Reply with "
            "'guess: <word>' and optionally a second line 'explanation: <why>'."
        )
    }

    def advance(self, seat: str, move: str) -> None:
        self._evaluate(move)


class WordleWithCritic(_Wordle):
    """Wordle for a guesser and a critic who agrees or objects before each final guess.

    Args:
        guesses: number of guesses.
        **kwargs: master settings (``reprompt``, ``max_reply_chars``, ``invalid_penalty``).
    """

    game = "wordle_withcritic"
    seats = ("guesser", "critic")
    with_critic = True
    roles = {
        "guesser": WordleWithClue.roles["guesser"]
        + " Each round you first propose a guess; a critic replies, then you give your final "
        "guess for the round (the same word or another), again as 'guess: <word>'.",
        "critic": (
            "You are the critic in a game of Wordle. You see the clue word, the feedback so far "
            "(G = right place, Y = elsewhere in the word, _ = not in the word) and the guesser's "
            "proposal. Reply 'agreement: yes' or 'agreement: no', then optionally a line "
            "'explanation: <why>'."
        ),
    }

    def advance(self, seat: str, move: str) -> None:
        if seat == "critic":
            self.critique = move
            self.tell("guesser", f"The critic says: {clean(move, 500)}\nGive your final guess.")
            self.next_turn("guesser")
            return
        if self.proposal is None:
            self.proposal = move
            self.critique = None
            first = "" if self.history else f"Clue: {self.clue}\n"
            self.tell("critic", f"{first}The guesser proposes {move!r}. Do you agree?")
            self.next_turn("critic")
            return
        self.critique = None
        self._evaluate(move)
