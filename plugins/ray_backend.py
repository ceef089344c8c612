"""The ``ray`` backend of ``gymnpt tournament``: games spread over a Ray cluster.

The games are cut into chunks; each chunk is one Ray task that builds its own policies by
name (cached per worker process), plays its games through the rollout engine and returns the
result rows. Rows reach the caller as chunks finish. Because every game is fully determined
by its seed and seating, the rows equal those of the local backend.

Without ``ray`` installed nothing here is usable and :class:`RayBackend` says how to install
it (``pip install 'gymnpt[ray]'``); the local backend keeps working.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from gymnpt.arena.tournament import GameSpec, MatchSettings, play_games

try:  # ray is optional
    import ray
except ImportError:  # pragma: no cover - exercised only where ray is missing
    ray = None  # type: ignore[assignment]

__all__ = ["RayBackend", "available"]


def available() -> str | None:
    """None when Ray can be used here, else why not."""
    if ray is None:
        return "ray is not installed; install it with: pip install 'gymnpt[ray]'"
    return None


def _play_chunk(
    games: Sequence[GameSpec], settings: MatchSettings, keep_trajectories: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Body of one Ray task: play ``games`` and return (rows, trajectories, stats)."""
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
        if self._started and ray.is_initialized():
            ray.shutdown()
        self._started = False

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
