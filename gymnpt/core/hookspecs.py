"""Hook specifications of the ``gymnpt`` pluggy project.

A plugin is a module (or object) with functions named like these hooks and decorated with
:data:`gymnpt.hookimpl`. Third-party packages declare it under the ``gymnpt`` entry-point
group::

    [project.entry-points.gymnpt]
    myplugin = "mypkg.gymnpt_plugin"
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("gymnpt")
hookimpl = pluggy.HookimplMarker("gymnpt")


@hookspec
def gymnpt_register_envs(registry: Any) -> None:
    """Add environment specs with ``registry.register_env(...)``.

    :param registry: the :class:`gymnpt.core.registry.Registry` being filled.
    """


@hookspec
def gymnpt_register_agents(registry: Any) -> None:
    """Add named policies and bots with ``registry.register_agent(...)``.

    :param registry: the :class:`gymnpt.core.registry.Registry` being filled.
    """


@hookspec
def gymnpt_register_sandboxes(registry: Any) -> None:
    """Add code-execution backends with ``registry.register_sandbox(...)``.

    :param registry: the :class:`gymnpt.core.registry.Registry` being filled.
    """


@hookspec
def gymnpt_register_backends(registry: Any) -> None:
    """Add backends that run batches of games with ``registry.register_backend(...)``.

    :param registry: the :class:`gymnpt.core.registry.Registry` being filled.
    """


@hookspec
def gymnpt_run_start(run_dir: str, config: dict[str, Any]) -> None:
    """Observer: a run (train, rollout, eval, tournament) starts.

    :param run_dir: the run's output folder.
    :param config: the resolved config as a plain dict.
    """


@hookspec
def gymnpt_episode_end(record: dict[str, Any]) -> None:
    """Observer: an episode finished; ``record`` is its trajectory for one seat as a dict.

    :param record: a :class:`gymnpt.rollout.trajectory.Trajectory` as a dict.
    """


@hookspec
def gymnpt_train_step_end(step: int, metrics: dict[str, float], run_dir: str) -> None:
    """Observer: a learner step finished.

    :param step: the step number (1-based).
    :param metrics: namespaced metrics such as ``reward/mean`` and ``loss/policy``.
    :param run_dir: the run's output folder.
    """


@hookspec
def gymnpt_run_end(run_dir: str, summary: dict[str, Any]) -> None:
    """Observer: a run ends (also on error); ``summary`` holds its final numbers.

    :param run_dir: the run's output folder.
    :param summary: final metrics.
    """
