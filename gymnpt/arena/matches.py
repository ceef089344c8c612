"""Matches: what a tournament plays (games on paired seeds), how games are played through the
rollout engine, and the result row each finished game leaves in ``results.jsonl``.

Both tournament backends use these: the local one in process, the Ray one (a plugin) in its
tasks. Every game is fully determined by its seed and seating, so rows do not depend on where
a game ran.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymnpt.rollout.trajectory import Trajectory, TrajectoryWriter, iter_jsonl

__all__ = ["GameSpec", "MatchSettings", "schedule", "play_games", "game_row", "load_results"]

#: Score of the first seat by its outcome; other labels compare returns.
_SCORES = {"win": 1.0, "loss": 0.0, "draw": 0.5, "aborted": 0.5, "truncated": 0.5}


# ---- what to play ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GameSpec:
    """One game: a seed and who sits where."""

    seed: int
    #: Seat -> agent name, in the env's seat order.
    seating: tuple[tuple[str, str], ...]

    @property
    def agents(self) -> tuple[str, ...]:
        return tuple(a for _, a in self.seating)

    @property
    def key(self) -> str:
        """``<agent in seat 1>|<agent in seat 2>|<seed>``: unique within a tournament."""
        return "|".join(self.agents) + f"|{self.seed}"


@dataclass
class MatchSettings:
    """Everything a worker needs to play games: the env and how to build agents.

    It is plain data, so it can be shipped to Ray workers; each worker builds its own
    policies from the agent names.
    """

    env: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    max_turns: int | None = None
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 64
    call_timeout: float | None = 300.0
    concurrency: int = 64
    threads: int = 0

    @classmethod
    def from_config(cls, cfg: Any, registry: Any = None) -> MatchSettings:
        """The match settings of a tournament config.

        ``max_new_tokens=0`` (not set) becomes the env's reply length (its spec's
        ``max_new_tokens``, else 64), looked up in ``registry`` (default: the process-wide one).
        """
        max_new_tokens = cfg.max_new_tokens
        if max_new_tokens <= 0:
            if registry is None:
                from gymnpt.core.registry import default_registry

                registry = default_registry()
            max_new_tokens = registry.env_spec(cfg.env).reply_tokens(max_new_tokens)
        return cls(
            env=cfg.env,
            env_kwargs=dict(cfg.env_kwargs),
            max_turns=cfg.max_turns or None,
            model=cfg.model or None,
            base_url=cfg.base_url or None,
            api_key=cfg.api_key or os.environ.get("OPENAI_API_KEY") or None,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            max_new_tokens=max_new_tokens,
            call_timeout=cfg.call_timeout or None,
            concurrency=cfg.concurrency,
            threads=cfg.threads,
        )

    def fingerprint(self) -> str:
        """A short hash of the settings that change how games go (not of speed settings)."""
        keys = (
            "env",
            "env_kwargs",
            "max_turns",
            "model",
            "base_url",
            "temperature",
            "top_p",
            "max_new_tokens",
        )
        d = {k: getattr(self, k) for k in keys}
        blob = json.dumps(d, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def make_agent(self, name: str, registry: Any = None) -> Any:
        """Build the policy ``name`` names for this env."""
        from gymnpt.rollout.policies import build_policy

        extra = {}
        if self.threads > 0 and name.split(":", 1)[0] in ("hf", "ckpt"):
            extra["num_threads"] = self.threads
        return build_policy(
            name,
            self.env,
            registry=registry,
            model=self.model,
            base_url=self.base_url,
            api_key=self.api_key,
            **extra,
        )

    def sampling(self) -> Any:
        from gymnpt.rollout.policy import SamplingParams

        return SamplingParams(
            temperature=self.temperature, top_p=self.top_p, max_new_tokens=self.max_new_tokens
        )


def schedule(
    agents: Sequence[str],
    seats: Sequence[str],
    games: int,
    seed: int = 0,
    *,
    cooperative: bool = False,
) -> list[GameSpec]:
    """All games of a round robin, in canonical order.

    Each unordered pair plays ``games // 2`` seeds (``seed``, ``seed + 1``, ...), each once
    with the first agent in the first seat and once swapped. In a ``cooperative`` game the
    seats are roles of one team: every ordered seat assignment (self-pairs included) plays
    ``games`` seeds, the same seeds for every assignment.
    """
    from gymnpt.rollout.planner import EpisodePlanner, seed_block

    if len(seats) != 2:
        raise ValueError(f"tournaments need a two-seat game; this env has seats {list(seats)}")
    if games < 2 or games % 2:
        raise ValueError(f"games must be an even number >= 2, got {games}")
    seeds = seed_block(seed, games if cooperative else games // 2)
    plan = EpisodePlanner(seats).round_robin(list(agents), seeds, ordered=cooperative)
    return [GameSpec(int(ep.seed or 0), ep.seating) for ep in plan]


# ---- playing -----------------------------------------------------------------------------------


def _score(outcome: str, ret: float, other_ret: float) -> float | None:
    """The first seat's score in [0, 1], or None when the game does not count (an error)."""
    if outcome == "error":
        return None
    if outcome in _SCORES:
        return _SCORES[outcome]
    # Labels without a winner (success/failure of both): compare returns.
    return 1.0 if ret > other_ret else 0.0 if ret < other_ret else 0.5


