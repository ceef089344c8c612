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


def test_eval_kuhn_poker_shows_exploitability(tmp_path):
    out = gymnpt(
        "eval",
        "env=kuhn_poker",
        "agent=bot:nash",
        "opponent=bot:random",
        "episodes=20",
        f"out={tmp_path / 'e'}",
    )
    assert out.returncode == 0, out.stderr
    # The env spec's evaluator, printed and stored generically by ``gymnpt eval``.
    assert "exploitability of bot:nash: exploitability 0.0000" in out.stdout
    res = json.loads((tmp_path / "e" / "results.json").read_text())
    assert abs(res["evaluators"]["exploitability"]["exploitability"]) < 1e-9


def test_commands_that_need_an_env_say_how_to_find_one():
    for cmd in ("eval", "rollout", "play", "tournament", "train"):
        out = gymnpt(cmd)
        assert out.returncode != 0
        assert "env= is required" in out.stdout + out.stderr
        assert "gymnpt envs" in out.stdout + out.stderr


# ---- errors exit non-zero with one clear line -------------------------------------------------
def _main(capsys, *args: str) -> tuple[int, str, str]:
    from gymnpt.cli.main import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["eval", "env=snake[size=0]", "agent=bot:random"], "size"),
        (["eval", "env=snake", "agent=bot:random", "env_kwargs.bogus=1"], "bogus"),
        (["rollout", "env=snake[size=0]", "policy=bot:random"], "size"),
        (["eval", "env=snake", "agent=bot:random", f"episodes={10**12}"], "episodes"),
        (["rollout", "env=snake", "policy=bot:random", f"episodes={10**12}"], "episodes"),
        (
            ["tournament", "env=tictactoe", "agents=[bot:random,bot:minimax]", f"games={10**12}"],
            "games",
        ),
        (["eval", "env=snake", "agent=bot:random", "concurrency=0"], "concurrency"),
        (["rollout", "env=snake", "policy=bot:random", "concurrency=-3"], "concurrency"),
        (["eval", "env=snake", "agent=hf", "temperature=-1"], "temperature"),
        (["eval", "env=snake", "agent=hf", "max_new_tokens=-1"], "max_new_tokens"),
        (["rollout", "env=snake", "policy=hf", "max_new_tokens=-2"], "max_new_tokens"),
        (["rollout", "env=snake", "policy=hf", "call_timeout=-1"], "call_timeout"),
        (["eval", "env=snake", "agent=bot:random", "step_timeout=-1"], "step_timeout"),
    ],
)
def test_bad_settings_exit_2_with_one_line(capsys, args, needle):
    code, _, err = _main(capsys, *args)
    assert code == 2, err
    assert needle in err and len(err.strip().splitlines()) == 1, err


def test_bad_out_paths_give_one_clear_line(capsys, tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for out in (a_file, a_file / "below"):
        code, _, err = _main(
            capsys, "rollout", "env=snake", "policy=bot:random", "episodes=1", f"out={out}"
        )
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert str(a_file) in err
    code, _, err = _main(
        capsys, "eval", "env=snake", "agent=bot:random", "episodes=1", f"out={a_file}"
    )
    assert code == 2 and "is an existing file" in err


def test_rerunning_into_the_same_out_refuses(capsys, tmp_path):
    args = ("rollout", "env=snake", "policy=bot:random", "episodes=3", f"out={tmp_path}")
    code, _, err = _main(capsys, *args, "progress=false")
    assert code == 0, err
    before = (tmp_path / "trajectories.jsonl").read_text()
    assert len(before.splitlines()) == 3
    code, _, err = _main(capsys, *args, "progress=false")
    assert code == 2 and "already exists" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "trajectories.jsonl").read_text() == before  # nothing appended
    ev = ("eval", "env=snake", "agent=bot:random", "episodes=2", f"out={tmp_path / 'ev'}")
    assert _main(capsys, *ev)[0] == 0
    code, _, err = _main(capsys, *ev)
    assert code == 2 and "already exists" in err


