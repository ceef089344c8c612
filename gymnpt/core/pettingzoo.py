"""PettingZoo views, both ways.

* :func:`to_pettingzoo` presents a gymnpt env (any multi-seat env, or a single-agent one as
  one seat) as a real :class:`pettingzoo.AECEnv`, so PettingZoo's own conformance tests
  (``pettingzoo.test.api_test``, ``seed_test``) and PettingZoo tooling accept it. Observations
  and actions are strings in :class:`~gymnpt.core.env.UnicodeText` spaces; when the game ends,
  every seat is terminated (or truncated) and each is removed by a ``step(None)``, as the AEC
  API asks.
* :class:`PettingZooEnv` is the other direction: a PettingZoo ``AECEnv`` whose observations
  are strings becomes a gymnpt multi-seat env (the contract of
  :class:`~gymnpt.core.env.MultiSeatEnv`), which a plugin registers like any env::

      registry.register_env(id="mygame", entry_point=pettingzoo_factory(mygame_v0.env))

PettingZoo is imported only by :func:`to_pettingzoo`, which says how to install it when it
is missing; the reverse adapter needs no import of PettingZoo at all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from gymnpt.core.env import _CHARSET, MAX_TEXT, Outcome, UnicodeText, as_multiagent, coerce_action

__all__ = ["to_pettingzoo", "PettingZooEnv", "pettingzoo_factory", "TextObservation"]

_INSTALL = (
    "the PettingZoo view needs the pettingzoo package: pip install pettingzoo "
    "(or pip install 'gymnpt[dev]')"
)


class TextObservation(str):
    """A str observation that also carries ``dtype``, as NumPy arrays do.

    PettingZoo's ``api_test`` compares every observation's ``dtype`` with its space's;
    this is the dtype of Gymnasium's text spaces. Otherwise it is a plain str.
    """

    __slots__ = ()
    dtype = np.dtype(str)


def _own_space() -> UnicodeText:
    # One space object per seat and per env: PettingZoo's seed test seeds each seat's space.
    # Samples are reply-sized; the space still contains every string up to MAX_TEXT.
    space = UnicodeText(min_length=0, max_length=MAX_TEXT, charset=_CHARSET)
    space.sample_length = 256
    return space


@functools.cache
def _aec_class() -> type:
    try:
        from pettingzoo import AECEnv
    except ImportError as exc:
        raise ImportError(_INSTALL) from exc

    class GymnptAECEnv(AECEnv):  # type: ignore[misc]
        """A gymnpt env seen through PettingZoo's AEC API."""

        metadata: dict[str, Any] = {  # noqa: RUF012
            "render_modes": ["ansi"],
            "name": "gymnpt",
            "is_parallelizable": False,
        }

        def __init__(self, env: Any, name: str = "gymnpt") -> None:
            super().__init__()
            self.env = as_multiagent(env)
            self.metadata = {**type(self).metadata, "name": name}
            self.render_mode = getattr(self.env, "render_mode", None)
            self.possible_agents = list(self.env.possible_agents)
            self.observation_spaces = {a: _own_space() for a in self.possible_agents}
            self.action_spaces = {a: _own_space() for a in self.possible_agents}
            self.agents: list[str] = []
            self.rewards: dict[str, float] = {}
            self._cumulative_rewards: dict[str, float] = {}
            self.terminations: dict[str, bool] = {}
            self.truncations: dict[str, bool] = {}
            self.infos: dict[str, dict[str, Any]] = {}
            self.agent_selection = ""

        def observation_space(self, agent: str) -> UnicodeText:
            return self.observation_spaces[agent]

        def action_space(self, agent: str) -> UnicodeText:
            return self.action_spaces[agent]

        def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
            self.env.reset(seed=seed, options=options)
            self.agents = list(self.possible_agents)
            self.rewards = {a: 0.0 for a in self.agents}
            self._cumulative_rewards = {a: 0.0 for a in self.agents}
            self.terminations = {a: False for a in self.agents}
            self.truncations = {a: False for a in self.agents}
            self.infos = {a: {} for a in self.agents}
            self._skip_agent_selection = None
            self._sync()

        def observe(self, agent: str) -> str:
            return TextObservation(self.env.observe(agent))

        def step(self, action: Any) -> None:
            agent = self.agent_selection
            if self.terminations[agent] or self.truncations[agent]:
                self._was_dead_step(action)
                return
            self._cumulative_rewards[agent] = 0.0
            self.env.step(action)
            rewards = getattr(self.env, "rewards", {}) or {}
            infos = getattr(self.env, "infos", {}) or {}
            self.rewards = {a: float(rewards.get(a, 0.0)) for a in self.agents}
            self.infos = {a: dict(infos.get(a, {})) for a in self.agents}
            self._sync()
            self._accumulate_rewards()

        def _sync(self) -> None:
            """Follow the wrapped env: whose turn it is, or that every seat is done."""
            if self.env.done:
                truncated = any((getattr(self.env, "truncations", {}) or {}).values())
                for a in self.agents:
                    self.terminations[a] = not truncated
                    self.truncations[a] = truncated
                self.agent_selection = self.agents[0] if self.agents else ""
            else:
                self.agent_selection = self.env.agent_selection

        def render(self) -> Any:
            return self.env.render() if hasattr(self.env, "render") else None

        def close(self) -> None:
            if hasattr(self.env, "close"):
                self.env.close()

        def __str__(self) -> str:
            return str(self.metadata.get("name", "gymnpt"))

    return GymnptAECEnv


