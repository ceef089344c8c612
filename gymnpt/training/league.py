"""A league: a pool of opponents (frozen snapshots of the learner and scripted bots).

Self-play training adds a frozen snapshot every few steps and, before each batch of games,
samples the opponent the learner should face next::

    league = League(seed=0)
    league.add("bot:random", lambda: make_agent("bot:random", "tictactoe"), kind="bot")
    league.add("step-20", "runs/a/checkpoints/step-20")          # a snapshot, by path
    name = league.sample("rating")                               # whom to play next
    policy = league.policy(name)                                 # built once, then cached
    league.record(name, "win")                                   # the learner's result
    ckpt["league"] = league.state_dict()                         # saved with the checkpoint
    league.load_state_dict(ckpt["league"])                       # restored on resume

Sampling strategies:

* ``uniform`` -- every member equally likely.
* ``recency`` -- newer members more likely: weight ``recency_decay ** age`` where age counts
  members added after this one.
* ``rating`` -- prefer opponents the learner beats about half the time. Each member has an
  Elo rating, and so does the learner; both move with every :meth:`League.record`. ``p``,
  the learner's estimated score against a member, is its recent results (an exponential
  moving average over about ``1 / (1 - memory)`` games) shrunk toward the Elo expectation,
  and the weight is ``p * (1 - p) + floor`` (prioritized fictitious self-play with the
  "variance" weighting). A new snapshot starts at the learner's rating, so at p = 1/2.

A member's source is either a zero-argument factory returning a Policy or a path (a
checkpoint directory). Paths are saved in :meth:`League.state_dict`; factories cannot be
saved, so members added with a factory must be added again (same name) before
:meth:`League.load_state_dict`, which then restores their records.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from gymnpt.arena.ratings import expected_score

__all__ = ["League", "Member", "STRATEGIES"]

#: The sampling strategies :meth:`League.sample` accepts.
STRATEGIES = ("uniform", "recency", "rating")
_KINDS = ("snapshot", "bot")
_RESULTS = {"win": 1.0, "draw": 0.5, "loss": 0.0}


@dataclass
class Member:
    """One opponent in the pool and the learner's record against it."""

    name: str
    kind: str
    #: The checkpoint path, when the member was added by path.
    path: str | None = None
    #: Insertion order (0 for the first member ever added).
    index: int = 0
    rating: float = 1500.0
    games: int = 0
    wins: int = 0
    draws: int = 0
    losses: int = 0
    #: Exponential moving averages of the learner's points and games against this member.
    recent_points: float = 0.0
    recent_games: float = 0.0
    #: Free-form details (e.g. the training step of a snapshot).
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> float:
        """The learner's mean score against this member (nan before any game)."""
        if not self.games:
            return math.nan
        return (self.wins + 0.5 * self.draws) / self.games


