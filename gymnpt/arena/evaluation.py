"""Evaluation: play an agent against fixed opponents on held-out seeds and report with CIs.

Two-seat games are played with seats swapped on paired seeds (each seed once with the agent
in every seat); the report gives win/draw/loss rates with Wilson 95% intervals. Single-seat
envs report mean return with a 95% CI and the success rate.

Episodes that end in ``error`` (a model call that timed out, an env that failed) are not
results: means, CIs and rates are over the completed episodes only, and the error count
with the first reason of each kind is reported next to them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gymnpt.rollout.engine import RolloutEngine
from gymnpt.rollout.planner import EpisodePlanner, bind, seed_block
from gymnpt.rollout.policy import Policy, SamplingParams
from gymnpt.rollout.summary import first_errors, mean_ci
from gymnpt.rollout.trajectory import Trajectory, TrajectoryWriter

__all__ = ["EvalResult", "evaluate", "wilson", "env_metrics", "run_evaluators"]


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float, float]:
    """Proportion k/n with its Wilson score 95% interval (p, lo, hi)."""
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return p, max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class EvalResult:
    """What :func:`evaluate` measured, from the agent's point of view."""

    env_id: str
    agent: str
    opponent: str | None
    episodes: int
    return_mean: float
    return_ci95: float
    outcomes: dict[str, int]
    per_seat: dict[str, dict[str, Any]] = field(default_factory=dict)
    invalid_rate: float = 0.0
    turns_mean: float = 0.0
    #: The env's own episode metrics (its spec's ``metrics``), e.g. a clemscore.
    metrics: dict[str, Any] = field(default_factory=dict)
    #: Episodes that ended in ``error`` (left out of every mean, CI and rate).
    errors: int = 0
    #: Error kind -> [count, first reason].
    error_kinds: dict[str, list[Any]] = field(default_factory=dict)
    trajectories: list[Trajectory] = field(default_factory=list, repr=False)

    @property
    def completed(self) -> int:
        """Episodes that did not end in ``error``."""
        return self.episodes - self.errors

    def rate(self, outcome: str) -> tuple[float, float, float]:
        """Rate of ``outcome`` among the completed episodes, with its Wilson 95% interval."""
        return wilson(self.outcomes.get(outcome, 0), self.completed)

    @property
    def success_rate(self) -> float:
        good = self.outcomes.get("win", 0) + self.outcomes.get("success", 0)
        return good / self.completed if self.completed else float("nan")

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "trajectories"}
        d["rates"] = {o: self.rate(o) for o in self.outcomes if o != "error"}
        d["completed"] = self.completed
        return d

    def row(self) -> dict[str, str]:
        """Human-readable cells for tables."""
        ci, m = self.return_ci95, self.return_mean
        cells = {
            "agent": self.agent,
            "opponent": self.opponent or "-",
            "episodes": str(self.episodes),
            "errors": str(self.errors),
            "return (95% CI)": "-" if m != m else f"{m:.3f}" + (f" ± {ci:.3f}" if ci == ci else ""),
        }
        if self.opponent is not None:
            for o in ("win", "draw", "loss"):
                p, lo, hi = self.rate(o)
                cells[o] = f"{p:.1%} [{lo:.1%}, {hi:.1%}]"
        else:
            p, lo, hi = self.rate("success")
            cells["success"] = f"{p:.1%} [{lo:.1%}, {hi:.1%}]"
        cells["invalid"] = f"{self.invalid_rate:.1%}"
        for key, value in sorted(self.metrics.items()):
            cells[key] = f"{value:.3f}" if isinstance(value, float) else str(value)
        extra = sorted(set(self.outcomes) - {"win", "draw", "loss", "success", "error"})
        if extra:
            cells["other"] = ", ".join(f"{o} {self.outcomes[o]}" for o in extra)
        return cells


def env_metrics(spec: Any, trajectories: Sequence[Trajectory]) -> dict[str, Any]:
    """The env's own episode metrics: its spec's ``metrics(trajectories)``, or ``{}``."""
    fn = getattr(spec, "metrics", None)
    if fn is None or not trajectories:
        return {}
    from gymnpt.core.registry import load_entry_point

    out = load_entry_point(fn)(list(trajectories))
    if not isinstance(out, dict):
        raise TypeError(f"metrics of env {spec.id!r} returned {type(out).__name__}, not a dict")
    return dict(out)


def run_evaluators(
    spec: Any,
    policy: Policy,
    *,
    registry: Any = None,
    sampling: SamplingParams | None = None,
    on_error: Any = None,
) -> dict[str, dict[str, Any]]:
    """Run every evaluator of the env spec on ``policy``: name -> the dict it returned.

    An evaluator that fails gives ``{"error": "<reason>"}`` (and calls ``on_error(name, exc)``
    when given) so one failure never hides the other results.
    """
    from gymnpt.core.registry import load_entry_point

    out: dict[str, dict[str, Any]] = {}
    for name, target in (getattr(spec, "evaluators", None) or {}).items():
        try:
            res = load_entry_point(target)(policy, registry=registry, sampling=sampling)
            out[name] = dict(res)
        except Exception as exc:  # noqa: BLE001 - reported with the results
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
            if on_error is not None:
                on_error(name, exc)
    return out


