"""Trajectory records and their append-only JSONL storage.

One :class:`Trajectory` per (episode, seat). ``token_ids`` is the whole conversation as the
model saw it; ``loss_mask`` is 1 on tokens this policy sampled and 0 on prompts and env
text; ``logprobs`` holds the sampler's logprob for each masked-in token (0.0 elsewhere).
Token ids are stored exactly as sampled: the history is never re-tokenized.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["Trajectory", "TrajectoryWriter", "read_trajectories", "to_hf_dataset", "group_by"]


@dataclass
class Trajectory:
    """One seat's view of one episode."""

    episode_id: str
    env_id: str
    seed: int | None
    group_id: str
    role: str
    policy_id: str
    policy_version: int = 0
    messages: list[dict[str, str]] = field(default_factory=list)
    token_ids: list[int] = field(default_factory=list)
    loss_mask: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    #: Reward this seat received after each of its turns (and a final entry for rewards
    #: that arrived after its last turn).
    rewards: list[float] = field(default_factory=list)
    #: Sum of ``rewards``.
    return_: float = 0.0
    #: win / loss / draw / success / failure / aborted / error
    outcome: str = "aborted"
    num_turns: int = 0
    invalid_moves: int = 0
    #: Seat -> policy id of every seat in the episode (who played whom).
    opponents: dict[str, str] = field(default_factory=dict)
    #: Why the episode ended (an error message when ``outcome == "error"``).
    reason: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_sampled_tokens(self) -> int:
        return sum(self.loss_mask)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["return"] = d.pop("return_")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trajectory:
        d = dict(d)
        if "return" in d:
            d["return_"] = d.pop("return")
        known = {f.name for f in fields(cls)}
        extra = {k: d.pop(k) for k in list(d) if k not in known}
        t = cls(**d)
        if extra:
            t.info.setdefault("extra", {}).update(extra)
        return t

    def completions(self) -> list[list[int]]:
        """The runs of masked-in token ids, one per sampled reply."""
        runs: list[list[int]] = []
        cur: list[int] = []
        for tok, m in zip(self.token_ids, self.loss_mask):
            if m:
                cur.append(tok)
            elif cur:
                runs.append(cur)
                cur = []
        if cur:
            runs.append(cur)
        return runs


class TrajectoryWriter:
    """Append-only JSONL writer. Each record is one line, flushed and fsynced, so a kill
    loses at most the line being written. Thread-safe."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")
        self._lock = threading.Lock()
        self._fsync = fsync
        self.count = 0

    def write(self, record: Trajectory | dict[str, Any]) -> None:
        d = record.to_dict() if isinstance(record, Trajectory) else record
        line = (
            json.dumps(d, ensure_ascii=False, separators=(",", ":"), default=_json_default) + "\n"
        )
        with self._lock:
            self._fh.write(line)
            self._fh.flush()
            if self._fsync:
                os.fsync(self._fh.fileno())
            self.count += 1

    def write_many(self, records: Iterable[Trajectory | dict[str, Any]]) -> None:
        for r in records:
            self.write(r)

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _json_default(obj: Any) -> Any:
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    return repr(obj)


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield each complete JSON line; a torn or corrupt line (from a kill) is skipped."""
    p = Path(path)
    if not p.exists():
        return
    with open(p, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                yield obj


def read_trajectories(path: str | os.PathLike[str]) -> list[Trajectory]:
    """Read a trajectories JSONL file, tolerating a torn last line."""
    return [Trajectory.from_dict(d) for d in iter_jsonl(path)]


def group_by(trajs: Iterable[Trajectory], key: str = "group_id") -> dict[Any, list[Trajectory]]:
    out: dict[Any, list[Trajectory]] = {}
    for t in trajs:
        out.setdefault(getattr(t, key), []).append(t)
    return out


def to_hf_dataset(trajs: Iterable[Trajectory] | str | os.PathLike[str]) -> Any:
    """Export trajectories to a Hugging Face :class:`datasets.Dataset` (one row per record)."""
    import datasets

    if isinstance(trajs, (str, os.PathLike)):
        trajs = read_trajectories(trajs)
    rows = []
    for t in trajs:
        d = t.to_dict()
        d["info"] = json.dumps(d["info"], default=_json_default)
        d["timings"] = json.dumps(d["timings"])
        d["opponents"] = json.dumps(d["opponents"])
        rows.append(d)
    return datasets.Dataset.from_list(rows)
