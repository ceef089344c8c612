"""A short self-play run with a league, in a subprocess, and its resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ARGS = [
    "env=tictactoe",
    "selfplay=true",
    "league.snapshot_every=1",
    "league.self_share=0.5",
    "sft.steps=3",
    "sft.episodes=8",
    "sft.batch_size=4",
    "seeds_per_step=4",
    "group_size=2",
    "max_turns=6",
    "max_new_tokens=4",
    "eval.episodes=8",
    "eval.every=1",
    "eval.periodic_episodes=4",
    "progress=false",
    "threads=1",
    "save_every=1",
]


def _train(*extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "GYMNPT_TENSORBOARD": "0"}
    return subprocess.run(
        [sys.executable, "-m", "gymnpt.cli.main", "train", *ARGS, *extra],
        capture_output=True,
        text=True,
        timeout=400,
        env=env,
        check=False,
    )


def test_selfplay_run_writes_eval_and_league(tmp_path: Path) -> None:
    proc = _train("steps=2", f"out={tmp_path}", "name=sp")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    root = tmp_path / "sp"
    rows = [json.loads(x) for x in (root / "metrics.jsonl").read_text().splitlines() if x.strip()]
    rl = [r for r in rows if r.get("stage") == "rl"]
    assert [r["step"] for r in rl] == [1, 2]
    assert "eval/win_vs_bot:random" in rl[0] and "eval/loss_vs_bot:minimax" in rl[0]
    assert rl[1]["league/size"] >= 3  # two bots and the first snapshot
    evals = [json.loads(x) for x in (root / "eval/selfplay_eval.jsonl").read_text().splitlines()]
    assert {e["opponent"] for e in evals} == {"bot:random", "bot:minimax"}
    assert all(set(e["per_seat"]) == {"x", "o"} for e in evals)  # both seats evaluated
    assert (root / "league/snapshot-000001/config.json").exists()
    state_files = list((root / "checkpoints").glob("step-*/trainer_state.pt"))
    import torch

    state = torch.load(state_files[0], weights_only=False)
    assert state["selfplay"]["league"]["members"]

    # resume continues from the last checkpoint with the league restored
    proc2 = _train("steps=3", f"out={tmp_path}", "name=sp", f"resume={root}")
    assert proc2.returncode == 0, proc2.stdout[-2000:] + proc2.stderr[-4000:]
    assert "resumed" in proc2.stdout
    rows = [json.loads(x) for x in (root / "metrics.jsonl").read_text().splitlines() if x.strip()]
    assert [r["step"] for r in rows if r.get("stage") == "rl"] == [1, 2, 3]


def test_selfplay_needs_a_multiseat_env(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gymnpt.cli.main",
            "train",
            "env=snake",
            "selfplay=true",
            "sft.steps=0",
            "steps=1",
            f"out={tmp_path}",
            "progress=false",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode != 0 and "multi-seat" in proc.stderr