class League:
    """A pool of frozen snapshots and bots with opponent sampling.

    Args:
        seed: seed of the sampling RNG (saved and restored with the state).
        recency_decay: weight ratio between consecutive members for ``recency`` sampling.
        rating_floor: added to every ``rating`` weight so no member is ever starved.
        elo_k: K-factor of the Elo updates in :meth:`record`.
        memory: decay of the moving average of recent results per game against a member.
        prior_games: weight (in games) of the Elo expectation in the ``rating`` estimate.
        max_snapshots: keep at most this many snapshots (the oldest are dropped); None keeps all.
        loader: builds a Policy from a member's path (default: the ``ckpt:<path>`` agent,
            i.e. the newest Hugging Face checkpoint at or under the path).
        max_cached: how many built policies to keep in memory.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        recency_decay: float = 0.7,
        rating_floor: float = 0.02,
        elo_k: float = 32.0,
        memory: float = 0.95,
        prior_games: float = 2.0,
        max_snapshots: int | None = None,
        loader: Callable[[str], Any] | None = None,
        max_cached: int = 4,
    ) -> None:
        if not 0.0 < recency_decay <= 1.0:
            raise ValueError(f"recency_decay must be in (0, 1], got {recency_decay}")
        if not 0.0 <= memory < 1.0:
            raise ValueError(f"memory must be in [0, 1), got {memory}")
        if prior_games <= 0:
            raise ValueError(f"prior_games must be positive, got {prior_games}")
        if rating_floor < 0:
            raise ValueError(f"rating_floor must be >= 0, got {rating_floor}")
        if max_snapshots is not None and max_snapshots < 1:
            raise ValueError(f"max_snapshots must be >= 1 or None, got {max_snapshots}")
        self.seed = seed
        self.recency_decay = recency_decay
        self.rating_floor = rating_floor
        self.elo_k = elo_k
        self.memory = memory
        self.prior_games = prior_games
        self.max_snapshots = max_snapshots
        self.loader = loader
        self.max_cached = max_cached
        self.learner_rating = 1500.0
        self.members: dict[str, Member] = {}
        self._factories: dict[str, Callable[[], Any]] = {}
        self._cache: dict[str, Any] = {}
        self._next_index = 0
        self._rng = np.random.default_rng(seed)

    # ---- membership ---------------------------------------------------------------------
    def add(
        self,
        name: str,
        source: Callable[[], Any] | str | os.PathLike[str],
        kind: str = "snapshot",
        **meta: Any,
    ) -> Member:
        """Add an opponent.

        Args:
            name: a unique name (e.g. ``step-40`` or ``bot:minimax``).
            source: a zero-argument factory returning a Policy, or a checkpoint path.
            kind: ``"snapshot"`` (a frozen copy of the learner) or ``"bot"``.
            **meta: details stored with the member (saved in the state).

        Returns:
            The new member. Adding an existing name replaces its source but keeps its record.
        """
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
        if not isinstance(name, str) or not name:
            raise ValueError("a league member needs a non-empty name")
        if not callable(source) and not isinstance(source, (str, os.PathLike)):
            raise TypeError(
                f"source must be a policy factory or a path, got {type(source).__name__}"
            )
        path = None if callable(source) else os.fspath(source)
        old = self.members.get(name)
        if old is not None:
            old.kind, old.path = kind, path
            old.meta.update(meta)
            member = old
        else:
            member = Member(
                name=name,
                kind=kind,
                path=path,
                index=self._next_index,
                rating=self.learner_rating if kind == "snapshot" else 1500.0,
                meta=dict(meta),
            )
            self._next_index += 1
            self.members[name] = member
        if callable(source):
            self._factories[name] = source
        else:
            self._factories.pop(name, None)
        self._cache.pop(name, None)
        self._prune()
        return member

    def remove(self, name: str) -> None:
        """Drop a member (its record is lost)."""
        self._member(name)
        del self.members[name]
        self._factories.pop(name, None)
        self._cache.pop(name, None)

    def _prune(self) -> None:
        if self.max_snapshots is None:
            return
        snaps = sorted(
            (m for m in self.members.values() if m.kind == "snapshot"), key=lambda m: m.index
        )
        for m in snaps[: max(0, len(snaps) - self.max_snapshots)]:
            self.remove(m.name)

    def names(self) -> list[str]:
        """Member names in insertion order."""
        return [m.name for m in sorted(self.members.values(), key=lambda m: m.index)]

    def __len__(self) -> int:
        return len(self.members)

    def __contains__(self, name: object) -> bool:
        return name in self.members

    def _member(self, name: str) -> Member:
        m = self.members.get(name)
        if m is None:
            raise KeyError(
                f"no league member {name!r}; members: {', '.join(self.names()) or '(none)'}"
            )
        return m

    # ---- policies -----------------------------------------------------------------------
    def policy(self, name: str) -> Any:
        """The member's Policy (built on first use and cached)."""
        m = self._member(name)
        if name in self._cache:
            pol = self._cache.pop(name)
            self._cache[name] = pol  # most recently used last
            return pol
        factory = self._factories.get(name)
        if factory is not None:
            pol = factory()
        elif m.path is not None:
            pol = (self.loader or _default_loader)(m.path)
        else:
            raise RuntimeError(
                f"league member {name!r} was added with a factory that was not re-added after "
                "load_state_dict; call league.add(name, factory, kind) again"
            )
        self._cache[name] = pol
        while len(self._cache) > max(1, self.max_cached):
            old = next(iter(self._cache))
            closer = getattr(self._cache.pop(old), "close", None)
            if callable(closer):
                closer()
        return pol

    # ---- sampling -----------------------------------------------------------------------
    def weights(self, strategy: str = "uniform") -> dict[str, float]:
        """The normalized sampling probability of every member under ``strategy``."""
        if strategy not in STRATEGIES:
            raise ValueError(
                f"unknown league strategy {strategy!r}; choose from {', '.join(STRATEGIES)}"
            )
        names = self.names()
        if not names:
            return {}
        if strategy == "uniform":
            w = np.ones(len(names))
        elif strategy == "recency":
            # names() is in insertion order, so a member's age is how many came after it.
            ages = np.arange(len(names) - 1, -1, -1, dtype=float)
            w = self.recency_decay**ages
        else:
            p = np.array([self.expected_score(n) for n in names])
            w = p * (1.0 - p) + self.rating_floor
        w = w / w.sum()
        return {n: float(x) for n, x in zip(names, w)}

    def expected_score(self, name: str) -> float:
        """The learner's estimated score against ``name`` (recent results shrunk toward Elo)."""
        m = self._member(name)
        prior = expected_score(self.learner_rating, m.rating)
        return (m.recent_points + self.prior_games * prior) / (m.recent_games + self.prior_games)

    def sample(self, strategy: str = "uniform") -> str:
        """Draw one opponent's name.

        Args:
            strategy: ``uniform``, ``recency`` or ``rating`` (see the module docs).

        Raises:
            ValueError: if the league is empty or the strategy is unknown.
        """
        w = self.weights(strategy)
        if not w:
            raise ValueError("the league is empty; add a snapshot or a bot first")
        names = list(w)
        i = int(self._rng.choice(len(names), p=np.array(list(w.values()))))
        return names[i]

    # ---- results ------------------------------------------------------------------------
    def record(self, name: str, result: str | float) -> None:
        """Record one game of the learner against ``name``.

        Args:
            name: the member the learner played.
            result: the learner's result: ``"win"``, ``"draw"``, ``"loss"`` or a score in [0, 1].
        """
        m = self._member(name)
        if isinstance(result, str):
            if result not in _RESULTS:
                raise ValueError(
                    f"result must be win/draw/loss or a score in [0, 1], got {result!r}"
                )
            s = _RESULTS[result]
        else:
            s = float(result)
            if not 0.0 <= s <= 1.0:
                raise ValueError(f"score must be in [0, 1], got {result!r}")
        m.games += 1
        if s > 0.5:
            m.wins += 1
        elif s < 0.5:
            m.losses += 1
        else:
            m.draws += 1
        m.recent_points = self.memory * m.recent_points + s
        m.recent_games = self.memory * m.recent_games + 1.0
        delta = self.elo_k * (s - expected_score(self.learner_rating, m.rating))
        self.learner_rating += delta
        m.rating -= delta

    # ---- checkpointing ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: members, records, ratings and the RNG state (JSON-ready)."""
        return {
            "version": 1,
            "seed": self.seed,
            "learner_rating": self.learner_rating,
            "next_index": self._next_index,
            "members": [asdict(self.members[n]) for n in self.names()],
            "factory_members": sorted(self._factories),
            "rng": self._rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`.

        Members saved with a path come back as they were. Members that had a factory keep
        the factory of the member with the same name already in this league (add them again
        first); one missing raises ``ValueError`` naming it.
        """
        if not isinstance(state, dict) or "members" not in state:
            raise ValueError("not a league state (expected the dict from League.state_dict())")
        need = [n for n in state.get("factory_members", []) if n not in self._factories]
        if need:
            raise ValueError(
                f"league members {need} were added with factories; add them again "
                "(league.add(name, factory, kind)) before load_state_dict"
            )
        factories = {n: self._factories[n] for n in state.get("factory_members", [])}
        self.members = {}
        self._cache.clear()
        for d in state["members"]:
            m = Member(**d)
            self.members[m.name] = m
        self._factories = {n: f for n, f in factories.items() if n in self.members}
        self.seed = state.get("seed", self.seed)
        self.learner_rating = float(state.get("learner_rating", 1500.0))
        self._next_index = int(state.get("next_index", len(self.members)))
        self._rng = np.random.default_rng(self.seed)
        if "rng" in state:
            self._rng.bit_generator.state = state["rng"]

    def summary(self) -> list[dict[str, Any]]:
        """One row per member: name, kind, rating, games, W-D-L, the learner's score so far and
        its estimated score now."""
        return [
            {
                "name": m.name,
                "kind": m.kind,
                "rating": round(m.rating, 1),
                "games": m.games,
                "wins": m.wins,
                "draws": m.draws,
                "losses": m.losses,
                "learner_score": None if math.isnan(m.score) else m.score,
                "learner_expected": round(self.expected_score(m.name), 4),
            }
            for m in (self.members[n] for n in self.names())
        ]


def _default_loader(path: str) -> Any:
    from gymnpt.rollout.policies import build_policy

    return build_policy(f"ckpt:{path}")
