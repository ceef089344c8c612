"""Shared by the tests that train offline (SFT, DPO) from recorded trajectories."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from gymnpt.core.config import parse_overrides
from gymnpt.models.tiny import tiny_path
from gymnpt.training.config import Config
from gymnpt.training.run import run


def offline_run_changes_weights(data: Path, out: Path, algo: str, steps: int) -> bool:
    """Train the tiny model ``steps`` offline steps of ``algo`` on ``data``.

    Returns:
        Whether the saved checkpoint differs from the tiny model's weights.

    Raises:
        AssertionError: the run did not exit with 0.
    """
    cfg = parse_overrides(
        Config,
        [
            f"algo={algo}",
            f"data={data}",
            f"out={out}",
            "name=r",
            f"offline.max_steps={steps}",
            "offline.batch_size=4",
            "offline.lr=1e-2",
        ],
    )
    code = run(cfg)
    if code != 0:
        raise AssertionError(f"the {algo} run exited with {code}")
    ckpt = out / "r" / "checkpoints" / f"step-{steps:06d}" / "model.safetensors"
    new = load_file(str(ckpt))
    old = load_file(str(tiny_path() / "model.safetensors"))
    return any(not torch.equal(new[k], old[k]) for k in old)
