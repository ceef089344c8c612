"""Self-play for multi-seat envs: the learning policy in every seat, a league of opponents,
and role-conditioned advantages.

``gymnpt train env=tictactoe selfplay=true`` puts the learner in every seat of every game and
trains on every seat's trajectory. Returns of the two seats of a zero-sum game cancel, and
the first seat of many games is favoured, so a group baseline that mixes seats is biased.
Role-conditioned advantage estimation (RAE) keeps one running baseline per role instead::

    A_i = R_i - b[role_i]          b[role] <- decay * b[role] + (1 - decay) * mean(R of role)

With ``league.snapshot_every=K`` a frozen copy of the learner joins a pool every K steps, with
the env's bots; in each batch a share ``league.self_share`` of the groups is pure self-play
and the rest face an opponent sampled from the pool (uniformly, by recency, or by rating,
preferring opponents the learner beats about half the time). The learner's seat alternates
between groups. Pool state (members, ratings, records) is saved in each checkpoint and
restored on resume.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gymnpt.rollout.planner import EpisodePlanner, EpisodeSpec, bind
from gymnpt.rollout.trajectory import Trajectory

__all__ = ["LeagueConfig", "RoleBaseline", "SelfPlay"]


@dataclass
class LeagueConfig:
    """Opponents for self-play beyond the learner itself."""

    snapshot_every: int = field(
        default=0,
        metadata={
            "help": "Add a frozen snapshot of the learner every N steps (0 = pure self-play)."
        },
    )
    strategy: str = field(
        default="rating",
        metadata={"help": "How opponents are sampled: uniform, recency or rating."},
    )
    max_snapshots: int = field(
        default=5, metadata={"help": "Snapshots kept in the pool (oldest dropped)."}
    )
    bots: list[str] = field(
        default_factory=list,
        metadata={"help": "Bots in the pool (default: the env's bots) once snapshots start."},
    )
    self_share: float = field(
        default=0.5,
        metadata={
            "help": "Share of groups where the learner plays itself while the pool is not empty."
        },
    )

    def __post_init__(self) -> None:
        if self.snapshot_every < 0:
            raise ValueError("league.snapshot_every must be >= 0")
        if self.strategy not in ("uniform", "recency", "rating"):
            raise ValueError(
                f"league.strategy must be uniform, recency or rating, got {self.strategy!r}"
            )
        if not 0.0 <= self.self_share <= 1.0:
            raise ValueError("league.self_share must be in [0, 1]")
        if self.max_snapshots < 1:
            raise ValueError("league.max_snapshots must be >= 1")


class RoleBaseline:
    """Role-conditioned advantages: one exponential moving baseline of returns per role."""

    def __init__(self, decay: float = 0.9) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"RAE decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.baselines: dict[str, float] = {}

    def advantages(self, trajs: Sequence[Trajectory]) -> list[float]:
        """Advantages against the current baselines, then move the baselines to this batch."""
        adv = [t.return_ - self.baselines.get(t.role, 0.0) for t in trajs]
        by_role: dict[str, list[float]] = {}
        for t in trajs:
            by_role.setdefault(t.role, []).append(t.return_)
        for role, rs in by_role.items():
            mean = float(np.mean(rs))
            old = self.baselines.get(role)
            self.baselines[role] = (
                mean if old is None else self.decay * old + (1 - self.decay) * mean
            )
        return adv

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "baselines": dict(self.baselines)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.decay = float(state["decay"])
        self.baselines = {str(k): float(v) for k, v in state["baselines"].items()}


class SelfPlay:
    """Plans self-play episodes, keeps the league, and computes advantages.

    Args:
        seats: the env's seats.
        league_cfg: the league settings.
        bots: bot names for the pool (used when ``league_cfg.bots`` is empty).
        env_id: the env id (bots are built for it).
        registry: the registry bots are built from.
        snapshot_dir: where frozen snapshots are written.
        seed: seeds the opponent sampling.
        rae_decay: decay of the role baselines.
        advantage: ``rae`` (role baselines) or ``group`` (the learner's group estimator, with
            groups split by role).
    """

    def __init__(
        self,
        seats: Sequence[str],
        league_cfg: LeagueConfig,
        *,
        bots: Sequence[str],
        env_id: str,
        registry: Any,
        snapshot_dir: Path,
        seed: int = 0,
        rae_decay: float = 0.9,
        advantage: str = "rae",
    ) -> None:
        if advantage not in ("rae", "group"):
            raise ValueError(f"selfplay advantage must be rae or group, got {advantage!r}")
        if len(seats) < 2:
            raise ValueError("self-play needs an env with at least two seats")
        self.seats = list(seats)
        self.cfg = league_cfg
        self.env_id = env_id
        self.registry = registry
        self.snapshot_dir = Path(snapshot_dir)
        self.advantage = advantage
        self.baseline = RoleBaseline(rae_decay)
        self.rng = random.Random(seed)
        self.league: Any = None
        self._bot_names = list(league_cfg.bots) or list(bots)
        if league_cfg.snapshot_every > 0:
            from gymnpt.training.league import League

            self.league = League(seed=seed, max_snapshots=league_cfg.max_snapshots)
            self._add_bots()

    def _add_bots(self) -> None:
        from gymnpt.rollout.policies import build_policy

        for name in self._bot_names:
            if name not in self.league:
                self.league.add(
                    name,
                    lambda n=name: build_policy(n, self.env_id, registry=self.registry),
                    kind="bot",
                )

    # ---- episodes -------------------------------------------------------------------------
    def episodes(
        self, seeds: Sequence[int], group_size: int, learner: Any, tag: str
    ) -> list[EpisodeSpec]:
        """One group of ``group_size`` episodes per seed, against itself or a league member."""
        specs: list[EpisodeSpec] = []
        planner = EpisodePlanner(self.seats, tag=tag)
        pool = self.league is not None and len(self.league) > 0
        for k, seed in enumerate(seeds):
            if not pool or self.rng.random() < self.cfg.self_share:
                plan = planner.selfplay([seed], group_size=group_size)
                specs += bind(plan, {"learner": learner})
                continue
            assert self.league is not None
            name = self.league.sample(self.cfg.strategy)
            # The learner's seat alternates between groups; a group keeps one seating.
            plan = planner.versus([seed], group_size=group_size, opponent=name, first_group=k)
            specs += bind(plan, {"learner": learner, name: self.league.policy(name)})
        return specs

    def record(self, trajs: Sequence[Trajectory]) -> dict[str, float]:
        """Feed league games' results to the pool; returns metrics."""
        metrics: dict[str, float] = {}
        vs = [t for t in trajs if t.info.get("opponent") not in (None, "self")]
        if self.league is not None:
            for t in vs:
                if t.outcome in ("win", "draw", "loss"):
                    self.league.record(t.info["opponent"], t.outcome)
            metrics["league/size"] = float(len(self.league))
            metrics["league/learner_rating"] = float(self.league.learner_rating)
        if vs:
            metrics["league/win_rate"] = sum(t.outcome == "win" for t in vs) / len(vs)
        selfp = [t for t in trajs if t.info.get("opponent") == "self"]
        for seat in self.seats:
            rs = [t.return_ for t in selfp if t.role == seat]
            if rs:
                metrics[f"selfplay/return_{seat}"] = float(np.mean(rs))
        return metrics

    def advantages(self, trajs: Sequence[Trajectory]) -> list[float] | None:
        """RAE advantages, or None to let the learner's group estimator decide."""
        if self.advantage == "rae":
            return self.baseline.advantages(trajs)
        return None

    # ---- snapshots --------------------------------------------------------------------------
    def maybe_snapshot(self, step: int, model: Any, tokenizer: Any) -> str | None:
        """Every ``snapshot_every`` steps, save a frozen copy of the model and add it to the pool."""
        if self.league is None or step % self.cfg.snapshot_every:
            return None
        path = self.snapshot_dir / f"snapshot-{step:06d}"
        tmp = path.with_name(path.name + ".tmp")
        target = model
        if hasattr(model, "merge_and_unload"):  # LoRA: a snapshot is a whole, merged model
            import copy

            target = copy.deepcopy(model).merge_and_unload()
        target.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if path.exists():
            import shutil

            shutil.rmtree(path)
        tmp.rename(path)
        name = f"snapshot-{step}"
        self.league.add(name, str(path), kind="snapshot")
        return name

    def state_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline.state_dict(),
            "rng": self.rng.getstate(),
            "league": self.league.state_dict() if self.league is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.baseline.load_state_dict(state["baseline"])
        self.rng.setstate(_tupleize(state["rng"]))
        if self.league is not None and state.get("league") is not None:
            self._add_bots()
            self.league.load_state_dict(state["league"])


def _tupleize(x: Any) -> Any:
    if isinstance(x, list):
        return tuple(_tupleize(v) for v in x)
    return x
