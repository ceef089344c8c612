"""Taboo: the describer makes the guesser say the target word without using forbidden words.

Seats: ``describer`` (sees the target and three forbidden words) and ``guesser`` (sees
only the clues). Up to ``turns`` rounds (3) of one clue and one guess.

* The describer replies ``CLUE: <text>``. The clue must not contain the target or a
  forbidden word: both sides are lower-cased, stop words are dropped and the remaining
  words are compared by Snowball stem. A clue that does is a rule violation and loses.
* The guesser replies ``GUESS: <one word>``. It is right when its stem is the target's.

Main score: ``100 / rounds used`` on success, 0 when lost.
"""

from __future__ import annotations

import random
import re
from typing import Any

import numpy as np

from gymnpt import InvalidAction

from .master import DialogueGame, after_prefix, clean
from .words import content_stems, content_words, related, reverse_related, stem, targets

__all__ = ["TabooGame", "forbidden_hits", "best_guess"]

_GUESS_RE = re.compile(r"^([A-Za-z][A-Za-z'-]*)\s*[.!]?$")


def forbidden_hits(clue: str, words: list[str]) -> list[str]:
    """The words of ``words`` whose stem appears among the clue's content stems."""
    stems = content_stems(clue)
    return [w for w in words if stem(w) in stems or any(stem(p) in stems for p in w.split("-"))]


class TabooGame(DialogueGame):
    """Taboo for a describer and a guesser (see the module docstring).

    Args:
        turns: rounds of clue and guess.
        forbidden: number of forbidden related words.
        **kwargs: master settings (``reprompt``, ``max_reply_chars``, ``invalid_penalty``).
    """

    game = "taboo"
    seats = ("describer", "guesser")
    roles = {
        "describer": (
            "You are playing Taboo as the describer. You see a target word and some forbidden "
            "words. Help your partner guess the target without saying the target or any "
            "forbidden word (other forms of them count too). Reply with exactly one line that "
            "starts with 'CLUE:' followed by your clue, e.g. 'CLUE: a pet that barks'."
        ),
        "guesser": (
            "You are playing Taboo as the guesser. Your partner gives you clues for a secret "
            "word. Reply with exactly one line 'GUESS: <word>' containing a single word."
        ),
    }

    def __init__(self, turns: int = 3, forbidden: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if turns < 1 or forbidden < 0:
            raise ValueError("turns must be at least 1 and forbidden non-negative")
        self.turns = int(turns)
        self.n_forbidden = int(forbidden)

    def setup(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        words = targets()
        self.target = str(options.get("target") or words[int(rng.integers(len(words)))])
        rel = related().get(self.target, ())
        self.forbidden = list(options.get("forbidden") or rel[: self.n_forbidden])
        self.clues: list[str] = []
        self.guesses: list[str] = []
        self.tell(
            "describer",
            f"Target word: {self.target}\nForbidden words: {', '.join(self.forbidden)}\n"
            f"Your partner has {self.turns} guesses. Give your first clue.",
        )
        self.next_turn("describer")

    def parse_reply(self, seat: str, text: str) -> str:
        if seat == "describer":
            clue = after_prefix("CLUE:", text)
            if not clue:
                raise InvalidAction("the reply must start with 'CLUE:' followed by a clue.")
            return " ".join(clue.split())
        body = after_prefix("GUESS:", text)
        m = _GUESS_RE.match(body or "")
        if not m:
            raise InvalidAction("the reply must be 'GUESS: <word>' with a single word.")
        return m.group(1).lower()

    def advance(self, seat: str, move: str) -> None:
        if seat == "describer":
            hits = forbidden_hits(move, [self.target, *self.forbidden])
            if hits:
                self.lose(f"the clue used the forbidden word {hits[0]!r}")
                return
            self.clues.append(move)
            first = "" if self.guesses else f"You have {self.turns} guesses. "
            self.tell("guesser", f"{first}Clue: {clean(move, 500)}")
            self.next_turn("guesser")
            return
        self.guesses.append(move)
        if stem(move) == stem(self.target):
            self.succeed(100.0 / len(self.guesses), reason=f"guessed {self.target!r}")
            return
        if len(self.guesses) >= self.turns:
            self.lose(f"no guess left; the word was {self.target!r}")
            return
        left = self.turns - len(self.guesses)
        self.tell("describer", f"The guesser said {move!r}, which is wrong. Give another clue.")
        self.tell("guesser", f"{move!r} is wrong ({left} guesses left). Wait for the next clue.")
        self.next_turn("describer")

    def view(self, seat: str) -> dict[str, Any]:
        if seat == "describer":
            return {
                "target": self.target,
                "forbidden": list(self.forbidden),
                "guesses": list(self.guesses),
            }
        return {"clues": list(self.clues), "guesses": list(self.guesses)}

    # ---- reference players ----------------------------------------------------------------
    def reference_reply(self, seat: str, rng: random.Random) -> str:
        v = self.view(seat)
        if seat == "describer":
            banned = {stem(w) for w in [v["target"], *v["forbidden"]]}
            pool = [
                w
                for w in related().get(v["target"], ())[len(v["forbidden"]) :]
                if stem(w) not in banned and not forbidden_hits(w, [v["target"], *v["forbidden"]])
            ]
            n = len(v["guesses"])
            words = pool[3 * n : 3 * n + 3] or pool[:3] or ["something"]
            return "CLUE: " + ", ".join(words)
        return "GUESS: " + best_guess(v["clues"], v["guesses"], rng)

    def random_reply(self, seat: str, rng: random.Random) -> str:
        words = targets()
        if seat == "describer":
            return "CLUE: " + " ".join(rng.choice(words) for _ in range(3))
        return "GUESS: " + rng.choice(words)


def best_guess(clues: list[str], wrong: list[str], rng: random.Random) -> str:
    """The target that the clues' words point to most (ties: the more frequent word)."""
    table = related()
    rev = reverse_related()
    wrong_stems = {stem(w) for w in wrong}
    for clue in clues:  # the clues never contain the target itself
        wrong_stems |= content_stems(clue)
    scores: dict[str, float] = {}
    order = {w: i for i, w in enumerate(targets())}
    for weight, clue in enumerate(clues, start=1):
        for w in content_words(clue):
            for t in rev.get(w, ()):
                scores[t] = scores.get(t, 0.0) + weight
            for t in table.get(w, ()):
                if t in order:
                    scores[t] = scores.get(t, 0.0) + 0.5 * weight
    ranked = sorted(
        (t for t in scores if stem(t) not in wrong_stems), key=lambda t: (-scores[t], order[t])
    )
    if ranked:
        return ranked[0]
    pool = [t for t in targets() if stem(t) not in wrong_stems]
    return rng.choice(pool)
