"""gymnpt: text environments, policies, rollouts and learners for post-training LMs.

The kernel is layered; each sub-package says what it owns and what it may import:

- :mod:`gymnpt.core` — env contract, registry, hooks, plugin manager, configs, ``check_env``
- :mod:`gymnpt.models` — the built-in tiny model
- :mod:`gymnpt.rollout` — policy protocol, chat encoding, episode planner, engine, trajectories
- :mod:`gymnpt.arena` — evaluation, tournaments, ratings
- :mod:`gymnpt.training` — learner, trainer, warm start, self-play, league
- :mod:`gymnpt.serving` — OpenAI-compatible server
- :mod:`gymnpt.cli` — the ``gymnpt`` command

The names below are the public API; they load on first use so that ``import gymnpt`` stays
cheap (no Gymnasium, no torch, no plugins).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "InvalidAction": "gymnpt.core.env",
    "MultiAgentEnv": "gymnpt.core.env",
    "MultiSeatEnv": "gymnpt.core.env",
    "Outcome": "gymnpt.core.env",
    "TextEnv": "gymnpt.core.env",
    "as_multiagent": "gymnpt.core.adapters",
    "hookimpl": "gymnpt.core.hookspecs",
    "AgentSpec": "gymnpt.core.registry",
    "EnvSpec": "gymnpt.core.registry",
    "Registry": "gymnpt.core.registry",
    "SandboxSpec": "gymnpt.core.registry",
    "default_registry": "gymnpt.core.registry",
    "make": "gymnpt.core.registry",
    "BasePolicy": "gymnpt.rollout.policy",
    "Completion": "gymnpt.rollout.policy",
    "Policy": "gymnpt.rollout.policy",
    "Request": "gymnpt.rollout.policy",
    "SamplingParams": "gymnpt.rollout.policy",
    "Trajectory": "gymnpt.rollout.trajectory",
}

__all__ = [
    "AgentSpec",
    "BasePolicy",
    "Completion",
    "EnvSpec",
    "InvalidAction",
    "MultiAgentEnv",
    "MultiSeatEnv",
    "Outcome",
    "Policy",
    "Registry",
    "Request",
    "SamplingParams",
    "SandboxSpec",
    "TextEnv",
    "Trajectory",
    "as_multiagent",
    "default_registry",
    "hookimpl",
    "make",
    "make_agent",
]

if TYPE_CHECKING:
    from gymnpt.core.adapters import as_multiagent
    from gymnpt.core.env import (
        InvalidAction,
        MultiAgentEnv,
        MultiSeatEnv,
        Outcome,
        TextEnv,
    )
    from gymnpt.core.hookspecs import hookimpl
    from gymnpt.core.registry import (
        AgentSpec,
        EnvSpec,
        Registry,
        SandboxSpec,
        default_registry,
        make,
    )
    from gymnpt.rollout.policy import BasePolicy, Completion, Policy, Request, SamplingParams
    from gymnpt.rollout.trajectory import Trajectory


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gymnpt' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


def make_agent(name: str, env_id: str | None = None, **kwargs: object) -> Any:
    """Create a registered policy or bot: ``gymnpt.make_agent("bot:minimax", "tictactoe")``."""
    from gymnpt.core.registry import default_registry

    return default_registry().make_agent(name, env_id, **kwargs)


def _register_with_gymnasium() -> None:
    # `gymnasium.make("gymnpt/<id>")` for every single-agent env, without importing Gymnasium
    # here: the ids are registered now if Gymnasium is loaded, else right after it loads.
    from gymnpt.core.gym_compat import install_import_hook

    install_import_hook()


_register_with_gymnasium()
