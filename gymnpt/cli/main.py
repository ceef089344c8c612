"""The ``gymnpt`` command line: ``gymnpt <command> key=value ...``.

Each command has a typed config (a dataclass); ``gymnpt <command> --help`` lists its keys.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gymnpt.core.config import ConfigError, field_help, help_rows, parse_overrides

# ---- configs of the commands defined here --------------------------------------------------


@dataclass
class EnvsConfig:
    family: str = field_help("only envs of this family (games, code, textarena, ...)", default="")
    all: bool = field_help(
        "also list envs that are unavailable here, with the reason", default=False
    )


@dataclass
class AgentsConfig:
    env: str = field_help("only agents that play this env", default="")


@dataclass
class PlayConfig:
    env: str = field_help("env id, e.g. snake or tictactoe", default="snake")
    seat: str = field_help("the seat you play (default: the first seat)", default="")
    opponent: str = field_help("agent for the other seats", default="bot:random")
    seed: int = field_help("episode seed (-1 for a random one)", default=-1)


@dataclass
class EvalConfig:
    env: str = field_help("env id", default="snake")
    agent: str = field_help(
        "agent to evaluate: bot:<name>, hf, vllm, openai, ckpt:<dir>", default=""
    )
    policy: str = field_help("alias of agent", default="")
    opponent: str = field_help(
        "agent in the other seats of multi-seat envs ('self' for self-play)", default="bot:random"
    )
    episodes: int = field_help("episodes to play (seats swapped for multi-seat envs)", default=100)
    seed: int = field_help("first seed; evaluation seeds are seed, seed+1, ...", default=1_000_000)
    swap_seats: bool = field_help("play each seed once per seat of the agent", default=True)
    max_turns: int = field_help("cap on replies per episode (0 = none)", default=0)
    concurrency: int = field_help("episodes in flight at once", default=64)
    out: str = field_help(
        "folder for results.json and trajectories.jsonl (empty = none)", default=""
    )
    env_kwargs: dict[str, Any] = field_help("keyword arguments for the env", default_factory=dict)
    model: str = field_help(
        "model for hf/vllm/openai agents: tiny, smollm2, a path or a model id", default="tiny"
    )
    base_url: str = field_help("OpenAI-compatible endpoint for agent=openai", default="")
    api_key: str = field_help("API key for agent=openai (or set OPENAI_API_KEY)", default="")
    openai_mode: str = field_help(
        "agent=openai: chat, or completions (token ids in and out; needs tokenizer)", default="chat"
    )
    tokenizer: str = field_help(
        "agent=openai, completions mode: local tokenizer (tiny, a path or an id)", default=""
    )
    temperature: float = field_help(
        "sampling temperature for model agents (0 = greedy)", default=1.0
    )
    top_p: float = field_help("nucleus sampling mass", default=1.0)
    max_new_tokens: int = field_help("longest reply in tokens", default=64)

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ValueError("episodes must be >= 1")


@dataclass
class RolloutConfig:
    env: str = field_help("env id", default="snake")
    policy: str = field_help(
        "policy for the recorded seat(s): hf, vllm, openai, ckpt:<dir>, bot:<name>", default="hf"
    )
    opponent: str = field_help(
        "agent in the other seats ('self' = the same policy in every seat)", default="self"
    )
    episodes: int = field_help("episodes (seeds x group_size)", default=16)
    group_size: int = field_help("episodes per seed (a GRPO group)", default=1)
    seed: int = field_help("first seed", default=0)
    out: str = field_help("run folder (default runs/rollout-<env>-<time>)", default="")
    max_turns: int = field_help("cap on replies per episode (0 = none)", default=0)
    concurrency: int = field_help("episodes in flight at once", default=64)
    env_kwargs: dict[str, Any] = field_help("keyword arguments for the env", default_factory=dict)
    model: str = field_help(
        "model for hf/vllm/openai: tiny, smollm2, a path or an id", default="tiny"
    )
    base_url: str = field_help("endpoint for policy=openai", default="")
    api_key: str = field_help("API key for policy=openai", default="")
    openai_mode: str = field_help(
        "policy=openai: chat, or completions (token ids in and out; needs tokenizer)",
        default="chat",
    )
    tokenizer: str = field_help(
        "policy=openai, completions mode: local tokenizer (tiny, a path or an id)", default=""
    )
    temperature: float = field_help("sampling temperature (0 = greedy)", default=1.0)
    top_p: float = field_help("nucleus sampling mass", default=1.0)
    max_new_tokens: int = field_help("longest reply in tokens", default=64)
    call_timeout: float = field_help("seconds allowed per batched model call", default=300.0)
    progress: bool = field_help("show a progress bar", default=True)

    def __post_init__(self) -> None:
        if self.episodes < 1 or self.group_size < 1:
            raise ValueError("episodes and group_size must be >= 1")


# ---- helpers ---------------------------------------------------------------------------------


def _console() -> Any:
    from rich.console import Console

    return Console()


def _registry() -> Any:
    from gymnpt.core.registry import default_registry

    return default_registry()


def _report_plugin_failures(console: Any) -> None:
    pm = _registry().plugin_manager
    for name, err in (pm.failures if pm else {}).items():
        console.print(f"[yellow]plugin {name!r} failed to load: {err}[/yellow]")


def _make_policy(
    name: str,
    env_id: str,
    *,
    model: str = "",
    base_url: str = "",
    api_key: str = "",
    mode: str = "",
    tokenizer: str = "",
) -> Any:
    from gymnpt.rollout.policies import build_policy

    extra: dict[str, Any] = {}
    if name.split(":", 1)[0] == "openai":
        if mode:
            extra["mode"] = mode
        if tokenizer:
            extra["tokenizer"] = tokenizer
    return build_policy(
        name,
        env_id,
        model=model or None,
        base_url=base_url or None,
        api_key=api_key or os.environ.get("OPENAI_API_KEY") or None,
        **extra,
    )


# ---- commands --------------------------------------------------------------------------------


def cmd_envs(cfg: EnvsConfig) -> int:
    from rich.table import Table

    console = _console()
    reg = _registry()
    specs = [s for s in reg.envs.values() if not cfg.family or s.family == cfg.family]
    shown = [s for s in specs if cfg.all or not s.unavailable]
    table = Table(title=f"gymnpt envs ({len(shown)})")
    for col in ("id", "family", "seats", "plugin", "description"):
        table.add_column(col, overflow="fold")
    for s in sorted(shown, key=lambda s: (s.family, s.id)):
        desc = s.description + (
            f" [red](unavailable: {s.unavailable})[/red]" if s.unavailable else ""
        )
        seats = ", ".join(s.seats) if len(s.seats) <= 4 else f"{len(s.seats)} seats"
        table.add_row(s.id, s.family, seats, s.plugin, desc)
    console.print(table)
    hidden = len(specs) - len(shown)
    if hidden:
        console.print(
            f"{hidden} more are unavailable here; `gymnpt envs all=true` lists them with the reason."
        )
    if cfg.family and not specs:
        fams = sorted({s.family for s in reg.envs.values()})
        console.print(
            f"[yellow]no env of family {cfg.family!r}; families: {', '.join(fams)}[/yellow]"
        )
    _report_plugin_failures(console)
    return 0


def cmd_agents(cfg: AgentsConfig) -> int:
    from rich.table import Table

    console = _console()
    reg = _registry()
    table = Table(title="gymnpt agents")
    for col in ("name", "plays", "plugin", "description"):
        table.add_column(col, overflow="fold")
    for name in sorted(reg.agents):
        for spec in reg.agents[name]:
            if cfg.env and not spec.supports(
                cfg.env, reg.envs[cfg.env].family if cfg.env in reg.envs else None
            ):
                continue
            table.add_row(name, ", ".join(spec.envs) or "any env", spec.plugin, spec.description)
    console.print(table)
    _report_plugin_failures(console)
    return 0


def cmd_plugins(cfg: AgentsConfig) -> int:
    console = _console()
    reg = _registry()
    pm = reg.plugin_manager
    for name, plugin in sorted(pm.list_name_plugin()):
        console.print(f"[green]loaded[/green] {name} ({getattr(plugin, '__name__', plugin)})")
    for name, err in pm.failures.items():
        console.print(f"[red]failed[/red] {name}: {err}")
    return 0


def cmd_play(cfg: PlayConfig) -> int:
    from rich.panel import Panel

    from gymnpt.rollout.policy import Request

    console = _console()
    reg = _registry()
    spec = reg.env_spec(cfg.env)
    env = reg.make_multiagent(cfg.env)
    seats = list(env.possible_agents)
    me = cfg.seat or seats[0]
    if me not in seats:
        raise ConfigError(f"seat {me!r} is not a seat of {spec.id}; seats: {', '.join(seats)}")
    others = {s: _make_policy(cfg.opponent, cfg.env) for s in seats if s != me}
    seed = cfg.seed if cfg.seed >= 0 else int(time.time()) % 100_000
    env.reset(seed=seed)
    instr = env.seat_instructions(me) if hasattr(env, "seat_instructions") else ""
    console.print(Panel(instr or spec.description, title=f"{spec.id} (seed {seed}) — you are {me}"))
    while not env.done:
        seat = env.agent_selection
        obs = env.observe(seat)
        if seat == me:
            console.print(Panel(obs, title=f"{seat} to move"))
            try:
                reply = input("your move> ")
            except (EOFError, KeyboardInterrupt):
                console.print("\n[yellow]game abandoned[/yellow]")
                return 1
        else:
            req = Request(
                messages=[{"role": "user", "content": obs}], seat=seat, env=env, env_id=cfg.env
            )
            reply = asyncio.run(others[seat].generate([req]))[0].text
            console.print(f"[cyan]{seat}[/cyan] ({others[seat].name}) plays: {reply}")
        env.step(reply)
        info = env.infos.get(seat, {})
        if info.get("invalid_move") and seat == me:
            console.print(f"[red]{info.get('error', 'invalid move')}[/red]")
    console.print(Panel(env.observe(me), title="final position"))
    outcome = env.outcome(me) if hasattr(env, "outcome") else None
    console.print(
        f"[bold]game over[/bold] — you ({me}): {outcome}, return {env._cumulative_rewards.get(me, 0.0):+.2f}"
    )
    return 0


def cmd_eval(cfg: EvalConfig) -> int:
    from gymnpt.arena.evaluation import evaluate, print_results
    from gymnpt.rollout.policy import SamplingParams
    from gymnpt.rollout.trajectory import TrajectoryWriter

    console = _console()
    reg = _registry()
    spec = reg.env_spec(cfg.env)
    name = cfg.agent or cfg.policy
    if not name:
        raise ConfigError("say which agent to evaluate: agent=bot:<name> or policy=hf model=<path>")
    agent = _make_policy(
        name,
        cfg.env,
        model=cfg.model,
        base_url=cfg.base_url,
        api_key=cfg.api_key,
        mode=cfg.openai_mode,
        tokenizer=cfg.tokenizer,
    )
    opponent = None
    if spec.num_seats > 1 and cfg.opponent != "self":
        opponent = _make_policy(
            cfg.opponent, cfg.env, model=cfg.model, base_url=cfg.base_url, api_key=cfg.api_key
        )
    writer = None
    if cfg.out:
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        writer = TrajectoryWriter(Path(cfg.out) / "trajectories.jsonl")
    sampling = SamplingParams(
        temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens
    )
    res = evaluate(
        cfg.env,
        agent,
        opponent,
        episodes=cfg.episodes,
        seed=cfg.seed,
        swap_seats=cfg.swap_seats,
        sampling=sampling,
        max_turns=cfg.max_turns or None,
        max_concurrent=cfg.concurrency,
        env_kwargs=dict(cfg.env_kwargs),
        writer=writer,
        progress=sys.stderr.isatty(),
        agent_name=name,
        opponent_name=cfg.opponent if opponent is not None else None,
    )
    if writer:
        writer.close()
    print_results([res], title=f"eval on {cfg.env}", console=console)
    if spec.num_seats > 1 and res.per_seat:
        for seat, ps in sorted(res.per_seat.items()):
            outs = ", ".join(f"{k} {v}" for k, v in sorted(ps["outcomes"].items()))
            console.print(
                f"  as {seat}: {ps['episodes']} episodes, mean return {ps['return_mean']:.3f}; {outs}"
            )
    extra: dict[str, Any] = {}
    if spec.id == "kuhn_poker" or spec.id.startswith("kuhn_poker"):
        from gymnpt.arena.exploitability import exploitability

        ex = exploitability(agent, registry=reg, sampling=sampling)
        extra["exploitability"] = ex.to_dict()
        console.print(
            f"exploitability of {name}: {ex.exploitability:.4f} chips per hand "
            f"(NashConv {ex.nash_conv:.4f}; measured by {ex.method})"
        )
    if cfg.out:
        (Path(cfg.out) / "results.json").write_text(
            json.dumps({**res.to_dict(), **extra}, indent=2, default=str)
        )
        console.print(f"results in {cfg.out}/results.json")
    return 0


def cmd_rollout(cfg: RolloutConfig) -> int:
    from gymnpt.core.config import to_yaml
    from gymnpt.rollout.engine import EpisodeSpec, RolloutEngine, print_summary
    from gymnpt.rollout.policy import SamplingParams
    from gymnpt.rollout.trajectory import TrajectoryWriter

    console = _console()
    reg = _registry()
    spec = reg.env_spec(cfg.env)
    out = Path(
        cfg.out or f"runs/rollout-{spec.id.replace('/', '_')}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(to_yaml(cfg))
    policy = _make_policy(
        cfg.policy,
        cfg.env,
        model=cfg.model,
        base_url=cfg.base_url,
        api_key=cfg.api_key,
        mode=cfg.openai_mode,
        tokenizer=cfg.tokenizer,
    )
    seats = list(spec.seats)
    selfplay = len(seats) == 1 or cfg.opponent == "self"
    opp: Any = (
        None
        if selfplay
        else _make_policy(
            cfg.opponent, cfg.env, model=cfg.model, base_url=cfg.base_url, api_key=cfg.api_key
        )
    )
    sampling = SamplingParams(
        temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens
    )
    writer = TrajectoryWriter(out / "trajectories.jsonl")
    engine = RolloutEngine(
        cfg.env,
        dict(cfg.env_kwargs),
        sampling=sampling,
        max_turns=cfg.max_turns or None,
        call_timeout=cfg.call_timeout,
        max_concurrent=cfg.concurrency,
        writer=writer,
        progress=cfg.progress,
        registry=reg,
    )
    n_seeds = max(1, cfg.episodes // cfg.group_size)
    specs = []
    for i in range(n_seeds):
        seed = cfg.seed + i
        for g in range(cfg.group_size):
            if selfplay:
                specs.append(EpisodeSpec(seed=seed, policies=policy, group_id=f"{spec.id}:{seed}"))
                continue
            # the policy against the opponent; its seat alternates between episodes (groups share one)
            me = (
                seats[(i * cfg.group_size + g) % len(seats)]
                if cfg.group_size == 1
                else seats[i % len(seats)]
            )
            mapping = {s: (policy if s == me else opp) for s in seats}
            specs.append(
                EpisodeSpec(
                    seed=seed, policies=mapping, group_id=f"{spec.id}:{seed}", record_seats=[me]
                )
            )
    t0 = time.perf_counter()
    trajs = engine.run_episodes(specs)
    wall = time.perf_counter() - t0
    writer.close()
    print_summary(trajs, title=f"rollout on {spec.id}", console=console)
    st = engine.stats
    tok = st.get("sampled_tokens", 0)
    console.print(
        f"{len(specs)} episodes in {wall:.1f}s; {st.get('model_calls', 0)} model calls in {st.get('batches', 0)} "
        f"batches (mean batch {st.get('mean_batch', 0):.1f}); {tok} sampled tokens ({tok / wall:.0f} tok/s)"
    )
    errors = [t for t in trajs if t.outcome == "error"]
    if errors:
        console.print(
            f"[red]{len(errors)} episodes ended in error; first: {errors[0].reason}[/red]"
        )
    console.print(f"trajectories in {out}/trajectories.jsonl")
    return 0


# ---- dispatch ----------------------------------------------------------------------------------

#: command -> (config class or "module:Config", runner or "module:run", one-line help)
COMMANDS: dict[str, tuple[Any, Any, str]] = {
    "envs": (EnvsConfig, cmd_envs, "list registered envs"),
    "agents": (AgentsConfig, cmd_agents, "list registered agents (policies and bots)"),
    "plugins": (AgentsConfig, cmd_plugins, "list loaded plugins and those that failed"),
    "play": (PlayConfig, cmd_play, "play an env in the terminal"),
    "eval": (EvalConfig, cmd_eval, "evaluate an agent with 95% CIs"),
    "rollout": (RolloutConfig, cmd_rollout, "record trajectories with a policy"),
    "train": (
        "gymnpt.training.config:Config",
        "gymnpt.training.trainer:run",
        "train a policy (SFT warm start + GRPO, RLOO, SFT, DPO)",
    ),
    "tournament": (
        "gymnpt.arena.tournament:Config",
        "gymnpt.arena.tournament:run",
        "round robin with ratings",
    ),
    "serve": (
        "gymnpt.serving.server:Config",
        "gymnpt.serving.server:run",
        "OpenAI-compatible server for a model",
    ),
}


def _resolve(obj: Any) -> Any:
    if isinstance(obj, str):
        mod, _, attr = obj.partition(":")
        return getattr(importlib.import_module(mod), attr)
    return obj


def _usage() -> str:
    lines = [
        "usage: gymnpt <command> [key=value ...]   (gymnpt <command> --help lists the keys)",
        "",
        "commands:",
    ]
    for name, (_, _, text) in COMMANDS.items():
        lines.append(f"  {name:<11} {text}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gymnpt`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0
    if argv[0] in {"--version", "version"}:
        from gymnpt import __version__

        print(__version__)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(name, list(COMMANDS), n=2)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        print(f"gymnpt: unknown command {name!r}.{hint}\n\n{_usage()}", file=sys.stderr)
        return 2
    cfg_ref, run_ref, _ = COMMANDS[name]
    try:
        cfg_cls = _resolve(cfg_ref)
        runner = _resolve(run_ref)
    except (ImportError, AttributeError) as exc:
        print(f"gymnpt {name}: this command is not available: {exc}", file=sys.stderr)
        return 2
    if any(a in {"-h", "--help"} for a in rest):
        print(f"usage: gymnpt {name} [key=value ...]\n")
        for key, default, text in help_rows(cfg_cls):
            print(f"  {key:<28} {text} (default: {default})")
        return 0
    try:
        cfg = parse_overrides(cfg_cls, rest)
        code = runner(cfg)
    except ConfigError as exc:
        print(f"gymnpt {name}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ngymnpt {name}: interrupted", file=sys.stderr)
        return 130
    except (KeyError, ValueError, FileNotFoundError, RuntimeError, TypeError) as exc:
        from gymnpt.core.registry import UnknownNameError

        if isinstance(
            exc, (UnknownNameError, ValueError, FileNotFoundError, RuntimeError)
        ) and not os.environ.get("GYMNPT_DEBUG"):
            print(f"gymnpt {name}: {exc}", file=sys.stderr)
            return 1
        raise
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
