"""``gymnpt train``: SFT warm start, then GRPO / Dr.GRPO / RLOO on a text env, end to end.

The loop, in order::

    warm start   SFT on episodes of the env's scripted bot (skipped when sft.steps=0)
    repeat       rollouts (groups of episodes per seed) -> drop zero-variance groups, refill
                 -> learner update -> weight sync to the sampler -> metrics, checkpoint
    finally      evaluation table on held-out seeds: bots, warm-started model, trained model

``algo=sft`` and ``algo=dpo`` instead train on a trajectories file through TRL's trainers
(see :mod:`gymnpt.training.warmstart`).

Everything lands in ``runs/<name>/``: ``config.yaml``, ``metrics.jsonl``,
``trajectories.jsonl``, ``checkpoints/step-N/`` (model, optimizer, RNG, step), ``eval/``
(JSON per agent and ``table.md``), ``reward_curve.png`` and TensorBoard events (through the
``loggers`` plugin). ``resume=runs/<name>`` continues from the newest checkpoint with the
saved config, optimizer and RNG states, so a resumed run matches an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gymnpt.rollout.trajectory import Trajectory
from gymnpt.training.learner import (
    Learner,
    apply_lora,
    filter_groups,
    group_keys,
)
from gymnpt.training.selfplay import SelfPlay

__all__ = ["Config", "WarmStartConfig", "EvalConfig", "run", "Trainer", "load_model"]


from gymnpt.training.config import Config, EvalConfig, WarmStartConfig
from gymnpt.training.models import (
    _device,
    _dtype,
    load_model,
    make_sampler,
    resolve_model_path,
    rng_state,
    seed_everything,
    set_rng_state,
    sync_sampler,
)
from gymnpt.training.rundir import RunDir, _atomic_write


# =============================================================================================
# The trainer
# =============================================================================================
def _rollout_metrics(trajs: Sequence[Trajectory], wall: float) -> dict[str, float]:
    returns = np.array([t.return_ for t in trajs], dtype=np.float64)
    turns = sum(t.num_turns for t in trajs)
    sampled = sum(t.num_sampled_tokens for t in trajs)
    good = sum(t.outcome in ("success", "win") for t in trajs)
    return {
        "reward/mean": float(returns.mean()) if len(returns) else float("nan"),
        "reward/std": float(returns.std()) if len(returns) else float("nan"),
        "reward/max": float(returns.max()) if len(returns) else float("nan"),
        "reward/success": good / max(1, len(trajs)),
        "rollout/episodes": float(len(trajs)),
        "rollout/episode_len": turns / max(1, len(trajs)),
        "rollout/invalid_rate": sum(t.invalid_moves for t in trajs) / max(1, turns),
        "rollout/errors": float(sum(t.outcome == "error" for t in trajs)),
        "rollout/sampled_tokens": float(sampled),
        "rollout/tokens_per_s": sampled / wall if wall > 0 else float("nan"),
        "rollout/seq_len": float(np.mean([len(t.token_ids) for t in trajs])) if trajs else 0.0,
        "time/rollout": wall,
    }


class Trainer:
    """The online RL loop of ``gymnpt train``; see the module docstring for the order of work."""

    def __init__(
        self, cfg: Config, run_dir: RunDir, *, registry: Any = None, console: Any = None
    ) -> None:
        from rich.console import Console

        from gymnpt.core.registry import default_registry
        from gymnpt.rollout.policy import SamplingParams

        self.cfg = cfg
        self.run = run_dir
        self.registry = registry or default_registry()
        self.console = console or Console()
        self.spec = self.registry.env_spec(cfg.env)
        self.device = _device(cfg)
        dtype = _dtype(cfg, self.device)
        seed_everything(cfg.seed)
        self.model_path = resolve_model_path(cfg.model)
        self.model, self.tokenizer = load_model(cfg.model, device=self.device, dtype=dtype)
        self.sampling = SamplingParams(
            temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens
        )
        self.step = 0
        self.learner: Learner | None = None
        self.sampler: Any = None
        self.selfplay: SelfPlay | None = None
        self.history: list[dict[str, Any]] = []

    # ---- plumbing ---------------------------------------------------------------------------
    @property
    def pm(self) -> Any:
        return getattr(self.registry, "plugin_manager", None)

    def notify(self, hook: str, **kwargs: Any) -> None:
        if self.pm is not None:
            self.pm.notify(hook, **kwargs)

    def engine(self, *, writer: Any = None, progress: bool = False, sampling: Any = None) -> Any:
        from gymnpt.rollout.engine import RolloutEngine

        return RolloutEngine(
            self.cfg.env,
            self.cfg.env_kwargs,
            sampling=sampling or self.sampling,
            max_turns=self.cfg.max_turns or None,
            max_concurrent=self.cfg.concurrency,
            max_batch=self.cfg.concurrency,
            writer=writer,
            progress=progress,
            registry=self.registry,
            call_timeout=None,
        )

    def strong_bot(self) -> str | None:
        return self.spec.bots[0] if self.spec.bots else None

    def _eval_temperature(self) -> float:
        return self.cfg.eval.temperature if self.cfg.eval.temperature >= 0 else self.cfg.temperature

    # ---- stage 1: warm start ----------------------------------------------------------------
    def warm_start(self) -> dict[str, float]:
        """SFT on bot episodes, then save ``checkpoints/warm`` and evaluate the warm model."""
        from gymnpt.training.warmstart import warm_start

        c = self.cfg.sft
        bot = c.bot or self.strong_bot()
        if bot is None:
            raise RuntimeError(
                f"env {self.spec.id!r} names no bot to warm-start from; set sft.bot=bot:<name> or sft.steps=0"
            )
        metrics = warm_start(
            self.model,
            self.tokenizer,
            env=self.cfg.env,
            env_kwargs=self.cfg.env_kwargs,
            bot=bot,
            episodes=c.episodes,
            steps=c.steps,
            batch_size=c.batch_size,
            lr=c.lr,
            seed=c.seed,
            min_return=c.min_return,
            max_turns=self.cfg.max_turns or None,
            registry=self.registry,
            console=self.console if self.cfg.progress else None,
            micro_batch_size=self.cfg.learner.micro_batch_size,
        )
        self.run.save_checkpoint(
            "warm", self.model, self.tokenizer, None, keep=self.cfg.keep_checkpoints
        )
        self.run.log({"step": 0, "stage": "sft", **metrics})
        return metrics

    # ---- stage 2: RL --------------------------------------------------------------------------
    def setup_rl(self) -> None:
        cfg = self.cfg
        if cfg.lora.r > 0:
            self.model = apply_lora(self.model, cfg.lora)
        self.learner = Learner(self.model, cfg.learner)
        self.sampler = make_sampler(cfg, self.model, self.tokenizer, self.model_path)
        if (
            cfg.policy != "hf"
        ):  # a separate engine starts from the weights on disk: send the current ones
            sync_sampler(self.sampler, self.model)
        if cfg.selfplay:
            if self.spec.num_seats < 2:
                raise ValueError(
                    f"selfplay=true needs a multi-seat env; {self.spec.id} has one seat"
                )
            self.selfplay = SelfPlay(
                self.spec.seats,
                cfg.league,
                bots=self.spec.bots,
                env_id=cfg.env,
                registry=self.registry,
                snapshot_dir=self.run.root / "league",
                seed=cfg.seed,
                rae_decay=cfg.rae_decay,
                advantage=cfg.selfplay_advantage,
            )

    def train_seeds(self, step: int, round_: int) -> list[int]:
        """Seeds of one rollout round: disjoint across steps and rounds, below the eval seeds."""
        k = self.cfg.seeds_per_step
        base = self.cfg.seed * 10_000 + (step * (self.cfg.refill_rounds + 1) + round_) * k
        return list(range(base, base + k))

    def collect(self, step: int, writer: Any) -> tuple[list[Trajectory], dict[str, float]]:
        """Roll out one batch; replace zero-variance groups with fresh ones (dynamic sampling)."""
        cfg = self.cfg
        t0 = time.perf_counter()
        seen: list[Trajectory] = []
        kept: list[Trajectory] = []
        dropped = 0
        for round_ in range(cfg.refill_rounds + 1):
            seeds = self.train_seeds(step, round_)
            if round_ > 0:
                missing = cfg.seeds_per_step - len(set(group_keys(kept)))
                if missing <= 0:
                    break
                seeds = seeds[:missing]
            if self.selfplay is not None:
                specs = self.selfplay.episodes(
                    seeds, cfg.group_size, self.sampler, f"s{step}r{round_}"
                )
                trajs = self.engine(writer=writer).run_episodes(specs)
                self.selfplay.regroup(trajs)
                seen += trajs
                kept += trajs
                break  # role baselines use every game; groups are never refilled
            trajs = self.engine(writer=writer).run(seeds, self.sampler, group_size=cfg.group_size)
            for t in trajs:
                t.group_id = f"s{step}r{round_}:{t.seed}"
            seen += trajs
            good, n_drop = filter_groups(trajs)
            dropped += n_drop
            kept += good
            if not cfg.learner.filter_zero_std:
                kept = list(seen)
                break
        m = _rollout_metrics(seen, time.perf_counter() - t0)
        if self.selfplay is not None:
            m.update(self.selfplay.record(seen))
        m["rollout/groups_dropped"] = float(dropped)
        m["rollout/groups_kept"] = float(len(set(group_keys(kept))))
        return kept, m

    def save(self) -> None:
        assert self.learner is not None
        state = {
            "step": self.step,
            "learner": self.learner.state_dict(),
            "rng": rng_state(),
            "sampler_version": int(getattr(self.sampler, "version", 0)),
        }
        if self.selfplay is not None:
            state["selfplay"] = self.selfplay.state_dict()
        gen = getattr(self.sampler, "_seed_gen", None)  # the hf sampler's per-request seed stream
        if isinstance(gen, torch.Generator):
            state["sampler_rng"] = gen.get_state()
        self.run.save_checkpoint(
            f"step-{self.step:06d}",
            self.model,
            self.tokenizer,
            state,
            keep=self.cfg.keep_checkpoints,
        )

    def restore(self, ckpt: Path) -> None:
        """Load model weights, optimizer, RNG and step from a step checkpoint."""
        assert self.learner is not None
        from safetensors.torch import load_file

        state = torch.load(ckpt / "trainer_state.pt", weights_only=False)
        if self.cfg.lora.r > 0:
            from peft import set_peft_model_state_dict

            weights = load_file(str(ckpt / "adapter_model.safetensors"))
            set_peft_model_state_dict(self.model, weights)
        else:
            files = sorted(ckpt.glob("*.safetensors"))
            weights = {}
            for f in files:
                weights.update(load_file(str(f)))
            missing, unexpected = self.model.load_state_dict(weights, strict=False)
            real_missing = [k for k in missing if not k.endswith("lm_head.weight")]
            if real_missing or unexpected:
                raise RuntimeError(
                    f"checkpoint {ckpt} does not fit the model: missing {real_missing[:3]}, unexpected {unexpected[:3]}"
                )
            if hasattr(self.model, "tie_weights"):
                self.model.tie_weights()
        self.learner.load_state_dict(state["learner"])
        if self.selfplay is not None and "selfplay" in state:
            self.selfplay.load_state_dict(state["selfplay"])
        self.step = int(state["step"])
        set_rng_state(state["rng"])
        sync_sampler(self.sampler, self.model)
        self.sampler.version = int(state.get("sampler_version", self.step))
        gen = getattr(self.sampler, "_seed_gen", None)
        if isinstance(gen, torch.Generator) and "sampler_rng" in state:
            gen.set_state(state["sampler_rng"])

    def evaluate_selfplay(self, step: int) -> dict[str, float]:
        """Win/draw/loss (with Wilson 95% CIs) against the random and the strong bot, both seats."""
        from gymnpt.arena.evaluation import evaluate
        from gymnpt.rollout.policies import build_policy

        out: dict[str, float] = {}
        rows = []
        for bot in dict.fromkeys(["bot:random", self.strong_bot() or "bot:random"]):
            opp = build_policy(bot, self.cfg.env, registry=self.registry)
            res = evaluate(
                self.cfg.env,
                self.sampler,
                opp,
                episodes=self.cfg.eval.periodic_episodes,
                seed=self.cfg.eval.seed,
                sampling=self.sampling.with_(temperature=self._eval_temperature()),
                max_turns=self.cfg.max_turns or None,
                max_concurrent=self.cfg.concurrency,
                env_kwargs=self.cfg.env_kwargs,
                registry=self.registry,
                agent_name=f"step {step}",
                opponent_name=bot,
            )
            for o in ("win", "draw", "loss"):
                out[f"eval/{o}_vs_{bot}"] = res.rate(o)[0]
            rows.append({"step": step, **res.to_dict()})
        with open(self.run.eval / "selfplay_eval.jsonl", "a", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r, default=float) + "\n")
        return out

    def evaluate_model(self, label: str, episodes: int) -> Any:
        from gymnpt.arena.evaluation import evaluate

        pol = self.sampler
        opp = None
        if self.spec.num_seats > 1:
            from gymnpt.rollout.policies import build_policy

            opp = build_policy(self.cfg.eval.opponent, self.cfg.env, registry=self.registry)
        res = evaluate(
            self.cfg.env,
            pol,
            opp,
            episodes=episodes,
            seed=self.cfg.eval.seed,
            sampling=self.sampling.with_(temperature=self._eval_temperature()),
            max_turns=self.cfg.max_turns or None,
            max_concurrent=self.cfg.concurrency,
            env_kwargs=self.cfg.env_kwargs,
            registry=self.registry,
            agent_name=label,
        )
        return res

    def train(self) -> None:
        """The RL loop from ``self.step + 1`` to ``cfg.steps``."""
        from gymnpt.rollout.trajectory import TrajectoryWriter

        cfg = self.cfg
        assert self.learner is not None
        writer = (
            TrajectoryWriter(self.run.traj_path, fsync=False) if cfg.save_trajectories else None
        )
        bar = _Bar(cfg.steps, self.step, enabled=cfg.progress, console=self.console)
        try:
            while self.step < cfg.steps:
                step = self.step + 1
                # ---- rollouts (plumbing) --------------------------------------------------
                self.model.eval()
                trajs, metrics = self.collect(step, writer)
                # ---- algorithm: advantages + clipped policy-gradient update -------------
                adv = self.selfplay.advantages(trajs) if self.selfplay is not None else None
                metrics.update(self.learner.step(trajs, adv))
                # ---- weight sync to the sampler -------------------------------------------
                t0 = time.perf_counter()
                sync_sampler(self.sampler, self.model)
                metrics["time/sync"] = time.perf_counter() - t0
                self.step = step
                if self.selfplay is not None:
                    snap = self.selfplay.maybe_snapshot(step, self.model, self.tokenizer)
                    if snap:
                        metrics["league/snapshots"] = float(
                            sum(1 for n in self.selfplay.league.names() if n.startswith("snapshot"))
                        )
                if cfg.eval.every and step % cfg.eval.every == 0 and step < cfg.steps:
                    if self.selfplay is not None:
                        metrics.update(self.evaluate_selfplay(step))
                    else:
                        res = self.evaluate_model(f"step {step}", cfg.eval.periodic_episodes)
                        metrics["eval/return_mean"] = res.return_mean
                        metrics["eval/success"] = res.success_rate
                metrics = {k: float(v) for k, v in metrics.items()}
                self.run.log({"step": step, "stage": "rl", **metrics})
                self.history.append({"step": step, **metrics})
                self.notify(
                    "gymnpt_train_step_end", step=step, metrics=metrics, run_dir=str(self.run.root)
                )
                if step % cfg.save_every == 0 or step == cfg.steps:
                    self.save()
                bar.update(step, metrics)
        finally:
            bar.close()
            if writer is not None:
                writer.close()

    # ---- stage 3: the table -------------------------------------------------------------------
    def final_table(self, warm_result: dict[str, Any] | None) -> list[dict[str, Any]]:
        """Evaluate bots and the trained model; add the warm model's saved result."""
        from gymnpt.arena.evaluation import evaluate, print_results
        from gymnpt.rollout.policies import build_policy

        cfg = self.cfg
        strong = self.strong_bot()
        bots = list(cfg.eval.bots) or ["bot:random"] + ([strong] if strong else [])
        results = []
        opp = None
        if self.spec.num_seats > 1:
            opp = build_policy(cfg.eval.opponent, cfg.env, registry=self.registry)
        for b in dict.fromkeys(bots):
            pol = build_policy(b, cfg.env, registry=self.registry)
            results.append(
                evaluate(
                    cfg.env,
                    pol,
                    opp,
                    episodes=cfg.eval.episodes,
                    seed=cfg.eval.seed,
                    max_turns=cfg.max_turns or None,
                    max_concurrent=cfg.concurrency,
                    env_kwargs=cfg.env_kwargs,
                    registry=self.registry,
                    agent_name=b,
                )
            )
        final = self.evaluate_model(f"{cfg.algo} model (step {self.step})", cfg.eval.episodes)
        rows = [r.to_dict() for r in results]
        if warm_result is not None:
            rows.append(warm_result)
        rows.append(final.to_dict())
        _atomic_write(self.run.eval / "final.json", json.dumps(rows, indent=2, default=float))
        table = _markdown_table(rows)
        _atomic_write(self.run.eval / "table.md", table)
        print_results(
            _as_results(rows),
            title=f"{cfg.env}: mean return on {cfg.eval.episodes} held-out seeds",
            console=self.console,
        )
        return rows


