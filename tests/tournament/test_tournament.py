"""``gymnpt tournament``: scheduling, playing through the engine, resume, ratings, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gymnpt.arena.tournament import (
    Config,
    MatchSettings,
    load_results,
    play_games,
    run_tournament,
    schedule,
)
from gymnpt.core.config import ConfigError, parse_overrides
from gymnpt.core.registry import default_registry
from gymnpt.rollout.policy import BasePolicy

REPO = Path(__file__).resolve().parents[2]


def needs(*names: str) -> None:
    reg = default_registry()
    for n in names:
        if n.startswith("bot:"):
            try:
                reg.agent_spec(n)
            except KeyError:
                pytest.skip(f"{n} is not registered")
        elif n not in reg.envs:
            pytest.skip(f"env {n} is not registered")


def stable(path: Path) -> dict:
    """ratings.json without the fields that describe this particular run."""
    d = json.loads((path / "ratings.json").read_text())
    for k in ("played_now", "skipped", "errors_now"):
        d.pop(k)
    d.pop("metrics_now", None)  # the env's metrics over the games of this run only
    return d


def test_schedule_pairs_seeds_with_seats_swapped() -> None:
    games = schedule(["a", "b", "c"], ["x", "o"], games=4, seed=10)
    assert len(games) == 3 * 4
    ab = [g for g in games if set(g.agents) == {"a", "b"}]
    assert sorted((g.seed, g.agents) for g in ab) == [
        (10, ("a", "b")),
        (10, ("b", "a")),
        (11, ("a", "b")),
        (11, ("b", "a")),
    ]
    assert len({g.key for g in games}) == len(games)
    with pytest.raises(ValueError, match="two-seat"):
        schedule(["a", "b"], ["p"], games=2)


def test_config_validation_and_cli_lists() -> None:
    cfg = parse_overrides(
        Config, ["env=connect_four", "agents=[bot:random,bot:minimax-3]", "games=6"]
    )
    assert cfg.agents == ["bot:random", "bot:minimax-3"] and cfg.games == 6
    for bad in (
        ["env=tictactoe", "agents=[bot:random]"],
        ["env=tictactoe", "agents=[a,a]"],
        ["env=tictactoe", "agents=[a,b]", "games=3"],
        ["env=tictactoe", "agents=[a,b]", "backend=spark"],
        ["agents=[a,b]"],
    ):
        with pytest.raises(ConfigError):
            parse_overrides(Config, bad)
    with pytest.raises(ConfigError, match="did you mean|Did you mean"):
        parse_overrides(Config, ["agents=[a,b]", "gamez=4"])


class Garbage(BasePolicy):
    name = "garbage"

    def act(self, request):
        return "I would rather not say"


def test_invalid_replies_lose_and_rows_arrive_per_game() -> None:
    needs("tictactoe", "bot:random")
    reg = default_registry()
    settings = MatchSettings(env="tictactoe")
    games = schedule(["bot:random", "garbage"], ["x", "o"], games=4)
    rows: list[dict] = []
    pols = {"bot:random": reg.make_agent("bot:random", "tictactoe"), "garbage": Garbage()}
    play_games(games, settings, rows.append, policies=pols)
    assert sorted(r["key"] for r in rows) == sorted(g.key for g in games)
    for r in rows:
        garbage_first = r["agents"][0] == "garbage"
        assert r["score"] == (0.0 if garbage_first else 1.0)
        assert r["invalid_moves"][0 if garbage_first else 1] >= 1


def test_resumed_tournament_equals_uninterrupted(tmp_path: Path) -> None:
    needs("tictactoe", "bot:random", "bot:minimax")
    agents = ["bot:random", "bot:minimax-1", "bot:minimax"]
    full = Config(
        env="tictactoe",
        agents=agents,
        games=6,
        out=str(tmp_path / "full"),
        bootstrap=30,
        plot=False,
    )
    r_full = run_tournament(full)
    assert (r_full.played, r_full.skipped, r_full.errors) == (18, 0, 0)

    # An interrupted run: the first 7 games made it to disk, the 8th line was torn by the kill.
    part = tmp_path / "part"
    part.mkdir()
    lines = (tmp_path / "full" / "results.jsonl").read_text().splitlines(keepends=True)
    (part / "results.jsonl").write_text("".join(lines[:7]) + lines[7][:25])
    resumed = Config(
        env="tictactoe", agents=agents, games=6, out=str(part), bootstrap=30, plot=False
    )
    r_res = run_tournament(resumed)
    assert (r_res.played, r_res.skipped) == (11, 7)
    assert stable(part) == stable(tmp_path / "full")
    assert (part / "ratings.md").read_text() == (tmp_path / "full" / "ratings.md").read_text()
    # Running again plays nothing.
    assert run_tournament(resumed).played == 0
    # Other settings are another tournament: nothing is skipped.
    other = Config(
        env="tictactoe",
        agents=agents[:2],
        games=2,
        max_turns=3,
        out=str(part),
        bootstrap=0,
        plot=False,
    )
    assert run_tournament(other).skipped == 0
    fp = MatchSettings.from_config(resumed).fingerprint()
    fp_other = MatchSettings.from_config(other).fingerprint()
    assert fp != fp_other
    assert len(load_results(part / "results.jsonl", fp)) == 18
    assert len(load_results(part / "results.jsonl", fp_other)) == 2


def test_ratings_recover_minimax_depth_order_on_connect_four(tmp_path: Path) -> None:
    needs("connect_four", "bot:random", "bot:minimax")
    agents = ["bot:minimax-2", "bot:random", "bot:minimax-4", "bot:minimax-1"]
    cfg = Config(env="connect_four", agents=agents, games=8, out=str(tmp_path), bootstrap=50)
    res = run_tournament(cfg)
    assert res.errors == 0 and res.report.num_games == 6 * 8
    assert res.report.order == ["bot:minimax-4", "bot:minimax-2", "bot:minimax-1", "bot:random"]
    # The deepest search is clearly above the random bot: the intervals do not overlap.
    assert res.report.row("bot:minimax-4").bt_ci[0] > res.report.row("bot:random").bt_ci[1]
    for f in ("results.jsonl", "ratings.json", "ratings.md", "ratings.png", "config.yaml"):
        assert (tmp_path / f).exists(), f


def test_cli_subprocess(tmp_path: Path) -> None:
    needs("tictactoe", "bot:random", "bot:minimax")
    out = tmp_path / "t"
    cmd = [
        sys.executable,
        "-m",
        "gymnpt.cli.main",
        "tournament",
        "env=tictactoe",
        "agents=[bot:random,bot:minimax]",
        "games=2",
        f"out={out}",
        "bootstrap=20",
    ]
    env = {**os.environ, "COLUMNS": "120"}
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert p.returncode == 0, p.stderr
    assert "bot:minimax" in p.stdout and "Bradley-Terry" in p.stdout
    data = json.loads((out / "ratings.json").read_text())
    assert data["num_games"] == 2 and data["ratings"][0]["name"] == "bot:minimax"
    bad = subprocess.run(
        [*cmd[:5], "agents=[bot:random,bot:no_such_bot]", "games=2", f"out={out}"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert bad.returncode != 0 and "no_such_bot" in bad.stderr


def test_env_evaluators_run_on_every_agent(tmp_path: Path) -> None:
    """The env spec's evaluators (Kuhn poker: exact exploitability) reach the results."""
    needs("kuhn_poker", "bot:nash", "bot:random")
    cfg = Config(
        env="kuhn_poker",
        agents=["bot:nash", "bot:random"],
        games=2,
        out=str(tmp_path),
        bootstrap=0,
        plot=False,
    )
    res = run_tournament(cfg)
    assert res.evaluator_names() == ["exploitability"]
    nash = res.evaluations["bot:nash"]["exploitability"]
    assert nash["exploitability"] == pytest.approx(0.0, abs=1e-9)
    assert res.evaluations["bot:random"]["exploitability"]["exploitability"] > 0.1
    data = json.loads((tmp_path / "ratings.json").read_text())
    assert data["evaluators"]["bot:nash"]["exploitability"]["method"] == nash["method"]
    assert "## exploitability" in (tmp_path / "ratings.md").read_text()
    off = run_tournament(
        Config(**{**cfg.__dict__, "evaluators": False, "out": str(tmp_path / "off")})
    )
    assert off.evaluations == {}


