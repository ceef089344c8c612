"""The env contract: text in, text out.

Two public faces share one set of hooks that an env author fills in:

* :class:`TextEnv` -- a single-agent :class:`gymnasium.Env` (``reset(*, seed, options)``
  and the 5-tuple ``step``) whose observations and actions are strings.
* :class:`MultiAgentEnv` -- a turn-based env with named seats in the style of
  PettingZoo's AEC API (``agent_selection``, ``observe``, ``last``, ``step``). Several seats
  may be asked to act at once (simultaneous moves); their moves are buffered until every
  live seat has acted and are then applied together.

An author subclasses one of them and writes five small methods::

    _new_game(rng, options)      set up state from the env's own RNG
    _to_act()                    which seats must act now ([] when the game is over)
    _observe(seat)               the next message that seat reads
    _parse(seat, text)           the move, or raise InvalidAction(reason)
    _apply(moves)                apply {seat: move}, return {seat: reward}; call _finish() at the end

Invalid replies never raise: a seat gets ``invalid_retries`` more tries (the observation
says what was wrong), then the env applies ``invalid_penalty`` and either ends the game
(``invalid_policy="forfeit"``) or skips the turn (``"skip"``). ``info`` always says so.
"""

from __future__ import annotations

import random as _pyrandom
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

if TYPE_CHECKING:
    from gymnpt.core.adapters import SingleSeatAdapter, as_multiagent, env_instructions

__all__ = [
    "InvalidAction",
    "Outcome",
    "TextEnv",
    "MultiAgentEnv",
    "MultiSeatEnv",
    "missing_members",
    "GameCore",
    "text_space",
    "UnicodeText",
    "as_multiagent",
    "SingleSeatAdapter",
    "env_instructions",
    "MAX_TEXT",
]

#: The longest observation / action the text spaces admit.
MAX_TEXT = 1_000_000


class UnicodeText(spaces.Text):
    """A Gymnasium text space that contains every string up to ``max_length`` characters.

    Observations are free text (card suits, accents, emoji); ``sample()`` draws printable
    ASCII and whitespace only, since a finite character set is needed to sample from.
    """

    #: When set, ``sample()`` without a mask draws lengths up to this (a reply-sized string)
    #: instead of up to ``max_length``.
    sample_length: int | None = None

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        if mask is None and probability is None and self.sample_length is not None:
            hi = max(self.min_length, min(self.max_length, self.sample_length))
            length = int(self.np_random.integers(self.min_length, hi + 1))
            return super().sample(mask=(length, None))
        return super().sample(mask=mask, probability=probability)

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"


def text_space(max_length: int = MAX_TEXT) -> spaces.Text:
    """A Gymnasium text space holding any string up to ``max_length`` (shared, immutable)."""
    sp = _SPACES.get(max_length)
    if sp is None:
        sp = _SPACES[max_length] = UnicodeText(
            min_length=0, max_length=max_length, charset=_CHARSET
        )
    return sp


_SPACES: dict[int, spaces.Text] = {}


_CHARSET = frozenset(chr(c) for c in range(32, 127)) | frozenset("\n\t")


class InvalidAction(ValueError):
    """Raised by ``_parse`` when a reply is not a legal move. The message is shown to the seat."""


class Outcome:
    """Outcome labels used in ``info["outcome"]`` and trajectories."""

    WIN = "win"
    LOSS = "loss"
    DRAW = "draw"
    SUCCESS = "success"
    FAILURE = "failure"
    ABORTED = "aborted"
    #: The episode reached a turn cap (the env's or the command's) before it ended.
    TRUNCATED = "truncated"
    ERROR = "error"
    ALL = (WIN, LOSS, DRAW, SUCCESS, FAILURE, ABORTED, TRUNCATED, ERROR)


@dataclass
class _SeatState:
    retries_left: int = 0
    invalid_moves: int = 0
    last_error: str | None = None


