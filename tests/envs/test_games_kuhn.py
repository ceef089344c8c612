"""Kuhn poker: betting rules, zero-sum payoffs, private cards, matches."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gymnpt import InvalidAction, default_registry
from gymnpt.core.testing import BAD_REPLIES
from gymnpt.envs.games.kuhn_poker import KuhnPokerEnv, legal_for, parse_poker_action

REG = default_registry()


def play(cards, actions, hands=1):
    env = REG.make("kuhn_poker", hands=hands)
    env.reset(seed=0, options={"cards": cards})
    total = {"p0": 0.0, "p1": 0.0}
    for a in actions:
        env.step(a)
        for s, r in env.rewards.items():
            total[s] += r
    return env, total


@pytest.mark.parametrize(
    "cards,actions,p0",
    [
        ("KJ", ["check", "check"], 1),
        ("JK", ["check", "check"], -1),
        ("KJ", ["bet", "fold"], 1),
        ("JK", ["bet", "call"], -2),
        ("QJ", ["bet", "call"], 2),
        ("QK", ["check", "bet", "fold"], -1),
        ("QJ", ["check", "bet", "call"], 2),
        ("JQ", ["check", "bet", "call"], -2),
    ],
)
def test_payoffs(cards, actions, p0):
    env, total = play(cards, actions)
    assert env.done
    assert total == {"p0": float(p0), "p1": float(-p0)}
    expected = "win" if p0 > 0 else "loss"
    assert (
        env.infos[env.possible_agents[0]].get("outcome", env.infos["p1"].get("outcome"))["p0"]
        == expected
    )


def test_each_seat_sees_only_its_own_card():
    seen = {}
    for cards in ("KJ", "KQ"):
        env = REG.make("kuhn_poker")
        env.reset(seed=0, options={"cards": cards})
        first = env.observe("p0")
        env.step("check")
        seen[cards] = (first, env.observe("p0"))
        assert "King" in first and "Jack" not in first and "Queen" not in first
    assert seen["KJ"] == seen["KQ"]
    env = REG.make("kuhn_poker")
    env.reset(seed=0, options={"cards": "KJ"})
    assert "(Jack)" in env.observe("p1") and "King" not in env.observe("p1")


def lenient(text, legal):
    return parse_poker_action(text, legal, lenient=True)


def test_legal_actions_and_parser():
    assert legal_for(()) == ["check", "bet"] and legal_for(("bet",)) == ["call", "fold"]
    assert legal_for(("check", "check")) == []
    assert lenient("I will BET.", ["check", "bet"]) == "bet"
    assert lenient("raise", ["check", "bet"]) == "bet"
    assert lenient("pass", ["check", "bet"]) == "check"
    assert lenient("pass", ["call", "fold"]) == "fold"
    assert lenient("I won't fold; I call", ["call", "fold"]) == "call"
    assert lenient("Action: check", ["check", "bet"]) == "check"
    with pytest.raises(InvalidAction, match="not legal"):
        lenient("call", ["check", "bet"])
    with pytest.raises(InvalidAction):
        lenient("all in!", ["check", "bet"])


def test_illegal_action_is_an_invalid_move():
    env = REG.make("kuhn_poker")
    env.reset(seed=0)
    env.step("call")
    assert env.infos["p0"]["invalid_move"] and env.agent_selection == "p0"
    assert env.legal_actions("p1") == []


def test_multi_hand_match():
    env, total = play(
        ["KJ", "JK", "QK"], ["bet", "fold", "bet", "call", "check", "bet", "call"], hands=3
    )
    assert env.done
    assert total == {"p0": 1.0 - 2.0 - 2.0, "p1": 3.0}
    assert env.chips == {"p0": -3, "p1": 3}
    assert env.infos["p1"]["outcome"] == {"p0": "loss", "p1": "win"}
    assert "Match over" in env.observe("p0")


def test_seeded_deals_differ_across_hands():
    env = REG.make("kuhn_poker-10")
    env.reset(seed=3)
    deals = []
    while not env.done:
        if not env.history:
            deals.append((env.cards["p0"], env.cards["p1"]))
        env.step(env.legal_actions(env.agent_selection)[0])
    assert len(deals) == 10 and len(set(deals)) > 1
    again = REG.make("kuhn_poker-10")
    again.reset(seed=3)
    assert (again.cards["p0"], again.cards["p1"]) == deals[0]


def test_bad_replies_never_raise():
    env = REG.make("kuhn_poker")
    for reply in BAD_REPLIES:
        env.reset(seed=1)
        env.step(reply)
        assert env.infos["p0"]["invalid_move"]


@given(
    seed=st.integers(0, 1000),
    picks=st.lists(st.integers(0, 3), max_size=60),
    hands=st.integers(1, 5),
)
@settings(max_examples=100, deadline=None)
def test_random_play_is_zero_sum(seed, picks, hands):
    env = KuhnPokerEnv(hands=hands)
    env.reset(seed=seed)
    total = {"p0": 0.0, "p1": 0.0}
    for p in picks:
        if env.done:
            break
        legal = env.legal_actions(env.agent_selection)
        env.step(legal[p % 2] if p < 2 else ["call", "check", "fold", "bet"][p])
        assert env.rewards["p0"] == -env.rewards["p1"]
        for s, r in env.rewards.items():
            total[s] += r
        assert env.cards["p0"] != env.cards["p1"]
    assert total["p0"] == -total["p1"]
    assert env.chips["p0"] == -env.chips["p1"]
