"""The episode planner: which seeds are played, who sits in which seat, which episodes form a group.

Every command that plays episodes (``gymnpt eval``, ``rollout``, ``train``, self-play and
tournaments) plans them here, so seeds, seatings and group ids follow one set of rules:

* A **plan** is a list of :class:`PlannedEpisode`: a seed, a seating (seat -> *slot*, a name
  such as ``"learner"``, ``"opponent"`` or a tournament agent), the seats whose trajectories
  are kept, and a group id. :func:`bind` turns a plan into engine
  :class:`~gymnpt.rollout.engine.EpisodeSpec` objects by giving each slot its policy.
* A **group** is the set of episodes that share a seed *and* a seating. GRPO-style learners
  compare returns inside a group, so every episode of a group must be the same game from the
  learner's side. Group ids have one format, ``<tag>:<seed>:<lineup>`` (:func:`group_id`),
  where ``lineup`` names who sits where (``self`` when one slot fills every seat).

The seatings the commands need:

* :meth:`EpisodePlanner.selfplay` -- one slot in every seat, every seat recorded.
* :meth:`EpisodePlanner.versus` -- a learner against an opponent; the learner's seat either
  alternates between groups (``learner_seat="alternate"``: multi-seat training and
  rollouts), is played once per seat on each seed (``"each"``: evaluation with seats
  swapped), or is fixed (a seat name).
* :meth:`EpisodePlanner.fixed` -- a given seating on every seed.
* :meth:`EpisodePlanner.round_robin` -- every pair (or n-tuple) of agents on paired seeds,
  each seed once per rotation of the agents over the seats (tournaments); with
  ``ordered=True`` every seat assignment, self-pairs included (cooperative games).
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gymnpt.rollout.policy import Policy

__all__ = [
    "EpisodeSpec",
    "PlannedEpisode",
    "EpisodePlanner",
    "group_id",
    "lineup",
    "seed_block",
    "bind",
    "SELF",
]

#: The lineup of an episode in which one slot fills every seat.
SELF = "self"

#: ``learner_seat`` values of :meth:`EpisodePlanner.versus` besides a seat name.
_LEARNER_SEAT_MODES = ("alternate", "each")


def group_id(tag: str, seed: int | None, lineup: str) -> str:
    """The one group-id format: ``<tag>:<seed>:<lineup>``.

    Args:
        tag: what the episodes belong to (a run step, ``eval``, an env id, ...).
        seed: the env seed every episode of the group shares.
        lineup: who sits where, from :func:`lineup` (``self`` for self-play).
    """
    return f"{tag}:{seed}:{lineup}"


def lineup(seating: Mapping[str, str]) -> str:
    """A short name of a seating: ``self`` when one slot fills every seat, else ``seat=slot,...``."""
    slots = set(seating.values())
    if len(seating) > 1 and len(slots) == 1:
        return SELF
    return ",".join(f"{seat}={slot}" for seat, slot in seating.items())


def seed_block(start: int, count: int, block: int = 0) -> list[int]:
    """``count`` consecutive seeds of block number ``block``: disjoint blocks for disjoint uses.

    ``seed_block(s, k, b)`` is ``[s + b*k, ..., s + b*k + k - 1]``, so rollout rounds that
    number their blocks never share a seed.
    """
    if count < 0 or block < 0:
        raise ValueError(f"count and block must be >= 0, got {count} and {block}")
    base = start + block * count
    return list(range(base, base + count))


@dataclass
class EpisodeSpec:
    """One episode for the engine to play: a seed and the policy in each seat."""

    seed: int | None
    #: seat -> policy, or one policy for every seat (self-play).
    policies: dict[str, Policy] | Policy
    group_id: str = ""
    #: Seats whose trajectories are returned (default: all).
    record_seats: Collection[str] | None = None
    options: dict[str, Any] | None = None
    episode_id: str = ""
    #: Free-form tags copied into each trajectory's ``info`` (e.g. a tournament pairing).
    tags: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedEpisode:
    """One episode of a plan: a seed, who sits where, what is recorded, its group."""

    seed: int | None
    #: Seat -> slot name, in the env's seat order.
    seating: tuple[tuple[str, str], ...]
    group_id: str
    #: Seats whose trajectories are kept (all seats when None).
    record_seats: tuple[str, ...] | None = None
    tags: Mapping[str, Any] = field(default_factory=dict)

    @property
    def slots(self) -> dict[str, str]:
        """Seat -> slot as a dict."""
        return dict(self.seating)


class EpisodePlanner:
    """Plans episodes for an env with the given seats.

    Args:
        seats: the env's seats in order (``("player",)`` for a single-agent env).
        tag: the first part of every group id (an env id, ``eval``, a training step, ...).
    """

    def __init__(self, seats: Sequence[str], *, tag: str = "") -> None:
        self.seats = tuple(seats)
        if not self.seats:
            raise ValueError("an env needs at least one seat")
        if len(set(self.seats)) != len(self.seats):
            raise ValueError(f"seat names must be distinct, got {list(self.seats)}")
        self.tag = tag

    def _episode(
        self,
        seed: int | None,
        seating: Mapping[str, str],
        record: Iterable[str] | None,
        tags: Mapping[str, Any] | None = None,
        tag: str | None = None,
    ) -> PlannedEpisode:
        return PlannedEpisode(
            seed=seed,
            seating=tuple((s, seating[s]) for s in self.seats),
            group_id=group_id(self.tag if tag is None else tag, seed, lineup(seating)),
            record_seats=None if record is None else tuple(record),
            tags=dict(tags or {}),
        )

    def selfplay(
        self, seeds: Iterable[int | None], *, group_size: int = 1, slot: str = "learner"
    ) -> list[PlannedEpisode]:
        """``slot`` in every seat; every seat is recorded; one group of ``group_size`` per seed."""
        _check_group_size(group_size)
        seating = dict.fromkeys(self.seats, slot)
        return [
            self._episode(seed, seating, None, {"opponent": SELF})
            for seed in seeds
            for _ in range(group_size)
        ]

    def versus(
        self,
        seeds: Iterable[int | None],
        *,
        group_size: int = 1,
        learner: str = "learner",
        opponent: str = "opponent",
        learner_seat: str = "alternate",
        first_group: int = 0,
    ) -> list[PlannedEpisode]:
        """``learner`` in one seat, ``opponent`` in the others; only the learner's seat is recorded.

        Args:
            seeds: one group per seed (two or more with ``learner_seat="each"``).
            group_size: episodes per group (same seed, same seating).
            learner: the learner's slot name.
            opponent: the slot name of every other seat.
            learner_seat: ``"alternate"``: group ``k`` puts the learner in seat
                ``k % len(seats)``, so seats take turns between groups and never mix inside
                one; ``"each"``: every seed is played once per seat (a group per seed and
                seat: paired seeds with seats swapped); or a seat name to keep it there.
            first_group: the index of the first group (continue alternation across calls).
        """
        _check_group_size(group_size)
        if learner == opponent:
            raise ValueError("learner and opponent need different slot names")
        if learner_seat not in _LEARNER_SEAT_MODES and learner_seat not in self.seats:
            raise ValueError(
                f"learner_seat must be one of {', '.join(_LEARNER_SEAT_MODES)} or a seat "
                f"({', '.join(self.seats)}), got {learner_seat!r}"
            )
        out: list[PlannedEpisode] = []
        for k, seed in enumerate(seeds, start=first_group):
            if learner_seat == "each":
                choices: Sequence[str] = self.seats
            elif learner_seat == "alternate":
                choices = (self.seats[k % len(self.seats)],)
            else:
                choices = (learner_seat,)
            for seat in choices:
                seating = {s: (learner if s == seat else opponent) for s in self.seats}
                tags = {"opponent": opponent, "agent_seat": seat}
                out += [self._episode(seed, seating, (seat,), tags) for _ in range(group_size)]
        return out

    def fixed(
        self,
        seeds: Iterable[int | None],
        seating: Mapping[str, str] | str,
        *,
        group_size: int = 1,
        record_seats: Iterable[str] | None = None,
    ) -> list[PlannedEpisode]:
        """The same seating on every seed (a slot name alone fills every seat)."""
        _check_group_size(group_size)
        full = dict.fromkeys(self.seats, seating) if isinstance(seating, str) else dict(seating)
        missing = [s for s in self.seats if s not in full]
        if missing:
            raise ValueError(f"no slot for seat(s) {', '.join(missing)} (seats: {self.seats})")
        record = None if record_seats is None else tuple(record_seats)
        return [self._episode(seed, full, record) for seed in seeds for _ in range(group_size)]

    def round_robin(
        self,
        agents: Sequence[str],
        seeds: Sequence[int],
        *,
        table_size: int | None = None,
        ordered: bool = False,
    ) -> list[PlannedEpisode]:
        """Every ``table_size``-tuple of distinct agents on every seed, once per rotation of seats.

        With two seats each unordered pair plays each seed twice: once with the first agent
        in the first seat and once swapped, so neither profits from moving first. Games come
        in a canonical order (pairs in the order of ``agents``, then seeds, then rotations).

        With ``ordered=True`` (cooperative games, where the seats are roles of one team) every
        seat assignment is a table of its own: every ordered tuple of agents, the same agent
        in several seats included (self-pairs), plays every seed once.
        """
        n = table_size or len(self.seats)
        if n != len(self.seats):
            raise ValueError(f"a table needs one agent per seat ({len(self.seats)}), got {n}")
        if len(set(agents)) != len(agents):
            raise ValueError("agents must be distinct")
        out: list[PlannedEpisode] = []
        if ordered:
            for table in itertools.product(agents, repeat=n):
                seating = dict(zip(self.seats, table))
                out += [self._episode(seed, seating, None) for seed in seeds]
            return out
        for table in itertools.combinations(agents, n):
            for seed in seeds:
                for r in range(n):
                    order = table[r:] + table[:r]
                    seating = dict(zip(self.seats, order))
                    out.append(self._episode(seed, seating, None))
        return out


def bind(
    plan: Iterable[PlannedEpisode],
    policies: Mapping[str, Policy | Mapping[str, Policy]],
    **spec_fields: Any,
) -> list[EpisodeSpec]:
    """Engine episode specs for ``plan``: each slot gets its policy.

    Args:
        plan: planned episodes.
        policies: slot -> policy, or slot -> {seat: policy} for a slot that puts a different
            policy in each seat (an opponent per seat).
        spec_fields: extra :class:`EpisodeSpec` fields for every episode (e.g. ``options``).
    """
    specs = []
    for ep in plan:
        seat_pols: dict[str, Policy] = {}
        for seat, slot in ep.seating:
            if slot not in policies:
                raise KeyError(f"no policy for slot {slot!r} (have: {', '.join(policies)})")
            pol = policies[slot]
            if isinstance(pol, Mapping):
                if seat not in pol:
                    raise KeyError(f"slot {slot!r} has no policy for seat {seat!r}")
                pol = pol[seat]
            seat_pols[seat] = pol
        specs.append(
            EpisodeSpec(
                seed=ep.seed,
                policies=seat_pols,
                group_id=ep.group_id,
                record_seats=ep.record_seats,
                tags=dict(ep.tags),
                **spec_fields,
            )
        )
    return specs


def _check_group_size(group_size: int) -> None:
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