def test_a_run_whose_episodes_all_failed_exits_1_with_the_error_kinds(capsys, tmp_path):
    # A deadline no env call can meet: every episode ends in error.
    code, out, _ = _main(
        capsys, "eval", "env=tictactoe", "agent=bot:random", "episodes=4", "step_timeout=1e-9"
    )
    assert code == 1
    assert "4 of 4 episodes ended in error" in out and "EnvTimeout" in out
    assert "every evaluation episode failed" in out
    code, out, _ = _main(
        capsys,
        "rollout",
        "env=snake",
        "policy=bot:random",
        "episodes=3",
        "step_timeout=1e-9",
        "progress=false",
        f"out={tmp_path / 'r'}",
    )
    assert code == 1 and "3 x EnvTimeout" in out and "every rollout episode failed" in out


def test_eval_results_json_is_strict_when_everything_failed(capsys, tmp_path):
    code, _, _ = _main(
        capsys,
        "eval",
        "env=snake",
        "agent=bot:random",
        "episodes=2",
        "step_timeout=1e-9",
        f"out={tmp_path}",
    )
    assert code == 1
    res = json.loads(
        (tmp_path / "results.json").read_text(), parse_constant=lambda c: pytest.fail(c)
    )
    assert res["errors"] == 2 and res["completed"] == 0 and res["return_mean"] is None
    assert res["non_finite"]


def test_invalid_settings_exit_non_zero_in_a_real_process():
    out = gymnpt("eval", "env=snake[size=0]", "agent=bot:random", timeout=120)
    assert out.returncode == 2 and "size" in out.stderr
    assert "Traceback" not in out.stderr


def _reply_lengths(path) -> list[int]:
    """Sampled tokens of every model reply in a trajectories file (runs of loss_mask=1)."""
    lengths = []
    for line in path.read_text().splitlines():
        run = 0
        for m in [*json.loads(line)["loss_mask"], 0]:
            if m:
                run += 1
            elif run:
                lengths.append(run)
                run = 0
    return lengths


@pytest.mark.parametrize(("extra", "want"), [((), None), (("max_new_tokens=5",), 5)])
def test_reply_length_comes_from_the_env_spec_unless_set(capsys, tmp_path, extra, want):
    from gymnpt.core.registry import default_registry

    # guess_the_number's spec sets the reply length; the tiny model rarely ends a reply
    # early, so the longest reply shows the limit the sampler was given.
    spec_len = default_registry().env_spec("guess_the_number").max_new_tokens
    assert spec_len and spec_len != 5 and spec_len != 64
    want = want or spec_len
    args = ("env=guess_the_number", "episodes=2", "temperature=1", *extra)
    code, _, err = _main(capsys, "rollout", "policy=hf", f"out={tmp_path / 'r'}", *args)
    assert code == 0, err
    lengths = _reply_lengths(tmp_path / "r" / "trajectories.jsonl")
    assert lengths and max(lengths) == want, lengths
    code, _, err = _main(capsys, "eval", "agent=hf", f"out={tmp_path / 'e'}", *args)
    assert code == 0, err
    lengths = _reply_lengths(tmp_path / "e" / "trajectories.jsonl")
    assert lengths and max(lengths) == want, lengths


def test_tournament_reply_length_comes_from_the_env_spec_unless_set():
    from gymnpt.arena.matches import MatchSettings
    from gymnpt.arena.tournament import Config
    from gymnpt.core.registry import default_registry

    spec_len = default_registry().env_spec("tictactoe").max_new_tokens
    assert spec_len and spec_len != 64
    unset = MatchSettings.from_config(Config(env="tictactoe", agents=["hf", "bot:random"]))
    assert unset.max_new_tokens == spec_len == unset.sampling().max_new_tokens
    given = Config(env="tictactoe", agents=["hf", "bot:random"], max_new_tokens=7)
    assert MatchSettings.from_config(given).sampling().max_new_tokens == 7
    with pytest.raises(ValueError, match="max_new_tokens"):
        Config(env="tictactoe", agents=["hf", "bot:random"], max_new_tokens=-1)
