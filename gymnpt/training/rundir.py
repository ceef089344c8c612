"""The run folder: config, metrics, trajectories, checkpoints, eval results."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch


# =============================================================================================
# Run folder: config, metrics, checkpoints
# =============================================================================================
def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class RunDir:
    """The files of one run."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.ckpt = self.root / "checkpoints"
        self.eval = self.root / "eval"
        for d in (self.root, self.ckpt, self.eval):
            d.mkdir(parents=True, exist_ok=True)
        self.metrics_path = self.root / "metrics.jsonl"
        self.traj_path = self.root / "trajectories.jsonl"

    def log(self, record: dict[str, Any]) -> None:
        """Append one line to metrics.jsonl."""
        with open(self.metrics_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=float) + "\n")
            fh.flush()

    def metrics(self) -> list[dict[str, Any]]:
        from gymnpt.rollout.trajectory import iter_jsonl

        return list(iter_jsonl(self.metrics_path))

    def truncate_metrics(self, step: int) -> None:
        """Drop metric lines of steps after ``step`` (written after the checkpoint we resume)."""
        rows = [r for r in self.metrics() if int(r.get("step", 0)) <= step]
        _atomic_write(self.metrics_path, "".join(json.dumps(r, default=float) + "\n" for r in rows))

    def truncate_trajectories(self, step: int) -> int:
        """Drop trajectory lines of steps after ``step`` (and corrupt lines); return how many
        were dropped. Records carry their training step in ``info.step``."""
        from gymnpt.rollout.trajectory import iter_jsonl, to_json_line

        if not self.traj_path.exists():
            return 0
        kept, total = [], 0
        for r in iter_jsonl(self.traj_path, warn=False):
            total += 1
            if int((r.get("info") or {}).get("step", 0)) <= step:
                kept.append(r)
        _atomic_write(self.traj_path, "".join(to_json_line(r) + "\n" for r in kept))
        return total - len(kept)

    # ---- checkpoints ------------------------------------------------------------------------
    def save_checkpoint(
        self, name: str, model: Any, tokenizer: Any, state: dict[str, Any] | None, keep: int
    ) -> Path:
        """Write ``checkpoints/<name>`` atomically (a temp folder renamed into place)."""
        final = self.ckpt / name
        tmp = self.ckpt / f".{name}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        model.save_pretrained(tmp, safe_serialization=True)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        if state is not None:
            torch.save(state, tmp / "trainer_state.pt")
        old = self.ckpt / f".{name}.old"
        if final.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(final, old)
        os.replace(tmp, final)
        if old.exists():
            shutil.rmtree(old)
        if name.startswith("step-"):
            _atomic_write(self.ckpt / "latest", name + "\n")
            steps = sorted(self.step_checkpoints(), key=lambda p: int(p.name.split("-")[1]))
            for p in steps[:-keep]:
                shutil.rmtree(p, ignore_errors=True)
        return final

    def step_checkpoints(self) -> list[Path]:
        return [p for p in self.ckpt.glob("step-*") if (p / "trainer_state.pt").exists()]

    def latest_checkpoint(self) -> Path | None:
        """The newest complete step checkpoint, or None."""
        marker = self.ckpt / "latest"
        if marker.exists():
            p = self.ckpt / marker.read_text().strip()
            if (p / "trainer_state.pt").exists():
                return p
        steps = sorted(self.step_checkpoints(), key=lambda p: int(p.name.split("-")[1]))
        return steps[-1] if steps else None
