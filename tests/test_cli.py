"""Subprocess smoke tests of the CLI commands on tiny budgets."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def gymnpt(
    *args: str, input: str | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "gymnpt.cli.main", *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        env=env,
    )


def test_envs_lists_the_six_games():
    out = gymnpt("envs", "family=games")
    assert out.returncode == 0, out.stderr
    for game in ("snake", "tictactoe", "connect_four", "guess_the_number", "wordle", "kuhn_poker"):
        assert game in out.stdout
    assert "games" in out.stdout  # plugin column


def test_eval_minimax_beats_random(tmp_path):
    out = gymnpt(
        "eval",
        "env=connect_four",
        "agent=bot:minimax",
        "opponent=bot:random",
        "episodes=20",
        f"out={tmp_path}",
    )
    assert out.returncode == 0, out.stderr
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["episodes"] == 20
    assert res["outcomes"].get("win", 0) >= 16
    assert set(res["per_seat"]) == {"red", "yellow"} or len(res["per_seat"]) == 2


def test_eval_single_agent_reports_mean_return():
    out = gymnpt("eval", "env=guess_the_number", "agent=bot:binary", "episodes=10")
    assert out.returncode == 0, out.stderr
    assert "success" in out.stdout


def test_unknown_key_names_nearest():
    out = gymnpt("eval", "env=snake", "agent=bot:random", "epsiodes=3")
    assert out.returncode == 2
    assert "did you mean 'episodes'" in out.stderr.lower()


def test_unknown_env_and_command():
    out = gymnpt("eval", "env=snak", "agent=bot:random")
    assert out.returncode == 1 and "snake" in out.stderr
    out = gymnpt("evl")
    assert out.returncode == 2 and "eval" in out.stderr


def test_play_as_human_through_stdin():
    moves = "\n".join(["a1", "garbage", "b1", "c1", "a2", "b2", "c2", "a3", "b3", "c3"] * 2) + "\n"
    out = gymnpt("play", "env=tictactoe", "seed=3", "opponent=bot:random", input=moves)
    assert out.returncode in (0, 1), out.stderr  # 1 = input ended before the game did
    assert "x to move" in out.stdout or "to move" in out.stdout


def test_rollout_with_bots_writes_trajectories(tmp_path):
    out = gymnpt(
        "rollout",
        "env=tictactoe",
        "policy=bot:minimax",
        "opponent=bot:random",
        "episodes=6",
        f"out={tmp_path}",
        "progress=false",
    )
    assert out.returncode == 0, out.stderr
    lines = (tmp_path / "trajectories.jsonl").read_text().splitlines()
    assert len(lines) == 6
    assert (tmp_path / "config.yaml").exists()


def test_help_lists_keys():
    out = gymnpt("eval", "--help")
    assert out.returncode == 0 and "episodes" in out.stdout


@pytest.mark.parametrize("cmd", ["agents", "plugins"])
def test_listing_commands(cmd):
    out = gymnpt(cmd)
    assert out.returncode == 0, out.stderr
    assert "bot:random" in out.stdout or "games" in out.stdout


def test_eval_kuhn_poker_shows_exploitability():
    out = gymnpt("eval", "env=kuhn_poker", "agent=bot:nash", "opponent=bot:random", "episodes=20")
    assert out.returncode == 0, out.stderr
    assert "exploitability of bot:nash: 0.0000" in out.stdout