def _clip_text(text: Any, limit: int = 200) -> str:
    """Render an arbitrary reply as a short printable string for error messages."""
    if not isinstance(text, str):
        text = repr(text)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[:limit] + "..."


def coerce_action(action: Any) -> str:
    """Turn whatever a policy produced into a str (bytes are decoded leniently)."""
    if isinstance(action, str):
        return action
    if isinstance(action, (bytes, bytearray)):
        return bytes(action).decode("utf-8", errors="replace")
    if action is None:
        return ""
    return str(action)


class GameCore:
    """Turn bookkeeping and invalid-move handling shared by both env faces.

    Subclasses set ``seats`` (a tuple of seat names) and implement the five hooks.
    """

    #: Seat names. Single-agent envs have one seat, ``"player"``.
    seats: ClassVar[tuple[str, ...]] = ("player",)
    #: The system prompt a model reads before the first observation.
    instructions: str = ""
    #: Extra tries after an invalid reply before the penalty applies.
    invalid_retries: int = 1
    #: Reward given to a seat whose tries ran out.
    invalid_penalty: float = -1.0
    #: What happens when tries run out: "forfeit" ends the game, "skip" passes the turn.
    invalid_policy: str = "forfeit"
    #: Reward given to every other seat when a seat forfeits by invalid moves.
    forfeit_reward: float = 1.0
    #: Turn cap (moves applied); ``None`` for no cap. Reaching it truncates the episode.
    max_turns: int | None = None
    _seed_source: np.random.SeedSequence | None = None
    _turn_count: int = 0

    #: Attributes the base class keeps its bookkeeping in; a subclass that defines or
    #: replaces one gets an error naming it (see :meth:`_check_core_state`).
    CORE_ATTRIBUTES: ClassVar[tuple[str, ...]] = (
        "turn",
        "_turn_count",
        "_done",
        "_truncated",
        "_outcomes",
        "_ended_reason",
        "_pending",
        "_seat_state",
        "_feedback",
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        clash = [name for name in GameCore.CORE_ATTRIBUTES if name in vars(cls)]
        if clash:
            raise TypeError(
                f"{cls.__name__} defines {', '.join(clash)}, which GameCore uses for its own "
                "bookkeeping (turn counts the moves applied so far); give your attribute "
                "another name, e.g. to_move for the seat whose turn it is"
            )

    @property
    def turn(self) -> int:
        """Moves applied so far in this episode (read-only; GameCore counts them)."""
        return self._turn_count

    @turn.setter
    def turn(self, value: Any) -> None:
        raise AttributeError(
            f"{type(self).__name__}: `turn` is GameCore's count of moves applied so far and is "
            f"read-only (tried to set it to {value!r}); keep your own turn state under another "
            "name, e.g. self.to_move for the seat whose turn it is"
        )

    # ---- hooks for env authors -------------------------------------------------------
    def _new_game(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        raise NotImplementedError

    def _to_act(self) -> list[str]:
        raise NotImplementedError

    def _observe(self, seat: str) -> str:
        raise NotImplementedError

    def _parse(self, seat: str, text: str) -> Any:
        raise NotImplementedError

    def _apply(self, moves: dict[str, Any]) -> dict[str, float]:
        raise NotImplementedError

    def legal_actions(self, seat: str) -> list[str] | None:
        """Text of every legal move for ``seat`` now, or None when the set is open-ended."""
        return None

    def render_text(self) -> str:
        """A full, omniscient text rendering of the state (for humans and logs)."""
        return self._observe(self._to_act()[0]) if self._to_act() else ""

    # ---- shared machinery --------------------------------------------------------------
    def _core_reset(self, seed: int | None, options: dict[str, Any] | None) -> None:
        if seed is None and getattr(self, "_seed_source", None) is None:
            seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0] % (2**63))
        if seed is not None:
            self._seed_source = np.random.SeedSequence(seed)
        # Each reset draws a fresh child seed so that reset() without seed continues a stream.
        assert self._seed_source is not None
        child = self._seed_source.spawn(1)[0]
        self.rng = np.random.default_rng(child)
        state = child.generate_state(2, np.uint64)
        self.py_rng = _pyrandom.Random(int(state[0]) ^ (int(state[1]) << 64))
        self.seed = seed
        self._done = False
        self._truncated = False
        self._outcomes: dict[str, str] = {}
        self._ended_reason: str | None = None
        self._turn_count = 0
        self._pending: dict[str, Any] = {}
        self._seat_state = {s: _SeatState(retries_left=self.invalid_retries) for s in self.seats}
        self._feedback: dict[str, str] = {}
        core = (self._outcomes, self._pending, self._seat_state, self._feedback)
        self._new_game(self.rng, dict(options or {}))
        self._check_core_state(core)

    def _check_core_state(self, core: tuple[Any, ...]) -> None:
        """Raise when ``_new_game`` replaced an attribute the base class keeps its state in."""
        names = ("_outcomes", "_pending", "_seat_state", "_feedback")
        bad = [n for n, obj in zip(names, core) if getattr(self, n, None) is not obj]
        if self._done is not False and not self._outcomes:
            bad.append("_done")
        if self._truncated is not False:
            bad.append("_truncated")
        if self._turn_count != 0:
            bad.append("_turn_count")
        if bad:
            raise RuntimeError(
                f"{type(self).__name__}._new_game replaced {', '.join(bad)}, which GameCore uses "
                "for its own bookkeeping; give your attributes other names (call "
                "self._finish(outcomes) to end a game)"
            )

    def _finish(self, outcomes: dict[str, str], reason: str | None = None) -> None:
        """Mark the game over. ``outcomes`` maps each seat to an :class:`Outcome` label."""
        self._done = True
        self._outcomes.update(outcomes)
        self._ended_reason = reason

    def outcome(self, seat: str) -> str | None:
        return self._outcomes.get(seat)

    def _acting(self) -> list[str]:
        if self._done:
            return []
        return [s for s in self._to_act() if s not in self._pending]

    def acting(self) -> list[str]:
        """Seats that still have to reply before the next moves apply."""
        return self._acting()

    def _invalid(self, seat: str, text: str, error: str) -> tuple[dict[str, float], dict[str, Any]]:
        """Handle an unparseable reply. Returns (rewards, info) for this step."""
        st = self._seat_state[seat]
        st.invalid_moves += 1
        st.last_error = error
        info: dict[str, Any] = {"invalid_move": True, "error": error, "reply": _clip_text(text)}
        if st.retries_left > 0:
            st.retries_left -= 1
            info["retries_left"] = st.retries_left
            self._feedback[seat] = (
                f"Invalid move: {error} Try again ({st.retries_left + 1} tries left)."
            )
            return {}, info
        info["penalized"] = True
        rewards = {seat: float(self.invalid_penalty)}
        st.retries_left = self.invalid_retries
        if self.invalid_policy == "skip":
            self._feedback[seat] = f"Invalid move: {error} Your turn was skipped."
            self._pending[seat] = _SKIP
            return rewards, info
        others = [s for s in self.seats if s != seat]
        out = {seat: Outcome.LOSS if others else Outcome.FAILURE}
        for s in others:
            out[s] = Outcome.WIN
            rewards[s] = float(self.forfeit_reward)
        self._finish(out, reason=f"{seat} made too many invalid moves")
        return rewards, info

    def _core_step(self, seat: str, action: Any) -> tuple[dict[str, float], dict[str, Any]]:
        """Take ``seat``'s reply. Returns (rewards per seat, info) for this step."""
        text = coerce_action(action)
        try:
            move = self._parse(seat, text)
        except InvalidAction as exc:
            rewards, info = self._invalid(seat, text, str(exc) or "unparseable move")
        else:
            self._seat_state[seat].retries_left = self.invalid_retries
            self._feedback.pop(seat, None)
            self._pending[seat] = move
            rewards, info = {}, {"invalid_move": False}
        if not self._done and self._pending and not self._acting():
            moves = {s: m for s, m in self._pending.items() if m is not _SKIP}
            self._pending = {}
            if moves:
                for s, r in (self._apply(moves) or {}).items():
                    rewards[s] = rewards.get(s, 0.0) + float(r)
            self._turn_count += 1
            if not self._done and self.max_turns is not None and self._turn_count >= self.max_turns:
                self._truncated = True
                self._done = True
                self._ended_reason = "turn limit"
                for s in self.seats:
                    self._outcomes.setdefault(s, Outcome.ABORTED)
        if self._done:
            info["outcome"] = {s: self._outcomes.get(s) for s in self.seats}
            if self._ended_reason:
                info["ended"] = self._ended_reason
        return rewards, info

    def _observation(self, seat: str) -> str:
        obs = self._observe(seat)
        fb = self._feedback.get(seat)
        return f"{fb}\n\n{obs}" if fb else obs

    def seat_stats(self, seat: str) -> dict[str, Any]:
        st = self._seat_state[seat]
        return {"invalid_moves": st.invalid_moves}


