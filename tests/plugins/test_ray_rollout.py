"""Env workers on Ray: same trajectories as the local engine, and no episode lost to a dead worker.

One Ray instance on loopback with 2 CPUs serves the whole module.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from gymnpt import BasePolicy, Completion, Request  # noqa: E402
from gymnpt.plugins.ray_rollout import RayEnvPool, RemoteEnv  # noqa: E402
from gymnpt.rollout.engine import RolloutEngine  # noqa: E402
from gymnpt.rollout.policies import build_policy  # noqa: E402

ENV = "connect_four"


@pytest.fixture(scope="module")
def cluster() -> Any:
    started = not ray.is_initialized()
    if started:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            _node_ip_address="127.0.0.1",
        )
    yield ray
    if started:
        ray.shutdown()


def _seating(engine: RolloutEngine, first: Any, second: Any) -> dict[str, Any]:
    a, b = engine.seats()
    return {a: first, b: second}


def _key(t: Any) -> tuple[Any, ...]:
    return (t.seed, t.role, t.outcome, json.dumps(t.messages), tuple(t.rewards), t.num_turns)


def test_same_seeds_give_the_same_trajectories(cluster: Any) -> None:
    random_bot = build_policy("bot:random", ENV)
    minimax = build_policy("bot:minimax", ENV)
    seeds = list(range(6))
    local = RolloutEngine(ENV)
    expected = local.run(seeds, _seating(local, random_bot, minimax))
    with RayEnvPool(ENV, workers=2) as pool:
        remote = RolloutEngine(ENV, env_factory=pool.factory)
        got = remote.run(seeds, _seating(remote, random_bot, minimax))
    assert [t.outcome for t in got if t.outcome == "error"] == []
    assert [_key(t) for t in got] == [_key(t) for t in expected]
    # the remote run really stepped envs in the workers: the minimax bot won every game
    assert {t.outcome for t in got if t.policy_id == "bot:minimax"} <= {"win", "draw"}


class _Killer(BasePolicy):
    """bot:random that kills one env worker (with ``ray.kill``) when it is called the
    ``at``-th time, i.e. in the middle of the run, while other episodes are in flight."""

    name = "bot:random"
    inline = True

    def __init__(self, pool: RayEnvPool, at: int) -> None:
        self.bot = build_policy("bot:random", ENV)
        self.pool = pool
        self.at = at
        self.calls = 0
        self.killed: list[Any] = []
        self._lock = threading.Lock()

    def act(self, request: Request) -> str | Completion:
        with self._lock:
            self.calls += 1
            if self.calls == self.at:
                victim = self.pool.actors[0]
                self.killed.append(victim)
                ray.kill(victim, no_restart=True)
        return self.bot.act(request)  # type: ignore[no-any-return]


def test_killed_worker_loses_and_duplicates_no_episode(cluster: Any) -> None:
    seeds = list(range(12))
    opponent = build_policy("bot:random", ENV)
    local = RolloutEngine(ENV)
    expected = local.run(seeds, _seating(local, build_policy("bot:random", ENV), opponent))
    with RayEnvPool(ENV, workers=2) as pool:
        killer = _Killer(pool, at=25)
        engine = RolloutEngine(ENV, env_factory=pool.factory, max_concurrent=8)
        got = engine.run(seeds, _seating(engine, killer, opponent))
        assert killer.killed, "the worker was never killed: the run ended too soon"
        assert pool.replaced >= 1
        assert killer.killed[0] not in pool.actors
    # every (seed, seat) exactly once, none failed, and each as an uninterrupted run plays it
    assert sorted((t.seed, t.role) for t in got) == sorted((t.seed, t.role) for t in expected)
    assert len({(t.seed, t.role) for t in got}) == len(got) == 2 * len(seeds)
    assert [t.reason for t in got if t.outcome == "error"] == []
    assert [_key(t) for t in got] == [_key(t) for t in expected]


def test_remote_env_reads_the_game_and_keeps_outcomes_after_close(cluster: Any) -> None:
    with RayEnvPool(ENV, workers=1) as pool:
        env = pool.factory()
        assert isinstance(env, RemoteEnv)
        env.reset(seed=3)
        seat = env.agent_selection
        assert seat in env.possible_agents
        legal = env.legal_actions(seat)
        assert legal
        game = env.unwrapped  # a copy of the live game, as scripted bots read it
        assert type(game).__name__ != "RemoteEnv"
        while not env.done:
            env.step(env.legal_actions(env.agent_selection)[0])
        outcomes = {s: env.outcome(s) for s in env.possible_agents}
        env.close()
        assert {s: env.outcome(s) for s in env.possible_agents} == outcomes
        assert set(outcomes.values()) <= {"win", "loss", "draw"}


def test_bad_env_id_fails_clearly(cluster: Any) -> None:
    with RayEnvPool("no-such-env", workers=1) as pool:
        with pytest.raises(Exception, match="no-such-env"):
            pool.factory()


def test_cli_rollout_and_eval_with_backend_ray(cluster: Any, tmp_path: Any) -> None:
    from gymnpt.cli.main import main

    out = tmp_path / "ro"
    code = main(
        [
            "rollout",
            f"env={ENV}",
            "policy=bot:random",
            "opponent=bot:minimax",
            "episodes=4",
            "backend=ray",
            "env_workers=2",
            f"out={out}",
            "progress=false",
        ]
    )
    assert code == 0
    rows = [json.loads(line) for line in (out / "trajectories.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(r["outcome"] != "error" for r in rows)
    assert ray.is_initialized()  # the CLI used the running instance and left it running
    code = main(
        [
            "eval",
            "env=kuhn_poker",
            "agent=bot:random",
            "opponent=bot:nash",
            "episodes=4",
            "backend=ray",
            "env_workers=1",
            "evaluators=false",
        ]
    )
    assert code == 0


def test_env_workers_must_be_positive() -> None:
    from gymnpt.cli.main import RolloutConfig

    with pytest.raises(ValueError, match="env_workers"):
        RolloutConfig(env=ENV, env_workers=0)