def mean_turns(trajs: list) -> dict[str, float]:
    """An env metric for the test: mean replies per game and seat."""
    return {"turns_mean": sum(t.num_turns for t in trajs) / len(trajs), "games": len(trajs)}


def test_env_metrics_are_reported_per_agent(tmp_path: Path) -> None:
    """An env spec's ``metrics`` reach ratings.json (as ``metrics_now``), per agent."""
    from dataclasses import replace

    from gymnpt.core.registry import Registry

    needs("tictactoe", "bot:random", "bot:minimax")
    full = default_registry()
    reg = Registry()
    reg.envs = {**full.envs, "tictactoe": replace(full.envs["tictactoe"], metrics=mean_turns)}
    reg.agents = full.agents
    cfg = Config(
        env="tictactoe",
        agents=["bot:random", "bot:minimax"],
        games=4,
        out=str(tmp_path),
        bootstrap=0,
        plot=False,
    )
    res = run_tournament(cfg, registry=reg)
    assert set(res.metrics) == {"bot:random", "bot:minimax"}
    assert all(m["games"] == 4 and m["turns_mean"] >= 2 for m in res.metrics.values())
    data = json.loads((tmp_path / "ratings.json").read_text())
    assert data["metrics_now"] == json.loads(json.dumps(res.metrics))
    # A resumed run plays nothing new, so it has no trajectories to measure.
    assert run_tournament(cfg, registry=reg).metrics == {}
