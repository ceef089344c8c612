"""gymnpt: text environments, policies, rollouts and learners for post-training LMs."""

from __future__ import annotations

from gymnpt.core import InvalidAction, MultiAgentEnv, Outcome, TextEnv, as_multiagent
from gymnpt.hookspecs import hookimpl
from gymnpt.policy import BasePolicy, Completion, Policy, Request, SamplingParams
from gymnpt.registry import AgentSpec, EnvSpec, Registry, SandboxSpec, default_registry, make
from gymnpt.trajectory import Trajectory

__version__ = "0.1.0"

__all__ = [
    "AgentSpec",
    "BasePolicy",
    "Completion",
    "EnvSpec",
    "InvalidAction",
    "MultiAgentEnv",
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


def make_agent(name: str, env_id: str | None = None, **kwargs: object) -> Policy:
    """Create a registered policy or bot: ``gymnpt.make_agent("bot:minimax", "tictactoe")``."""
    return default_registry().make_agent(name, env_id, **kwargs)


def _register_with_gymnasium() -> None:
    # `import gymnpt` makes `gymnasium.make("gymnpt/<id>")` work for every single-agent env.
    from gymnpt.gym_compat import register_gymnasium_envs

    register_gymnasium_envs()


_register_with_gymnasium()