class _Skip:
    def __repr__(self) -> str:
        return "<skip>"


_SKIP = _Skip()


class TextEnv(GameCore, gym.Env):
    """A single-agent text env with the Gymnasium contract."""

    metadata: dict[str, Any] = {"render_modes": ["ansi"]}  # noqa: RUF012
    seats: ClassVar[tuple[str, ...]] = ("player",)

    def __init__(self, render_mode: str | None = None) -> None:
        self.observation_space = text_space()
        self.action_space = text_space()
        self.render_mode = render_mode
        self._seed_source = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        # Gymnasium's own seeding (``np_random``), which its checkers expect; the game's
        # randomness comes from ``self.rng``, derived from the same seed by ``_core_reset``.
        gym.Env.reset(self, seed=seed)
        self._core_reset(seed, options)
        return self._observation("player"), {"seat": "player", "turn": 0}

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self._done:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        rewards, info = self._core_step("player", action)
        info["turn"] = self.turn
        obs = self._observation("player")
        terminated = self._done and not self._truncated
        return obs, rewards.get("player", 0.0), terminated, self._truncated, info

    def render(self) -> str:
        return self.render_text()


@runtime_checkable
class MultiSeatEnv(Protocol):
    """What every multi-seat env offers: the one contract the engine, ``check_env``,
    evaluation and adapters (TextArena, :class:`SingleSeatAdapter`) rely on.

    :class:`MultiAgentEnv` fulfils it; so does any object with these members, whatever its
    base class. ``isinstance(env, MultiSeatEnv)`` checks that every member is present; the
    state attributes (``agents``, ``agent_selection``, ``rewards``, ``infos``) exist from
    construction on and are refreshed by ``reset`` and ``step``.
    """

    #: Every seat, in order.
    possible_agents: list[str]
    #: Seats still in the game ([] once it is over).
    agents: list[str]
    #: The seat that acts now ("" once the game is over).
    agent_selection: str
    #: Each seat's reward from the last step.
    rewards: dict[str, float]
    #: Each seat's info from the last step (``invalid_move``, ``outcome``, ``ended``, ...).
    infos: dict[str, dict[str, Any]]

    @property
    def done(self) -> bool:
        """True once the episode has ended."""
        ...

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        """Start an episode that ``seed`` fully determines."""
        ...

    def observe(self, agent: str) -> str:
        """The next message ``agent`` reads."""
        ...

    def step(self, action: Any) -> Any:
        """Take the reply of ``agent_selection``."""
        ...

    def seat_instructions(self, seat: str) -> str:
        """The system prompt of ``seat`` ("" for none)."""
        ...

    def outcome(self, seat: str) -> str | None:
        """``seat``'s :class:`Outcome` once the game is over, else None."""
        ...

    def legal_actions(self, seat: str) -> list[str] | None:
        """The moves ``seat`` may make now, or None when the env does not list them."""
        ...

    def close(self) -> None:
        """Release what the env holds (servers, browsers, sandboxes)."""
        ...


