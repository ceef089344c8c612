"""``gymnpt tournament``: a round robin between named agents, with ratings.

Every pair of agents plays ``games`` games on paired seeds: each seed once with each seating,
so neither agent profits from moving first. The games, how they are played and their result rows
are in :mod:`gymnpt.arena.matches`; this module runs a tournament and reports it. Games run concurrently through the rollout
engine (``backend=local``) or in chunks on a Ray cluster (``backend=ray``); both give the
same results for the same seeds.

Each finished game is appended to ``results.jsonl`` in the output folder at once. Running
the same command again skips games already there (the key is the seating, the seed and a
fingerprint of the settings that change play), so an interrupted tournament resumes, and
adding an agent plays only the new pairings. Games that ended in an error are played again.

At the end the folder also holds ``ratings.json``, ``ratings.md`` (ratings table and
crosstable), ``ratings.png`` (ratings with bootstrap intervals) and ``config.yaml``; when the
env spec has policy evaluators (exact exploitability in a solved game, say), every agent's
results are added. A Rich table is printed.

In a cooperative game (``EnvSpec.cooperative``: the seats are roles of one team sharing its
score) win/draw/loss ratings mean nothing, so none are computed. Instead every ordered seat
assignment, self-pairs included, plays ``games`` games on the same seeds, and the report is a
pair table: one row per seat assignment with its games and the env's metrics over them
(``pairs`` in ``ratings.json``, a table in ``ratings.md``).
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymnpt.arena.matches import (
    GameSpec,
    MatchSettings,
    game_row,
    load_results,
    play_games,
    schedule,
)
from gymnpt.arena.ratings import GameResult, RatingReport, rate
from gymnpt.core.config import field_help
from gymnpt.rollout.trajectory import Trajectory, TrajectoryWriter

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
    "headline",
    "pair_table",
    "print_pairs",
]

#: The backend built in; plugins add others (``registry.register_backend``), e.g. ``ray``.
BACKENDS = ("local",)


@dataclass
class Config:
    """Settings of ``gymnpt tournament``."""

    env: str = field_help(
        "env id of a two-seat game (required; `gymnpt envs` lists them)", default=""
    )
    agents: list[str] = field_help(
        "agents to rate, e.g. [bot:random,bot:minimax-3,ckpt:runs/a,hf:tiny,openai:http://host/v1]",
        default_factory=list,
    )
    games: int = field_help(
        "games per pairing (even: each seed is played once per seating); in a cooperative "
        "game, games per seat assignment",
        default=20,
    )
    seed: int = field_help("first seed; pairing seeds are seed, seed+1, ...", default=0)
    name: str = field_help(
        "tournament name; the output folder is runs/tournaments/<name>", default=""
    )
    out: str = field_help("output folder (overrides name)", default="")
    backend: str = field_help(
        "where games run: local (one process) or a registered backend such as ray", default="local"
    )
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
    max_new_tokens: int = field_help(
        "longest reply of model agents in tokens (0 = the env's reply length, its spec's "
        "max_new_tokens, else 64)",
        default=0,
    )
    call_timeout: float = field_help("seconds allowed per batched model call", default=300.0)
    threads: int = field_help(
        "CPU threads of local models (hf, ckpt:); 0 = automatic: 1 for tiny models, else the "
        "cores not busy with other work",
        default=0,
    )
    bootstrap: int = field_help(
        "bootstrap replicates for the 95% intervals (0 = none)", default=200
    )
    elo_k: float = field_help("Elo K-factor", default=16.0)
    openskill_model: str = field_help(
        "openskill model: PlackettLuce, BradleyTerryFull, ...", default="PlackettLuce"
    )
    evaluators: bool = field_help(
        "run the env spec's policy evaluators (e.g. exploitability) on every agent", default=True
    )
    save_trajectories: bool = field_help(
        "also append full trajectories to trajectories.jsonl", default=False
    )
    plot: bool = field_help("write ratings.png", default=True)
    progress: bool = field_help("show a progress bar (when stderr is a terminal)", default=True)

    def __post_init__(self) -> None:
        if not self.env:
            raise ValueError(
                "env= is required: name a two-seat env, e.g. env=<id>; `gymnpt envs` lists them"
            )
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
        if self.games > 1_000_000:  # checked before any game is planned
            raise ValueError(
                f"games must be at most 1,000,000 per pairing, got {self.games:,}; "
                "split a larger tournament into several runs"
            )
        if self.backend != "local":
            from gymnpt.core.registry import default_registry

            known = ("local", *default_registry().backends)
            if self.backend not in known:
                raise ValueError(f"backend must be one of {', '.join(known)}, got {self.backend!r}")
        if self.concurrency < 1 or self.chunk_size < 1:
            raise ValueError("concurrency and chunk_size must be >= 1")
        if self.max_turns < 0 or self.bootstrap < 0 or self.ray_num_cpus < 0 or self.threads < 0:
            raise ValueError("max_turns, bootstrap, ray_num_cpus and threads must be >= 0")
        if self.max_new_tokens < 0:
            raise ValueError(
                f"max_new_tokens must be >= 0 (0 = the env's reply length), got "
                f"{self.max_new_tokens}"
            )


# ---- results -----------------------------------------------------------------------------------


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
    #: The ratings; None in a cooperative game (see :attr:`pairs`).
    report: RatingReport | None
    played: int
    skipped: int
    errors: int
    #: Agent -> evaluator name -> its results (the env spec's evaluators).
    evaluations: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: Agent -> the env spec's episode metrics over that agent's games played in this run.
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    #: Cooperative games: one row per seat assignment (:func:`pair_table`).
    pairs: list[dict[str, Any]] = field(default_factory=list)
    #: Cooperative games: how many of the finished games the pair metrics cover.
    metric_games: int = 0

    def evaluator_names(self) -> list[str]:
        """The evaluators that ran, in order."""
        return list(dict.fromkeys(ev for per in self.evaluations.values() for ev in per))


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
    settings = MatchSettings.from_config(cfg, registry)
    fp = settings.fingerprint()
    out = _default_out(cfg)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(to_yaml(cfg))
    results_path = out / "results.jsonl"

    cooperative = bool(spec.cooperative)
    planned = schedule(
        list(cfg.agents), list(spec.seats), cfg.games, cfg.seed, cooperative=cooperative
    )
    done = load_results(results_path, fp)
    todo = [g for g in planned if g.key not in done]
    skipped = len(planned) - len(todo)
    if console is not None:
        kind = "cooperative, every seat assignment; " if cooperative else ""
        console.print(
            f"tournament on {spec.id} ({kind}{len(cfg.agents)} agents): {len(planned)} games "
            f"({skipped} already played, {len(todo)} to play) -> {out}"
        )

    # Each row is flushed as its game ends (a killed run keeps every finished game); no fsync
    # per row, which would cost more than a bot game.
    _drop_torn_tail(results_path)
    writer = TrajectoryWriter(results_path, fsync=False)
    traj_writer = TrajectoryWriter(out / "trajectories.jsonl") if cfg.save_trajectories else None
    new_rows: list[dict[str, Any]] = []
    # The env's own episode metrics need the trajectories of the games played now.
    sink = _TrajectorySink(traj_writer, keep=spec.metrics is not None)

    def on_row(row: dict[str, Any]) -> None:
        writer.write(row)
        new_rows.append(row)

    stats: dict[str, Any] = {}
    t0 = time.perf_counter()
    try:
        if todo:
            progress = cfg.progress and sys.stderr.isatty()
            if cfg.backend != "local":
                backend = registry.make_backend(
                    cfg.backend,
                    address=cfg.ray_address or None,
                    num_cpus=cfg.ray_num_cpus or None,
                    chunk_size=cfg.chunk_size,
                )
                stats = backend.play(
                    todo,
                    settings,
                    on_row,
                    on_trajectory=sink.write if sink.wanted else None,
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
                    trajectories=sink if sink.wanted else None,  # type: ignore[arg-type]
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
    report: RatingReport | None = None
    pairs: list[dict[str, Any]] = []
    metric_games = 0
    if cooperative:
        trajs = _finished_trajectories(
            sink.kept, out / "trajectories.jsonl" if cfg.save_trajectories else None, mine, fp
        )
        pairs = pair_table(spec, planned, mine, trajs)
        metric_games = len({str(t.info.get("tournament_game")) for t in trajs})
    else:
        report = rate_rows(
            mine,
            list(cfg.agents),
            n_bootstrap=cfg.bootstrap,
            elo_k=cfg.elo_k,
            openskill_model=cfg.openskill_model,
            seed=cfg.seed,
        )
    metrics = _agent_metrics(spec, sink.kept, todo)
    evaluations: dict[str, dict[str, dict[str, Any]]] = {}
    if cfg.evaluators and spec.evaluators:
        evaluations = _evaluations(cfg, settings, registry, console)
    result = TournamentResult(
        out=out,
        report=report,
        played=len(new_rows) - len(errors),
        skipped=skipped,
        errors=len(errors),
        evaluations=evaluations,
        metrics=metrics,
        stats=stats,
        pairs=pairs,
        metric_games=metric_games,
    )
    _write_outputs(cfg, result, fp, errors)
    return result


class _TrajectorySink:
    """Where finished games' trajectories go: the optional file, and memory for env metrics."""

    def __init__(self, writer: TrajectoryWriter | None, *, keep: bool) -> None:
        self.writer = writer
        self.keep = keep
        self.kept: list[Trajectory] = []

    @property
    def wanted(self) -> bool:
        return self.writer is not None or self.keep

    def write_many(self, trajs: Iterable[Trajectory]) -> None:
        for t in trajs:
            self.write(t)

    def write(self, t: Trajectory | dict[str, Any]) -> None:
        traj = t if isinstance(t, Trajectory) else Trajectory.from_dict(t)
        if self.writer is not None:
            self.writer.write(traj)
        if self.keep:
            self.kept.append(traj)