def to_pettingzoo(env_or_id: Any, *, registry: Any = None, **kwargs: Any) -> Any:
    """A :class:`pettingzoo.AECEnv` view of a gymnpt env (an instance or a registered id).

    Args:
        env_or_id: a gymnpt env (multi-seat or single-agent) or an env id such as ``"tictactoe"``.
        registry: the registry to make ids from (default: the process-wide one).
        **kwargs: env keyword arguments when an id is given.

    Raises:
        ImportError: PettingZoo is not installed; the message says how to install it.
    """
    cls = _aec_class()
    if isinstance(env_or_id, str):
        if registry is None:
            from gymnpt.core.registry import default_registry

            registry = default_registry()
        return cls(registry.make(env_or_id, **kwargs), name=env_or_id)
    return cls(env_or_id, name=type(getattr(env_or_id, "unwrapped", env_or_id)).__name__)


class PettingZooEnv:
    """A PettingZoo ``AECEnv`` with text observations, as a gymnpt multi-seat env.

    The wrapped env must accept any string as an action (bad replies are its invalid moves)
    and return strings from ``observe``. Seats that PettingZoo terminates are stepped out with
    ``None`` here, so that gymnpt's engine only ever sees seats that must reply; the episode
    is over (``done``) once PettingZoo has no agents left.

    Args:
        env: the PettingZoo env (``AECEnv``).
        instructions: the system prompt: a string, or a function of the seat; default the
            env's own ``instructions`` attribute, if any.
    """

    def __init__(self, env: Any, instructions: str | Callable[[str], str] | None = None) -> None:
        self.env = env
        self.possible_agents = list(env.possible_agents)
        self.seats = tuple(self.possible_agents)
        self._instructions = instructions
        self.observation_spaces = {a: _own_space() for a in self.possible_agents}
        self.action_spaces = {a: _own_space() for a in self.possible_agents}
        self.render_mode = getattr(env, "render_mode", None)
        self.agents: list[str] = []
        self.agent_selection = ""
        self.rewards: dict[str, float] = {}
        self._cumulative_rewards: dict[str, float] = {}
        self.terminations: dict[str, bool] = {}
        self.truncations: dict[str, bool] = {}
        self.infos: dict[str, dict[str, Any]] = {}
        self._returns: dict[str, float] = {}
        self._final_infos: dict[str, dict[str, Any]] = {}
        self._done = True

    @property
    def unwrapped(self) -> Any:
        return self

    @property
    def done(self) -> bool:
        """True once the episode has ended."""
        return self._done

    def observation_space(self, agent: str) -> UnicodeText:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> UnicodeText:
        return self.action_spaces[agent]

    def seat_instructions(self, seat: str) -> str:
        """The system prompt of ``seat``."""
        ins = self._instructions
        if ins is None:
            ins = getattr(self.env, "instructions", "") or getattr(
                getattr(self.env, "unwrapped", None), "instructions", ""
            )
        text = ins(seat) if callable(ins) else ins
        return text if isinstance(text, str) else ""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        self.env.reset(seed=seed, options=options)
        self._done = False
        self.agents = list(self.possible_agents)
        self.rewards = {s: 0.0 for s in self.possible_agents}
        self._cumulative_rewards = dict(self.rewards)
        self._returns = dict(self.rewards)
        self.terminations = {s: False for s in self.possible_agents}
        self.truncations = {s: False for s in self.possible_agents}
        self.infos = {s: {} for s in self.possible_agents}
        self._final_infos = {}
        self._collect({})

    def observe(self, agent: str) -> Any:
        return self.env.observe(agent)

    def last(self) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        a = self.agent_selection
        return (
            self.observe(a) if a else "",
            self._cumulative_rewards.get(a, 0.0),
            self.terminations.get(a, True),
            self.truncations.get(a, False),
            self.infos.get(a, {}),
        )

    def step(self, action: Any) -> None:
        seat = self.agent_selection
        if self._done or not seat:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        self.env.step(coerce_action(action))
        self._collect(dict(self.env.rewards))

    def _collect(self, rewards: dict[str, float]) -> None:
        """Take the PettingZoo env's state after a step; step out seats it terminated."""
        step_rewards = {s: float(rewards.get(s, 0.0)) for s in self.possible_agents}
        env = self.env
        while env.agents:
            a = env.agent_selection
            if not (env.terminations.get(a) or env.truncations.get(a)):
                break
            self._final_infos[a] = dict(env.infos.get(a, {}))
            self.terminations[a] = bool(env.terminations.get(a))
            self.truncations[a] = bool(env.truncations.get(a))
            env.step(None)
            for s, r in env.rewards.items():
                step_rewards[s] = step_rewards.get(s, 0.0) + float(r)
        self.rewards = step_rewards
        for s, r in step_rewards.items():
            self._cumulative_rewards[s] = self._cumulative_rewards.get(s, 0.0) + r
            self._returns[s] = self._returns.get(s, 0.0) + r
        self.infos = {
            s: dict(env.infos.get(s, self._final_infos.get(s, {}))) for s in self.possible_agents
        }
        self.agents = list(env.agents)
        if env.agents:
            self.agent_selection = env.agent_selection
            return
        self._done = True
        self.agent_selection = ""
        for s in self.possible_agents:
            self.infos[s].setdefault("outcome", self.outcome(s))

    def outcome(self, seat: str) -> str | None:
        """``info["outcome"]`` of the seat when the env gives one, else from the returns:
        the highest return wins, the others lose, all equal is a draw (one seat: a positive
        return is a success)."""
        if not self._done:
            return None
        given = self._final_infos.get(seat, {}).get("outcome")
        if isinstance(given, str):
            return given
        if self.truncations.get(seat):
            return Outcome.TRUNCATED
        ret = self._returns.get(seat, 0.0)
        if len(self.possible_agents) == 1:
            return Outcome.SUCCESS if ret > 0 else Outcome.FAILURE
        returns = [self._returns.get(s, 0.0) for s in self.possible_agents]
        if max(returns) == min(returns):
            return Outcome.DRAW
        return Outcome.WIN if ret == max(returns) else Outcome.LOSS

    def legal_actions(self, seat: str) -> list[str] | None:
        """The env's ``legal_actions(seat)`` when it has one, else None."""
        fn = getattr(self.env, "legal_actions", None)
        return fn(seat) if callable(fn) else None

    def render(self) -> Any:
        return self.env.render()

    def close(self) -> None:
        self.env.close()


def pettingzoo_factory(
    env_fn: Callable[..., Any], instructions: str | Callable[[str], str] | None = None
) -> Callable[..., PettingZooEnv]:
    """An ``entry_point`` for ``register_env``: ``env_fn(**kwargs)`` wrapped as a gymnpt env."""

    def make(**kwargs: Any) -> PettingZooEnv:
        return PettingZooEnv(env_fn(**kwargs), instructions=instructions)

    make.__name__ = f"pettingzoo_{getattr(env_fn, '__name__', 'env')}"
    return make
