from __future__ import annotations

import pytest

from gymnpt.core.registry import default_registry
from gymnpt.rollout.engine import RolloutEngine
from gymnpt.rollout.policies import build_policy
from gymnpt.rollout.trajectory import Trajectory
from gymnpt.training.learner import group_keys
from gymnpt.training.selfplay import LeagueConfig, RoleBaseline, SelfPlay


def _t(role, r):
    return Trajectory(
        episode_id="e", env_id="x", seed=0, group_id="g", role=role, policy_id="p", return_=r
    )


def test_rae_uses_one_baseline_per_role():
    b = RoleBaseline(decay=0.5)
    first = b.advantages([_t("x", 1.0), _t("o", -1.0), _t("x", 1.0), _t("o", -1.0)])
    assert first == [1.0, -1.0, 1.0, -1.0]  # no baseline yet
    assert b.baselines == {"x": 1.0, "o": -1.0}
    second = b.advantages([_t("x", 1.0), _t("o", 1.0)])
    assert second == [0.0, 2.0]  # x won as usual; o did better than its role's baseline
    assert b.baselines["o"] == pytest.approx(0.0)
    c = RoleBaseline()
    c.load_state_dict(b.state_dict())
    assert c.baselines == b.baselines


def _selfplay(tmp_path, **kw):
    reg = default_registry()
    return SelfPlay(
        ["x", "o"],
        LeagueConfig(**kw),
        bots=["bot:minimax", "bot:random"],
        env_id="tictactoe",
        registry=reg,
        snapshot_dir=tmp_path,
        seed=0,
    )


def test_pure_selfplay_plans_learner_in_every_seat(tmp_path):
    sp = _selfplay(tmp_path)
    learner = build_policy("bot:random", "tictactoe")
    specs = sp.episodes([1, 2], 3, learner, "s1")
    assert len(specs) == 6
    assert all(set(s.policies.values()) == {learner} and s.record_seats is None for s in specs)
    trajs = RolloutEngine("tictactoe").run_episodes(specs)
    assert len(trajs) == 12  # both seats recorded
    # One group per seed (the planner's format); the learner's group keys split the roles.
    assert {t.group_id for t in trajs} == {"s1:1:self", "s1:2:self"}
    assert len(set(group_keys(trajs))) == 4
    m = sp.record(trajs)
    assert "selfplay/return_x" in m


def test_league_games_record_results_and_alternate_seats(tmp_path):
    sp = _selfplay(tmp_path, snapshot_every=1, self_share=0.0)
    assert set(sp.league.names()) == {"bot:minimax", "bot:random"}
    learner = build_policy("bot:random", "tictactoe")
    specs = sp.episodes(list(range(6)), 2, learner, "s1")
    seats = {tuple(s.record_seats) for s in specs}
    assert seats == {("x",), ("o",)}
    trajs = RolloutEngine("tictactoe").run_episodes(specs)
    m = sp.record(trajs)
    assert m["league/size"] == 2 and 0.0 <= m["league/win_rate"] <= 1.0
    state = sp.state_dict()
    sp2 = _selfplay(tmp_path, snapshot_every=1, self_share=0.0)
    sp2.load_state_dict(state)
    assert sp2.league.state_dict() == sp.league.state_dict()
    assert [sp2.rng.random() for _ in range(3)] == [sp.rng.random() for _ in range(3)]


def test_snapshot_joins_the_pool(tmp_path):
    from gymnpt.agents.hf import HFPolicy

    sp = _selfplay(tmp_path, snapshot_every=2)
    pol = HFPolicy("tiny")
    assert sp.maybe_snapshot(1, pol.model, pol.tokenizer) is None
    name = sp.maybe_snapshot(2, pol.model, pol.tokenizer)
    assert name in sp.league and (tmp_path / "snapshot-000002" / "config.json").exists()
    snap = sp.league.policy(name)
    assert snap.tokenizer is not None
