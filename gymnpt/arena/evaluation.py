"""Evaluation: play an agent against fixed opponents on held-out seeds and report with CIs.

Two-seat games are played with seats swapped on paired seeds (each seed once with the agent
in every seat); the report gives win/draw/loss rates with Wilson 95% intervals. Single-seat
envs report mean return with a 95% CI and the success rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gymnpt.rollout.engine import EpisodeSpec, RolloutEngine, mean_ci
from gymnpt.rollout.policy import Policy, SamplingParams
from gymnpt.rollout.trajectory import Trajectory, TrajectoryWriter

__all__ = ["EvalResult", "evaluate", "wilson"]


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
    trajectories: list[Trajectory] = field(default_factory=list, repr=False)

    def rate(self, outcome: str) -> tuple[float, float, float]:
        return wilson(self.outcomes.get(outcome, 0), self.episodes)

    @property
    def success_rate(self) -> float:
        good = self.outcomes.get("win", 0) + self.outcomes.get("success", 0)
        return good / self.episodes if self.episodes else float("nan")

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "trajectories"}
        d["rates"] = {o: self.rate(o) for o in self.outcomes}
        return d

    def row(self) -> dict[str, str]:
        """Human-readable cells for tables."""
        ci = self.return_ci95
        cells = {
            "agent": self.agent,
            "opponent": self.opponent or "-",
            "episodes": str(self.episodes),
            "return (95% CI)": f"{self.return_mean:.3f}" + (f" ± {ci:.3f}" if ci == ci else ""),
        }
        if self.opponent is not None:
            for o in ("win", "draw", "loss"):
                p, lo, hi = self.rate(o)
                cells[o] = f"{p:.1%} [{lo:.1%}, {hi:.1%}]"
        else:
            p, lo, hi = wilson(self.outcomes.get("success", 0), self.episodes)
            cells["success"] = f"{p:.1%} [{lo:.1%}, {hi:.1%}]"
        cells["invalid"] = f"{self.invalid_rate:.1%}"
        extra = sorted(set(self.outcomes) - {"win", "draw", "loss", "success"})
        if extra:
            cells["other"] = ", ".join(f"{o} {self.outcomes[o]}" for o in extra)
        return cells


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
    agent_name: str | None = None,
    opponent_name: str | None = None,
    keep_trajectories: bool = False,
) -> EvalResult:
    """Play ``episodes`` games of ``agent`` (vs ``opponent`` in the other seats).

    Seeds are ``seed, seed+1, ...`` (held out from training seeds by default). With
    ``swap_seats`` each seed is played once per seat of the agent, and the episode count is
    rounded up to a multiple of the number of seats.
    """
    engine = RolloutEngine(
        env_id,
        env_kwargs,
        sampling=sampling,
        max_turns=max_turns,
        max_concurrent=max_concurrent,
        writer=writer,
        progress=progress,
        registry=registry,
    )
    seats = list(engine.registry.env_spec(env_id).seats) if isinstance(env_id, str) else ["player"]
    specs: list[EpisodeSpec] = []
    if len(seats) == 1 or opponent is None:
        for i in range(episodes):
            pols: dict[str, Policy] = (
                {s: agent for s in seats} if opponent is None else {seats[0]: agent}
            )
            specs.append(
                EpisodeSpec(
                    seed=seed + i,
                    policies=pols,
                    record_seats=seats if opponent is None else [seats[0]],
                    group_id=f"eval:{seed + i}",
                )
            )
    else:
        agent_seats = seats if swap_seats else seats[:1]
        n_seeds = math.ceil(episodes / len(agent_seats))
        for i in range(n_seeds):
            for a_seat in agent_seats:
                pols = {}
                for s in seats:
                    if s == a_seat:
                        pols[s] = agent
                    elif isinstance(opponent, dict):
                        pols[s] = opponent[s]
                    else:
                        pols[s] = opponent
                specs.append(
                    EpisodeSpec(
                        seed=seed + i,
                        policies=pols,
                        record_seats=[a_seat],
                        group_id=f"eval:{seed + i}",
                        tags={"agent_seat": a_seat},
                    )
                )
    trajs = engine.run_episodes(specs)
    outcomes: dict[str, int] = {}
    per_seat: dict[str, dict[str, Any]] = {}
    for t in trajs:
        outcomes[t.outcome] = outcomes.get(t.outcome, 0) + 1
        ps = per_seat.setdefault(t.role, {"episodes": 0, "outcomes": {}, "returns": []})
        ps["episodes"] += 1
        ps["outcomes"][t.outcome] = ps["outcomes"].get(t.outcome, 0) + 1
        ps["returns"].append(t.return_)
    for ps in per_seat.values():
        ps["return_mean"], ps["return_ci95"] = mean_ci(ps.pop("returns"))
    m, ci = mean_ci([t.return_ for t in trajs])
    turns = sum(t.num_turns for t in trajs)
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
        invalid_rate=sum(t.invalid_moves for t in trajs) / max(1, turns),
        turns_mean=turns / max(1, len(trajs)),
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
