"""Supervised training from episodes: the warm start of ``gymnpt train`` and ``algo=sft|dpo``.

* :func:`warm_start` imitates a scripted bot: it plays bot episodes with the rollout engine,
  tokenizes each conversation the way the engine builds model prompts
  (:meth:`gymnpt.rollout.tokens.ChatTokens.conversation`, mask 1 on the bot's replies) and minimises
  the negative log-likelihood of the replies. It is a short in-process loop on the learner's
  own model, so RL continues from exactly these weights.
* :func:`run_offline` trains on a recorded ``trajectories.jsonl`` through TRL:
  ``SFTTrainer`` on successful episodes (loss on the policy's replies only) or
  ``DPOTrainer`` on preference pairs made from same-seed groups (best vs worst episode,
  compared at the first reply where they differ).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from gymnpt.rollout.trajectory import Trajectory, group_by, read_trajectories

__all__ = [
    "bot_episodes",
    "tokenize_episodes",
    "sft_steps",
    "warm_start",
    "sft_dataset",
    "dpo_dataset",
    "run_offline",
]

GOOD_OUTCOMES = ("success", "win")


# =============================================================================================
# Warm start (in process)
# =============================================================================================
def bot_episodes(
    env: str,
    bot: str,
    episodes: int,
    *,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    max_turns: int | None = None,
    registry: Any = None,
) -> list[Trajectory]:
    """Play ``episodes`` episodes with ``bot`` in every seat; one trajectory per seat."""
    from gymnpt.rollout.engine import RolloutEngine
    from gymnpt.rollout.policies import build_policy

    engine = RolloutEngine(
        env, env_kwargs, max_turns=max_turns, registry=registry, call_timeout=None
    )
    policy = build_policy(bot, env, registry=engine.registry)
    return engine.run(list(range(seed, seed + episodes)), policy)


def tokenize_episodes(
    trajs: Sequence[Trajectory], tokenizer: Any, context: str = "full"
) -> list[tuple[list[int], list[int]]]:
    """``(ids, mask)`` examples, mask 1 on the replies, tokenized as the engine builds prompts.

    With ``context="full"`` an episode is one example; with a windowed strategy (``obs``,
    ``last:K``) each reply is its own example, with the context the policy would have read.
    """
    from gymnpt.rollout.context import parse_context, turn_windows
    from gymnpt.rollout.tokens import ChatTokens

    keep = parse_context(context)
    ct = ChatTokens(tokenizer)
    out = []
    for t in trajs:
        if not any(m["role"] == "assistant" for m in t.messages):
            continue
        for window in turn_windows(t.messages, keep):
            ids, mask = ct.conversation(window)
            if any(mask):
                out.append((ids, mask))
    return out


def sft_steps(
    model: Any,
    examples: Sequence[tuple[list[int], list[int]]],
    *,
    steps: int,
    batch_size: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
    micro_batch_size: int = 16,
    console: Any = None,
) -> dict[str, float]:
    """Minimise the NLL of the masked tokens for ``steps`` AdamW steps (cosine-decayed lr).

    Args:
        model: the causal LM (trained in place).
        examples: ``(ids, mask)`` pairs.
        steps: optimizer steps.
        batch_size: examples per step (sampled without replacement, epoch by epoch).
        lr: peak learning rate.
        seed: seed of the example order.
        micro_batch_size: examples per forward pass.
        console: a Rich console for a progress bar (None for none).

    Returns:
        ``sft/loss_first``, ``sft/loss_last`` (mean NLL per reply token), ``sft/tokens``, ``time/sft``.
    """
    from gymnpt.training.learner import _pad, token_logprobs

    if not examples:
        raise ValueError("no examples to train on (did every bot episode fail the filter?)")
    device = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.99), weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda i: (
            min(1.0, (i + 1) / max(1, steps // 10))
            * 0.5
            * (1 + math.cos(math.pi * i / max(1, steps)))
        ),
    )
    gen = torch.Generator().manual_seed(seed)
    order: list[int] = []
    losses: list[float] = []
    tokens = 0
    t0 = time.perf_counter()
    model.train()
    bar = None
    if console is not None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        bar = Progress(
            TextColumn("sft"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
            console=console,
        )
        task = bar.add_task("sft", total=steps, info="")
        bar.start()
    try:
        for step in range(steps):
            if len(order) < batch_size:
                order += torch.randperm(len(examples), generator=gen).tolist()
            rows, order = order[:batch_size], order[batch_size:]
            rows.sort(key=lambda i: -len(examples[i][0]))
            n_tok = sum(sum(examples[i][1]) for i in rows)
            opt.zero_grad(set_to_none=True)
            total = 0.0
            for s in range(0, len(rows), micro_batch_size):
                mb = rows[s : s + micro_batch_size]
                ids = _pad([examples[i][0] for i in mb], 0, torch.long, device)
                attn = _pad([[1] * len(examples[i][0]) for i in mb], 0, torch.long, device)
                mask = _pad([examples[i][1] for i in mb], 0, torch.long, device).bool()
                logp, _ = token_logprobs(model, ids, attn, mask)
                loss = -logp.sum() / n_tok
                loss.backward()
                total += float(loss.detach())
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            losses.append(total)
            tokens += sum(len(examples[i][0]) for i in rows)
            if bar is not None:
                bar.update(task, completed=step + 1, info=f"nll {total:.3f}")
    finally:
        if bar is not None:
            bar.stop()
    model.eval()
    k = max(1, min(10, len(losses) // 5))
    return {
        "sft/loss_first": float(sum(losses[:k]) / k) if losses else float("nan"),
        "sft/loss_last": float(sum(losses[-k:]) / k) if losses else float("nan"),
        "sft/examples": float(len(examples)),
        "sft/tokens": float(tokens),
        "time/sft": time.perf_counter() - t0,
    }


def warm_start(
    model: Any,
    tokenizer: Any,
    *,
    env: str,
    bot: str,
    episodes: int,
    steps: int,
    batch_size: int = 16,
    lr: float = 3e-3,
    seed: int = 500_000,
    min_return: float = float("-inf"),
    env_kwargs: dict[str, Any] | None = None,
    max_turns: int | None = None,
    registry: Any = None,
    console: Any = None,
    micro_batch_size: int = 16,
    context: str = "full",
    trajectories: Sequence[Trajectory] | None = None,
) -> dict[str, float]:
    """Imitate ``bot`` on ``env``: play its episodes, then SFT on its replies.

    Args:
        context: the context strategy the model will play with (``full``, ``last:K``, ``obs``);
            the examples show the replies in that context.
        trajectories: the bot's episodes when already played (then ``bot``/``episodes`` are
            not used to play new ones).

    Returns:
        SFT metrics plus ``sft/bot_return`` (the mean return of the imitated episodes).
    """
    t0 = time.perf_counter()
    trajs = (
        list(trajectories)
        if trajectories is not None
        else bot_episodes(
            env,
            bot,
            episodes,
            seed=seed,
            env_kwargs=env_kwargs,
            max_turns=max_turns,
            registry=registry,
        )
    )
    kept = [t for t in trajs if t.outcome != "error" and t.return_ >= min_return]
    examples = tokenize_episodes(kept, tokenizer, context)
    t_data = time.perf_counter() - t0
    m = sft_steps(
        model,
        examples,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        micro_batch_size=micro_batch_size,
        console=console,
    )
    m["sft/bot_return"] = float(sum(t.return_ for t in kept) / max(1, len(kept)))
    m["time/sft_data"] = t_data
    return m


# =============================================================================================
# Offline SFT / DPO through TRL
# =============================================================================================
def sft_dataset(
    trajs: Sequence[Trajectory], tokenizer: Any, *, min_return: float = float("inf")
) -> Any:
    """A pre-tokenized dataset of successful episodes for TRL's ``SFTTrainer``.

    An episode is kept when its outcome is success/win or its return is at least
    ``min_return``. Columns: ``input_ids`` and ``assistant_masks`` (1 on the replies), so the
    loss falls on the policy's replies only, tokenized exactly as the rollout engine does.
    """
    import datasets

    good = [t for t in trajs if t.outcome in GOOD_OUTCOMES or t.return_ >= min_return]
    rows = [
        {"input_ids": ids, "assistant_masks": mask}
        for ids, mask in tokenize_episodes(good, tokenizer)
    ]
    if not rows:
        raise ValueError(
            f"none of the {len(trajs)} episodes is successful (outcome success/win or return >= {min_return})"
        )
    return datasets.Dataset.from_list(rows)


def _first_divergence(a: list[dict[str, str]], b: list[dict[str, str]]) -> int | None:
    """Index of the first assistant message where two conversations differ."""
    for i, (ma, mb) in enumerate(zip(a, b, strict=False)):
        if ma != mb:
            return i if ma["role"] == "assistant" and mb["role"] == "assistant" else None
    return None


def dpo_dataset(trajs: Sequence[Trajectory]) -> Any:
    """Preference pairs for TRL's ``DPOTrainer`` from same-seed groups.

    For each group (``group_id`` and seat) with different returns, the best episode is
    *chosen* and the worst *rejected*. Both share the conversation up to the first reply where
    they differ; that shared part is the prompt and the two differing replies are the
    completions (the only tokens there that the policy wrote).
    """
    import datasets

    rows = []
    for (gid, role), ts in sorted(_groups(trajs).items()):
        ts = [t for t in ts if t.outcome != "error" and t.messages]
        if len(ts) < 2:
            continue
        best = max(ts, key=lambda t: t.return_)
        worst = min(ts, key=lambda t: t.return_)
        if best.return_ <= worst.return_:
            continue
        i = _first_divergence(best.messages, worst.messages)
        if i is None:
            continue
        rows.append(
            {
                "prompt": best.messages[:i],
                "chosen": [best.messages[i]],
                "rejected": [worst.messages[i]],
                "group_id": str(gid),
                "role": role,
            }
        )
    if not rows:
        raise ValueError(
            "no preference pairs: the data needs groups of episodes that share a seed and differ in return"
        )
    return datasets.Dataset.from_list(rows)


def _groups(trajs: Sequence[Trajectory]) -> dict[tuple[str, str], list[Trajectory]]:
    out: dict[tuple[str, str], list[Trajectory]] = {}
    for gid, ts in group_by(trajs).items():
        for t in ts:
            out.setdefault((str(gid), t.role), []).append(t)
    return out


def run_offline(cfg: Any) -> int:
    """``gymnpt train algo=sft|dpo data=...``: TRL's SFTTrainer or DPOTrainer on recorded episodes."""
    from rich.console import Console

    from gymnpt.core.config import to_yaml
    from gymnpt.training.models import _device, _dtype, load_model, seed_everything
    from gymnpt.training.rundir import RunDir, _atomic_write

    console = Console()
    data = Path(cfg.data)
    if not data.exists():
        raise FileNotFoundError(
            f"data={data} does not exist; point it at a run's trajectories.jsonl"
        )
    trajs = read_trajectories(data)
    if not trajs:
        raise ValueError(f"{data} holds no trajectories")
    seed_everything(cfg.seed)
    name = cfg.name or f"{cfg.algo}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = RunDir(Path(cfg.out) / name)
    _atomic_write(run_dir.root / "config.yaml", to_yaml(cfg))
    device = _device(cfg)
    model, tok = load_model(cfg.model, device=device, dtype=_dtype(cfg, device))
    o = cfg.offline
    common = {
        "output_dir": str(run_dir.root / "trl"),
        "per_device_train_batch_size": o.batch_size,
        "num_train_epochs": o.epochs,
        "max_steps": o.max_steps,
        "learning_rate": o.lr,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "seed": cfg.seed,
        "use_cpu": device.type == "cpu",
        "bf16": next(model.parameters()).dtype == torch.bfloat16,
        "dataloader_num_workers": 0,
    }
    peft_config = None
    if cfg.lora.r > 0:
        import peft

        targets = cfg.lora.target_modules
        peft_config = peft.LoraConfig(
            r=cfg.lora.r,
            lora_alpha=cfg.lora.alpha,
            lora_dropout=cfg.lora.dropout,
            target_modules=targets if targets == "all-linear" else targets.split(","),
            task_type="CAUSAL_LM",
        )
    t0 = time.perf_counter()
    trainer: Any
    args: Any
    if cfg.algo == "sft":
        from trl import SFTConfig, SFTTrainer

        ds = sft_dataset(trajs, tok, min_return=o.min_return)
        console.print(f"SFT on {len(ds)} successful episodes of {len(trajs)} in {data}")
        args = SFTConfig(**common, max_length=None, packing=False)
        trainer = SFTTrainer(
            model=model, args=args, train_dataset=ds, processing_class=tok, peft_config=peft_config
        )
    else:
        from trl import DPOConfig, DPOTrainer

        ds = dpo_dataset(trajs)
        console.print(f"DPO on {len(ds)} preference pairs from {data}")
        args = DPOConfig(**common, beta=o.beta, max_length=None)
        trainer = DPOTrainer(
            model=model, args=args, train_dataset=ds, processing_class=tok, peft_config=peft_config
        )
    out = trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h]
    for i, h in enumerate(logs, 1):
        run_dir.log(
            {
                "step": i,
                "stage": cfg.algo,
                **{f"{cfg.algo}/{k}": v for k, v in h.items() if isinstance(v, (int, float))},
            }
        )
    final = run_dir.save_checkpoint(
        f"step-{trainer.state.global_step:06d}", trainer.model, tok, None, keep=10**6
    )
    summary = {
        "algo": cfg.algo,
        "examples": len(ds),
        "steps": trainer.state.global_step,
        "train_loss": float(out.training_loss),
        "wall_s": time.perf_counter() - t0,
        "checkpoint": str(final),
    }
    _atomic_write(run_dir.root / "summary.json", json.dumps(summary, indent=2))
    console.print(
        f"{cfg.algo}: {summary['steps']} steps, loss {summary['train_loss']:.4f}; model in {final}"
    )
    return 0
