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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = [
    "InvalidAction",
    "Outcome",
    "TextEnv",
    "MultiAgentEnv",
    "GameCore",
    "text_space",
    "as_multiagent",
    "SingleSeatAdapter",
    "env_instructions",
    "MAX_TEXT",
]

#: The longest observation / action the text spaces admit.
MAX_TEXT = 1_000_000


def text_space(max_length: int = MAX_TEXT) -> spaces.Text:
    """A Gymnasium text space over all printable characters and whitespace (shared, immutable)."""
    sp = _SPACES.get(max_length)
    if sp is None:
        sp = _SPACES[max_length] = spaces.Text(
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
    ERROR = "error"
    ALL = (WIN, LOSS, DRAW, SUCCESS, FAILURE, ABORTED, ERROR)


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
        self.turn = 0
        self._pending: dict[str, Any] = {}
        self._seat_state = {s: _SeatState(retries_left=self.invalid_retries) for s in self.seats}
        self._feedback: dict[str, str] = {}
        self._new_game(self.rng, dict(options or {}))

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
            self.turn += 1
            if not self._done and self.max_turns is not None and self.turn >= self.max_turns:
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
        self.infos: dict[str, dict[str, Any]] = {s: {} for s in self.seats}
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


class SingleSeatAdapter:
    """Present any single-agent text Gymnasium env through the multi-agent API (one seat).

    This is how the rollout engine and tournaments drive single-agent envs, including
    third-party ones that are plain :class:`gymnasium.Env` subclasses.
    """

    seats = ("player",)

    def __init__(self, env: gym.Env) -> None:
        self.env = env
        self.possible_agents = ["player"]
        self._obs = ""
        self._done = True

    @property
    def unwrapped(self) -> Any:
        return self.env.unwrapped

    def __getattr__(self, name: str) -> Any:
        env = self.__dict__.get("env")
        if name.startswith("_") or env is None:
            raise AttributeError(name)
        return getattr(env, name)

    def seat_instructions(self, seat: str) -> str:
        return env_instructions(self.env)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        obs, info = self.env.reset(seed=seed, options=options)
        self._obs = coerce_action(obs)
        self._done = False
        self.agents = ["player"]
        self.agent_selection = "player"
        self.rewards = {"player": 0.0}
        self._cumulative_rewards = {"player": 0.0}
        self.terminations = {"player": False}
        self.truncations = {"player": False}
        self.infos = {"player": dict(info)}

    @property
    def done(self) -> bool:
        return self._done

    def observe(self, agent: str) -> str:
        return self._obs

    def last(self) -> tuple[str, float, bool, bool, dict[str, Any]]:
        return (
            self._obs,
            self._cumulative_rewards["player"],
            self.terminations["player"],
            self.truncations["player"],
            self.infos["player"],
        )

    def step(self, action: Any) -> None:
        if self._done:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._obs = coerce_action(obs)
        self.rewards = {"player": float(reward)}
        self._cumulative_rewards["player"] += float(reward)
        self.terminations = {"player": bool(terminated)}
        self.truncations = {"player": bool(truncated)}
        self.infos = {"player": dict(info)}
        if terminated or truncated:
            self._done = True
            self.agents = []
            self.agent_selection = ""

    def outcome(self, seat: str) -> str | None:
        core = self.env.unwrapped
        if isinstance(core, GameCore):
            return core.outcome(seat)
        out = self.infos["player"].get("outcome")
        if isinstance(out, dict):
            return out.get(seat)
        return out

    def legal_actions(self, seat: str) -> list[str] | None:
        core = self.env.unwrapped
        return core.legal_actions(seat) if isinstance(core, GameCore) else None

    def render(self) -> str:
        r = self.env.render()
        return r if isinstance(r, str) else self._obs

    def close(self) -> None:
        self.env.close()


def env_instructions(env: Any) -> str:
    """The system prompt of any env (attribute ``instructions`` or ``seat_instructions``)."""
    base = getattr(env, "unwrapped", env)
    text = getattr(env, "instructions", None) or getattr(base, "instructions", None)
    return text if isinstance(text, str) else ""


def as_multiagent(env: Any) -> Any:
    """Return ``env`` as an object with the multi-agent API (adapting single-agent envs)."""
    if isinstance(env, gym.Env):
        return SingleSeatAdapter(env)
    if hasattr(env, "agent_selection") or hasattr(env, "possible_agents"):
        return env
    raise TypeError(f"{type(env).__name__} is neither a gymnasium.Env nor a multi-agent env")


def iter_seats(env: Any) -> Iterable[str]:
    return list(getattr(env, "possible_agents", ["player"]))


@dataclass
class StepRecord:
    """One (seat, observation, action, reward) step, used by transcripts and checks."""

    seat: str
    observation: str
    action: str
    reward: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)
