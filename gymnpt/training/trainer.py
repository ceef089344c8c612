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
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gymnpt.rollout.planner import EpisodePlanner, bind
from gymnpt.rollout.trajectory import Trajectory
from gymnpt.training.learner import (
    Learner,
    apply_lora,
    filter_groups,
    group_keys,
)
from gymnpt.training.report import _as_results, _markdown_table
from gymnpt.training.selfplay import SelfPlay

__all__ = ["Trainer"]


from gymnpt.training.config import Config
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
        "rollout/truncated": float(sum(t.outcome == "truncated" for t in trajs)),
        "rollout/sampled_tokens": float(sampled),
        "rollout/tokens_per_s": sampled / wall if wall > 0 else float("nan"),
        "rollout/seq_len": float(np.mean([len(t.token_ids) for t in trajs])) if trajs else 0.0,
        "time/rollout": wall,
    }


def _reset_peak_memory() -> None:
    """Start a new peak-memory window (Linux: the process's peak RSS; CUDA: peak allocated)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _peak_memory() -> dict[str, float]:
    """``mem/peak_rss_mb`` (and ``mem/peak_cuda_mb``) since :func:`_reset_peak_memory`."""
    out: dict[str, float] = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    out["mem/peak_rss_mb"] = int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        import resource

        out["mem/peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if torch.cuda.is_available():
        out["mem/peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


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
        warm = Path(cfg.resume) / "checkpoints" / "warm" if cfg.resume else None
        if warm is not None and (warm / "config.json").exists():
            # A resumed run continues from its own warm start (which may have its own vocabulary).
            self.model, self.tokenizer = load_model(str(warm), device=self.device, dtype=dtype)
            self.model_path = str(warm)
        else:
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
            context=self.cfg.context,
        )

    def opponent(self) -> Any:
        """The opponent of multi-seat training (``opponent=``; default the env's random bot)."""
        if getattr(self, "_opponent", None) is None:
            from gymnpt.rollout.policies import build_policy

            self._opponent = build_policy(
                self.cfg.opponent or "bot:random", self.cfg.env, registry=self.registry
            )
        return self._opponent

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
        from gymnpt.training.warmstart import bot_episodes

        trajs = bot_episodes(
            self.cfg.env,
            bot,
            c.episodes,
            seed=c.seed,
            env_kwargs=self.cfg.env_kwargs,
            max_turns=self.cfg.max_turns or None,
            registry=self.registry,
        )
        fitted = bool(self.cfg.tokenizer_vocab and _is_tiny(self.cfg.model))
        if fitted:
            self._fit_tokenizer(trajs)
        metrics = warm_start(
            self.model,
            self.tokenizer,
            trajectories=trajs,
            context=self.cfg.context,
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
        warm = self.run.save_checkpoint(
            "warm", self.model, self.tokenizer, None, keep=self.cfg.keep_checkpoints
        )
        if fitted:  # a separate sampler (vllm) must start from this vocabulary, not the base one
            self.model_path = str(warm)
        metrics["sft/vocab"] = float(len(self.tokenizer))
        self.run.log({"step": 0, "stage": "sft", **metrics})
        return metrics

    def _fit_tokenizer(self, trajs: Sequence[Trajectory]) -> None:
        """Rebuild the (untrained) tiny model on a BPE vocabulary fitted to the bot's episodes."""
        from gymnpt.models.tiny import build_tiny, fit_tiny_tokenizer

        texts = [
            self.tokenizer.apply_chat_template(t.messages, tokenize=False)
            for t in trajs
            if t.messages
        ]
        tokenizer = fit_tiny_tokenizer(texts, self.cfg.tokenizer_vocab)
        seed_text = self.cfg.model.partition(":")[2]
        model, tokenizer = build_tiny(int(seed_text or 0), tokenizer=tokenizer)
        dtype = next(self.model.parameters()).dtype
        self.model, self.tokenizer = model.to(device=self.device, dtype=dtype), tokenizer

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
        from gymnpt.rollout.planner import seed_block

        block = step * (self.cfg.refill_rounds + 1) + round_
        return seed_block(self.cfg.seed * 10_000, self.cfg.seeds_per_step, block)

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
                seen += trajs
                kept += trajs
                break  # role baselines use every game; groups are never refilled
            planner = EpisodePlanner(self.spec.seats, tag=f"s{step}r{round_}")
            slots: dict[str, Any] = {"learner": self.sampler}
            if len(self.spec.seats) > 1:
                # The learner in one seat (alternating between groups), the opponent in the
                # others; only the learner's seat is recorded and trained on.
                first = (step * (cfg.refill_rounds + 1) + round_) * cfg.seeds_per_step
                plan = planner.versus(seeds, group_size=cfg.group_size, first_group=first)
                slots["opponent"] = self.opponent()
            else:
                plan = planner.selfplay(seeds, group_size=cfg.group_size)
            trajs = self.engine(writer=writer).run_episodes(bind(plan, slots))
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
        if self.selfplay is None and seen and not kept:
            self.console.print(
                f"[bold red]step {step}: every group had equal returns "
                f"(all {len(seen)} episodes returned {seen[0].return_:g} or alike): "
                "nothing to learn from this batch[/bold red]"
            )
        if m["rollout/truncated"]:
            self.console.print(
                f"step {step}: {int(m['rollout/truncated'])} of {len(seen)} episodes were cut "
                f"by max_turns={cfg.max_turns}"
            )
        # The env's own metrics (e.g. format violations) over the model's trajectories.
        from gymnpt.arena.evaluation import env_metrics

        model_trajs = [t for t in seen if t.num_sampled_tokens]
        for key, value in env_metrics(self.spec, model_trajs).items():
            if isinstance(value, (int, float)):
                m[f"env/{key}"] = float(value)
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
        rng = getattr(self.sampler, "rng_state", None)  # the sampler's per-request seed stream
        if callable(rng):
            state["sampler_rng"] = rng()
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
        set_rng = getattr(self.sampler, "set_rng_state", None)
        if callable(set_rng) and "sampler_rng" in state:
            set_rng(state["sampler_rng"])

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
                context=self.cfg.context,
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
            context=self.cfg.context,
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
                if writer is not None:
                    writer.tags["step"] = step
                # ---- rollouts (plumbing) --------------------------------------------------
                _reset_peak_memory()
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
                metrics.update(_peak_memory())
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
                    context=cfg.context,
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


def _is_tiny(model: str) -> bool:
    """Whether ``model`` names the built-in tiny model (``tiny`` or ``tiny:<seed>``)."""
    return model == "tiny" or (model.startswith("tiny:") and model[5:].isdigit())


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
