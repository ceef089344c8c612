"""Trajectory records and their append-only JSONL storage.

One :class:`Trajectory` per (episode, seat). ``token_ids`` is the whole conversation as the
model saw it; ``loss_mask`` is 1 on tokens this policy sampled and 0 on prompts and env
text; ``logprobs`` holds the sampler's logprob for each masked-in token (0.0 elsewhere).
Token ids are stored exactly as sampled: the history is never re-tokenized.

Every line written is valid JSON: a non-finite number (``NaN``, ``inf``) is written as
``null`` and the record gets ``"non_finite": [paths]`` naming where; text that is not valid
Unicode (a lone surrogate) is written with ``\\uXXXX`` escapes. Opening a writer on a file
whose last line was torn by a kill first ends that line, so the torn fragment stays one
corrupt line and every new record is kept. Readers skip corrupt lines, count them and warn.
"""

from __future__ import annotations

import json
import math
import os
import threading
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = [
    "Trajectory",
    "TrajectoryWriter",
    "read_trajectories",
    "iter_jsonl",
    "JsonlStats",
    "to_json_line",
    "to_hf_dataset",
    "group_by",
]


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
        self._fh = open(self.path, "a+b")
        self._end_torn_line()
        self._lock = threading.Lock()
        self._fsync = fsync
        self.count = 0
        #: Copied into the ``info`` of every record written (e.g. ``{"step": 3}`` during a
        #: training step, so that a resumed run can drop what came after its checkpoint).
        self.tags: dict[str, Any] = {}

    def _end_torn_line(self) -> None:
        """End a last line left without its newline (a kill mid-write)."""
        fh = self._fh
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            return
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) != b"\n":
            fh.seek(0, os.SEEK_END)
            fh.write(b"\n")
            fh.flush()

    def write(self, record: Trajectory | dict[str, Any]) -> None:
        d = record.to_dict() if isinstance(record, Trajectory) else record
        if self.tags:
            d = {**d, "info": {**(d.get("info") or {}), **self.tags}}
        data = (to_json_line(d) + "\n").encode("utf-8")
        with self._lock:
            self._fh.write(data)
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


def _finite(obj: Any, path: str, bad: list[str]) -> Any:
    """``obj`` with every non-finite float replaced by None (their paths go to ``bad``)."""
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        bad.append(path or "$")
        return None
    if isinstance(obj, dict):
        return {k: _finite(v, f"{path}.{k}" if path else str(k), bad) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v, f"{path}[{i}]", bad) for i, v in enumerate(obj)]
    return obj


def to_json_line(record: dict[str, Any]) -> str:
    """One record as one line of strict JSON (no ``NaN``; escapes for lone surrogates).

    Non-finite numbers become ``null`` and their paths are listed under ``"non_finite"``.
    """
    try:
        line = json.dumps(
            record,
            ensure_ascii=False,
            allow_nan=False,
            separators=(",", ":"),
            default=_json_default,
        )
    except ValueError:  # a NaN or an infinity somewhere
        bad: list[str] = []
        clean = _finite(json.loads(json.dumps(record, default=_json_default)), "", bad)
        clean["non_finite"] = bad
        line = json.dumps(clean, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: let JSON escape it
        line = json.dumps(json.loads(line), ensure_ascii=True, separators=(",", ":"))
    return line


class JsonlStats:
    """What :func:`iter_jsonl` read: good records and corrupt lines (with their numbers)."""

    def __init__(self) -> None:
        self.records = 0
        self.corrupt = 0
        self.corrupt_lines: list[int] = []

    def __repr__(self) -> str:
        return f"JsonlStats(records={self.records}, corrupt={self.corrupt})"


def iter_jsonl(
    path: str | os.PathLike[str], stats: JsonlStats | None = None, *, warn: bool = True
) -> Iterator[dict[str, Any]]:
    """Yield each JSON object line of ``path``.

    A torn or corrupt line (from a kill, or damage) is skipped and counted in ``stats``;
    with ``warn`` a :class:`UserWarning` says how many were skipped and where.
    """
    p = Path(path)
    if not p.exists():
        return
    stats = stats if stats is not None else JsonlStats()
    with open(p, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                obj = None
            if not isinstance(obj, dict):
                stats.corrupt += 1
                stats.corrupt_lines.append(number)
                continue
            stats.records += 1
            yield obj
    if warn and stats.corrupt:
        shown = ", ".join(map(str, stats.corrupt_lines[:10]))
        more = " ..." if stats.corrupt > 10 else ""
        warnings.warn(
            f"{p}: skipped {stats.corrupt} corrupt line(s) (line {shown}{more})",
            UserWarning,
            stacklevel=2,
        )


def read_trajectories(
    path: str | os.PathLike[str], stats: JsonlStats | None = None
) -> list[Trajectory]:
    """Read a trajectories JSONL file; corrupt lines are skipped, counted and warned about."""
    return [Trajectory.from_dict(d) for d in iter_jsonl(path, stats)]


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
