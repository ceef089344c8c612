"""Summaries of finished episodes: mean returns with intervals, outcome rates, error kinds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from gymnpt.core.env import Outcome
from gymnpt.rollout.trajectory import Trajectory


def mean_ci(values: Sequence[float], z: float = 1.96) -> tuple[float, float]:
    """Mean and half-width of its normal-approximation 95% confidence interval."""
    n = len(values)
    if n == 0:
        return float("nan"), float("nan")
    m = sum(values) / n
    if n == 1:
        return m, float("nan")
    var = sum((v - m) ** 2 for v in values) / (n - 1)
    return m, z * math.sqrt(var / n)


def error_kind(reason: str | None) -> str:
    """The kind of an ``error`` episode's reason: the exception name or the first words."""
    head = (reason or "unknown error").strip().splitlines()[0] if reason else "unknown error"
    kind = head.split(":", 1)[0].strip()
    return kind[:80] or "unknown error"


def first_errors(trajs: Sequence[Trajectory]) -> dict[str, tuple[int, str]]:
    """Kind -> (count, first reason) of the ``error`` episodes in ``trajs``.

    Each episode counts once (its seats share the reason).
    """
    out: dict[str, tuple[int, str]] = {}
    seen: set[str] = set()
    for t in trajs:
        if t.outcome != Outcome.ERROR or t.episode_id in seen:
            continue
        seen.add(t.episode_id)
        kind = error_kind(t.reason)
        n, first = out.get(kind, (0, (t.reason or "").strip().splitlines()[0] if t.reason else ""))
        out[kind] = (n + 1, first)
    return out


def summarize(trajs: Sequence[Trajectory]) -> dict[str, dict[str, Any]]:
    """Per (policy, seat) statistics: episodes, mean return with CI, outcome rates.

    ``error`` episodes are counted (``errors``) but left out of the mean return, its CI and
    the turn and invalid-move rates, which are over the completed episodes only.
    """
    groups: dict[tuple[str, str], list[Trajectory]] = {}
    for t in trajs:
        groups.setdefault((t.policy_id, t.role), []).append(t)
    out: dict[str, dict[str, Any]] = {}
    for (pid, role), ts in sorted(groups.items()):
        done = [t for t in ts if t.outcome != Outcome.ERROR]
        m, ci = mean_ci([t.return_ for t in done])
        counts: dict[str, int] = {}
        for t in ts:
            counts[t.outcome] = counts.get(t.outcome, 0) + 1
        turns = sum(t.num_turns for t in done)
        out[f"{pid}@{role}"] = {
            "policy": pid,
            "seat": role,
            "episodes": len(ts),
            "completed": len(done),
            "errors": len(ts) - len(done),
            "truncated": counts.get(Outcome.TRUNCATED, 0),
            "return_mean": m,
            "return_ci95": ci,
            "outcomes": counts,
            "turns_mean": turns / len(done) if done else float("nan"),
            "invalid_rate": sum(t.invalid_moves for t in done) / max(1, turns),
        }
    return out


def print_errors(trajs: Sequence[Trajectory], console: Any = None) -> int:
    """Print the count and first reason of each kind of ``error`` episode; return the count."""
    errors = first_errors(trajs)
    if not errors:
        return 0
    from rich.console import Console
    from rich.markup import escape

    console = console or Console()
    total = sum(n for n, _ in errors.values())
    console.print(f"[red]{total} episode(s) ended in error:[/red]")
    where: dict[str, str] = {}
    for t in trajs:
        if t.outcome == Outcome.ERROR:
            where.setdefault(error_kind(t.reason), t.env_id)
    for kind, (n, first) in sorted(errors.items(), key=lambda kv: -kv[1][0]):
        source = _env_source(where.get(kind, ""))
        console.print(
            f"  [red]{n} x {escape(kind)}[/red]{escape(source)}; first: {escape(first[:300])}"
        )
    return total


def _env_source(env_id: str) -> str:
    """`` (env X, plugin P)`` for an env id, naming the plugin that registered it."""
    if not env_id:
        return ""
    try:
        from gymnpt.core.registry import default_registry

        plugin = default_registry().env_spec(env_id).plugin
    except Exception:  # an unregistered id or a factory: name the env alone
        plugin = ""
    return f" (env {env_id}, plugin {plugin})" if plugin else f" (env {env_id})"


def print_summary(
    trajs: Sequence[Trajectory], title: str = "rollout summary", console: Any = None
) -> None:
    """Print a Rich table of :func:`summarize`."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title=title)
    for col in (
        "policy",
        "seat",
        "episodes",
        "errors",
        "mean return (95% CI)",
        "outcomes",
        "turns",
        "invalid",
    ):
        table.add_column(col)
    for row in summarize(trajs).values():
        ci = row["return_ci95"]
        m = row["return_mean"]
        ret = "-" if m != m else f"{m:.3f}" + (f" ± {ci:.3f}" if ci == ci else "")
        outs = ", ".join(f"{k} {v}" for k, v in sorted(row["outcomes"].items()))
        table.add_row(
            row["policy"],
            row["seat"],
            str(row["episodes"]),
            str(row["errors"]),
            ret,
            outs,
            f"{row['turns_mean']:.1f}",
            f"{row['invalid_rate']:.1%}",
        )
    console.print(table)
