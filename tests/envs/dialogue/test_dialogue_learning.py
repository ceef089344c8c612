"""Learning from dialogue games: per-player SFT sets and DPO pairs from recorded episodes,
one TRL step on the tiny model each, and role-conditioned advantages in self-play."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
from offline_helpers import offline_run_changes_weights

from gymnpt import BasePolicy, Request, default_registry
from gymnpt.models.tiny import build_tiny
from gymnpt.rollout.engine import RolloutEngine
from gymnpt.rollout.trajectory import TrajectoryWriter, read_trajectories
from gymnpt.training.selfplay import RoleBaseline
from gymnpt.training.warmstart import dpo_dataset, sft_dataset

ENV = "dialogue/taboo"


class Mixed(BasePolicy):
    """Plays each episode as the reference bot or the random bot (half each, by episode)."""

    name = "bot:mixed"

    def __init__(self) -> None:
        reg = default_registry()
        self.ref = reg.make_agent("bot:reference", ENV)
        self.rnd = reg.make_agent("bot:random", ENV)

    def act(self, request: Request) -> str:
        pick = self.ref if zlib.crc32(request.episode_id.encode()) % 2 else self.rnd
        return pick.act(request)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Taboo episodes, 4 per seed, both seats recorded, written as a run's trajectories."""
    path = tmp_path_factory.mktemp("dialogue") / "trajectories.jsonl"
    with TrajectoryWriter(path) as w:
        RolloutEngine(ENV, writer=w).run(
            list(range(8)), {"describer": Mixed(), "guesser": Mixed()}, group_size=4
        )
    return path


def test_sft_and_dpo_sets_per_player(recorded: Path) -> None:
    trajs = read_trajectories(recorded)
    assert {t.role for t in trajs} == {"describer", "guesser"}
    assert all("episode" in t.info for t in trajs if t.outcome != "aborted")
    _, tok = build_tiny()
    ds = sft_dataset(trajs, tok)
    good = [t for t in trajs if t.outcome == "success"]
    assert len(ds) == len(good) > 0
    assert {t.role for t in good} == {"describer", "guesser"}
    pairs = dpo_dataset(trajs)
    assert len(pairs) > 0 and {r["role"] for r in pairs} <= {"describer", "guesser"}
    for row in pairs:
        assert row["chosen"] != row["rejected"]
        assert row["prompt"][-1]["role"] == "user"


@pytest.mark.parametrize("algo", ["sft", "dpo"])
def test_one_trl_step_on_the_tiny_model(recorded: Path, tmp_path: Path, algo: str) -> None:
    assert offline_run_changes_weights(recorded, tmp_path, algo, steps=1)


def test_role_conditioned_advantages_in_self_play() -> None:
    """One policy in both seats; each role's advantages are measured against its own baseline."""
    reg = default_registry()
    trajs = RolloutEngine("dialogue/referencegame").run(
        list(range(12)), reg.make_agent("bot:random", "dialogue/referencegame")
    )
    assert {t.role for t in trajs} == {"describer", "guesser"}
    rae = RoleBaseline(decay=0.0)
    rae.advantages(trajs)  # the baselines become each role's mean return
    adv = rae.advantages(trajs)
    for role in ("describer", "guesser"):
        mine = [a for a, t in zip(adv, trajs, strict=True) if t.role == role]
        assert sum(mine) == pytest.approx(0.0, abs=1e-9)
    assert set(rae.baselines) == {"describer", "guesser"}
