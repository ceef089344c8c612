"""Trajectory files: strict JSON, torn and corrupt lines, resume trimming."""

from __future__ import annotations

import json

import pytest
from toy_envs import CountTo

from gymnpt.rollout.engine import RolloutEngine
from gymnpt.rollout.policy import BasePolicy, Request
from gymnpt.rollout.trajectory import (
    JsonlStats,
    Trajectory,
    TrajectoryWriter,
    iter_jsonl,
    read_trajectories,
    to_json_line,
)


class Next(BasePolicy):
    name = "next"

    def act(self, req: Request) -> str:
        return req.env.legal_actions(req.seat)[0]


def _strict(line: str) -> dict:
    return json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))


def _record(i: int, **kw) -> Trajectory:
    return Trajectory(
        episode_id=f"e{i}", env_id="toy", seed=i, group_id="g", role="player", policy_id="p", **kw
    )


def test_non_finite_numbers_become_null_with_a_flag():
    t = _record(0, rewards=[1.0, float("nan")], return_=float("inf"))
    t.info["score"] = float("-inf")
    d = _strict(to_json_line(t.to_dict()))
    assert d["rewards"] == [1.0, None] and d["return"] is None and d["info"]["score"] is None
    assert sorted(d["non_finite"]) == ["info.score", "return", "rewards[1]"]
    assert "non_finite" not in _strict(to_json_line(_record(1).to_dict()))


def test_lone_surrogates_are_escaped(tmp_path):
    t = _record(0, messages=[{"role": "user", "content": "a\ud800b"}], reason="\udfff")
    with TrajectoryWriter(tmp_path / "t.jsonl") as w:
        w.write(t)
    raw = (tmp_path / "t.jsonl").read_bytes()
    raw.decode("utf-8")  # valid UTF-8 on disk
    assert b"\\ud800" in raw
    back = read_trajectories(tmp_path / "t.jsonl")[0]
    assert back.messages == t.messages and back.reason == "\udfff"


def test_non_ascii_text_stays_readable_on_disk(tmp_path):
    with TrajectoryWriter(tmp_path / "t.jsonl") as w:
        w.write(_record(0, reason="é 😀 שלום"))
    assert "é 😀 שלום" in (tmp_path / "t.jsonl").read_text(encoding="utf-8")


def test_appending_after_a_torn_line_keeps_every_new_record(tmp_path):
    path = tmp_path / "t.jsonl"
    with TrajectoryWriter(path) as w:
        w.write(_record(0))
    with open(path, "a") as fh:
        fh.write('{"episode_id": "torn", "env_id"')  # a kill mid-line
    with TrajectoryWriter(path) as w:
        w.write(_record(1))
        w.write(_record(2))
    stats = JsonlStats()
    with pytest.warns(UserWarning, match="skipped 1 corrupt line"):
        back = read_trajectories(path, stats)
    assert [t.episode_id for t in back] == ["e0", "e1", "e2"]
    assert stats.records == 3 and stats.corrupt == 1 and stats.corrupt_lines == [2]


def test_corrupt_middle_lines_are_counted_and_reported(tmp_path):
    path = tmp_path / "t.jsonl"
    lines = [to_json_line(_record(i).to_dict()) for i in range(4)]
    lines[1] = lines[1][:20] + "#garbage#"
    lines.insert(3, "[1, 2, 3]")  # valid JSON, but not a record
    path.write_text("\n".join(lines) + "\n")
    stats = JsonlStats()
    with pytest.warns(UserWarning, match=r"skipped 2 corrupt line\(s\) \(line 2, 4\)"):
        got = [d["episode_id"] for d in iter_jsonl(path, stats)]
    assert got == ["e0", "e2", "e3"] and stats.corrupt == 2


def test_clean_files_read_without_warnings(tmp_path, recwarn):
    path = tmp_path / "t.jsonl"
    with TrajectoryWriter(path) as w:
        RolloutEngine(CountTo, registry=object(), writer=w).run([1, 2], Next())
    assert len(read_trajectories(path)) == 2
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_writer_tags_go_into_every_record(tmp_path):
    path = tmp_path / "t.jsonl"
    with TrajectoryWriter(path) as w:
        w.tags["step"] = 3
        w.write(_record(0, info={"k": 1}))
    d = _strict(path.read_text().splitlines()[0])
    assert d["info"] == {"k": 1, "step": 3}


def test_resume_trims_trajectories_written_after_the_checkpoint(tmp_path):
    from gymnpt.training.rundir import RunDir

    run = RunDir(tmp_path / "run")
    with TrajectoryWriter(run.traj_path) as w:
        for step in (1, 2, 3, 4):
            w.tags["step"] = step
            w.write(_record(step))
    with open(run.traj_path, "a") as fh:
        fh.write('{"torn": ')
    dropped = run.truncate_trajectories(2)
    assert dropped == 2
    assert [t.seed for t in read_trajectories(run.traj_path)] == [1, 2]
    run.truncate_trajectories(2)  # idempotent
    assert [t.seed for t in read_trajectories(run.traj_path)] == [1, 2]


def test_printed_errors_name_the_env_and_its_plugin():
    from rich.console import Console

    from gymnpt.rollout.summary import print_errors
    from gymnpt.rollout.trajectory import Trajectory

    trajs = [
        Trajectory(
            episode_id=f"e{i}",
            env_id="tictactoe",
            seed=i,
            group_id=f"g:{i}",
            role="x",
            policy_id="p",
            outcome="error",
            reason="ValueError: the board broke",
        )
        for i in range(2)
    ]
    console = Console(record=True, width=200)
    assert print_errors(trajs, console) == 2
    text = console.export_text()
    assert "2 x ValueError" in text
    assert "env tictactoe, plugin games" in text
