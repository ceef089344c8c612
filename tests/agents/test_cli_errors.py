"""Command-line errors that must be one clear line, not a traceback (real subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys


def _gymnpt(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gymnpt.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_missing_vllm_is_one_line_with_the_install_hint(tmp_path):
    # An importable module that fails exactly as an absent vllm does.
    (tmp_path / "vllm.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'vllm'\", name='vllm')\n"
    )
    out = _gymnpt(
        "eval", "env=tictactoe", "agent=vllm", "episodes=1", env={"PYTHONPATH": str(tmp_path)}
    )
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert "vLLM is not installed" in out.stderr and "pip install" in out.stderr


def test_unknown_opponent_fails_before_the_model_loads_and_names_this_games_agents():
    out = _gymnpt("eval", "env=tictactoe", "agent=hf", "model=smollm2", "opponent=bot:minmax")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "No agent named 'bot:minmax'" in out.stderr and "bot:minimax" in out.stderr
    assert "bot:nash" not in out.stderr  # another game's bot is not suggested
    assert "Loading weights" not in out.stderr  # the model was never loaded


def test_bad_value_names_its_key():
    out = _gymnpt("eval", "env=tictactoe", "agent=bot:random", "temperature=abc")
    assert out.returncode == 2 and "temperature" in out.stderr and "abc" in out.stderr
