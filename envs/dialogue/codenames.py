"""A Codenames-like team game: one-word clues to find the team's words on a board.

Seats: ``cluegiver`` (sees which board words are the team's, the opponent's, innocent, and
the assassin) and ``guesser`` (sees only the board). The board has 12 common words: 4 team
words, 4 opponent words, 3 innocent words and 1 assassin. A simulated opponent reveals one
of its own words after each round.

* The cluegiver replies ``CLUE: <one word> <number 1-4>``. A clue word that shares a stem
  with an unrevealed board word breaks the rules and loses.
* The guesser replies ``GUESS: <word>, <word>, ...`` with up to that many unrevealed board
  words. Guesses are revealed in order until one is not a team word. A word that is not on
  the board (or already revealed) is a format violation.

The team wins when all its words are revealed, and loses on the assassin or when the
opponent's words are all revealed first. Per turn, both seats get +0.1 for each team word
the guesser reveals and -0.1 for each other word. Main score: the percentage of team
words revealed (100 on success).
"""

from __future__ import annotations

import random
import re
from typing import Any

import numpy as np

from gymnpt import InvalidAction

from .master import DialogueGame, after_prefix, clean
from .words import related, relates, reverse_related, stem, targets

__all__ = ["CodenamesGame"]

_CLUE_RE = re.compile(r"^([A-Za-z]+)\s*[,:]?\s*([1-4])\s*\.?$")
TEAM, OPPONENT, INNOCENT, ASSASSIN = "team", "opponent", "innocent", "assassin"
_LAYOUT = (TEAM,) * 4 + (OPPONENT,) * 4 + (INNOCENT,) * 3 + (ASSASSIN,)


