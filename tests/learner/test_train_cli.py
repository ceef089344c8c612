"""``gymnpt train`` as a user runs it: a short CPU run of the default env in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_short_cpu_train_run_in_subprocess(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "gymnpt.cli.main",
        "train",
        "env=snake",
        "steps=2",
        "sft.steps=5",
        "eval.episodes=10",
        "sft.episodes=16",
        "sft.batch_size=4",
        "seeds_per_step=2",
        "group_size=4",
        "max_turns=4",
        f"out={tmp_path}",
        "name=smoke",
        "progress=false",
        "threads=1",
    ]
    env = {**os.environ, "GYMNPT_TENSORBOARD": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    root = tmp_path / "smoke"
    rows = [json.loads(x) for x in (root / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2] and rows[0]["stage"] == "sft"
    table = json.loads((root / "eval/final.json").read_text())
    assert [r["agent"] for r in table][:2] == ["bot:random", "bot:greedy"]
    assert all(r["episodes"] == 10 for r in table)
    assert (root / "reward_curve.png").stat().st_size > 1000
    assert any((root / "tensorboard").iterdir())
    assert "mean return" in proc.stdout
    # the trained checkpoint is a policy other commands can load
    assert (root / "checkpoints/step-000002/config.json").exists()


def test_bad_override_exits_with_a_message() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gymnpt.cli.main", "train", "steps=-1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2 and "steps" in proc.stderr
