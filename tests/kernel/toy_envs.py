"""Small envs written against the public contract, used by the kernel tests."""

from __future__ import annotations

from typing import Any

from gymnpt.core.env import InvalidAction, MultiAgentEnv, Outcome, TextEnv


class CountTo(TextEnv):
    """Say the next number; reach ``target`` to win. Random start from the seed."""

    instructions = "Reply with the next integer."

    def __init__(self, target: int = 5, **kw: Any) -> None:
        super().__init__(**kw)
        self.target = target

    def _new_game(self, rng, options):
        self.n = int(rng.integers(0, 3))

    def _to_act(self):
        return ["player"]

    def _observe(self, seat):
        return f"The number is {self.n}."

    def _parse(self, seat, text):
        text = text.strip()
        if not text.lstrip("-").isdigit():
            raise InvalidAction("say a number")
        return int(text)

    def _apply(self, moves):
        m = moves["player"]
        if m != self.n + 1:
            self._finish({"player": Outcome.FAILURE})
            return {"player": -1.0}
        self.n = m
        if self.n >= self.target:
            self._finish({"player": Outcome.SUCCESS})
            return {"player": 1.0}
        return {"player": 0.1}

    def legal_actions(self, seat):
        return [str(self.n + 1), str(self.n + 2)]


class HighCard(MultiAgentEnv):
    """Two seats pick a number 1-3 simultaneously; higher wins; three rounds."""

    seats = ("a", "b")
    instructions = "Pick 1, 2 or 3."

    def _new_game(self, rng, options):
        self.round = 0
        self.score = {"a": 0, "b": 0}
        self.bonus = int(rng.integers(1, 4))

    def _to_act(self):
        return [] if self.round >= 3 else ["a", "b"]

    def _observe(self, seat):
        return f"Round {self.round}; bonus number {self.bonus}; score {self.score}."

    def _parse(self, seat, text):
        t = text.strip()
        if t not in {"1", "2", "3"}:
            raise InvalidAction("pick 1, 2 or 3")
        return int(t)

    def _apply(self, moves):
        a, b = moves.get("a", 0), moves.get("b", 0)
        a += a == self.bonus
        b += b == self.bonus
        self.round += 1
        if a > b:
            self.score["a"] += 1
        elif b > a:
            self.score["b"] += 1
        if self.round >= 3:
            sa, sb = self.score["a"], self.score["b"]
            if sa == sb:
                self._finish({"a": Outcome.DRAW, "b": Outcome.DRAW})
                return {"a": 0.0, "b": 0.0}
            w, lo = ("a", "b") if sa > sb else ("b", "a")
            self._finish({w: Outcome.WIN, lo: Outcome.LOSS})
            return {w: 1.0, lo: -1.0}
        return {}

    def legal_actions(self, seat):
        return ["1", "2", "3"]
