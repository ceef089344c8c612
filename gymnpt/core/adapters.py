"""Adapters that present any env through the multi-seat API the engine drives.

:func:`as_multiagent` passes multi-seat envs through and wraps single-agent
:class:`gymnasium.Env` subclasses (first-party or third-party) in a
:class:`SingleSeatAdapter` with one seat, ``player``. :func:`env_instructions` reads the
system prompt of either kind.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from gymnpt.core.env import GameCore, MultiSeatEnv, coerce_action, missing_members

__all__ = ["SingleSeatAdapter", "as_multiagent", "env_instructions"]


class SingleSeatAdapter:
    """Present any single-agent text Gymnasium env through the multi-agent API (one seat).

    This is how the rollout engine and tournaments drive single-agent envs, including
    third-party ones that are plain :class:`gymnasium.Env` subclasses.
    """

    seats = ("player",)

    def __init__(self, env: gym.Env) -> None:
        self.env = env
        self.possible_agents = ["player"]
        self.agents: list[str] = []
        self.agent_selection = ""
        self.rewards: dict[str, float] = {}
        self.infos: dict[str, dict[str, Any]] = {}
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
    if isinstance(env, MultiSeatEnv):
        return env
    missing = missing_members(env)
    raise TypeError(
        f"{type(env).__name__} is neither a gymnasium.Env nor a multi-seat env "
        f"(gymnpt.MultiSeatEnv); it lacks: {', '.join(missing)}"
    )