def _as_results(rows: list[dict[str, Any]]) -> list[Any]:
    from gymnpt.arena.evaluation import EvalResult

    keep = {
        "env_id",
        "agent",
        "opponent",
        "episodes",
        "return_mean",
        "return_ci95",
        "outcomes",
        "per_seat",
        "invalid_rate",
        "turns_mean",
    }
    return [EvalResult(**{k: v for k, v in r.items() if k in keep}) for r in rows]


def _markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| agent | episodes | mean return | 95% CI | success | invalid | turns |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        n = r["episodes"]
        good = r["outcomes"].get("success", 0) + r["outcomes"].get("win", 0)
        lo, hi = r["return_mean"] - r["return_ci95"], r["return_mean"] + r["return_ci95"]
        lines.append(
            f"| {r['agent']} | {n} | {r['return_mean']:.3f} | [{lo:.3f}, {hi:.3f}] | "
            f"{good / max(1, n):.1%} | {r['invalid_rate']:.1%} | {r['turns_mean']:.1f} |"
        )
    return "\n".join(lines) + "\n"


class _Bar:
    """A Rich progress bar over RL steps that shows the latest reward and loss."""

    def __init__(self, total: int, done: int, *, enabled: bool, console: Any) -> None:
        self.p = None
        if enabled and total > done:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.p = Progress(
                TextColumn("train"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[info]}"),
                console=console,
            )
            self.task = self.p.add_task("train", total=total, completed=done, info="")
            self.p.start()

    def update(self, step: int, m: dict[str, float]) -> None:
        if self.p is not None:
            info = f"reward {m.get('reward/mean', float('nan')):.3f}  loss {m.get('loss/policy', float('nan')):.4f}"
            self.p.update(self.task, completed=step, info=info)

    def close(self) -> None:
        if self.p is not None:
            self.p.stop()


