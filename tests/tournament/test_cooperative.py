"""Tournaments of cooperative games: every ordered seat assignment, a pair table, no ratings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gymnpt.arena.tournament import Config, print_pairs, run_tournament, schedule
from gymnpt.core.registry import default_registry
from gymnpt.rollout.planner import EpisodePlanner

REPO = Path(__file__).resolve().parents[2]
ENV = "dialogue/taboo"
AGENTS = ["bot:reference", "bot:random"]
REF_REF = "describer=bot:reference, guesser=bot:reference"


@pytest.fixture(scope="module")
def registry():
    reg = default_registry()
    if ENV not in reg.envs:
        pytest.skip(f"env {ENV} is not registered")
    return reg


def label(seats: dict[str, str]) -> str:
    return ", ".join(f"{s}={a}" for s, a in seats.items())


def table(res) -> dict[str, dict]:
    return {label(p["seats"]): p for p in res.pairs}


def test_ordered_round_robin_has_every_assignment_on_the_same_seeds() -> None:
    plan = EpisodePlanner(["d", "g"]).round_robin(["a", "b", "c"], [5, 6], ordered=True)
    seatings = list(dict.fromkeys(ep.seating for ep in plan))
    assert len(seatings) == 9  # 3 x 3 ordered pairs, self-pairs included
    assert (("d", "a"), ("g", "a")) in seatings and (("d", "b"), ("g", "a")) in seatings
    for seating in seatings:
        assert sorted(ep.seed for ep in plan if ep.seating == seating) == [5, 6]
    # Competitive round robins are unchanged: no self-pairs.
    plain = EpisodePlanner(["d", "g"]).round_robin(["a", "b", "c"], [5, 6])
    assert all(len(set(a for _, a in ep.seating)) == 2 for ep in plain)


def test_cooperative_schedule_keys_are_unique() -> None:
    games = schedule(AGENTS, ["describer", "guesser"], games=4, seed=3, cooperative=True)
    assert len(games) == 4 * 4
    assert len({g.key for g in games}) == len(games)
    assert {g.seed for g in games} == {3, 4, 5, 6}
    assert any(g.agents == ("bot:random", "bot:random") for g in games)


def test_the_spec_says_dialogue_games_cooperate(registry) -> None:
    assert registry.env_spec(ENV).cooperative
    if "tictactoe" not in registry.envs:
        pytest.skip("env tictactoe is not registered")
    assert not registry.env_spec("tictactoe").cooperative


def test_pair_table_with_reference_and_random_bots(tmp_path: Path, registry) -> None:
    cfg = Config(env=ENV, agents=AGENTS, games=4, out=str(tmp_path), progress=False)
    res = run_tournament(cfg, registry=registry)
    assert res.report is None and res.errors == 0 and res.played == 16
    pairs = table(res)
    assert list(pairs) == [
        REF_REF,
        "describer=bot:reference, guesser=bot:random",
        "describer=bot:random, guesser=bot:reference",
        "describer=bot:random, guesser=bot:random",
    ]
    for name, p in pairs.items():
        assert p["games"] == 4 and p["metric_games"] == 4, name
        assert p["metrics"]["episodes"] == 4.0
    # The reference bots understand each other; a random partner spoils the team's score.
    assert pairs[REF_REF]["metrics"]["clemscore"] >= 60.0
    for name, p in pairs.items():
        if "bot:random" in name:
            assert p["metrics"]["clemscore"] <= 20.0, name
    data = json.loads((tmp_path / "ratings.json").read_text())
    assert data["cooperative"] is True and data["ratings"] is None
    assert "cooperate" in data["ratings_skipped"]
    assert [label(p["seats"]) for p in data["pairs"]] == list(pairs)
    md = (tmp_path / "ratings.md").read_text()
    assert REF_REF in md and "clemscore" in md and "Bradley-Terry ratings" in md
    assert not (tmp_path / "ratings.png").exists()

    # On a terminal the table is a Rich table with the same rows.
    from rich.console import Console

    console = Console(record=True, force_terminal=True, width=250)
    print_pairs(res, console)
    text = console.export_text()
    assert REF_REF in text and "clemscore" in text


def test_resume_plays_only_new_games_and_keeps_saved_metrics(tmp_path: Path, registry) -> None:
    full = run_tournament(
        Config(env=ENV, agents=AGENTS, games=4, out=str(tmp_path / "full"), progress=False),
        registry=registry,
    )

    def cfg(games: int, out: str, save: bool) -> Config:
        return Config(
            env=ENV,
            agents=AGENTS,
            games=games,
            out=str(tmp_path / out),
            progress=False,
            save_trajectories=save,
        )

    first = run_tournament(cfg(2, "saved", True), registry=registry)
    assert first.played == 8 and first.skipped == 0
    more = run_tournament(cfg(4, "saved", True), registry=registry)
    assert more.played == 8 and more.skipped == 8
    # The saved trajectories of the earlier run count: the same table as one uninterrupted run.
    assert more.pairs == full.pairs and more.metric_games == 16

    # Without saved trajectories a resumed run has none of the earlier games: it says so.
    run_tournament(cfg(4, "bare", False), registry=registry)
    again = run_tournament(cfg(4, "bare", False), registry=registry)
    assert again.played == 0 and again.skipped == 16 and again.metric_games == 0
    assert [p["games"] for p in again.pairs] == [4, 4, 4, 4]
    assert all(p["metrics"] == {} for p in again.pairs)
    assert "cover the 0 of 16 finished games" in (tmp_path / "bare" / "ratings.md").read_text()


def test_cli_prints_plain_rows_when_not_a_terminal(tmp_path: Path, registry) -> None:
    cmd = [
        sys.executable,
        "-m",
        "gymnpt.cli.main",
        "tournament",
        f"env={ENV}",
        f"agents=[{','.join(AGENTS)}]",
        "games=2",
        f"out={tmp_path}",
    ]
    env = {**os.environ, "COLUMNS": "200"}
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert p.returncode == 0, p.stderr
    assert "no Elo/Bradley-Terry ratings" in p.stdout
    lines = p.stdout.splitlines()
    header = next(line for line in lines if line.startswith("seats\t"))
    assert header.split("\t")[:5] == ["seats", "games", "episodes", "played_pct", "quality"]
    rows = [line.split("\t") for line in lines if line.startswith("describer=")]
    assert len(rows) == 4 and rows[0][0] == REF_REF and rows[0][1] == "2"
