"""Guess the number: parser, hints, shaped reward, properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gymnpt import InvalidAction, default_registry
from gymnpt.core.testing import BAD_REPLIES
from gymnpt.envs.games.guess_the_number import GuessTheNumberEnv, parse_guess

REG = default_registry()


@pytest.mark.parametrize(
    "reply,n",
    [
        ("42", 42),
        ("Guess: 17", 17),
        ("I think 50... no, 37", 37),
        ("<guess>8</guess> maybe 9", 8),
        ("-3", -3),
        ("my guess is 64.", 64),
        ("Guess: 12\nwhy: it halves 1-24", 12),
    ],
)
def test_lenient_parser(reply, n):
    assert parse_guess(reply, lenient=True) == n


@pytest.mark.parametrize("reply", ["", "fifty", "3.5", "1" * 30, "x" * 100_000])
def test_parser_rejects(reply):
    for lenient in (False, True):
        with pytest.raises(InvalidAction):
            parse_guess(reply, lenient=lenient)


@given(st.text(max_size=200))
@settings(max_examples=150, deadline=None)
def test_parser_never_crashes(text):
    try:
        assert isinstance(parse_guess(text, lenient=True), int)
    except InvalidAction:
        pass


def test_hints_and_shaped_reward():
    env = REG.make("guess_the_number")
    assert isinstance(env.unwrapped, GuessTheNumberEnv)
    obs, _ = env.reset(seed=0, options={"secret": 30})
    assert "1 to 100" in obs and "7 guesses" in obs
    obs, r, term, trunc, info = env.step("50")
    assert "lower" in obs and r == 0.0 and not term
    obs, r, *_ = env.step("Guess: 20")
    assert "higher" in obs and "5 guesses left" in obs
    assert (env.unwrapped.lo, env.unwrapped.hi) == (21, 49)
    obs, r, term, trunc, info = env.step("30")
    assert term and info["outcome"] == {"player": "success"}
    assert r == pytest.approx(5 / 7)  # 4 guesses left after this one, +1, over 7


def test_first_guess_is_full_reward_and_failure_is_zero():
    env = REG.make("guess_the_number")
    env.reset(seed=0, options={"secret": 5})
    assert env.step("5")[1] == 1.0
    env.reset(seed=0, options={"secret": 5})
    rewards = [env.step(str(g))[1] for g in (90, 80, 70, 60, 50, 40, 30)]
    assert rewards == [0.0] * 7 and env.unwrapped.outcome("player") == "failure"


def test_out_of_range_is_invalid_and_costs_no_guess():
    env = REG.make("guess_the_number")
    env.reset(seed=0)
    _, r, term, _, info = env.step("101")
    assert info["invalid_move"] and "outside" in info["error"] and r == 0.0
    assert env.unwrapped.guesses_left == 7


def test_seeded_secret_and_configurable_range():
    a = REG.make("guess_the_number")
    b = REG.make("guess_the_number")
    a.reset(seed=9)
    b.reset(seed=9)
    assert a.unwrapped.secret == b.unwrapped.secret
    big = REG.make("guess_the_number-1000")
    big.reset(seed=1)
    assert 1 <= big.unwrapped.secret <= 1000 and big.unwrapped.max_guesses == 10
    small = REG.make("guess_the_number[low=10,high=20,max_guesses=3]")
    small.reset(seed=1)
    assert 10 <= small.unwrapped.secret <= 20
    assert small.unwrapped.legal_actions("player") == [str(n) for n in range(10, 21)]
    with pytest.raises(ValueError):
        GuessTheNumberEnv(low=5, high=5)


def test_bad_replies_never_raise():
    env = REG.make("guess_the_number")
    for reply in BAD_REPLIES:
        env.reset(seed=1)
        env.step(reply)


@given(secret=st.integers(1, 100), guesses=st.lists(st.integers(-5, 110), max_size=12))
@settings(max_examples=150, deadline=None)
def test_consistent_range_always_holds_the_secret(secret, guesses):
    env = GuessTheNumberEnv()
    env.reset(seed=0, options={"secret": secret})
    total = 0.0
    for g in guesses:
        _, r, term, _, info = env.step(str(g))
        total += r
        assert env.lo <= secret <= env.hi
        if term:
            if info["outcome"]["player"] == "success":
                assert g == secret and total > 0
            else:
                assert len(env.guesses) == 7 or info.get("penalized")
                assert total <= 0
            break