def plot_rewards(history: list[dict[str, Any]], path: Path, warm: float | None = None) -> None:
    """Save the reward curve (mean return per step, with the eval points) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rl = [h for h in history if h.get("stage", "rl") == "rl" and "reward/mean" in h]
    fig, ax = plt.subplots(figsize=(7, 4))
    if rl:
        ax.plot(
            [h["step"] for h in rl],
            [h["reward/mean"] for h in rl],
            label="training rollouts (mean return)",
        )
        ev = [h for h in rl if "eval/return_mean" in h]
        if ev:
            ax.plot(
                [h["step"] for h in ev],
                [h["eval/return_mean"] for h in ev],
                "o-",
                label="held-out eval",
            )
    if warm is not None:
        ax.axhline(warm, color="gray", ls="--", label="warm start (eval)")
    ax.set_xlabel("step")
    ax.set_ylabel("return")
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


# =============================================================================================
# The command
# =============================================================================================
def _resolve_resume(cfg: Config) -> Config:
    """The saved config of ``cfg.resume``, with the values the user set explicitly on top."""
    from omegaconf import OmegaConf

    from gymnpt.core.config import load_yaml, to_dict

    root = Path(cfg.resume)
    saved_path = root / "config.yaml"
    if not saved_path.exists():
        raise FileNotFoundError(
            f"cannot resume {root}: it has no config.yaml (is it a run folder?)"
        )
    saved = load_yaml(str(saved_path))
    given = to_dict(cfg)
    defaults = to_dict(Config())

    def diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in a.items():
            if isinstance(v, dict) and isinstance(b.get(k), dict):
                sub = diff(v, b[k])
                if sub:
                    out[k] = sub
            elif k in b and v != b[k]:
                out[k] = v
        return out

    explicit = diff(given, defaults)
    explicit.pop("resume", None)
    merged = OmegaConf.merge(
        OmegaConf.structured(Config), OmegaConf.create(saved), OmegaConf.create(explicit)
    )
    out = OmegaConf.to_object(merged)
    assert isinstance(out, Config)
    out.resume = str(root)
    out.name = root.name
    out.out = str(root.parent)
    return out


def run(cfg: Config, *, registry: Any = None) -> int:
    """Run ``gymnpt train`` with ``cfg``; returns the exit code.

    Args:
        cfg: the config.
        registry: the registry to find the env and bots in (default: the process-wide one).
    """

    if cfg.resume:
        cfg = _resolve_resume(cfg)
    threads = torch.get_num_threads()
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    try:
        if cfg.algo in ("sft", "dpo"):
            from gymnpt.training.warmstart import run_offline

            return run_offline(cfg)
        return _run_rl(cfg, registry)
    finally:
        torch.set_num_threads(threads)


def _run_rl(cfg: Config, registry: Any) -> int:
    """Warm start, RL and the final table (the body of :func:`run` for online algorithms)."""
    from transformers.utils import logging as hf_logging

    from gymnpt.core.config import to_dict, to_yaml

    hf_logging.disable_progress_bar()
    name = cfg.name or f"{cfg.env.split('[')[0]}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = RunDir(Path(cfg.out) / name)
    _atomic_write(run_dir.root / "config.yaml", to_yaml(cfg))
    trainer = Trainer(cfg, run_dir, registry=registry)
    console = trainer.console
    trainer.notify("gymnpt_run_start", run_dir=str(run_dir.root), config=to_dict(cfg))
    summary: dict[str, Any] = {}
    t_start = time.perf_counter()
    try:
        ckpt = run_dir.latest_checkpoint() if cfg.resume else None
        warm_file = run_dir.eval / "warm.json"
        warm_result: dict[str, Any] | None = None
        if ckpt is None:
            if cfg.sft.steps > 0:
                # ---- stage 1: SFT warm start on the scripted bot's episodes ---------------
                console.print(
                    f"[bold]warm start[/bold]: SFT on {cfg.sft.episodes} episodes of "
                    f"{cfg.sft.bot or trainer.strong_bot()}"
                )
                trainer.warm_start()
            trainer.setup_rl()
            res = trainer.evaluate_model(
                "warm-started model" if cfg.sft.steps > 0 else "initial model", cfg.eval.episodes
            )
            warm_result = res.to_dict()
            _atomic_write(warm_file, json.dumps(warm_result, indent=2, default=float))
            console.print(
                f"warm start: mean return {res.return_mean:.3f} ± {res.return_ci95:.3f} "
                f"on {res.episodes} held-out seeds"
            )
            seed_everything(cfg.seed + 1)  # RL starts from a fixed RNG state whatever came before
        else:
            trainer.setup_rl()
            trainer.restore(ckpt)
            run_dir.truncate_metrics(trainer.step)
            trainer.history = [r for r in run_dir.metrics() if r.get("stage") == "rl"]
            if warm_file.exists():
                warm_result = json.loads(warm_file.read_text())
            console.print(f"resumed {run_dir.root} at step {trainer.step}")
        # ---- stage 2: RL --------------------------------------------------------------------
        trainer.train()
        # ---- stage 3: final table -------------------------------------------------------------
        rows = trainer.final_table(warm_result)
        plot_rewards(
            trainer.history,
            run_dir.root / "reward_curve.png",
            warm=warm_result["return_mean"] if warm_result else None,
        )
        summary = {f"eval/{r['agent']}": r["return_mean"] for r in rows}
        summary["steps"] = trainer.step
        summary["wall_s"] = time.perf_counter() - t_start
        _atomic_write(run_dir.root / "summary.json", json.dumps(summary, indent=2, default=float))
        console.print(f"run folder: {run_dir.root}  ({summary['wall_s']:.0f} s)")
    finally:
        trainer.notify("gymnpt_run_end", run_dir=str(run_dir.root), summary=summary)
    return 0