def evaluate(
    env_id: str,
    agent: Policy,
    opponent: Policy | dict[str, Policy] | None = None,
    *,
    episodes: int = 100,
    seed: int = 1_000_000,
    swap_seats: bool = True,
    sampling: SamplingParams | None = None,
    max_turns: int | None = None,
    max_concurrent: int = 64,
    env_kwargs: dict[str, Any] | None = None,
    writer: TrajectoryWriter | None = None,
    progress: bool = False,
    registry: Any = None,
    call_timeout: float | None = None,
    step_timeout: float | None = None,
    agent_name: str | None = None,
    opponent_name: str | None = None,
    keep_trajectories: bool = False,
    context: str = "full",
    env_factory: Callable[[], Any] | None = None,
) -> EvalResult:
    """Play ``episodes`` games of ``agent`` (vs ``opponent`` in the other seats).

    Seeds are ``seed, seed+1, ...`` (held out from training seeds by default). With
    ``swap_seats`` each seed is played once per seat of the agent, and the episode count is
    rounded up to a multiple of the number of seats.

    ``call_timeout`` bounds one batched model call (None: no limit, the default, since every
    episode is already bounded by its turn cap and each env call by ``step_timeout``).
    Episodes that end in ``error`` are counted in ``errors`` and left out of the statistics.
    ``context`` is the engine's context strategy (``full``, ``last:K``, ``obs``).
    ``env_factory`` makes the envs instead of the registry (e.g. remote env workers; see
    :class:`~gymnpt.rollout.engine.RolloutEngine`).
    """
    engine = RolloutEngine(
        env_id,
        env_kwargs,
        sampling=sampling,
        max_turns=max_turns,
        context=context,
        call_timeout=call_timeout,
        step_timeout=step_timeout,
        max_concurrent=max_concurrent,
        writer=writer,
        progress=progress,
        registry=registry,
        env_factory=env_factory,
    )
    spec = engine.registry.env_spec(env_id) if isinstance(env_id, str) else None
    seats = list(engine.seats())
    planner = EpisodePlanner(seats, tag="eval")
    if len(seats) == 1 or opponent is None:
        # The agent in every seat (every seat recorded), or alone in a single-seat env.
        plan = planner.selfplay(seed_block(seed, episodes), slot="agent")
        specs = bind(plan, {"agent": agent})
    else:
        mode = "each" if swap_seats else seats[0]
        n_seeds = math.ceil(episodes / len(seats)) if swap_seats else episodes
        plan = planner.versus(
            seed_block(seed, n_seeds), learner="agent", opponent="opponent", learner_seat=mode
        )
        specs = bind(plan, {"agent": agent, "opponent": opponent})
    trajs = engine.run_episodes(specs)
    outcomes: dict[str, int] = {}
    per_seat: dict[str, dict[str, Any]] = {}
    for t in trajs:
        outcomes[t.outcome] = outcomes.get(t.outcome, 0) + 1
        ps = per_seat.setdefault(t.role, {"episodes": 0, "outcomes": {}, "returns": []})
        ps["episodes"] += 1
        ps["outcomes"][t.outcome] = ps["outcomes"].get(t.outcome, 0) + 1
        if t.outcome != "error":
            ps["returns"].append(t.return_)
    for ps in per_seat.values():
        ps["return_mean"], ps["return_ci95"] = mean_ci(ps.pop("returns"))
    done = [t for t in trajs if t.outcome != "error"]
    m, ci = mean_ci([t.return_ for t in done])
    turns = sum(t.num_turns for t in done)
    opp_label = opponent_name
    if opp_label is None and opponent is not None:
        opp_label = (
            ",".join(sorted({getattr(p, "name", "?") for p in opponent.values()}))
            if isinstance(opponent, dict)
            else getattr(opponent, "name", "?")
        )
    return EvalResult(
        env_id=env_id,
        agent=str(agent_name or getattr(agent, "name", "agent")),
        opponent=opp_label if len(seats) > 1 else None,
        episodes=len(trajs),
        return_mean=m,
        return_ci95=ci,
        outcomes=outcomes,
        per_seat=per_seat,
        invalid_rate=sum(t.invalid_moves for t in done) / max(1, turns),
        turns_mean=turns / max(1, len(done)),
        errors=len(trajs) - len(done),
        error_kinds={k: [n, first] for k, (n, first) in first_errors(trajs).items()},
        metrics=env_metrics(spec, trajs) if spec is not None else {},
        trajectories=list(trajs) if keep_trajectories else [],
    )


def print_results(
    results: Sequence[EvalResult], title: str = "evaluation", console: Any = None
) -> None:
    """Print eval results as one Rich table."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    rows = [r.row() for r in results]
    cols: list[str] = []
    for r in rows:
        for c in r:
            if c not in cols:
                cols.append(c)
    table = Table(title=title)
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*(r.get(c, "") for c in cols))
    console.print(table)
    from rich.markup import escape

    for res in results:
        if not res.errors:
            continue
        console.print(
            f"[red]{res.agent}: {res.errors} of {res.episodes} episodes ended in error "
            "(left out of the statistics):[/red]"
        )
        for kind, (n, first) in sorted(res.error_kinds.items(), key=lambda kv: -kv[1][0]):
            console.print(f"  [red]{n} x {escape(kind)}[/red]; first: {escape(str(first)[:300])}")