def _agent_metrics(
    spec: Any, trajs: Sequence[Trajectory], games: Sequence[GameSpec]
) -> dict[str, dict[str, Any]]:
    """The env's episode metrics per agent, over the trajectories of the seats it played."""
    if spec.metrics is None or not trajs:
        return {}
    from gymnpt.arena.evaluation import env_metrics

    seating = {g.key: dict(g.seating) for g in games}
    by_agent: dict[str, list[Trajectory]] = {}
    for t in trajs:
        seats = seating.get(str(t.info.get("tournament_game")))
        if seats is not None and t.role in seats:
            by_agent.setdefault(seats[t.role], []).append(t)
    return {agent: env_metrics(spec, ts) for agent, ts in sorted(by_agent.items())}


def _finished_trajectories(
    kept: Sequence[Trajectory], saved: Path | None, rows: Sequence[dict[str, Any]], fp: str
) -> list[Trajectory]:
    """Trajectories of the finished games ``rows``: this run's, plus earlier runs' when saved.

    Earlier games have trajectories only in ``trajectories.jsonl`` (``save_trajectories``);
    a game played again after an error keeps its last trajectories.
    """
    from gymnpt.rollout.trajectory import iter_jsonl

    keys = {str(r["key"]) for r in rows}
    by_seat: dict[tuple[str, str], Trajectory] = {}
    if saved is not None and saved.exists():
        for d in iter_jsonl(saved):
            info = d.get("info") or {}
            if info.get("tournament_fingerprint") == fp and info.get("tournament_game") in keys:
                t = Trajectory.from_dict(d)
                by_seat[(str(info["tournament_game"]), t.role)] = t
    for t in kept:
        key = str(t.info.get("tournament_game"))
        if key in keys:
            by_seat[(key, t.role)] = t
    return list(by_seat.values())


