"""The episode planner: seeds, seatings, group ids, and the engine playing its plans."""

from __future__ import annotations

from collections import Counter

import pytest
from toy_envs import HighCard

from gymnpt.arena.evaluation import evaluate
from gymnpt.rollout.engine import RolloutEngine
from gymnpt.rollout.planner import EpisodePlanner, bind, group_id, lineup, seed_block
from gymnpt.rollout.policy import BasePolicy, Request


class Picks(BasePolicy):
    """Always plays one number (so two different instances play a known game)."""

    def __init__(self, move: str) -> None:
        self.move = move
        self.name = f"picks{move}"

    def act(self, req: Request) -> str:
        return self.move


SEATS = ("a", "b")


def test_group_id_has_one_format() -> None:
    assert group_id("s3r0", 12, "self") == "s3r0:12:self"
    assert lineup({"a": "learner", "b": "learner"}) == "self"
    assert lineup({"a": "learner", "b": "bot:random"}) == "a=learner,b=bot:random"
    assert lineup({"player": "learner"}) == "player=learner"


def test_seed_blocks_are_disjoint() -> None:
    blocks = [seed_block(100, 4, b) for b in range(3)]
    assert blocks[0] == [100, 101, 102, 103]
    flat = [s for b in blocks for s in b]
    assert len(flat) == len(set(flat)) == 12
    with pytest.raises(ValueError):
        seed_block(0, -1)


def test_selfplay_fills_every_seat_and_records_all() -> None:
    plan = EpisodePlanner(SEATS, tag="t").selfplay([5, 6], group_size=3)
    assert len(plan) == 6
    assert {ep.slots["a"] for ep in plan} == {ep.slots["b"] for ep in plan} == {"learner"}
    assert all(ep.record_seats is None for ep in plan)
    assert Counter(ep.group_id for ep in plan) == {"t:5:self": 3, "t:6:self": 3}


def test_versus_alternates_the_learner_seat_between_groups_never_inside_one() -> None:
    planner = EpisodePlanner(SEATS, tag="s1")
    plan = planner.versus([10, 11, 12, 13], group_size=4, opponent="bot:random")
    groups: dict[str, set[str]] = {}
    for ep in plan:
        seat = next(s for s, slot in ep.seating if slot == "learner")
        assert ep.record_seats == (seat,)
        assert [slot for s, slot in ep.seating if s != seat] == ["bot:random"]
        groups.setdefault(ep.group_id, set()).add(seat)
    assert all(len(seats) == 1 for seats in groups.values())
    assert [next(iter(groups[k])) for k in dict.fromkeys(ep.group_id for ep in plan)] == [
        "a",
        "b",
        "a",
        "b",
    ]
    # ``first_group`` continues the alternation across calls (rounds of a training step).
    more = planner.versus([14], group_size=2, first_group=5)
    assert {ep.slots["b"] for ep in more} == {"learner"}


def test_versus_each_plays_every_seed_in_every_seat() -> None:
    plan = EpisodePlanner(SEATS, tag="eval").versus([1, 2], learner_seat="each")
    assert [(ep.seed, ep.record_seats) for ep in plan] == [
        (1, ("a",)),
        (1, ("b",)),
        (2, ("a",)),
        (2, ("b",)),
    ]
    assert len({ep.group_id for ep in plan}) == 4
    fixed = EpisodePlanner(SEATS).versus([1, 2], learner_seat="b")
    assert all(ep.record_seats == ("b",) for ep in fixed)


def test_round_robin_swaps_seats_on_paired_seeds() -> None:
    plan = EpisodePlanner(SEATS).round_robin(["x", "y", "z"], [7, 8])
    assert len(plan) == 3 * 2 * 2
    xy = [(ep.seed, tuple(slot for _, slot in ep.seating)) for ep in plan[:4]]
    assert xy == [(7, ("x", "y")), (7, ("y", "x")), (8, ("x", "y")), (8, ("y", "x"))]
    three = EpisodePlanner(("p", "q", "r")).round_robin(["x", "y", "z"], [0])
    assert [tuple(s for _, s in ep.seating) for ep in three] == [
        ("x", "y", "z"),
        ("y", "z", "x"),
        ("z", "x", "y"),
    ]


def test_bad_plans_are_refused() -> None:
    planner = EpisodePlanner(SEATS)
    with pytest.raises(ValueError, match="learner_seat"):
        planner.versus([1], learner_seat="c")
    with pytest.raises(ValueError, match="group_size"):
        planner.selfplay([1], group_size=0)
    with pytest.raises(ValueError, match="different slot"):
        planner.versus([1], learner="x", opponent="x")
    with pytest.raises(ValueError, match="no slot"):
        planner.fixed([1], {"a": "x"})
    with pytest.raises(ValueError, match="distinct"):
        EpisodePlanner(("a", "a"))
    with pytest.raises(KeyError, match="no policy for slot"):
        bind(planner.selfplay([1]), {"other": Picks("1")})


def test_bound_plans_play_in_the_engine_with_the_planned_seats() -> None:
    hi, lo = Picks("3"), Picks("1")
    plan = EpisodePlanner(SEATS, tag="g").versus([1, 2, 3, 4], group_size=2)
    trajs = RolloutEngine(HighCard, registry=object()).run_episodes(
        bind(plan, {"learner": hi, "opponent": lo})
    )
    assert len(trajs) == 8
    assert {t.policy_id for t in trajs} == {"picks3"}
    assert [t.role for t in trajs] == ["a", "a", "b", "b", "a", "a", "b", "b"]
    assert {t.outcome for t in trajs} == {"win"}
    assert [t.group_id for t in trajs][:2] == ["g:1:a=learner,b=opponent"] * 2


def test_engine_run_groups_share_seed_and_seating() -> None:
    trajs = RolloutEngine(HighCard, registry=object()).run([4, 5], Picks("2"), group_size=3)
    assert Counter(t.group_id for t in trajs) == {"HighCard:4:self": 6, "HighCard:5:self": 6}


def test_evaluate_swaps_seats_through_the_planner() -> None:
    res = evaluate(
        HighCard, Picks("3"), Picks("1"), episodes=6, registry=object(), keep_trajectories=True
    )
    assert res.episodes == 6
    assert Counter(t.role for t in res.trajectories) == {"a": 3, "b": 3}
    assert res.outcomes == {"win": 6}