class CodenamesGame(DialogueGame):
    """The Codenames-like game (see the module docstring).

    Args:
        pool: how many of the most frequent target words the board is drawn from.
        **kwargs: master settings (``reprompt``, ``max_reply_chars``, ``invalid_penalty``).
    """

    game = "codenames"
    seats = ("cluegiver", "guesser")
    roles = {
        "cluegiver": (
            "You are the cluegiver in a Codenames-like game. The board has 12 words: your "
            "team's, the opponent's, innocent ones and one assassin. Give a one-word clue and "
            "the number of your team's words it points to. The clue must not be (a form of) a "
            "board word. Reply with one line 'CLUE: <word> <number>', e.g. 'CLUE: animal 2'."
        ),
        "guesser": (
            "You are the guesser in a Codenames-like game. Your partner gives a one-word clue "
            "and a number. Pick up to that many board words that match the clue, best first; "
            "a wrong pick ends your turn and the assassin loses the game. Reply with one line "
            "'GUESS: <word>, <word>, ...' using words from the board."
        ),
    }

    def __init__(self, pool: int = 1200, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if pool < 12:
            raise ValueError("pool must be at least 12 words")
        self.pool = int(pool)

    def setup(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        words = targets()[: self.pool]
        board: list[str] = []
        stems: set[str] = set()
        for i in rng.permutation(len(words)):
            w = words[int(i)]
            if stem(w) in stems or any(relates(w, b) for b in board):
                continue
            board.append(w)
            stems.add(stem(w))
            if len(board) == 12:
                break
        kinds = [_LAYOUT[int(i)] for i in rng.permutation(12)]
        self.board = board
        self.kinds = dict(zip(board, kinds))
        self.revealed: list[str] = []
        self.clue: tuple[str, int] | None = None
        self.rounds = 0
        key = "\n".join(
            f"{k}: {', '.join(w for w in board if self.kinds[w] == k)}"
            for k in (TEAM, OPPONENT, INNOCENT, ASSASSIN)
        )
        self.tell("cluegiver", f"Board: {', '.join(board)}\n{key}\nGive your first clue.")
        self.next_turn("cluegiver")

    def _hidden(self) -> list[str]:
        return [w for w in self.board if w not in self.revealed]

    def parse_reply(self, seat: str, text: str) -> Any:
        if seat == "cluegiver":
            m = _CLUE_RE.match(after_prefix("CLUE:", text) or "")
            if not m:
                raise InvalidAction("the reply must be 'CLUE: <one word> <number 1-4>'.")
            return m.group(1).lower(), int(m.group(2))
        body = after_prefix("GUESS:", text)
        if not body or "\n" in body:
            raise InvalidAction("the reply must be one line 'GUESS: <word>, <word>, ...'.")
        picks = [p.strip(" .!").lower() for p in re.split(r"[,;]|\band\b", body)]
        picks = [p for p in picks if p]
        hidden = self._hidden()
        bad = [p for p in picks if p not in hidden]
        if not picks or bad:
            what = f"{clean(bad[0], 40)!r} is not an unrevealed board word" if bad else "no word"
            raise InvalidAction(f"{what}; pick from: {', '.join(hidden)}.")
        assert self.clue is not None
        if len(picks) > self.clue[1] or len(set(picks)) != len(picks):
            raise InvalidAction(f"give at most {self.clue[1]} different words.")
        return picks

    def advance(self, seat: str, move: Any) -> dict[str, float] | None:
        if seat == "cluegiver":
            word, n = move
            clash = [w for w in self._hidden() if stem(w) == stem(word)]
            if clash:
                self.lose(f"the clue {word!r} is a form of the board word {clash[0]!r}")
                return None
            self.clue = (word, n)
            self.tell(
                "guesser",
                f"Board (unrevealed): {', '.join(self._hidden())}\nClue: {word} {n}",
            )
            self.next_turn("guesser")
            return None
        reward = 0.0
        report = []
        for pick in move:
            kind = self.kinds[pick]
            self.revealed.append(pick)
            report.append(f"{pick} ({kind})")
            reward += 0.1 if kind == TEAM else -0.1
            if kind == ASSASSIN:
                self._lose_team("the guesser picked the assassin")
                return {s: reward for s in self.seats}
            if kind != TEAM:
                break
        if self._team_left() == 0:
            self.succeed(100.0, reason="all team words found")
            return {s: reward for s in self.seats}
        self.rounds += 1
        opp = [w for w in self._hidden() if self.kinds[w] == OPPONENT]
        if opp:
            taken = opp[0]
            self.revealed.append(taken)
            report.append(f"then the opponent revealed {taken}")
            if len(opp) == 1:
                self._lose_team("the opponent found all its words first")
                return {s: reward for s in self.seats}
        summary = "Revealed: " + ", ".join(report) + "."
        self.tell("guesser", summary + " Wait for the next clue.")
        self.tell("cluegiver", summary + f" Unrevealed: {', '.join(self._hidden())}. Next clue?")
        self.next_turn("cluegiver")
        return {s: reward for s in self.seats}

    def _team_left(self) -> int:
        return sum(1 for w in self._hidden() if self.kinds[w] == TEAM)

    def _lose_team(self, reason: str) -> None:
        self.lose(reason, score=100.0 * (4 - self._team_left()) / 4)

    def view(self, seat: str) -> dict[str, Any]:
        v: dict[str, Any] = {"hidden": self._hidden(), "clue": self.clue}
        if seat == "cluegiver":
            v["kinds"] = {w: self.kinds[w] for w in self._hidden()}
        return v

    def reference_reply(self, seat: str, rng: random.Random) -> str:
        v = self.view(seat)
        if seat == "guesser":
            word, n = v["clue"]
            linked = [w for w in v["hidden"] if relates(word, w)]
            picks = linked[:n] or [rng.choice(v["hidden"])]
            return "GUESS: " + ", ".join(picks)
        kinds: dict[str, str] = v["kinds"]
        team = [w for w, k in kinds.items() if k == TEAM]
        others = [w for w, k in kinds.items() if k != TEAM]
        board_stems = {stem(w) for w in kinds}
        best: tuple[int, str] | None = None
        for t in team:
            cands = list(related().get(t, ())) + list(reverse_related().get(t, ()))
            for c in cands:
                if stem(c) in board_stems or any(relates(c, o) for o in others):
                    continue
                cover = sum(1 for u in team if relates(c, u))
                if best is None or cover > best[0]:
                    best = (cover, c)
        if best is None:
            return f"CLUE: {rng.choice(targets()[:500])} 1"
        return f"CLUE: {best[1]} {min(4, best[0])}"

    def random_reply(self, seat: str, rng: random.Random) -> str:
        v = self.view(seat)
        if seat == "guesser":
            n = v["clue"][1] if v["clue"] else 1
            return "GUESS: " + ", ".join(rng.sample(v["hidden"], min(n, len(v["hidden"]))))
        return f"CLUE: {rng.choice(targets())} {rng.randint(1, 3)}"
