"""``gymnpt tournament``: a round robin between named agents, with ratings.

Every pair of agents plays ``games`` games on paired seeds: each seed once with each seating,
so neither agent profits from moving first. Games run concurrently through the rollout
engine (``backend=local``) or in chunks on a Ray cluster (``backend=ray``); both give the
same results for the same seeds.

Each finished game is appended to ``results.jsonl`` in the output folder at once. Running
the same command again skips games already there (the key is the seating, the seed and a
fingerprint of the settings that change play), so an interrupted tournament resumes, and
adding an agent plays only the new pairings. Games that ended in an error are played again.

At the end the folder also holds ``ratings.json``, ``ratings.md`` (ratings table and
crosstable), ``ratings.png`` (ratings with bootstrap intervals) and ``config.yaml``; for
Kuhn poker the exploitability of every agent is added. A Rich table is printed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymnpt.arena.ratings import GameResult, RatingReport, rate
from gymnpt.core.config import field_help
from gymnpt.rollout.trajectory import Trajectory, TrajectoryWriter, iter_jsonl

__all__ = [
    "Config",
    "run",
    "GameSpec",
    "MatchSettings",
    "schedule",
    "play_games",
    "game_row",
    "load_results",
    "rate_rows",
    "TournamentResult",
    "run_tournament",
    "BACKENDS",
]

#: Backends that ``backend=`` accepts.
BACKENDS = ("local", "ray")
_SCORES = {"win": 1.0, "loss": 0.0, "draw": 0.5, "aborted": 0.5}


@dataclass
class Config:
    """Settings of ``gymnpt tournament``."""

    env: str = field_help(
        "env id of a two-seat game, e.g. tictactoe or connect_four", default="tictactoe"
    )
    agents: list[str] = field_help(
        "agents to rate, e.g. [bot:random,bot:minimax-3,ckpt:runs/a,hf:tiny,openai:http://host/v1]",
        default_factory=list,
    )
    games: int = field_help(
        "games per pairing (even: each seed is played once per seating)", default=20
    )
    seed: int = field_help("first seed; pairing seeds are seed, seed+1, ...", default=0)
    name: str = field_help(
        "tournament name; the output folder is runs/tournaments/<name>", default=""
    )
    out: str = field_help("output folder (overrides name)", default="")
    backend: str = field_help("where games run: local (one process) or ray", default="local")
    concurrency: int = field_help("games in flight at once per process", default=64)
    chunk_size: int = field_help("games per Ray task (backend=ray)", default=16)
    ray_address: str = field_help("Ray cluster to attach to ('' starts a local one)", default="")
    ray_num_cpus: int = field_help("CPUs of a locally started Ray cluster (0 = all)", default=2)
    max_turns: int = field_help(
        "cap on replies per game (0 = none); a capped game counts as a draw", default=0
    )
    env_kwargs: dict[str, Any] = field_help("keyword arguments for the env", default_factory=dict)
    model: str = field_help("model for agents named hf / vllm / openai without one", default="")
    base_url: str = field_help("endpoint for openai agents named without a URL", default="")
    api_key: str = field_help("API key for openai agents (or set OPENAI_API_KEY)", default="")
    temperature: float = field_help(
        "sampling temperature of model agents (0 = greedy)", default=1.0
    )
    top_p: float = field_help("nucleus sampling mass of model agents", default=1.0)
    max_new_tokens: int = field_help("longest reply of model agents in tokens", default=64)
    call_timeout: float = field_help("seconds allowed per batched model call", default=300.0)
    bootstrap: int = field_help(
        "bootstrap replicates for the 95% intervals (0 = none)", default=200
    )
    elo_k: float = field_help("Elo K-factor", default=16.0)
    openskill_model: str = field_help(
        "openskill model: PlackettLuce, BradleyTerryFull, ...", default="PlackettLuce"
    )
    exploitability: bool = field_help(
        "for kuhn_poker: add each agent's exact exploitability", default=True
    )
    exploitability_samples: int = field_help(
        "replies sampled per information set to estimate a stochastic agent's strategy", default=64
    )
    save_trajectories: bool = field_help(
        "also append full trajectories to trajectories.jsonl", default=False
    )
    plot: bool = field_help("write ratings.png", default=True)
    progress: bool = field_help("show a progress bar (when stderr is a terminal)", default=True)

    def __post_init__(self) -> None:
        agents = list(self.agents)
        if len(agents) < 2:
            raise ValueError(
                "a tournament needs at least two agents, e.g. agents=[bot:random,bot:minimax]"
            )
        dup = sorted({a for a in agents if agents.count(a) > 1})
        if dup:
            raise ValueError(f"agents must be distinct; repeated: {', '.join(dup)}")
        if any(not isinstance(a, str) or not a.strip() or "|" in a for a in agents):
            raise ValueError("agent names must be non-empty and must not contain '|'")
        if self.games < 2 or self.games % 2:
            raise ValueError(
                f"games must be an even number >= 2 (each seed is played with seats swapped), "
                f"got {self.games}"
            )
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.concurrency < 1 or self.chunk_size < 1:
            raise ValueError("concurrency and chunk_size must be >= 1")
        if self.max_turns < 0 or self.bootstrap < 0 or self.ray_num_cpus < 0:
            raise ValueError("max_turns, bootstrap and ray_num_cpus must be >= 0")
        if self.exploitability_samples < 1:
            raise ValueError("exploitability_samples must be >= 1")


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

    @classmethod
    def from_config(cls, cfg: Config) -> MatchSettings:
        return cls(
            env=cfg.env,
            env_kwargs=dict(cfg.env_kwargs),
            max_turns=cfg.max_turns or None,
            model=cfg.model or None,
            base_url=cfg.base_url or None,
            api_key=cfg.api_key or os.environ.get("OPENAI_API_KEY") or None,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            max_new_tokens=cfg.max_new_tokens,
            call_timeout=cfg.call_timeout or None,
            concurrency=cfg.concurrency,
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

        return build_policy(
            name,
            self.env,
            registry=registry,
            model=self.model,
            base_url=self.base_url,
            api_key=self.api_key,
        )

    def sampling(self) -> Any:
        from gymnpt.rollout.policy import SamplingParams

        return SamplingParams(
            temperature=self.temperature, top_p=self.top_p, max_new_tokens=self.max_new_tokens
        )


def schedule(
    agents: Sequence[str], seats: Sequence[str], games: int, seed: int = 0
) -> list[GameSpec]:
    """All games of a round robin, in canonical order.

    Each unordered pair plays ``games // 2`` seeds (``seed``, ``seed + 1``, ...), each once
    with the first agent in the first seat and once swapped.
    """
    if len(seats) != 2:
        raise ValueError(f"tournaments need a two-seat game; this env has seats {list(seats)}")
    if games < 2 or games % 2:
        raise ValueError(f"games must be an even number >= 2, got {games}")
    out = []
    for i, a in enumerate(agents):
        for b in agents[i + 1 :]:
            for k in range(games // 2):
                s = seed + k
                out.append(GameSpec(s, ((seats[0], a), (seats[1], b))))
                out.append(GameSpec(s, ((seats[0], b), (seats[1], a))))
    return out


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
            group_id=f"{settings.env}:{g.seed}",
            episode_id=hashlib.sha1(g.key.encode()).hexdigest()[:12],
            tags={"tournament_game": g.key},
        )
        for g in games
    ]
    engine.run_episodes(specs)
    return dict(engine.stats)


# ---- results -----------------------------------------------------------------------------------


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


def rate_rows(
    rows: Iterable[dict[str, Any]],
    agents: Sequence[str],
    *,
    n_bootstrap: int = 200,
    elo_k: float = 16.0,
    openskill_model: str = "PlackettLuce",
    seed: int = 0,
) -> RatingReport:
    """Ratings of ``agents`` from game rows, in canonical order (independent of finish order)."""

    def order(row: dict[str, Any]) -> tuple[Any, ...]:
        a, b = row["agents"]
        return (min(a, b), max(a, b), row["seed"], a)

    games = [
        GameResult(r["agents"][0], r["agents"][1], float(r["score"]))
        for r in sorted(rows, key=order)
        if r.get("score") is not None
    ]
    return rate(
        games,
        list(agents),
        n_bootstrap=n_bootstrap,
        seed=seed,
        elo_k=elo_k,
        openskill_model=openskill_model,
    )


def _drop_torn_tail(path: Path) -> None:
    """Cut a partial last line (left by a killed run) so new rows start on a line of their own."""
    if not path.exists():
        return
    with open(path, "rb+") as fh:
        data = fh.read()
        if data and not data.endswith(b"\n"):
            fh.truncate(data.rfind(b"\n") + 1)


@dataclass
class TournamentResult:
    """What :func:`run_tournament` produced."""

    out: Path
    report: RatingReport
    played: int
    skipped: int
    errors: int
    exploitability: dict[str, float] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)


def _default_out(cfg: Config) -> Path:
    if cfg.out:
        return Path(cfg.out)
    name = cfg.name or re.sub(r"[^A-Za-z0-9_.-]+", "_", cfg.env)
    return Path("runs") / "tournaments" / name


def run_tournament(cfg: Config, *, registry: Any = None, console: Any = None) -> TournamentResult:
    """Play (or resume) the tournament ``cfg`` describes and write its outputs.

    Args:
        cfg: the tournament settings.
        registry: the registry for envs and agents (default: the process-wide one).
        console: a Rich console for messages (default: none printed).

    Returns:
        The ratings report and counts of games played, skipped (already done) and errored.
    """
    from gymnpt.core.config import to_yaml

    if registry is None:
        from gymnpt.core.registry import default_registry

        registry = default_registry()
    spec = registry.env_spec(cfg.env)
    settings = MatchSettings.from_config(cfg)
    fp = settings.fingerprint()
    out = _default_out(cfg)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(to_yaml(cfg))
    results_path = out / "results.jsonl"

    planned = schedule(list(cfg.agents), list(spec.seats), cfg.games, cfg.seed)
    done = load_results(results_path, fp)
    todo = [g for g in planned if g.key not in done]
    skipped = len(planned) - len(todo)
    if console is not None:
        console.print(
            f"tournament on {spec.id}: {len(cfg.agents)} agents, {len(planned)} games "
            f"({skipped} already played, {len(todo)} to play) -> {out}"
        )

    # Each row is flushed as its game ends (a killed run keeps every finished game); no fsync
    # per row, which would cost more than a bot game.
    _drop_torn_tail(results_path)
    writer = TrajectoryWriter(results_path, fsync=False)
    traj_writer = TrajectoryWriter(out / "trajectories.jsonl") if cfg.save_trajectories else None
    new_rows: list[dict[str, Any]] = []

    def on_row(row: dict[str, Any]) -> None:
        writer.write(row)
        new_rows.append(row)

    stats: dict[str, Any] = {}
    t0 = time.perf_counter()
    try:
        if todo:
            progress = cfg.progress and sys.stderr.isatty()
            if cfg.backend == "ray":
                from gymnpt.plugins.ray_backend import RayBackend

                backend = RayBackend(
                    address=cfg.ray_address or None,
                    num_cpus=cfg.ray_num_cpus or None,
                    chunk_size=cfg.chunk_size,
                )
                stats = backend.play(
                    todo,
                    settings,
                    on_row,
                    on_trajectory=traj_writer.write if traj_writer is not None else None,
                )
            else:
                # Build every agent before the first game so a bad name fails fast.
                pols = {n: settings.make_agent(n, registry) for n in cfg.agents}
                stats = play_games(
                    todo,
                    settings,
                    on_row,
                    policies=pols,
                    registry=registry,
                    trajectories=traj_writer,
                    progress=progress,
                )
    finally:
        writer.close()
        if traj_writer is not None:
            traj_writer.close()
    stats["wall_s"] = time.perf_counter() - t0
    errors = [r for r in new_rows if r.get("score") is None]

    rows = load_results(results_path, fp)
    planned_keys = {g.key for g in planned}
    mine = [r for k, r in rows.items() if k in planned_keys]
    report = rate_rows(
        mine,
        list(cfg.agents),
        n_bootstrap=cfg.bootstrap,
        elo_k=cfg.elo_k,
        openskill_model=cfg.openskill_model,
        seed=cfg.seed,
    )
    expl: dict[str, float] = {}
    if cfg.exploitability and spec.id == "kuhn_poker":
        expl = _exploitabilities(cfg, settings, registry, console)
    result = TournamentResult(
        out=out,
        report=report,
        played=len(new_rows) - len(errors),
        skipped=skipped,
        errors=len(errors),
        exploitability=expl,
        stats=stats,
    )
    _write_outputs(cfg, result, fp, errors)
    return result


def _exploitabilities(
    cfg: Config, settings: MatchSettings, registry: Any, console: Any
) -> dict[str, float]:
    from gymnpt.arena.exploitability import exploitability

    out = {}
    for name in cfg.agents:
        try:
            pol = settings.make_agent(name, registry)
            out[name] = exploitability(
                pol,
                samples=cfg.exploitability_samples,
                registry=registry,
                env_kwargs=dict(cfg.env_kwargs),
            ).exploitability
        except Exception as exc:  # noqa: BLE001 - one agent's failure leaves the others
            if console is not None:
                console.print(f"[yellow]exploitability of {name} failed: {exc}[/yellow]")
            out[name] = math.nan
    return out


def _write_outputs(
    cfg: Config, res: TournamentResult, fp: str, errors: list[dict[str, Any]]
) -> None:
    from gymnpt.arena.ratings import _nan_to_none

    data = res.report.to_dict()
    data.update(
        {
            "env": cfg.env,
            "agents": list(cfg.agents),
            "games_per_pairing": cfg.games,
            "seed": cfg.seed,
            "fingerprint": fp,
            "played_now": res.played,
            "skipped": res.skipped,
            "errors_now": res.errors,
        }
    )
    if res.exploitability:
        data["exploitability"] = _nan_to_none(res.exploitability)
    if errors:
        data["first_error"] = errors[0].get("reason")
    (res.out / "ratings.json").write_text(json.dumps(data, indent=2))
    md = res.report.to_markdown(title=f"Tournament on {cfg.env}")
    if res.exploitability:
        md += "\n## Exploitability (Kuhn poker, chips per hand)\n\n| agent | exploitability |\n|---|---:|\n"
        md += "".join(f"| {a} | {v:.4f} |\n" for a, v in res.exploitability.items())
    (res.out / "ratings.md").write_text(md)
    if cfg.plot:
        res.report.plot(res.out / "ratings.png", title=f"{cfg.env}: {res.report.num_games} games")


def print_table(res: TournamentResult, console: Any, title: str = "ratings") -> None:
    """Print the ratings as a Rich table."""
    from rich.table import Table

    table = Table(title=title)
    cols = [
        "rank",
        "agent",
        "Bradley-Terry (95% CI)",
        "Elo (95% CI)",
        "OpenSkill",
        "W-D-L",
        "score",
    ]
    if res.exploitability:
        cols.append("exploitability")
    for c in cols:
        table.add_column(c, justify="right" if c in {"rank", "score", "exploitability"} else "left")

    def ci(v: float, lo_hi: tuple[float, float]) -> str:
        lo, hi = lo_hi
        return f"{v:.0f}" + ("" if math.isnan(lo) else f" [{lo:.0f}, {hi:.0f}]")

    for i, r in enumerate(res.report.rows, 1):
        cells = [
            str(i),
            r.name,
            ci(r.bt, r.bt_ci),
            ci(r.elo, r.elo_ci),
            f"{r.openskill_mu:.1f} ± {r.openskill_sigma:.1f}",
            f"{r.wins}-{r.draws}-{r.losses}",
            "-" if math.isnan(r.score) else f"{r.score:.3f}",
        ]
        if res.exploitability:
            v = res.exploitability.get(r.name, math.nan)
            cells.append("-" if math.isnan(v) else f"{v:.4f}")
        table.add_row(*cells)
    console.print(table)


def run(cfg: Config) -> int:
    """Entry point of ``gymnpt tournament``: play, rate, write the outputs and print the table."""
    from rich.console import Console

    console = Console()
    res = run_tournament(cfg, console=console)
    print_table(res, console, title=f"{cfg.env}: {res.report.num_games} games")
    wall = res.stats.get("wall_s", 0.0)
    if res.played:
        console.print(
            f"played {res.played} games in {wall:.1f}s ({res.played / max(wall, 1e-9):.1f} games/s); "
            f"{res.skipped} were already done"
        )
    if res.errors:
        console.print(
            f"[red]{res.errors} games ended in an error (they are retried on the next run)[/red]"
        )
    console.print(
        f"results in {res.out}/ (results.jsonl, ratings.json, ratings.md"
        + (", ratings.png)" if cfg.plot else ")")
    )
    return 1 if res.errors else 0
