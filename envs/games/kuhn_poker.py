"""Kuhn poker: the smallest interesting poker game, for seats ``p0`` and ``p1``.

The deck is J < Q < K. Each hand both players ante 1 chip and get one private card (each
seat observes only its own card). ``p0`` acts first, every hand:

* ``p0`` may ``check`` or ``bet`` (1 chip).
* After a check, ``p1`` may ``check`` (showdown for a pot of 2) or ``bet``; facing that bet
  ``p0`` may ``call`` (showdown for 4) or ``fold``.
* After a bet, ``p1`` may ``call`` (showdown for 4) or ``fold``.

At a showdown the higher card takes the pot; a fold gives the pot to the other player.
Rewards are the chip deltas of each hand (zero-sum: +1/-1 or +2/-2), paid when the hand
ends. With ``hands=N`` a match plays N hands (new cards each hand) and the outcome follows
the chip total: win, loss, or draw when level.

A reply states its action on a line ``Action: bet`` or is the action alone (the strict format
of :mod:`._parsing`); with ``lenient=True`` the last action named is read instead.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from gymnpt.core.env import InvalidAction, MultiAgentEnv, Outcome

from ._parsing import (
    brief,
    focus,
    format_metrics,
    last_match,
    reply_format,
    require_text,
    strict_move,
)

__all__ = ["KuhnPokerEnv", "CARDS", "legal_for", "parse_poker_action", "episode_metrics"]

CARDS = ("J", "Q", "K")
_RANK = {c: i for i, c in enumerate(CARDS)}
_ACTION_RE = re.compile(r"\b(check|bet|call|fold|raise|pass)(?:s|ed|ing)?\b", re.IGNORECASE)
_STRICT_RE = re.compile(r"check|bet|call|fold", re.IGNORECASE)
_NAMES = {"J": "Jack", "Q": "Queen", "K": "King"}


def legal_for(history: tuple[str, ...] | list[str]) -> list[str]:
    """Legal actions after the betting ``history`` of the current hand ([] when it is over)."""
    h = tuple(history)
    if h in ((), ("check",)):
        return ["check", "bet"]
    if h in (("bet",), ("check", "bet")):
        return ["call", "fold"]
    return []


def parse_poker_action(text: str, legal: list[str], lenient: bool = False) -> str:
    """Read ``check``/``bet``/``call``/``fold`` from a reply.

    Strict (default): ``Action: bet`` on a line of its own, or ``bet`` alone. Lenient: the last
    action named in the focused part of the reply wins; ``raise`` means ``bet``; ``pass``
    means ``check`` when no bet is pending, else ``fold``.

    Raises:
        InvalidAction: when no action is stated in the expected form, or it is not legal now.
    """
    if not lenient:
        example = legal[0] if legal else "bet"
        hint = (
            f"State one of {', '.join(legal)} on a line of its own, "
            f"for example 'Action: {example}'."
        )
        word = strict_move(
            text, label="Action", token=_STRICT_RE, what="one action word", hint=hint
        ).lower()
        if word not in legal:
            raise InvalidAction(f"'{word}' is not legal now. {hint}")
        return word
    hint = f"Reply with one of: {', '.join(legal)}."
    part = focus(require_text(text, hint))
    m = last_match(_ACTION_RE, part)
    if m is None:
        raise InvalidAction(f"no poker action found in {brief(part)!r}. {hint}")
    word = m.group(1).lower()
    if word == "raise":
        word = "bet"
    elif word == "pass":
        word = "check" if "check" in legal else "fold"
    if word not in legal:
        raise InvalidAction(f"'{word}' is not legal now. {hint}")
    return word


#: ``EnvSpec.metrics``: replies outside the strict format (counted in lenient runs too).
episode_metrics = format_metrics(
    lambda text: parse_poker_action(text, ["check", "bet", "call", "fold"])
)


class KuhnPokerEnv(MultiAgentEnv):
    """Kuhn poker for ``p0`` (acts first each hand) and ``p1``.

    Args:
        hands: hands in the match.
        lenient: read actions leniently (see :func:`parse_poker_action`); strict by default.
        render_mode: ``"ansi"`` or None.

    ``reset(options={"cards": "KJ"})`` deals K to p0 and J to p1 in the first hand (a list
    such as ``["KJ", "QK"]`` fixes several hands).
    """

    seats = ("p0", "p1")

    def __init__(
        self, hands: int = 1, lenient: bool = False, render_mode: str | None = None
    ) -> None:
        super().__init__(render_mode=render_mode)
        self.lenient = bool(lenient)
        if not isinstance(hands, int) or hands < 1:
            raise ValueError(f"hands must be a positive integer, got {hands!r}")
        self.hands = hands

    @property
    def instructions(self) -> str:  # type: ignore[override]
        match = (
            f" The match has {self.hands} hands; the chip total decides it."
            if self.hands > 1
            else ""
        )
        return (
            "You play Kuhn poker. The deck has three cards: Jack < Queen < King. Each hand both "
            "players ante 1 chip and get one private card. Player p0 acts first: check or bet 1 "
            "chip. After a check, p1 may check (the higher card wins the pot of 2) or bet; facing a "
            "bet you may call (match it; the higher card wins the pot of 4) or fold (give up the "
            f"pot).{match}\n" + reply_format("Action", "<check|bet|call|fold>", "bet", "action")
        )

    def seat_instructions(self, seat: str) -> str:
        first = "you act first in every hand" if seat == "p0" else "p0 acts first in every hand"
        return f"{self.instructions}\nYou are {seat}; {first}."

    def _new_game(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        fixed = options.get("cards")
        if isinstance(fixed, str):
            fixed = [fixed]
        self._fixed = [self._check_deal(d) for d in (fixed or [])]
        self.hand = 0
        self.chips = {"p0": 0, "p1": 0}
        #: Finished hands: (cards, history, p0's chip delta, showdown?).
        self.results: list[tuple[dict[str, str], tuple[str, ...], int, bool]] = []
        self._deal()

    @staticmethod
    def _check_deal(deal: Any) -> tuple[str, str]:
        text = str(deal).upper()
        if len(text) != 2 or text[0] == text[1] or set(text) - set(CARDS):
            raise ValueError(f"a deal is two different cards of J, Q, K such as 'KJ', got {deal!r}")
        return text[0], text[1]

    def _deal(self) -> None:
        if self.hand < len(self._fixed):
            a, b = self._fixed[self.hand]
        else:
            order = self.rng.permutation(3)
            a, b = CARDS[int(order[0])], CARDS[int(order[1])]
        self.cards = {"p0": a, "p1": b}
        self.history: list[str] = []
        self.to_move = "p0"

    def _to_act(self) -> list[str]:
        return [self.to_move]

    def _betting(self) -> str:
        if not self.history:
            return "no actions yet"
        seq = ["p0", "p1", "p0"]
        past = {"check": "checked", "bet": "bet", "call": "called", "fold": "folded"}
        return ", ".join(f"{seq[i]} {past[a]}" for i, a in enumerate(self.history))

    def _last_result(self, seat: str) -> str:
        if not self.results:
            return ""
        cards, history, delta, showdown = self.results[-1]
        mine = delta if seat == "p0" else -delta
        if showdown:
            how = f"showdown, p0 had {cards['p0']} and p1 had {cards['p1']}"
        else:
            how = f"{'p1' if len(history) == 2 else 'p0'} folded"
        return f"Hand {len(self.results)}: {how}; you {'won' if mine > 0 else 'lost'} {abs(mine)}. "

    def _observe(self, seat: str) -> str:
        total = f"Your chips so far: {self.chips[seat]:+d}."
        last = self._last_result(seat)
        if self._done:
            return f"{last}Match over. {total}"
        pot = 2 + self.history.count("bet") + self.history.count("call")
        head = (
            f"{last}Hand {self.hand + 1} of {self.hands}. You are {seat}. "
            f"Your card: {self.cards[seat]} ({_NAMES[self.cards[seat]]}). Pot: {pot}. {total}\n"
            f"Betting: {self._betting()}."
        )
        if seat != self.to_move:
            return f"{head}\nWaiting for {self.to_move}."
        return f"{head}\nYour move. Legal actions: {', '.join(legal_for(self.history))}."

    def _parse(self, seat: str, text: str) -> str:
        return parse_poker_action(text, legal_for(self.history), self.lenient)

    def _apply(self, moves: dict[str, Any]) -> dict[str, float]:
        seat = self.to_move
        self.history.append(moves[seat])
        h = tuple(self.history)
        if legal_for(h):
            self.to_move = "p1" if seat == "p0" else "p0"
            return {"p0": 0.0, "p1": 0.0}
        # The hand is over.
        showdown = h[-1] != "fold"
        if showdown:
            stake = 1 if h == ("check", "check") else 2
            delta = stake if _RANK[self.cards["p0"]] > _RANK[self.cards["p1"]] else -stake
        else:
            delta = 1 if seat == "p1" else -1  # the folder loses its ante
        self.chips["p0"] += delta
        self.chips["p1"] -= delta
        self.results.append((dict(self.cards), h, delta, showdown))
        self.hand += 1
        if self.hand >= self.hands:
            a, b = self.chips["p0"], self.chips["p1"]
            if a == b:
                out = {"p0": Outcome.DRAW, "p1": Outcome.DRAW}
            else:
                out = {
                    "p0": Outcome.WIN if a > b else Outcome.LOSS,
                    "p1": Outcome.WIN if b > a else Outcome.LOSS,
                }
            self._finish(out, reason=f"{self.hands} hand(s) played")
        else:
            self._deal()
        return {"p0": float(delta), "p1": float(-delta)}

    def legal_actions(self, seat: str) -> list[str]:
        """The legal actions for ``seat`` when it is to move, else []."""
        if self._done or seat != self.to_move:
            return []
        return legal_for(self.history)

    def render_text(self) -> str:
        return (
            f"hand {min(self.hand + 1, self.hands)}/{self.hands} cards p0={self.cards['p0']} "
            f"p1={self.cards['p1']} betting: {self._betting()} chips {self.chips}"
        )