def pair_table(
    spec: Any,
    planned: Sequence[GameSpec],
    rows: Sequence[dict[str, Any]],
    trajectories: Sequence[Trajectory],
) -> list[dict[str, Any]]:
    """One row per seat assignment of a cooperative tournament, in the planned order.

    Args:
        spec: the env spec (its ``metrics`` give the metric columns).
        planned: every game of the tournament.
        rows: the finished games' result rows.
        trajectories: trajectories of finished games (tagged with their game key).

    Returns:
        Dicts with ``seats`` (seat -> agent), ``games`` (finished games), ``metric_games``
        (games whose trajectories the metrics cover) and ``metrics`` (the env's metrics over
        them; empty when none are covered).
    """
    from gymnpt.arena.evaluation import env_metrics

    assignment = {g.key: g.seating for g in planned}
    finished: dict[tuple[tuple[str, str], ...], int] = {}
    for r in rows:
        seating = assignment.get(str(r["key"]))
        if seating is not None:
            finished[seating] = finished.get(seating, 0) + 1
    trajs: dict[tuple[tuple[str, str], ...], list[Trajectory]] = {}
    for t in trajectories:
        seating = assignment.get(str(t.info.get("tournament_game")))
        if seating is not None:
            trajs.setdefault(seating, []).append(t)
    out = []
    for seating in dict.fromkeys(g.seating for g in planned):
        ts = trajs.get(seating, [])
        out.append(
            {
                "seats": dict(seating),
                "games": finished.get(seating, 0),
                "metric_games": len({str(t.info.get("tournament_game")) for t in ts}),
                "metrics": env_metrics(spec, ts),
            }
        )
    return out


