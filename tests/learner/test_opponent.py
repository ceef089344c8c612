"""Training a two-seat env: the learner against an opponent, its seat alternating between groups."""

from __future__ import annotations

import json
from pathlib import Path

from gymnpt.core.config import parse_overrides
from gymnpt.training.config import Config
from gymnpt.training.run import run


def test_two_seat_env_trains_against_random_bot_with_alternating_seats(tmp_path: Path) -> None:
    cfg = parse_overrides(
        Config,
        [
            "env=tictactoe",
            "steps=1",
            "seeds_per_step=4",
            "group_size=2",
            "refill_rounds=0",
            "sft.steps=0",
            "eval.episodes=2",
            "eval.bots=[bot:random]",
            "max_new_tokens=3",
            "progress=false",
            f"out={tmp_path}",
            "name=t",
        ],
    )
    assert run(cfg) == 0
    lines = (tmp_path / "t" / "trajectories.jsonl").read_text().splitlines()
    trajs = [json.loads(x) for x in lines]
    assert len(trajs) == 4 * 2  # only the learner's seat is recorded
    seats_by_group: dict[str, set[str]] = {}
    for t in trajs:
        seats_by_group.setdefault(t["group_id"], set()).add(t["role"])
        others = {s: p for s, p in t["opponents"].items() if s != t["role"]}
        assert list(others.values()) == ["bot:random"], t["opponents"]
        assert t["opponents"][t["role"]].startswith("hf:")
    assert all(len(s) == 1 for s in seats_by_group.values())  # one seating per group
    # the learner's seat alternates between groups: both seats are trained on
    assert set().union(*seats_by_group.values()) == {"x", "o"}
