"""``backend=ray``: games run in Ray tasks on a local cluster and match the local backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gymnpt.arena.tournament import Config, run_tournament
from gymnpt.core.registry import default_registry

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


def rows(path: Path) -> dict[str, dict]:
    out = {}
    for line in (path / "results.jsonl").read_text().splitlines():
        r = json.loads(line)
        r.pop("episode_s")
        out[r["key"]] = r
    return out


def test_ray_results_equal_local(local_ray, tmp_path: Path) -> None:
    reg = default_registry()
    if "tictactoe" not in reg.envs or "bot:minimax" not in reg.agents:
        pytest.skip("tictactoe bots are not registered")
    agents = ["bot:random", "bot:minimax-1", "bot:minimax"]
    common = dict(env="tictactoe", agents=agents, games=4, bootstrap=20, plot=False)
    local = run_tournament(Config(**common, out=str(tmp_path / "local")))
    remote = run_tournament(
        Config(**common, out=str(tmp_path / "ray"), backend="ray", chunk_size=5)
    )
    assert remote.errors == 0 and remote.played == local.played == 12
    assert remote.stats["tasks"] == 3
    assert rows(tmp_path / "ray") == rows(tmp_path / "local")
    assert remote.report.to_dict() == local.report.to_dict()
    # The cluster the fixture started is still up (the backend only stops what it started).
    assert ray.is_initialized()
    # Resuming through Ray skips everything.
    again = run_tournament(Config(**common, out=str(tmp_path / "ray"), backend="ray"))
    assert again.played == 0 and again.skipped == 12


def test_ray_backend_rejects_bad_chunks() -> None:
    from gymnpt.plugins.ray_backend import RayBackend

    with pytest.raises(ValueError, match="chunk_size"):
        RayBackend(chunk_size=0)
