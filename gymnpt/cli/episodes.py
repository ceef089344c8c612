"""Commands that play episodes: ``gymnpt play``, ``gymnpt eval`` and ``gymnpt rollout``."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

from gymnpt.cli.common import (
    _BACKEND_HELP,
    _CALL_TIMEOUT_HELP,
    _ENV_HELP,
    _ENV_WORKERS_HELP,
    _MAX_NEW_TOKENS_HELP,
    _MAX_TURNS_HELP,
    _RAY_ADDRESS_HELP,
    _STEP_TIMEOUT_HELP,
    _THREADS_HELP,
    ConfigError,
    _all_failed,
    _call_timeout,
    _check_agent_names,
    _check_env,
    _check_run_keys,
    _console,
    _env_pool,
    _env_spec,
    _fmt,
    _fresh_file,
    _make_policy,
    _out_dir,
    _registry,
)
from gymnpt.core.config import field_help


@dataclass
class PlayConfig:
    env: str = field_help(_ENV_HELP, default="")
    seat: str = field_help("the seat you play (default: the first seat)", default="")
    opponent: str = field_help("agent for the other seats", default="bot:random")
    seed: int = field_help("episode seed (-1 for a random one)", default=-1)


@dataclass
class EvalConfig:
    env: str = field_help(_ENV_HELP, default="")
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
    max_turns: int = field_help(_MAX_TURNS_HELP, default=0)
    concurrency: int = field_help("episodes in flight at once (>= 1)", default=64)
    out: str = field_help(
        "folder for results.json and trajectories.jsonl (empty = none)", default=""
    )
    env_kwargs: dict[str, Any] = field_help("keyword arguments for the env", default_factory=dict)
    model: str = field_help(
        "model for hf/vllm/openai agents: tiny, a registered model name, a path or an id",
        default="tiny",
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
    max_new_tokens: int = field_help(_MAX_NEW_TOKENS_HELP, default=0)
    threads: int = field_help(_THREADS_HELP, default=0)

    call_timeout: float = field_help(_CALL_TIMEOUT_HELP, default=0.0)
    step_timeout: float = field_help(_STEP_TIMEOUT_HELP, default=0.0)
    backend: str = field_help(_BACKEND_HELP, default="local")
    env_workers: int = field_help(_ENV_WORKERS_HELP, default=2)
    ray_address: str = field_help(_RAY_ADDRESS_HELP, default="")

    evaluators: bool = field_help(
        "also run the env's policy evaluators on the agent (e.g. exact exploitability)",
        default=True,
    )

    def __post_init__(self) -> None:
        _check_run_keys(self)


@dataclass
class RolloutConfig:
    env: str = field_help(_ENV_HELP, default="")
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
    max_turns: int = field_help(_MAX_TURNS_HELP, default=0)
    concurrency: int = field_help("episodes in flight at once (>= 1)", default=64)
    env_kwargs: dict[str, Any] = field_help("keyword arguments for the env", default_factory=dict)
    model: str = field_help(
        "model for hf/vllm/openai: tiny, a registered model name, a path or an id", default="tiny"
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
    max_new_tokens: int = field_help(_MAX_NEW_TOKENS_HELP, default=0)
    threads: int = field_help(_THREADS_HELP, default=0)
    call_timeout: float = field_help(_CALL_TIMEOUT_HELP, default=0.0)
    step_timeout: float = field_help(_STEP_TIMEOUT_HELP, default=0.0)
    backend: str = field_help(_BACKEND_HELP, default="local")
    env_workers: int = field_help(_ENV_WORKERS_HELP, default=2)
    ray_address: str = field_help(_RAY_ADDRESS_HELP, default="")
    progress: bool = field_help("show a progress bar", default=True)

    def __post_init__(self) -> None:
        _check_run_keys(self)
        if self.group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {self.group_size}")


def cmd_play(cfg: PlayConfig) -> int:
    from rich.panel import Panel

    from gymnpt.rollout.policy import Request

    console = _console()
    reg = _registry()
    spec = _env_spec(reg, cfg.env)
    env = reg.make_multiagent(cfg.env)
    seats = list(env.possible_agents)
    me = cfg.seat or seats[0]
    if me not in seats:
        raise ConfigError(f"seat {me!r} is not a seat of {spec.id}; seats: {', '.join(seats)}")
    others = {s: _make_policy(cfg.opponent, cfg.env) for s in seats if s != me}
    seed = cfg.seed if cfg.seed >= 0 else int(time.time()) % 100_000
    env.reset(seed=seed)
    my_return = 0.0
    instr = env.seat_instructions(me)
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
        my_return += float(env.rewards.get(me, 0.0))
        info = env.infos.get(seat, {})
        if info.get("invalid_move") and seat == me:
            console.print(f"[red]{info.get('error', 'invalid move')}[/red]")
    console.print(Panel(env.observe(me), title="final position"))
    outcome = env.outcome(me)
    console.print(f"[bold]game over[/bold] — you ({me}): {outcome}, return {my_return:+.2f}")
    return 0


def cmd_eval(cfg: EvalConfig) -> int:
    from gymnpt.arena.evaluation import evaluate, print_results, run_evaluators
    from gymnpt.rollout.policy import SamplingParams
    from gymnpt.rollout.trajectory import TrajectoryWriter

    console = _console()
    reg = _registry()
    spec = _env_spec(reg, cfg.env)
    name = cfg.agent or cfg.policy
    if not name:
        raise ConfigError("say which agent to evaluate: agent=bot:<name> or policy=hf model=<path>")
    _check_env(reg, cfg.env, dict(cfg.env_kwargs))
    if spec.num_seats > 1 and cfg.opponent != "self":
        _check_agent_names(reg, cfg.env, name, cfg.opponent)
    else:
        _check_agent_names(reg, cfg.env, name)
    out_dir = _out_dir(cfg.out) if cfg.out else None
    traj_file = _fresh_file(out_dir / "trajectories.jsonl") if out_dir else None
    agent = _make_policy(
        name,
        cfg.env,
        model=cfg.model,
        base_url=cfg.base_url,
        api_key=cfg.api_key,
        mode=cfg.openai_mode,
        tokenizer=cfg.tokenizer,
        threads=cfg.threads,
    )
    opponent = None
    if spec.num_seats > 1 and cfg.opponent != "self":
        opponent = _make_policy(
            cfg.opponent,
            cfg.env,
            model=cfg.model,
            base_url=cfg.base_url,
            api_key=cfg.api_key,
            threads=cfg.threads,
        )
    writer = TrajectoryWriter(traj_file) if traj_file else None
    sampling = SamplingParams(
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        max_new_tokens=spec.reply_tokens(cfg.max_new_tokens),
    )
    started = time.perf_counter()
    pool = _env_pool(reg, cfg, dict(cfg.env_kwargs))
    try:
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
            call_timeout=_call_timeout(cfg.call_timeout, name, cfg.opponent if opponent else ""),
            step_timeout=cfg.step_timeout or None,
            agent_name=name,
            opponent_name=cfg.opponent if opponent is not None else None,
            keep_trajectories=True,
            env_factory=pool.factory if pool is not None else None,
        )
    finally:
        if pool is not None:
            pool.close()
    wall = time.perf_counter() - started
    if writer:
        writer.close()
    print_results([res], title=f"eval on {cfg.env}", console=console)
    mine = [t for t in res.trajectories if t.policy_id in (name, getattr(agent, "name", name))]
    sampled = sum(t.num_sampled_tokens for t in mine)
    replies = sum(t.num_turns for t in mine)
    if sampled:
        console.print(
            f"{name}: {sampled} sampled tokens in {replies} replies, "
            f"{sampled / max(wall, 1e-9):.1f} tokens/s over {wall:.1f}s"
        )
    if spec.num_seats > 1 and res.per_seat:
        for seat, ps in sorted(res.per_seat.items()):
            outs = ", ".join(f"{k} {v}" for k, v in sorted(ps["outcomes"].items()))
            console.print(
                f"  as {seat}: {ps['episodes']} episodes, mean return {ps['return_mean']:.3f}; {outs}"
            )
    if res.metrics:
        console.print(
            "env metrics: " + ", ".join(f"{k} {_fmt(v)}" for k, v in sorted(res.metrics.items()))
        )
    extra: dict[str, Any] = {}
    if cfg.evaluators:
        extra["evaluators"] = run_evaluators(spec, agent, registry=reg, sampling=sampling)
        for ev_name, values in extra["evaluators"].items():
            shown = ", ".join(f"{k} {_fmt(v)}" for k, v in values.items())
            console.print(f"{ev_name} of {name}: {shown}")
    if out_dir is not None:
        from gymnpt.rollout.trajectory import to_json_line

        record = json.loads(to_json_line({**res.to_dict(), **extra}))
        (out_dir / "results.json").write_text(json.dumps(record, indent=2, ensure_ascii=False))
        console.print(f"results in {out_dir}/results.json")
    if res.episodes and res.completed == 0:
        console.print(f"[red bold]every evaluation episode failed ({res.errors})[/red bold]")
        return 1
    return 0


def cmd_rollout(cfg: RolloutConfig) -> int:
    from gymnpt.core.config import to_yaml
    from gymnpt.rollout.engine import RolloutEngine
    from gymnpt.rollout.planner import EpisodePlanner, bind, seed_block
    from gymnpt.rollout.policy import SamplingParams
    from gymnpt.rollout.summary import print_summary
    from gymnpt.rollout.trajectory import TrajectoryWriter

    console = _console()
    reg = _registry()
    spec = _env_spec(reg, cfg.env)
    _check_env(reg, cfg.env, dict(cfg.env_kwargs))
    out = _out_dir(
        cfg.out or f"runs/rollout-{spec.id.replace('/', '_')}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    traj_file = _fresh_file(out / "trajectories.jsonl")
    (out / "config.yaml").write_text(to_yaml(cfg))
    policy = _make_policy(
        cfg.policy,
        cfg.env,
        model=cfg.model,
        base_url=cfg.base_url,
        api_key=cfg.api_key,
        mode=cfg.openai_mode,
        tokenizer=cfg.tokenizer,
        threads=cfg.threads,
    )
    seats = list(spec.seats)
    selfplay = len(seats) == 1 or cfg.opponent == "self"
    opp: Any = (
        None
        if selfplay
        else _make_policy(
            cfg.opponent,
            cfg.env,
            model=cfg.model,
            base_url=cfg.base_url,
            api_key=cfg.api_key,
            threads=cfg.threads,
        )
    )
    sampling = SamplingParams(
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        max_new_tokens=spec.reply_tokens(cfg.max_new_tokens),
    )
    writer = TrajectoryWriter(traj_file)
    pool = _env_pool(reg, cfg, dict(cfg.env_kwargs))
    engine = RolloutEngine(
        cfg.env,
        dict(cfg.env_kwargs),
        env_factory=pool.factory if pool is not None else None,
        sampling=sampling,
        max_turns=cfg.max_turns or None,
        call_timeout=_call_timeout(cfg.call_timeout, cfg.policy, "" if selfplay else cfg.opponent),
        step_timeout=cfg.step_timeout or None,
        max_concurrent=cfg.concurrency,
        writer=writer,
        progress=cfg.progress,
        registry=reg,
    )
    n_seeds = max(1, cfg.episodes // cfg.group_size)
    # The policy against the opponent takes the seats in turn, one seat per group.
    planner = EpisodePlanner(seats, tag=spec.id)
    seeds = seed_block(cfg.seed, n_seeds)
    if selfplay:
        specs = bind(planner.selfplay(seeds, group_size=cfg.group_size), {"learner": policy})
    else:
        plan = planner.versus(seeds, group_size=cfg.group_size, opponent=cfg.opponent)
        specs = bind(plan, {"learner": policy, cfg.opponent: opp})
    t0 = time.perf_counter()
    try:
        trajs = engine.run_episodes(specs)
    finally:
        if pool is not None:
            pool.close()
    wall = time.perf_counter() - t0
    writer.close()
    print_summary(trajs, title=f"rollout on {spec.id}", console=console)
    st = engine.stats
    tok = st.get("sampled_tokens", 0)
    console.print(
        f"{len(specs)} episodes in {wall:.1f}s; {st.get('model_calls', 0)} model calls in {st.get('batches', 0)} "
        f"batches (mean batch {st.get('mean_batch', 0):.1f}); {tok} sampled tokens ({tok / wall:.0f} tok/s)"
    )
    console.print(f"trajectories in {out}/trajectories.jsonl")
    return 1 if _all_failed(console, trajs, "rollout") else 0