def missing_members(env: Any) -> list[str]:
    """The :class:`MultiSeatEnv` members that ``env`` lacks ([] when it fulfils the contract)."""
    names = [
        *MultiSeatEnv.__annotations__,
        "done",
        "reset",
        "observe",
        "step",
        "seat_instructions",
        "outcome",
        "legal_actions",
        "close",
    ]
    return [n for n in names if not hasattr(env, n)]


class MultiAgentEnv(GameCore):
    """A turn-based text env with named seats (PettingZoo-AEC-like).

    ``agent_selection`` names the seat that acts now; ``observe(seat)`` is its next message;
    ``step(text)`` takes that seat's reply. ``rewards`` holds each seat's reward from the last
    step, ``terminations``/``truncations`` say which seats are done. When several seats move
    simultaneously, ``agent_selection`` walks through them and the moves apply together.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"]}

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode
        self._seed_source = None
        self.possible_agents = list(self.seats)
        self.observation_spaces = {s: text_space() for s in self.seats}
        self.action_spaces = {s: text_space() for s in self.seats}
        # The state of :class:`MultiSeatEnv` before the first reset: no game yet.
        self.agents: list[str] = []
        self.agent_selection = ""
        self.rewards: dict[str, float] = {}
        self.infos: dict[str, dict[str, Any]] = {}
        self._done = True

    @property
    def num_seats(self) -> int:
        return len(self.seats)

    @property
    def unwrapped(self) -> MultiAgentEnv:
        return self

    def observation_space(self, agent: str) -> spaces.Text:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Text:
        return self.action_spaces[agent]

    def seat_instructions(self, seat: str) -> str:
        """The system prompt for ``seat`` (defaults to ``instructions``)."""
        return self.instructions

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        self._core_reset(seed, options)
        self.agents = list(self.seats)
        self.rewards = {s: 0.0 for s in self.seats}
        self._cumulative_rewards = {s: 0.0 for s in self.seats}
        self.terminations = {s: False for s in self.seats}
        self.truncations = {s: False for s in self.seats}
        self.infos = {s: {} for s in self.seats}
        self._select()

    def _select(self) -> None:
        acting = self._acting()
        self.agent_selection = acting[0] if acting else ""

    @property
    def done(self) -> bool:
        return self._done

    def observe(self, agent: str) -> str:
        return self._observation(agent)

    def last(self) -> tuple[str, float, bool, bool, dict[str, Any]]:
        a = self.agent_selection
        return (
            self.observe(a),
            self._cumulative_rewards[a],
            self.terminations[a],
            self.truncations[a],
            self.infos[a],
        )

    def step(self, action: Any) -> None:
        seat = self.agent_selection
        if self._done or not seat:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        rewards, info = self._core_step(seat, action)
        self.rewards = {s: float(rewards.get(s, 0.0)) for s in self.seats}
        for s, r in self.rewards.items():
            self._cumulative_rewards[s] += r
        info["turn"] = self.turn
        self.infos = {s: {} for s in self.seats}
        self.infos[seat] = info
        if self._done:
            for s in self.seats:
                self.terminations[s] = not self._truncated
                self.truncations[s] = self._truncated
                self.infos[s].setdefault("outcome", info.get("outcome"))
            self.agents = []
        self._select()

    def render(self) -> str:
        return self.render_text()

    def close(self) -> None:
        """Nothing to release by default; envs that hold resources override this."""


# The adapters live in :mod:`gymnpt.core.adapters` (which imports this module); they stay
# importable from here, resolved on first use.
_ADAPTERS = frozenset({"SingleSeatAdapter", "as_multiagent", "env_instructions"})


def __getattr__(name: str) -> Any:
    if name in _ADAPTERS:
        from gymnpt.core import adapters

        return getattr(adapters, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