def _pair_label(seats: dict[str, str]) -> str:
    return ", ".join(f"{s}={a}" for s, a in seats.items())


def _pair_columns(pairs: Sequence[dict[str, Any]]) -> list[str]:
    """Metric columns: the common headline numbers first, then the rest in name order."""
    names = {k for p in pairs for k in p["metrics"] if k != "episodes"}
    first = [k for k in ("played_pct", "quality", "clemscore") if k in names]
    return first + sorted(names - set(first))


def _pairs_note(res: TournamentResult) -> str | None:
    """Why metrics cover fewer games than finished (a resumed run without saved trajectories)."""
    total = sum(p["games"] for p in res.pairs)
    if res.metric_games >= total:
        return None
    return (
        f"pair metrics cover the {res.metric_games} of {total} finished games whose "
        "trajectories this run has (games played now, plus earlier ones saved with "
        "save_trajectories=true)"
    )


def print_pairs(res: TournamentResult, console: Any, title: str = "pairs") -> None:
    """Print the pair table of a cooperative tournament.

    Columns: the seat assignment, its finished games, the episodes the metrics cover
    (:func:`pair_table`) and the env's metrics. A Rich table on a terminal; otherwise a
    header line and tab-separated rows.
    """
    cols = _pair_columns(res.pairs)
    header = ["seats", "games", "episodes", *cols]
    rows = [
        [_pair_label(p["seats"]), str(p["games"]), str(p["metric_games"])]
        + [_cell(p["metrics"].get(c)) for c in cols]
        for p in res.pairs
    ]
    if not getattr(console, "is_terminal", False):
        # Written as they are: Rich would expand the tabs.
        for r in (header, *rows):
            console.file.write("\t".join(r) + "\n")
        console.file.flush()
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title)
    for c in header:
        table.add_column(c, justify="left" if c == "seats" else "right")
    for r in rows:
        table.add_row(*(escape(c) for c in r))
    console.print(table)


def _evaluations(
    cfg: Config, settings: MatchSettings, registry: Any, console: Any
) -> dict[str, dict[str, dict[str, Any]]]:
    """Agent -> evaluator name -> what the env spec's evaluator returned for that agent."""
    from gymnpt.arena.evaluation import run_evaluators

    spec = registry.env_spec(cfg.env)
    out = {}
    for name in cfg.agents:

        def warn(ev: str, exc: Exception, agent: str = name) -> None:
            if console is not None:
                console.print(f"[yellow]{ev} of {agent} failed: {exc}[/yellow]")

        try:
            pol = settings.make_agent(name, registry)
        except Exception as exc:  # noqa: BLE001 - one agent's failure leaves the others
            out[name] = {ev: {"error": f"{type(exc).__name__}: {exc}"} for ev in spec.evaluators}
            warn("evaluation", exc)
            continue
        out[name] = run_evaluators(
            spec, pol, registry=registry, sampling=settings.sampling(), on_error=warn
        )
    return out


def headline(evaluator: str, values: dict[str, Any]) -> float:
    """The number that stands for an evaluator's result: its own name's key, else the first number."""
    v = values.get(evaluator)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    for v in values.values():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    return math.nan


