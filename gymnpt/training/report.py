"""The final table of a training run: rows, Markdown, and the reward curve."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["plot_rewards"]


def _as_results(rows: list[dict[str, Any]]) -> list[Any]:
    from gymnpt.arena.evaluation import EvalResult

    keep = {
        "env_id",
        "agent",
        "opponent",
        "episodes",
        "return_mean",
        "return_ci95",
        "outcomes",
        "per_seat",
        "invalid_rate",
        "turns_mean",
    }
    return [EvalResult(**{k: v for k, v in r.items() if k in keep}) for r in rows]


def _markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| agent | episodes | mean return | 95% CI | success | invalid | turns | cut by cap |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        n = r["episodes"]
        good = r["outcomes"].get("success", 0) + r["outcomes"].get("win", 0)
        lo, hi = r["return_mean"] - r["return_ci95"], r["return_mean"] + r["return_ci95"]
        lines.append(
            f"| {r['agent']} | {n} | {r['return_mean']:.3f} | [{lo:.3f}, {hi:.3f}] | "
            f"{good / max(1, n):.1%} | {r['invalid_rate']:.1%} | {r['turns_mean']:.1f} | "
            f"{r['outcomes'].get('truncated', 0)} |"
        )
    return "\n".join(lines) + "\n"


def plot_rewards(history: list[dict[str, Any]], path: Path, warm: float | None = None) -> None:
    """Save the reward curve (mean return per step, with the eval points) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rl = [h for h in history if h.get("stage", "rl") == "rl" and "reward/mean" in h]
    fig, ax = plt.subplots(figsize=(7, 4))
    if rl:
        ax.plot(
            [h["step"] for h in rl],
            [h["reward/mean"] for h in rl],
            label="training rollouts (mean return)",
        )
        ev = [h for h in rl if "eval/return_mean" in h]
        if ev:
            ax.plot(
                [h["step"] for h in ev],
                [h["eval/return_mean"] for h in ev],
                "o-",
                label="held-out eval",
            )
    if warm is not None:
        ax.axhline(warm, color="gray", ls="--", label="warm start (eval)")
    ax.set_xlabel("step")
    ax.set_ylabel("return")
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
