from __future__ import annotations

import gymnasium as gym
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from toy_envs import CountTo, HighCard

from gymnpt.core.env import SingleSeatAdapter, as_multiagent
from gymnpt.core.testing import BAD_REPLIES, EnvCheckError, check_env


def test_single_agent_gymnasium_contract():
    env = CountTo()
    obs, info = env.reset(seed=3)
    assert isinstance(obs, str) and env.observation_space.contains(obs)
    n = env.n
    obs, r, term, trunc, info = env.step(str(n + 1))
    assert r == pytest.approx(0.1) and not term and not trunc and info["invalid_move"] is False


def test_same_seed_same_episode_and_own_rng():
    import random

    import numpy as np

    a, b = CountTo(), CountTo()
    starts = []
    for seed in range(20):
        random.seed(seed * 3)
        np.random.seed(seed)
        a.reset(seed=seed)
        random.seed(999)
        b.reset(seed=seed)
        assert a.n == b.n
        starts.append(a.n)
    assert len(set(starts)) > 1  # the seed matters


def test_invalid_reply_retry_then_penalty():
    env = CountTo()
    env.reset(seed=0)
    obs, r, term, trunc, info = env.step("banana")
    assert info["invalid_move"] and info["retries_left"] == 0 and not term and r == 0.0
    assert "Invalid move" in obs
    obs, r, term, trunc, info = env.step("still no")
    assert term and r == -1.0 and info["penalized"] and info["outcome"]["player"] == "failure"


def test_valid_move_resets_retry_allowance():
    env = CountTo(target=10)
    env.reset(seed=0)
    for _ in range(3):
        env.step("junk")
        _, _, term, _, _ = env.step(str(env.n + 1))
        assert not term


def test_step_after_end_raises_clear_error():
    env = CountTo()
    env.reset(seed=0)
    env.step("x")
    env.step("x")
    with pytest.raises(RuntimeError, match="reset"):
        env.step("1")


def test_simultaneous_moves_are_buffered():
    env = HighCard()
    env.reset(seed=1)
    assert env.agent_selection == "a"
    env.step("1")
    assert env.round == 0 and env.agent_selection == "b"  # not applied until b acts
    env.step("2")
    assert env.round == 1 and env.agent_selection == "a"


def test_forfeit_gives_win_to_others():
    env = HighCard()
    env.reset(seed=1)
    env.step("zzz")
    env.step("zzz")
    assert env.done
    assert env.outcome("a") == "loss" and env.outcome("b") == "win"
    assert env._cumulative_rewards == {"a": -1.0, "b": 1.0}


def test_adapter_wraps_plain_gymnasium_env():
    env = as_multiagent(gym.wrappers.OrderEnforcing(CountTo()))
    assert isinstance(env, SingleSeatAdapter)
    env.reset(seed=5)
    assert env.agent_selection == "player"
    env.step(str(env.unwrapped.n + 1))
    assert env.rewards["player"] == pytest.approx(0.1)


def test_check_env_passes_toys():
    assert check_env(CountTo).episodes == 3
    assert check_env(HighCard).seats == ["a", "b"]


def test_check_env_catches_global_rng():
    import random

    class Leaky(CountTo):
        def _new_game(self, rng, options):
            self.n = random.randint(0, 1000)

    with pytest.raises(EnvCheckError, match="deterministic"):
        check_env(Leaky)


def test_check_env_catches_raising_parser():
    class Fragile(CountTo):
        def _parse(self, seat, text):
            return int(text)  # ValueError on junk

    with pytest.raises(EnvCheckError, match="invalid moves, not exceptions"):
        check_env(Fragile)


def test_check_env_catches_state_leak():
    class Sticky(CountTo):
        total = 0

        def _new_game(self, rng, options):
            self.n = int(rng.integers(0, 3)) + Sticky.total
            Sticky.total += 1

    with pytest.raises(EnvCheckError):
        check_env(Sticky)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.text(max_size=30), st.sampled_from(["1", "2", "3"])), max_size=40),
    st.integers(0, 50),
)
def test_highcard_never_raises_and_scores_consistent(replies, seed):
    env = HighCard()
    env.reset(seed=seed)
    for r in replies:
        if env.done:
            break
        env.step(r)
        assert 0 <= env.round <= 3
    total = env._cumulative_rewards["a"] + env._cumulative_rewards["b"]
    assert total == pytest.approx(0.0)


def test_bad_replies_cover_the_contract():
    kinds = {type(b) for b in BAD_REPLIES}
    assert {str, bytes, type(None), int} <= kinds
    assert any(isinstance(b, str) and len(b) >= 100_000 for b in BAD_REPLIES)