def _write_outputs(
    cfg: Config, res: TournamentResult, fp: str, errors: list[dict[str, Any]]
) -> None:
    from gymnpt.arena.ratings import nan_to_none

    data = res.report.to_dict() if res.report is not None else {}
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
    if res.evaluations:
        data["evaluators"] = nan_to_none(res.evaluations)
    if res.metrics:
        # Like played_now: about the games of this run only (a resumed run has no
        # trajectories of earlier games), so kept apart from the ratings.
        data["metrics_now"] = nan_to_none(res.metrics)
    if errors:
        data["first_error"] = errors[0].get("reason")
    if res.report is None:
        data["cooperative"] = True
        data["ratings"] = None
        data["ratings_skipped"] = _NO_RATINGS
        data["pairs"] = nan_to_none(res.pairs)
        data["pair_metric_games"] = res.metric_games
        (res.out / "ratings.json").write_text(json.dumps(data, indent=2))
        (res.out / "ratings.md").write_text(_pairs_markdown(cfg, res))
        return
    (res.out / "ratings.json").write_text(json.dumps(data, indent=2))
    md = res.report.to_markdown(title=f"Tournament on {cfg.env}")
    for ev in res.evaluator_names():
        md += f"\n## {ev}\n\n| agent | {ev} |\n|---|---:|\n"
        md += "".join(
            f"| {a} | {headline(ev, per.get(ev, {})):.4f} |\n" for a, per in res.evaluations.items()
        )
    (res.out / "ratings.md").write_text(md)
    if cfg.plot:
        res.report.plot(res.out / "ratings.png", title=f"{cfg.env}: {res.report.num_games} games")


#: The line printed instead of ratings in a cooperative game.
_NO_RATINGS = (
    "no Elo/Bradley-Terry ratings: the seats of this game cooperate and share one score, "
    "so every game is a draw; see the pair table"
)


def _pairs_markdown(cfg: Config, res: TournamentResult) -> str:
    cols = _pair_columns(res.pairs)
    md = f"# Tournament on {cfg.env} (cooperative)\n\n{_NO_RATINGS}.\n\n"
    md += "| seats | games | episodes | " + " | ".join(cols) + " |\n"
    md += "|---|---:|---:|" + "---:|" * len(cols) + "\n"
    for p in res.pairs:
        cells = [_pair_label(p["seats"]), str(p["games"]), str(p["metric_games"])]
        cells += [_cell(p["metrics"].get(c)) for c in cols]
        md += "| " + " | ".join(cells) + " |\n"
    note = _pairs_note(res)
    return md + (f"\n{note}.\n" if note else "")


def _cell(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "-" if value is None else str(value)


def print_table(res: TournamentResult, console: Any, title: str = "ratings") -> None:
    """Print the ratings as a Rich table (the pair table in a cooperative game)."""
    from rich.table import Table

    if res.report is None:
        print_pairs(res, console, title=title)
        return

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
    evaluators = res.evaluator_names()
    cols += evaluators
    for c in cols:
        table.add_column(c, justify="right" if c in {"rank", "score", *evaluators} else "left")

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
        for ev in evaluators:
            v = headline(ev, res.evaluations.get(r.name, {}).get(ev, {}))
            cells.append("-" if math.isnan(v) else f"{v:.4f}")
        table.add_row(*cells)
    console.print(table)


def run(cfg: Config) -> int:
    """Entry point of ``gymnpt tournament``: play, rate, write the outputs and print the table."""
    from rich.console import Console

    console = Console()
    res = run_tournament(cfg, console=console)
    if res.report is None:
        console.print(_NO_RATINGS)
        games = sum(p["games"] for p in res.pairs)
        print_pairs(res, console, title=f"{cfg.env}: {games} games, every seat assignment")
        note = _pairs_note(res)
        if note:
            console.print(note)
    else:
        print_table(res, console, title=f"{cfg.env}: {res.report.num_games} games")
        for agent, m in res.metrics.items():
            line = ", ".join(f"{k} {_cell(v)}" for k, v in sorted(m.items()))
            console.print(f"{agent}: {line}")
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
        + (", ratings.png)" if cfg.plot and res.report is not None else ")")
    )
    return 1 if res.errors else 0
