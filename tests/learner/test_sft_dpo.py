"""SFT and DPO from recorded trajectories through TRL's trainers, and the warm-start pieces."""

from __future__ import annotations

from pathlib import Path

import pytest
from learner_helpers import line_registry
from offline_helpers import offline_run_changes_weights

from gymnpt.core.config import parse_overrides
from gymnpt.models.tiny import build_tiny
from gymnpt.rollout.engine import RolloutEngine
from gymnpt.rollout.policies import build_policy
from gymnpt.rollout.trajectory import TrajectoryWriter
from gymnpt.training.config import Config
from gymnpt.training.run import run
from gymnpt.training.warmstart import dpo_dataset, sft_dataset, sft_steps, tokenize_episodes


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random-bot episodes of the line walk, 4 per seed, written as a run's trajectories.jsonl."""
    reg = line_registry()
    path = tmp_path_factory.mktemp("data") / "trajectories.jsonl"
    with TrajectoryWriter(path) as w:
        RolloutEngine("linewalk", registry=reg, writer=w).run(
            list(range(12)), build_policy("bot:random", "linewalk", registry=reg), group_size=4
        )
    return path


def test_tokenized_episodes_mask_only_the_replies() -> None:
    reg = line_registry()
    _, tok = build_tiny()
    trajs = RolloutEngine("linewalk", registry=reg).run(
        [1, 2], build_policy("bot:line", "linewalk", registry=reg)
    )
    for t, (ids, mask) in zip(trajs, tokenize_episodes(trajs, tok), strict=True):
        replies = [m["content"] for m in t.messages if m["role"] == "assistant"]
        masked = tok.decode(
            [i for i, m in zip(ids, mask, strict=True) if m], skip_special_tokens=True
        )
        assert masked == "".join(replies)


def test_sft_steps_lower_the_nll() -> None:
    reg = line_registry()
    model, tok = build_tiny()
    trajs = RolloutEngine("linewalk", registry=reg).run(
        list(range(8)), build_policy("bot:line", "linewalk", registry=reg)
    )
    m = sft_steps(model, tokenize_episodes(trajs, tok), steps=12, batch_size=4, lr=1e-2)
    assert m["sft/loss_last"] < m["sft/loss_first"] * 0.7


def test_datasets_from_trajectories(recorded: Path) -> None:
    from gymnpt.rollout.trajectory import read_trajectories

    trajs = read_trajectories(recorded)
    _, tok = build_tiny()
    ds = sft_dataset(trajs, tok)
    assert len(ds) == sum(t.outcome == "success" for t in trajs) and set(ds.column_names) == {
        "input_ids",
        "assistant_masks",
    }
    pairs = dpo_dataset(trajs)
    for row in pairs:
        assert row["chosen"][0]["role"] == "assistant" and row["chosen"] != row["rejected"]
        assert row["prompt"][-1]["role"] == "user"


@pytest.mark.parametrize("algo", ["sft", "dpo"])
def test_offline_training_through_trl(recorded: Path, tmp_path: Path, algo: str) -> None:
    assert offline_run_changes_weights(recorded, tmp_path, algo, steps=2)


def test_offline_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="trajectories"):
        run(parse_overrides(Config, ["algo=sft", f"data={tmp_path / 'none.jsonl'}"]))
