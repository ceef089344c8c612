"""``gymnpt train`` in process on a small env: run folder, metrics, checkpoints, exact resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from learner_helpers import line_registry
from safetensors.torch import load_file

from gymnpt.core.config import ConfigError, parse_overrides
from gymnpt.core.hookspecs import hookimpl
from gymnpt.training.config import Config
from gymnpt.training.run import run
from gymnpt.training.rundir import RunDir

BASE = [
    "env=linewalk",
    "steps=4",
    "seeds_per_step=2",
    "group_size=4",
    "max_new_tokens=3",
    "save_every=1",
    "sft.steps=3",
    "sft.episodes=8",
    "sft.batch_size=4",
    "eval.episodes=4",
    "progress=false",
    "learner.lr=3e-3",
    "concurrency=16",
    "threads=1",
]
#: the coin env rewards random replies, so an untrained model already gives groups with variance
COIN = ["env=coin", "sft.steps=0", "eval.bots=[bot:random]", "max_new_tokens=2"]


def cfg_for(tmp_path: Path, name: str, *extra: str) -> Config:
    return parse_overrides(Config, [*BASE, f"out={tmp_path}", f"name={name}", *extra])


def rl_rows(root: Path) -> list[dict]:
    return [r for r in RunDir(root).metrics() if r.get("stage") == "rl"]


class _Kill:
    """An observer that interrupts the run once ``at`` steps are done (like Ctrl-C)."""

    def __init__(self, at: int) -> None:
        self.at = at

    @hookimpl
    def gymnpt_train_step_end(self, step: int, metrics: dict, run_dir: str) -> None:
        if step == self.at:
            raise KeyboardInterrupt


def test_run_folder_contents(tmp_path: Path) -> None:
    reg = line_registry()
    # One optimizer step per batch, so every ratio is measured before the weights change
    # (with context=obs each turn is its own row, more than one default minibatch).
    assert run(cfg_for(tmp_path, "a", "steps=2", "learner.minibatch_size=0"), registry=reg) == 0
    root = tmp_path / "a"
    for f in (
        "config.yaml",
        "metrics.jsonl",
        "trajectories.jsonl",
        "reward_curve.png",
        "summary.json",
        "eval/final.json",
        "eval/table.md",
        "eval/warm.json",
        "checkpoints/warm/config.json",
    ):
        assert (root / f).exists(), f
    rows = rl_rows(root)
    assert [r["step"] for r in rows] == [1, 2]
    for key in (
        "reward/mean",
        "reward/std",
        "reward/success",
        "rollout/invalid_rate",
        "rollout/episode_len",
        "policy/entropy",
        "loss/kl",
        "policy/clip_frac",
        "rollout/tokens_per_s",
        "learn/tokens_per_s",
        "time/rollout",
        "time/learn",
    ):
        assert key in rows[0], key
    # sampler and learner agree on the logprobs of what was sampled (same weights, same maths)
    assert rows[0]["policy/ratio_mean"] == pytest.approx(1.0, abs=1e-3)
    table = json.loads((root / "eval/final.json").read_text())
    assert [r["agent"] for r in table][:2] == ["bot:random", "bot:line"]
    assert len(table) == 4 and all(r["episodes"] == 4 for r in table)
    assert (root / "checkpoints/latest").read_text().strip() == "step-000002"


def test_resume_after_kill_continues_identically(tmp_path: Path) -> None:
    # the uninterrupted reference run
    assert run(cfg_for(tmp_path, "ref", *COIN), registry=line_registry()) == 0
    ref = rl_rows(tmp_path / "ref")
    # the same run, killed after step 3 was logged but before its checkpoint was written
    reg = line_registry()
    reg.plugin_manager.register(_Kill(at=3))
    with pytest.raises(KeyboardInterrupt):
        run(cfg_for(tmp_path, "killed", *COIN), registry=reg)
    root = tmp_path / "killed"
    assert RunDir(root).latest_checkpoint().name == "step-000002"
    assert [r["step"] for r in rl_rows(root)] == [1, 2, 3]
    # resume: the saved config is used; the run continues from step 2 with the saved RNG state
    state = torch.load(root / "checkpoints/step-000002/trainer_state.pt", weights_only=False)
    assert state["step"] == 2
    assert (
        run(parse_overrides(Config, [f"resume={root}", "progress=false"]), registry=line_registry())
        == 0
    )
    got = rl_rows(root)
    assert [r["step"] for r in got] == [1, 2, 3, 4]
    for a, b in zip(ref, got, strict=True):
        for key in ("reward/mean", "loss/policy", "policy/entropy", "rollout/sampled_tokens"):
            assert a.get(key) == b.get(key), (a["step"], key)
    assert all("loss/policy" in r for r in got)  # every step learned (no skipped batch)
    w_ref = load_file(str(tmp_path / "ref/checkpoints/step-000004/model.safetensors"))
    w_got = load_file(str(root / "checkpoints/step-000004/model.safetensors"))
    assert all(torch.equal(w_ref[k], w_got[k]) for k in w_ref)


def test_config_errors_are_clear() -> None:
    with pytest.raises(ConfigError, match="algo"):
        parse_overrides(Config, ["algo=ppo"])
    with pytest.raises(ConfigError, match="data="):
        parse_overrides(Config, ["algo=sft"])
    with pytest.raises(ConfigError, match="group_size"):
        parse_overrides(Config, ["group_size=1"])
    with pytest.raises(ConfigError, match="Did you mean"):
        parse_overrides(Config, ["learner.clip_epss=0.1"])
    cfg = parse_overrides(Config, ["algo=rloo", "lora.r=8"])
    assert cfg.learner.algo == "rloo" and cfg.lora.r == 8


def test_resume_of_missing_run_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        run(parse_overrides(Config, [f"resume={tmp_path / 'nope'}"]))
