"""Scripted bots for the code envs: ``bot:reference`` and ``bot:wrong``."""

from __future__ import annotations

from typing import Any

from gymnpt.rollout.policy import BasePolicy, Request

__all__ = ["ReferenceBot", "WrongBot", "code_env_of"]


def code_env_of(request: Request) -> Any:
    """The live code env behind ``request.env`` (through adapters and wrappers)."""
    from gymnpt.envs.code.env import CodeEnv

    env = request.env
    for _ in range(8):
        if isinstance(env, CodeEnv):
            return env
        base = getattr(env, "unwrapped", None)
        if isinstance(base, CodeEnv):
            return base
        env = getattr(env, "env", None)
        if env is None:
            break
    raise TypeError("this bot plays the code envs only (request.env is not a code env)")


def _fenced(tag: str, code: str) -> str:
    return f"Here is my solution.\n\n```{tag}\n{code.rstrip()}\n```\n"


class ReferenceBot(BasePolicy):
    """Submits the canonical solution of the current problem (proves the grader)."""

    name = "bot:reference"

    def __init__(self, env_id: str | None = None, **_: Any) -> None:
        self.env_id = env_id

    def act(self, request: Request) -> str:
        """The reply with the reference solution."""
        from gymnpt.envs.code.env import HumanEvalEnv, IOCodeEnv

        env = code_env_of(request)
        if isinstance(env, HumanEvalEnv):
            p = env.current_problem()
            return _fenced("python", p["prompt"] + p["canonical_solution"])
        if isinstance(env, IOCodeEnv):
            sol = env.current_problem().solutions.get(env.language.name)
            if sol is None:
                raise ValueError(
                    f"problem {env.problem_id!r} has no {env.language.name} reference solution"
                )
            return _fenced(env.language.fence, sol)
        raise TypeError(f"no reference solutions for {type(env).__name__}")


class WrongBot(BasePolicy):
    """Submits code that runs but gives wrong answers."""

    name = "bot:wrong"

    def __init__(self, env_id: str | None = None, **_: Any) -> None:
        self.env_id = env_id

    def act(self, request: Request) -> str:
        """The reply with a wrong program."""
        from gymnpt.envs.code.env import HumanEvalEnv, IOCodeEnv

        env = code_env_of(request)
        if isinstance(env, HumanEvalEnv):
            p = env.current_problem()
            body = "    class _Wrong:\n        def __eq__(self, other):\n            return False\n    return _Wrong()\n"
            return _fenced("python", p["prompt"].rstrip() + "\n" + body)
        if isinstance(env, IOCodeEnv):
            return _fenced(env.language.fence, env.language.wrong)
        raise TypeError(f"no wrong programs for {type(env).__name__}")
