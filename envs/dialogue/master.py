"""The game master shared by every dialogue game, and the clemscore summary.

A dialogue game is a :class:`gymnpt.MultiAgentEnv` whose seats are roles (describer and
guesser, say). Each turn the master takes the acting seat's reply and runs three steps:

1. **parse** -- :meth:`DialogueGame.parse_reply` reads the reply in the game's form
   (``CLUE: ...``, ``GUESS: ...``) or raises :class:`gymnpt.InvalidAction`. A reply in the
   wrong form (or longer than ``max_reply_chars``) is a *format violation*: it aborts the
   episode, or with ``reprompt=True`` the seat is asked once more first.
2. **validate and advance** -- :meth:`DialogueGame.advance` applies the game's rules. A
   reply that breaks a rule (a forbidden word in a clue) loses the episode for the team;
   otherwise the game tells each seat what it may know (:meth:`DialogueGame.tell`) and
   names the next seat to act (:meth:`DialogueGame.next_turn`).
3. **score** -- at the end every seat receives the team score ``main_score / 100`` as its
   last reward (0 when lost); an abort gives the violating seat ``invalid_penalty``.

Each player sees only what it is told: a seat's observation is the text told to it since
its last reply, and its system prompt is its role's rules.

Outcomes map onto :class:`gymnpt.Outcome`: clembench's *success* is ``success`` for every
seat, *lose* is ``failure`` for every seat, *aborted* is ``aborted``. The per-episode record
(``info["episode"]`` of the final step, copied into each trajectory's ``info``) holds the
status, the main score 0-100 and the request counts (requests, parsed, violated).
:func:`clemscore` summarises trajectories: % played, quality and clemscore.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from gymnpt import InvalidAction, MultiAgentEnv, Outcome
from gymnpt.core.env import coerce_action

__all__ = ["DialogueGame", "clemscore", "clean", "after_prefix", "SUCCESS", "LOSE", "ABORTED"]

#: Episode statuses, as clembench names them.
SUCCESS, LOSE, ABORTED = "success", "lose", "aborted"
_OUTCOME = {SUCCESS: Outcome.SUCCESS, LOSE: Outcome.FAILURE, ABORTED: Outcome.ABORTED}


def clean(text: str, limit: int | None = None) -> str:
    """``text`` as printable ASCII (other characters become ``?``), optionally clipped."""
    out = "".join(ch if (" " <= ch <= "~" or ch == "\n") else "?" for ch in text)
    if limit is not None and len(out) > limit:
        out = out[:limit] + "..."
    return out


def after_prefix(prefix: str, text: str) -> str | None:
    """The text after ``prefix`` when the reply starts with it (case-insensitive), else None.

    Leading whitespace is ignored; the rest of the reply (all lines) is returned, stripped.
    """
    body = text.lstrip()
    if not body[: len(prefix)].lower() == prefix.lower():
        return None
    return body[len(prefix) :].strip()


class DialogueGame(MultiAgentEnv):
    """Base class of the dialogue games: the master's turn loop, scores and request counts.

    A game sets ``game``, ``seats`` and ``roles`` (seat -> system prompt) and implements
    :meth:`setup`, :meth:`parse_reply`, :meth:`advance`, :meth:`view`, and the two reference
    players :meth:`reference_reply` and :meth:`random_reply`.

    Args:
        reprompt: ask a seat once more after a format violation instead of aborting.
        max_reply_chars: longer replies are format violations.
        invalid_penalty: reward of a seat whose format violation aborted the episode.
        render_mode: ``"ansi"`` or None.
    """

    #: The game's name (the part after ``dialogue/`` in the env id).
    game: ClassVar[str] = ""
    #: Seat -> the rules that seat reads as its system prompt.
    roles: ClassVar[dict[str, str]] = {}
    _inbox: dict[str, str]
    _current: str | None
    #: ``ongoing``, then ``success``, ``lose`` or ``aborted``.
    status: str
    #: The episode's main score (0-100) once played; None while running or when aborted.
    main_score: float | None
    #: (seat, reply) of every well-formed reply, in order.
    transcript: list[tuple[str, str]]
    #: Seat -> counts of ``requests``, ``parsed`` and ``violated`` replies.
    requests: dict[str, dict[str, int]]

    def __init__(
        self,
        reprompt: bool = False,
        max_reply_chars: int = 2000,
        invalid_penalty: float = -1.0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(render_mode=render_mode)
        if max_reply_chars < 1:
            raise ValueError(f"max_reply_chars must be positive, got {max_reply_chars}")
        self.reprompt = bool(reprompt)
        self.invalid_retries = 1 if self.reprompt else 0
        self.invalid_penalty = float(invalid_penalty)
        self.max_reply_chars = int(max_reply_chars)
        self.instructions = next(iter(self.roles.values()), "")

    # ---- hooks for game authors -------------------------------------------------------
    def setup(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        """Create the instance from ``rng``; tell the first seat its task and call next_turn."""
        raise NotImplementedError

    def parse_reply(self, seat: str, text: str) -> Any:
        """The move in ``text``, or raise InvalidAction (a format violation)."""
        raise NotImplementedError

    def advance(self, seat: str, move: Any) -> dict[str, float] | None:
        """Apply the rules to ``seat``'s move; return per-turn rewards (or None)."""
        raise NotImplementedError

    def view(self, seat: str) -> dict[str, Any]:
        """What ``seat`` has been told so far, as data (the reference players read only this)."""
        raise NotImplementedError

    def reference_reply(self, seat: str, rng: random.Random) -> str:
        """A strong reply for ``seat`` computed from :meth:`view`."""
        raise NotImplementedError

    def random_reply(self, seat: str, rng: random.Random) -> str:
        """A well-formed but random reply for ``seat``."""
        raise NotImplementedError

    # ---- tools for game authors -------------------------------------------------------
    def tell(self, seat: str, text: str) -> None:
        """Add ``text`` to what ``seat`` reads before its next reply."""
        prev = self._inbox.get(seat, "")
        self._inbox[seat] = f"{prev}\n\n{text}" if prev else text

    def next_turn(self, seat: str) -> None:
        """Make ``seat`` the one to reply next."""
        self._current = seat

    def succeed(self, score: float, reason: str = "solved") -> None:
        """End the episode as a success with main score ``score`` (0-100)."""
        self._end(SUCCESS, score, reason)

    def lose(self, reason: str, score: float = 0.0) -> None:
        """End the episode as lost (a broken rule or no turns left)."""
        self._end(LOSE, score, reason)

    def _end(self, status: str, score: float, reason: str) -> None:
        self.status = status
        self.main_score = float(min(100.0, max(0.0, score)))
        self._current = None
        self._finish({s: _OUTCOME[status] for s in self.seats}, reason=reason)

    # ---- the GameCore hooks -------------------------------------------------------------
    def _new_game(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        self._inbox = {}
        self._current = None
        self.status = "ongoing"
        self.main_score = None
        self.transcript = []
        self.requests = {s: {"requests": 0, "parsed": 0, "violated": 0} for s in self.seats}
        self.setup(rng, options)

    def _to_act(self) -> list[str]:
        return [self._current] if self._current else []

    def _observe(self, seat: str) -> str:
        if self._done:
            if self.status == ABORTED:
                return f"The game was aborted: {self._ended_reason}."
            score = f"{self.main_score:.0f}" if self.main_score is not None else "0"
            return f"Game over ({self.status}: {self._ended_reason}). Team score: {score}/100."
        return self._inbox.get(seat) or "Wait for the other player."

    def _parse(self, seat: str, text: str) -> Any:
        if len(text) > self.max_reply_chars:
            raise InvalidAction(
                f"your reply has {len(text)} characters; the limit is {self.max_reply_chars}."
            )
        return self.parse_reply(seat, text)

    def _apply(self, moves: dict[str, Any]) -> dict[str, float]:
        ((seat, move),) = moves.items()
        self._inbox[seat] = ""
        rewards = dict(self.advance(seat, move) or {})
        if self._done:
            team = (self.main_score or 0.0) / 100.0
            for s in self.seats:
                rewards[s] = rewards.get(s, 0.0) + team
        return rewards

    def _invalid(self, seat: str, text: str, error: str) -> tuple[dict[str, float], dict[str, Any]]:
        st = self._seat_state[seat]
        if st.retries_left > 0:
            return super()._invalid(seat, text, error)
        st.invalid_moves += 1
        st.last_error = error
        self.status = ABORTED
        self.main_score = None
        self._current = None
        self._finish(
            {s: Outcome.ABORTED for s in self.seats},
            reason=f"format violation by {seat}: {clean(error, 200)}",
        )
        info = {"invalid_move": True, "error": error, "reply": clean(text, 200), "penalized": True}
        return {seat: self.invalid_penalty}, info

    def step(self, action: Any) -> None:
        """Take the acting seat's reply (see :class:`gymnpt.MultiAgentEnv`)."""
        seat = self.agent_selection
        if seat:
            self.requests[seat]["requests"] += 1
        super().step(action)
        if seat:
            key = "violated" if self.infos[seat].get("invalid_move") else "parsed"
            self.requests[seat][key] += 1
            if not self.infos[seat].get("invalid_move"):
                self.transcript.append((seat, clean(coerce_action(action))))
        if self._done:
            record = self.episode_info()
            for s in self.seats:
                self.infos[s]["episode"] = record

    def episode_info(self) -> dict[str, Any]:
        """The per-episode record: game, status, main score and request counts."""
        totals = {
            k: sum(r[k] for r in self.requests.values()) for k in ("requests", "parsed", "violated")
        }
        return {
            "game": self.game,
            "status": self.status if self._done else ABORTED,
            "main_score": self.main_score,
            **totals,
            "per_seat": {s: dict(r) for s, r in self.requests.items()},
        }

    def render_text(self) -> str:
        lines = [f"[{self.game}] status: {self.status}"]
        lines += [f"{seat}: {text}" for seat, text in self.transcript]
        return "\n".join(lines)

    def seat_instructions(self, seat: str) -> str:
        return self.roles.get(seat, self.instructions)


# ---- summaries --------------------------------------------------------------------------
def _episodes(trajectories: Iterable[Any]) -> dict[str, tuple[str, dict[str, Any] | None]]:
    """Episode id -> (env id, episode record or None) from trajectories (one per seat)."""
    out: dict[str, tuple[str, dict[str, Any] | None]] = {}
    for t in trajectories:
        get = t.get if isinstance(t, dict) else lambda k, _t=t: getattr(_t, k, None)
        eid = str(get("episode_id"))
        info = get("info") or {}
        record = info.get("episode") if isinstance(info, dict) else None
        if eid not in out or (out[eid][1] is None and record is not None):
            out[eid] = (str(get("env_id")), record if isinstance(record, dict) else None)
    return out


def _summary(records: list[dict[str, Any] | None]) -> dict[str, float]:
    n = len(records)
    played = [r for r in records if r is not None and r.get("status") in (SUCCESS, LOSE)]
    played_pct = 100.0 * len(played) / n if n else 0.0
    scores = [float(r["main_score"]) for r in played if r.get("main_score") is not None]
    quality = sum(scores) / len(scores) if scores else 0.0
    real = [r for r in records if r is not None]
    requests = sum(int(r.get("requests", 0)) for r in real)
    violated = sum(int(r.get("violated", 0)) for r in real)
    return {
        "episodes": float(n),
        "played_pct": played_pct,
        "success_pct": 100.0 * sum(r.get("status") == SUCCESS for r in played) / n if n else 0.0,
        "quality": quality,
        "clemscore": played_pct * quality / 100.0,
        "requests": float(requests),
        "parsed": float(sum(int(r.get("parsed", 0)) for r in real)),
        "violated": float(violated),
        "violated_pct": 100.0 * violated / requests if requests else 0.0,
    }


def clemscore(trajectories: Iterable[Any]) -> dict[str, float]:
    """% played, quality and clemscore of episodes, overall and per game.

    Each episode counts once (trajectories are per seat). An episode is *played* when it
    ended in success or lose; aborted, errored or cut-off episodes are not. Quality is the
    mean main score (0-100) of played episodes; clemscore = % played x quality / 100. With
    several games, ``<game>/<name>`` keys hold each game's numbers and the overall numbers
    are the means of the games' (clembench's macro average).

    Args:
        trajectories: :class:`gymnpt.Trajectory` records or their dicts.
    """
    episodes = _episodes(trajectories)
    by_game: dict[str, list[dict[str, Any] | None]] = {}
    for env_id, record in episodes.values():
        game = record["game"] if record else env_id.split("/", 1)[-1].split("[", 1)[0]
        by_game.setdefault(game, []).append(record)
    if len(by_game) <= 1:
        return _summary(next(iter(by_game.values()), []))
    out: dict[str, float] = {}
    per = {g: _summary(rs) for g, rs in sorted(by_game.items())}
    for g, s in per.items():
        for k in ("played_pct", "quality", "clemscore"):
            out[f"{g}/{k}"] = s[k]
    for k in ("played_pct", "quality", "clemscore"):
        vals = [s[k] for s in per.values() if not math.isnan(s[k])]
        out[k] = sum(vals) / len(vals) if vals else 0.0
    out["episodes"] = float(len(episodes))
    return out
