"""Dialogue games through the registry and the rollout engine: conformance, reference play,
seeded determinism, the per-episode record and the clemscore summary."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gymnpt import default_registry
from gymnpt.arena.evaluation import evaluate
from gymnpt.core.registry import load_entry_point
from gymnpt.core.testing import check_env
from gymnpt.envs.dialogue import GAMES, env_ids
from gymnpt.envs.dialogue.master import clemscore
from gymnpt.rollout.engine import RolloutEngine

IDS = env_ids()
#: Lowest quality (mean main score of played episodes) reference bots must reach per game.
FLOOR = {
    "taboo": 80.0,
    "referencegame": 95.0,
    "wordle_withclue": 55.0,
    "wordle_withcritic": 55.0,
    "imagegame": 95.0,
    "codenames": 80.0,
}


def test_registered_with_bots_and_metrics() -> None:
    reg = default_registry()
    specs = [s for s in reg.envs.values() if s.family == "dialogue"]
    assert len(specs) >= 5 and {s.id for s in specs} == set(IDS)
    for spec in specs:
        assert spec.bots == ("bot:reference", "bot:random")
        assert load_entry_point(spec.metrics) is clemscore  # type: ignore[arg-type]
        assert {"bot:reference", "bot:random"} <= set(reg.agents_for(spec.id))
        assert reg.agent_spec("bot:random", spec.id)[0].plugin == "dialogue"


def test_cli_lists_the_family() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "gymnpt.cli.main", "envs", "family=dialogue"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "250", "PATH": ""},
    )
    assert out.returncode == 0, out.stderr
    for env_id in IDS:
        assert env_id in out.stdout


@pytest.mark.parametrize("env_id", [*IDS, "dialogue/taboo[reprompt=True]"])
def test_check_env(env_id: str) -> None:
    check_env(env_id)


def _reference_episodes(env_id: str, episodes: int, seed: int = 0) -> list:
    reg = default_registry()
    ref = reg.make_agent("bot:reference", env_id)
    res = evaluate(
        env_id,
        ref,
        None if reg.env_spec(env_id).num_seats == 1 else reg.make_agent("bot:reference", env_id),
        episodes=episodes,
        seed=seed,
        keep_trajectories=True,
    )
    return res.trajectories


@pytest.mark.parametrize("game", sorted(GAMES))
def test_reference_play_reaches_high_quality(game: str) -> None:
    trajs = _reference_episodes(f"dialogue/{game}", 24)
    summary = clemscore(trajs)
    assert summary["episodes"] == 24
    assert summary["played_pct"] == 100.0
    assert summary["quality"] >= FLOOR[game], summary
    assert summary["clemscore"] == pytest.approx(summary["quality"])
    for t in trajs:
        record = t.info["episode"]
        assert record["game"] == game and record["violated"] == 0
        assert t.outcome == {"success": "success", "lose": "failure"}[record["status"]]


@pytest.mark.parametrize("env_id", IDS)
def test_same_seeds_give_identical_instances_and_transcripts(env_id: str) -> None:
    reg = default_registry()

    def transcripts(seeds: list[int]) -> list:
        engine = RolloutEngine(env_id, registry=reg)
        trajs = engine.run(seeds, reg.make_agent("bot:reference", env_id))
        return sorted((t.seed, t.role, str(t.messages), t.return_) for t in trajs)

    a, b = transcripts([3, 4, 5]), transcripts([3, 4, 5])
    assert a == b
    assert a != transcripts([6, 7, 8])
    cls = load_entry_point(reg.env_spec(env_id).entry_point)
    e1, e2 = cls(), cls()
    e1.reset(seed=11)
    e2.reset(seed=11)
    assert e1.observe(e1.agent_selection) == e2.observe(e2.agent_selection)


def _t(eid: str, status: str | None, score: float | None, env: str = "dialogue/taboo", **kw: int):
    info = {}
    if status is not None:
        game = env.split("/")[1]
        info["episode"] = {"game": game, "status": status, "main_score": score, **kw}
    return {"episode_id": eid, "env_id": env, "outcome": "x", "info": info}


def test_clemscore_arithmetic() -> None:
    trajs = [
        _t("a", "success", 100.0, requests=2, parsed=2, violated=0),
        _t("a", "success", 100.0, requests=2, parsed=2, violated=0),  # the other seat
        _t("b", "lose", 0.0, requests=6, parsed=6, violated=0),
        _t("c", "aborted", None, requests=1, parsed=0, violated=1),
        _t("d", "success", 50.0, requests=4, parsed=4, violated=0),
        _t("e", None, None),  # cut off by a turn cap: no record, not played
    ]
    s = clemscore(trajs)
    assert s["episodes"] == 5
    assert s["played_pct"] == pytest.approx(60.0)
    assert s["quality"] == pytest.approx(50.0)
    assert s["clemscore"] == pytest.approx(30.0)
    assert s["success_pct"] == pytest.approx(40.0)
    assert (s["requests"], s["parsed"], s["violated"]) == (13, 12, 1)
    # Several games: per-game numbers and their macro average.
    multi = clemscore(
        [
            _t("a", "success", 100.0),
            _t("b", "aborted", None),
            _t("c", "success", 40.0, env="dialogue/referencegame"),
        ]
    )
    assert multi["taboo/clemscore"] == pytest.approx(50.0)
    assert multi["referencegame/clemscore"] == pytest.approx(40.0)
    assert multi["clemscore"] == pytest.approx(45.0)
    assert clemscore([])["clemscore"] == 0.0
