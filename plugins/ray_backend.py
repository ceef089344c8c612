"""The ``ray`` backend: tournament games, and env workers for rollouts and evals, on Ray.

``gymnpt rollout|eval backend=ray`` use :meth:`RayBackend.env_pool` (env-worker actors, see
:mod:`gymnpt.plugins.ray_rollout`); ``gymnpt tournament backend=ray`` uses
:meth:`RayBackend.play`, described here.

The games are cut into chunks; each chunk is one Ray task that builds its own policies by
name (cached per worker process), plays its games through the rollout engine and returns the
result rows. Rows reach the caller as chunks finish. Because every game is fully determined
by its seed and seating, the rows equal those of the local backend.

Without ``ray`` installed nothing here is usable and :class:`RayBackend` says how to install
it (``pip install 'gymnpt[ray]'``); the local backend keeps working.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from gymnpt import hookimpl

if TYPE_CHECKING:
    from gymnpt.arena.matches import GameSpec, MatchSettings

__all__ = ["RayBackend", "available", "gymnpt_register_backends"]


def available() -> str | None:
    """None when Ray can be used here, else why not."""
    if importlib.util.find_spec("ray") is None:
        return "ray is not installed; install it with: pip install 'gymnpt[ray]'"
    return None


@hookimpl
def gymnpt_register_backends(registry: Any) -> None:
    """Register ``backend=ray`` (Ray itself is imported only when the backend is made)."""
    registry.register_backend(
        name="ray",
        factory="gymnpt.plugins.ray_backend:RayBackend",
        description=(
            "games in chunks as Ray tasks (tournaments); env-worker actors (rollout, eval)"
        ),
        available=available,
    )


def _play_chunk(
    games: Sequence[GameSpec], settings: MatchSettings, keep_trajectories: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Body of one Ray task: play ``games`` and return (rows, trajectories, stats)."""
    from gymnpt.arena.matches import play_games

    rows: list[dict[str, Any]] = []
    trajs: list[dict[str, Any]] = []

    class _Collect:
        def write_many(self, ts: Any) -> None:
            trajs.extend(t.to_dict() for t in ts)

        def write(self, t: Any) -> None:
            trajs.append(t.to_dict())

    stats = play_games(
        games,
        settings,
        rows.append,
        trajectories=_Collect() if keep_trajectories else None,  # type: ignore[arg-type]
        cache_policies=True,
    )
    return rows, trajs, stats


class RayBackend:
    """Run tournament games as Ray tasks.

    Args:
        address: a running cluster to attach to (None: use the one this process already
            joined, or start a local one).
        num_cpus: CPUs for a locally started cluster (None = all of this machine).
        chunk_size: games per task; larger chunks amortize building model policies.
        num_cpus_per_task: CPUs Ray reserves for each task.
    """

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        chunk_size: int = 16,
        num_cpus_per_task: float = 1.0,
    ) -> None:
        why = available()
        if why:
            raise RuntimeError(f"backend=ray is not available: {why}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.address = address
        self.num_cpus = num_cpus
        self.chunk_size = chunk_size
        self.num_cpus_per_task = num_cpus_per_task
        self._started = False

    def _connect(self) -> None:
        import ray

        if ray.is_initialized():
            return
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if self.address:
            kwargs["address"] = self.address
        elif self.num_cpus:
            kwargs["num_cpus"] = self.num_cpus
        ray.init(**kwargs)
        self._started = True

    def shutdown(self) -> None:
        """Stop the Ray cluster if this backend started it."""
        import ray

        if self._started and ray.is_initialized():
            ray.shutdown()
        self._started = False

    def env_pool(
        self,
        env_id: str,
        env_kwargs: dict[str, Any] | None = None,
        *,
        workers: int = 2,
        max_concurrency: int = 32,
    ) -> Any:
        """Env-worker actors for ``env_id`` (``gymnpt rollout|eval backend=ray``).

        Pass the pool's ``factory`` as the rollout engine's ``env_factory``: the engine keeps
        the policies and batches model calls, the envs step in the workers. See
        :mod:`gymnpt.plugins.ray_rollout`.

        Args:
            env_id: a registered env id.
            env_kwargs: keyword arguments for the env.
            workers: env-worker actors.
            max_concurrency: env calls one worker runs at once.

        Returns:
            A :class:`~gymnpt.plugins.ray_rollout.RayEnvPool`; ``close()`` it when done (that
            also stops a Ray instance this backend started).
        """
        from gymnpt.plugins.ray_rollout import RayEnvPool

        self._connect()
        pool = RayEnvPool(
            env_id,
            env_kwargs,
            workers=workers,
            max_concurrency=max_concurrency,
            num_cpus_per_worker=min(1.0, self.num_cpus_per_task),
        )
        pool._started = self._started
        self._started = False
        return pool

    def play(
        self,
        games: Sequence[GameSpec],
        settings: MatchSettings,
        on_row: Callable[[dict[str, Any]], None],
        *,
        on_trajectory: Callable[[dict[str, Any]], None] | None = None,
        shutdown: bool = True,
    ) -> dict[str, Any]:
        """Play ``games``; ``on_row`` gets every result row as its chunk finishes.

        Args:
            games: the games to play.
            settings: the env and how to build agents (shipped to every task).
            on_row: called in this process with each result row.
            on_trajectory: when given, called with each trajectory (as a dict).
            shutdown: stop the cluster afterwards if this backend started it.

        Returns:
            Stats: episodes, tasks, wall time.
        """
        import ray

        if not games:
            return {"episodes": 0, "tasks": 0}
        t0 = time.perf_counter()
        self._connect()
        try:
            task = ray.remote(num_cpus=self.num_cpus_per_task, max_retries=1)(_play_chunk)
            keep = on_trajectory is not None
            chunks = [
                list(games[i : i + self.chunk_size]) for i in range(0, len(games), self.chunk_size)
            ]
            pending = [task.remote(chunk, settings, keep) for chunk in chunks]
            episodes = 0
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                rows, trajs, stats = ray.get(ready[0])
                episodes += int(stats.get("episodes", 0))
                for row in rows:
                    on_row(row)
                if on_trajectory is not None:
                    for t in trajs:
                        on_trajectory(t)
        finally:
            if shutdown:
                self.shutdown()
        return {"episodes": episodes, "tasks": len(chunks), "wall_s": time.perf_counter() - t0}