def game_row(
    game: GameSpec,
    trajs: Sequence[Trajectory],
    settings: MatchSettings,
    fingerprint: str | None = None,
) -> dict[str, Any]:
    """The results.jsonl record of one finished game (both seats' trajectories)."""
    by_seat = {t.role: t for t in trajs}
    seats = [s for s, _ in game.seating]
    missing = [s for s in seats if s not in by_seat]
    if missing:
        outcomes = ["error"] * len(seats)
        returns = [0.0] * len(seats)
        reason: str | None = f"no trajectory for seats {missing}"
        turns, invalid, wall = 0, [0] * len(seats), 0.0
    else:
        ts = [by_seat[s] for s in seats]
        outcomes = [t.outcome for t in ts]
        returns = [float(t.return_) for t in ts]
        errs = [t.reason for t in ts if t.outcome == "error" and t.reason]
        reason = errs[0] if errs else next((t.reason for t in ts if t.reason), None)
        turns = sum(t.num_turns for t in ts)
        invalid = [t.invalid_moves for t in ts]
        wall = max(t.timings.get("episode_s", 0.0) for t in ts)
        if "error" in outcomes:
            outcomes = ["error"] * len(seats)
    score = _score(outcomes[0], returns[0], returns[1])
    return {
        "key": game.key,
        "fingerprint": fingerprint or settings.fingerprint(),
        "env": settings.env,
        "seed": game.seed,
        "seats": dict(game.seating),
        "agents": list(game.agents),
        "outcomes": outcomes,
        "returns": returns,
        "score": score,
        "turns": turns,
        "invalid_moves": invalid,
        "reason": reason,
        "episode_s": round(wall, 6),
    }


class _GameSink:
    """Duck-typed engine writer: turns each finished episode into a game row at once."""

    def __init__(
        self,
        games: dict[str, GameSpec],
        settings: MatchSettings,
        on_row: Callable[[dict[str, Any]], None],
        trajectories: TrajectoryWriter | None,
    ) -> None:
        self.games = games
        self.settings = settings
        self.on_row = on_row
        self.trajectories = trajectories
        self.fingerprint = settings.fingerprint()

    def write_many(self, trajs: Iterable[Trajectory]) -> None:
        trajs = list(trajs)
        if not trajs:
            return
        game = self.games.get(str(trajs[0].info.get("tournament_game")))
        if game is None:  # pragma: no cover - every episode carries its key
            return
        if self.trajectories is not None:
            self.trajectories.write_many(trajs)
        self.on_row(game_row(game, trajs, self.settings, self.fingerprint))


_POLICY_CACHE: dict[tuple[str, str], Any] = {}


def _policies(
    names: Iterable[str], settings: MatchSettings, registry: Any, cache: bool
) -> dict[str, Any]:
    out = {}
    for n in names:
        ck = (n, settings.fingerprint())
        if cache and ck in _POLICY_CACHE:
            out[n] = _POLICY_CACHE[ck]
            continue
        pol = settings.make_agent(n, registry)
        if cache:
            _POLICY_CACHE[ck] = pol
        out[n] = pol
    return out


def play_games(
    games: Sequence[GameSpec],
    settings: MatchSettings,
    on_row: Callable[[dict[str, Any]], None],
    *,
    policies: dict[str, Any] | None = None,
    registry: Any = None,
    trajectories: TrajectoryWriter | None = None,
    progress: bool = False,
    cache_policies: bool = False,
) -> dict[str, Any]:
    """Play ``games`` concurrently through the rollout engine; ``on_row`` gets each result.

    Args:
        games: what to play.
        settings: the env and how to build agents.
        on_row: called with the :func:`game_row` of each game as soon as it ends.
        policies: agent name -> Policy (default: built from the names with ``settings``).
        registry: the registry to build envs and agents with (default: the process-wide one).
        trajectories: where to append full trajectories, if anywhere.
        progress: show the engine's progress bar.
        cache_policies: keep built policies for later calls in this process (Ray workers).

    Returns:
        The engine's stats (episodes, wall time, model calls, batches).
    """
    from gymnpt.rollout.engine import EpisodeSpec, RolloutEngine
    from gymnpt.rollout.planner import group_id, lineup

    if not games:
        return {"episodes": 0}
    names = sorted({a for g in games for a in g.agents})
    pols = dict(policies or {})
    missing = [n for n in names if n not in pols]
    if missing:
        pols.update(_policies(missing, settings, registry, cache_policies))
    engine = RolloutEngine(
        settings.env,
        dict(settings.env_kwargs),
        sampling=settings.sampling(),
        max_turns=settings.max_turns,
        call_timeout=settings.call_timeout,
        max_concurrent=settings.concurrency,
        # The engine hands each finished episode's trajectories to its writer at once.
        writer=_GameSink({g.key: g for g in games}, settings, on_row, trajectories),  # type: ignore[arg-type]
        progress=progress,
        registry=registry,
    )
    specs = [
        EpisodeSpec(
            seed=g.seed,
            policies={seat: pols[a] for seat, a in g.seating},
            group_id=group_id(settings.env, g.seed, lineup(dict(g.seating))),
            episode_id=hashlib.sha1(g.key.encode()).hexdigest()[:12],
            tags={"tournament_game": g.key, "tournament_fingerprint": settings.fingerprint()},
        )
        for g in games
    ]
    engine.run_episodes(specs)
    return dict(engine.stats)


def load_results(path: str | Path, fingerprint: str | None = None) -> dict[str, dict[str, Any]]:
    """Finished games in a results.jsonl: key -> row (the last row of a key wins).

    Rows with another fingerprint (other settings) and rows of games that ended in an error
    are left out.
    """
    out: dict[str, dict[str, Any]] = {}
    for row in iter_jsonl(path):
        if "key" not in row or (fingerprint is not None and row.get("fingerprint") != fingerprint):
            continue
        if row.get("score") is None:
            out.pop(row["key"], None)
            continue
        out[row["key"]] = row
    return out
