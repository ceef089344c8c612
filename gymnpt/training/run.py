"""``gymnpt train``: resolve the config (or resume), then run the trainer or offline SFT/DPO."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

__all__ = ["run"]


from gymnpt.training.config import Config
from gymnpt.training.models import (
    seed_everything,
)
from gymnpt.training.report import plot_rewards
from gymnpt.training.rundir import RunDir, _atomic_write
from gymnpt.training.trainer import Trainer


def _resolve_resume(cfg: Config) -> Config:
    """The saved config of ``cfg.resume``, with the values the user set explicitly on top."""
    from omegaconf import OmegaConf

    from gymnpt.core.config import load_yaml, to_dict

    root = Path(cfg.resume)
    saved_path = root / "config.yaml"
    if not saved_path.exists():
        raise FileNotFoundError(
            f"cannot resume {root}: it has no config.yaml (is it a run folder?)"
        )
    saved = load_yaml(str(saved_path))
    given = to_dict(cfg)
    defaults = to_dict(Config())

    def diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in a.items():
            if isinstance(v, dict) and isinstance(b.get(k), dict):
                sub = diff(v, b[k])
                if sub:
                    out[k] = sub
            elif k in b and v != b[k]:
                out[k] = v
        return out

    explicit = diff(given, defaults)
    explicit.pop("resume", None)
    merged = OmegaConf.merge(
        OmegaConf.structured(Config), OmegaConf.create(saved), OmegaConf.create(explicit)
    )
    out = OmegaConf.to_object(merged)
    assert isinstance(out, Config)
    out.resume = str(root)
    out.name = root.name
    out.out = str(root.parent)
    return out


def run(cfg: Config, *, registry: Any = None) -> int:
    """Run ``gymnpt train`` with ``cfg``; returns the exit code.

    Args:
        cfg: the config.
        registry: the registry to find the env and bots in (default: the process-wide one).
    """

    if cfg.resume:
        cfg = _resolve_resume(cfg)
    else:
        from gymnpt.training.config import apply_model_defaults

        changed = apply_model_defaults(cfg, registry)
        if changed:
            print(f"pretrained model {cfg.model}: {' '.join(changed)}", file=sys.stderr)
    threads = torch.get_num_threads()
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    try:
        if cfg.algo in ("sft", "dpo"):
            from gymnpt.training.warmstart import run_offline

            return run_offline(cfg)
        return _run_rl(cfg, registry)
    finally:
        torch.set_num_threads(threads)


def _run_rl(cfg: Config, registry: Any) -> int:
    """Warm start, RL and the final table (the body of :func:`run` for online algorithms)."""
    from transformers.utils import logging as hf_logging

    from gymnpt.core.config import to_dict, to_yaml

    hf_logging.disable_progress_bar()
    if registry is None:
        from gymnpt.core.registry import default_registry

        registry = default_registry()
    cfg.resolve_env(registry)
    name = cfg.name or f"{cfg.env.split('[')[0]}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = RunDir(Path(cfg.out) / name)
    _atomic_write(run_dir.root / "config.yaml", to_yaml(cfg))
    trainer = Trainer(cfg, run_dir, registry=registry)
    console = trainer.console
    trainer.notify("gymnpt_run_start", run_dir=str(run_dir.root), config=to_dict(cfg))
    summary: dict[str, Any] = {}
    t_start = time.perf_counter()
    try:
        ckpt = run_dir.latest_checkpoint() if cfg.resume else None
        warm_file = run_dir.eval / "warm.json"
        warm_result: dict[str, Any] | None = None
        if ckpt is None:
            if cfg.sft.steps > 0:
                # ---- stage 1: SFT warm start on the scripted bot's episodes ---------------
                console.print(
                    f"[bold]warm start[/bold]: SFT on {cfg.sft.episodes} episodes of "
                    f"{cfg.sft.bot or trainer.strong_bot()}"
                )
                trainer.warm_start()
            trainer.setup_rl()
            res = trainer.evaluate_model(
                "warm-started model" if cfg.sft.steps > 0 else "initial model", cfg.eval.episodes
            )
            warm_result = res.to_dict()
            _atomic_write(warm_file, json.dumps(warm_result, indent=2, default=float))
            stage = "warm start" if cfg.sft.steps > 0 else "initial model"
            console.print(
                f"{stage}: mean return {res.return_mean:.3f} ± {res.return_ci95:.3f} "
                f"on {res.episodes} held-out seeds"
            )
            seed_everything(cfg.seed + 1)  # RL starts from a fixed RNG state whatever came before
        else:
            trainer.setup_rl()
            trainer.restore(ckpt)
            run_dir.truncate_metrics(trainer.step)
            run_dir.truncate_trajectories(trainer.step)
            trainer.history = [r for r in run_dir.metrics() if r.get("stage") == "rl"]
            if warm_file.exists():
                warm_result = json.loads(warm_file.read_text())
            console.print(f"resumed {run_dir.root} at step {trainer.step}")
        # ---- stage 2: RL --------------------------------------------------------------------
        trainer.train()
        # ---- stage 3: final table -------------------------------------------------------------
        rows = trainer.final_table(warm_result)
        plot_rewards(
            trainer.history,
            run_dir.root / "reward_curve.png",
            warm=warm_result["return_mean"] if warm_result else None,
        )
        summary = {f"eval/{r['agent']}": r["return_mean"] for r in rows}
        summary["steps"] = trainer.step
        summary["wall_s"] = time.perf_counter() - t_start
        _atomic_write(run_dir.root / "summary.json", json.dumps(summary, indent=2, default=float))
        console.print(f"run folder: {run_dir.root}  ({summary['wall_s']:.0f} s)")
    finally:
        trainer.notify("gymnpt_run_end", run_dir=str(run_dir.root), summary=summary)
    return 0
