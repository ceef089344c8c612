"""Loggers as observer plugins: TensorBoard scalars for every train step.

The ``loggers`` plugin listens to :mod:`gymnpt.core.hookspecs` observer hooks. For each run it
writes TensorBoard events to ``<run_dir>/tensorboard`` (view with
``tensorboard --logdir runs``). Set ``GYMNPT_TENSORBOARD=0`` to turn it off.
"""

from __future__ import annotations

import os
from typing import Any

from gymnpt.core.hookspecs import hookimpl

_writers: dict[str, Any] = {}


def _enabled() -> bool:
    return os.environ.get("GYMNPT_TENSORBOARD", "1").strip().lower() not in {
        "0",
        "false",
        "no",
        "off",
    }


def _writer(run_dir: str) -> Any:
    w = _writers.get(run_dir)
    if w is None:
        from torch.utils.tensorboard import SummaryWriter

        w = _writers[run_dir] = SummaryWriter(log_dir=os.path.join(run_dir, "tensorboard"))
    return w


@hookimpl
def gymnpt_run_start(run_dir: str, config: dict[str, Any]) -> None:
    if not _enabled():
        return
    import json

    _writer(run_dir).add_text(
        "config", "```\n" + json.dumps(config, indent=2, default=str) + "\n```", 0
    )


@hookimpl
def gymnpt_train_step_end(step: int, metrics: dict[str, float], run_dir: str) -> None:
    if not _enabled():
        return
    w = _writer(run_dir)
    for key, value in metrics.items():
        if isinstance(value, (int, float)) and value == value:
            w.add_scalar(key, float(value), step)
    w.flush()


@hookimpl
def gymnpt_run_end(run_dir: str, summary: dict[str, Any]) -> None:
    w = _writers.pop(run_dir, None)
    if w is not None:
        for key, value in summary.items():
            if isinstance(value, (int, float)):
                w.add_scalar(f"final/{key}", float(value), 0)
        w.close()
