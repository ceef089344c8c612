"""GRPO update throughput and peak memory: gymnpt's learner vs TRL's ``GRPOTrainer``.

Both sides train the same model (the built-in tiny model, or ``--model``) on the same batch of
multi-turn token sequences (prompt, then alternating sampled replies and env text, with the
env text masked out) with the same loss settings: one epoch, token-level loss averaging,
clip 0.2, no KL term, grad-norm clip 1.0, AdamW, the whole batch in one forward/backward,
activation checkpointing on both sides (TRL's default; ``--gradient-checkpointing off``). TRL
receives the sequences through a ``rollout_func`` that returns them as they are, so its
timing covers its own update path (advantages, per-token logprobs, loss, backward, optimizer)
and no generation.

Each side runs in a fresh subprocess (so peak memory is its own): on CPU the peak RSS during
training (the kernel's peak counter is reset after set-up) minus the RSS before it, on GPU the
peak allocated CUDA memory minus the memory allocated before training. Rounds alternate between the sides. Printed: trained tokens/s
(all tokens of the sequences per second of update), peak memory over the model-loaded
baseline, and the ratios gymnpt / TRL (throughput: higher is better; memory: lower is better).

    python benchmarks/learner.py [--batch 16] [--steps 6] [--rounds 2] [--seq 1024] [--device cpu]

With ``--lora R`` the two sides are instead gymnpt's learner training every weight and the same
learner training LoRA adapters of rank R (PEFT, all linear layers), e.g. on SmolLM2:

    python benchmarks/learner.py --model smollm2 --lora 16 --batch 4 --seq 256 --steps 2 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any


def make_sequences(n: int, seq: int, vocab: int, seed: int) -> list[dict[str, Any]]:
    """``n`` multi-turn sequences of length ``seq``: a prompt, then 8 turns of reply + env text."""
    import random

    rng = random.Random(seed)
    out = []
    prompt_len = seq // 4
    rest = seq - prompt_len
    turn = rest // 8
    for i in range(n):
        ids = [rng.randrange(vocab) for _ in range(seq)]
        mask = [0] * prompt_len
        for _ in range(8):
            reply = turn // 4
            mask += [1] * reply + [0] * (turn - reply)
        mask += [0] * (seq - len(mask))
        lps = [(-rng.random() * 3 if m else 0.0) for m in mask]
        out.append({"ids": ids, "mask": mask, "logprobs": lps, "reward": float(i % 3)})
    return out


def _model(args: argparse.Namespace) -> tuple[Any, Any]:
    import torch

    from gymnpt.models.tiny import build_tiny

    if args.model == "tiny":
        model, tok = build_tiny(seed=0)
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from gymnpt.models.tiny import resolve_model

        path = resolve_model(args.model)
        model = AutoModelForCausalLM.from_pretrained(path)
        tok = AutoTokenizer.from_pretrained(path)
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    return model.to(device=args.device, dtype=dtype), tok


def _rss_now() -> float:
    """Current resident set size in MiB (Linux)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _reset_peak() -> float:
    """Reset the kernel's peak-RSS counter (so set-up peaks do not count); returns current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass
    return _rss_now()


def _mem() -> float:
    """Peak resident set size in MiB since the last :func:`_reset_peak`."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def side_gymnpt(args: argparse.Namespace, seqs: list[dict[str, Any]]) -> dict[str, float]:
    import torch

    from gymnpt.rollout.trajectory import Trajectory
    from gymnpt.training.learner import Learner, LearnerConfig

    model, _ = _model(args)
    if args.side == "gymnpt-lora":
        from gymnpt.training.learner import LoraConfig, apply_lora

        model = apply_lora(model, LoraConfig(r=args.lora))
    model.train()
    cfg = LearnerConfig(
        lr=1e-5,
        epochs=1,
        minibatch_size=0,
        micro_batch_size=len(seqs),
        clip_eps=0.2,
        kl_coef=0.0,
        loss_agg="token",
        max_grad_norm=1.0,
        filter_zero_std=False,
        gradient_checkpointing=args.gradient_checkpointing == "on",
    )
    learner = Learner(model, cfg)
    groups = args.group
    trajs = [
        Trajectory(
            episode_id=str(i),
            env_id="bench",
            seed=i // groups,
            group_id=f"g{i // groups}",
            role="player",
            policy_id="tiny",
            token_ids=s["ids"],
            loss_mask=s["mask"],
            logprobs=s["logprobs"],
            return_=s["reward"],
        )
        for i, s in enumerate(seqs)
    ]
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    base = (
        _reset_peak()
        if not args.device.startswith("cuda")
        else torch.cuda.memory_allocated() / 2**20
    )
    learner.step(trajs)  # warm-up
    _sync(args)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        learner.step(trajs)
    _sync(args)
    dt = time.perf_counter() - t0
    peak = (
        _mem() if not args.device.startswith("cuda") else torch.cuda.max_memory_allocated() / 2**20
    )
    tokens = sum(len(s["ids"]) for s in seqs) * args.steps
    return {"tokens_per_s": tokens / dt, "steps_per_s": args.steps / dt, "peak_mb": peak - base}


def side_trl(args: argparse.Namespace, seqs: list[dict[str, Any]]) -> dict[str, float]:
    import datasets
    import torch

    os.environ["TRL_EXPERIMENTAL_SILENCE"] = "1"
    from trl import GRPOConfig, GRPOTrainer

    model, tok = _model(args)
    prompt_len = seqs[0]["mask"].index(1)
    by_prompt = {}
    rows = []
    for i in range(0, len(seqs), args.group):
        key = f"p{i}"
        by_prompt[key] = seqs[i : i + args.group]
        rows.append({"prompt": key})
    counters: dict[str, int] = {}

    def rollout(prompts: list[str], trainer: Any) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {
            "prompt_ids": [],
            "completion_ids": [],
            "logprobs": [],
            "env_mask": [],
            "reward": [],
        }
        for p in prompts:
            k = counters.get(p, 0)
            counters[p] = k + 1
            s = by_prompt[p][k % args.group]
            out["prompt_ids"].append(s["ids"][:prompt_len])
            out["completion_ids"].append(s["ids"][prompt_len:])
            out["logprobs"].append(s["logprobs"][prompt_len:])
            out["env_mask"].append(s["mask"][prompt_len:])
            out["reward"].append(s["reward"])
        return out

    def reward(completions: list[Any], reward: list[float], **kw: Any) -> list[float]:
        return reward

    data = datasets.Dataset.from_list(rows * (args.steps + 1) * 4)
    targs = GRPOConfig(
        output_dir="/tmp/gymnpt-bench-trl",
        per_device_train_batch_size=len(seqs),
        num_generations=args.group,
        max_steps=args.steps + 1,
        learning_rate=1e-5,
        logging_steps=10**6,
        report_to=[],
        use_cpu=not args.device.startswith("cuda"),
        beta=0.0,
        epsilon=0.2,
        loss_type="dapo",
        num_iterations=1,
        max_grad_norm=1.0,
        max_completion_length=len(seqs[0]["ids"]),
        save_strategy="no",
        seed=0,
        bf16=args.device.startswith("cuda"),
        dataloader_num_workers=0,
        shuffle_dataset=False,
        scale_rewards="group",
        gradient_checkpointing=args.gradient_checkpointing == "on",
    )
    trainer = GRPOTrainer(
        model=model,
        processing_class=tok,
        args=targs,
        train_dataset=data,
        reward_funcs=reward,
        rollout_func=rollout,
    )
    times: list[float] = []

    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        def on_step_begin(self, *a: Any, **k: Any) -> None:
            _sync(args)
            self.t = time.perf_counter()

        def on_step_end(self, *a: Any, **k: Any) -> None:
            _sync(args)
            times.append(time.perf_counter() - self.t)

    trainer.add_callback(Clock())
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    base = (
        _reset_peak()
        if not args.device.startswith("cuda")
        else torch.cuda.memory_allocated() / 2**20
    )
    trainer.train()
    peak = (
        _mem() if not args.device.startswith("cuda") else torch.cuda.max_memory_allocated() / 2**20
    )
    dt = sum(times[1:])  # the first step is the warm-up
    tokens = sum(len(s["ids"]) for s in seqs) * (len(times) - 1)
    return {"tokens_per_s": tokens / dt, "peak_mb": peak - base}


def _sync(args: argparse.Namespace) -> None:
    if args.device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=16, help="sequences per update")
    ap.add_argument("--group", type=int, default=4, help="sequences per group (GRPO group size)")
    ap.add_argument("--seq", type=int, default=1024, help="tokens per sequence")
    ap.add_argument("--steps", type=int, default=6, help="timed updates per round")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds per side")
    ap.add_argument("--model", default="tiny", help="tiny, a local path or a model id")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    ap.add_argument(
        "--gradient-checkpointing",
        choices=["on", "off"],
        default="on",
        help="activation checkpointing on both sides (TRL's default is on)",
    )
    ap.add_argument(
        "--lora",
        type=int,
        default=0,
        help="compare full-parameter training with LoRA of this rank (instead of TRL)",
    )
    ap.add_argument("--side", choices=["gymnpt", "trl", "gymnpt-lora"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.batch % args.group:
        ap.error("--batch must be a multiple of --group")
    if args.side:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        vocab = 256
        seqs = make_sequences(args.batch, args.seq, vocab, seed=0)
        res = side_trl(args, seqs) if args.side == "trl" else side_gymnpt(args, seqs)
        print("RESULT " + json.dumps(res))
        return
    sides = ("gymnpt", "gymnpt-lora") if args.lora > 0 else ("gymnpt", "trl")
    results: dict[str, list[dict[str, float]]] = {s: [] for s in sides}
    for r in range(args.rounds):
        for side in sides if r % 2 == 0 else sides[::-1]:
            cmd = [sys.executable, __file__, "--side", side] + [
                f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items() if k != "side"
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
            if not line:
                sys.exit(f"{side} failed:\n{out.stderr[-3000:]}")
            res = json.loads(line[-1][7:])
            results[side].append(res)
            print(
                f"round {r + 1} {side:>11}: {res['tokens_per_s']:10.0f} tokens/s  "
                f"peak +{res['peak_mb']:8.1f} MiB"
            )
    best = {s: max(x["tokens_per_s"] for x in v) for s, v in results.items()}
    mem = {s: min(x["peak_mb"] for x in v) for s, v in results.items()}
    if args.lora > 0:
        steps = {s: max(x.get("steps_per_s", 0.0) for x in v) for s, v in results.items()}
        print(
            f"\nmodel {args.model}, device {args.device}, batch {args.batch} x {args.seq} tokens, "
            f"LoRA rank {args.lora}, gradient checkpointing {args.gradient_checkpointing}"
        )
        print(f"{'':12} {'steps/s':>9} {'s/step':>8} {'tokens/s':>10} {'peak MiB':>10}")
        for s in sides:
            print(
                f"{s:12} {steps[s]:9.3f} {1 / max(steps[s], 1e-12):8.1f} {best[s]:10.0f} "
                f"{mem[s]:10.1f}"
            )
        print(f"speed ratio LoRA/full: {steps['gymnpt-lora'] / steps['gymnpt']:.2f}")
        print(f"peak memory ratio LoRA/full: {mem['gymnpt-lora'] / max(mem['gymnpt'], 1e-9):.2f}")
        return
    print(
        f"\nmodel {args.model}, device {args.device}, batch {args.batch} x {args.seq} tokens, group {args.group}, "
        f"gradient checkpointing {args.gradient_checkpointing}"
    )
    print(f"{'':8} {'tokens/s':>12} {'peak MiB':>10}")
    for s in ("gymnpt", "trl"):
        print(f"{s:8} {best[s]:12.0f} {mem[s]:10.1f}")
    print(f"throughput ratio gymnpt/trl: {best['gymnpt'] / best['trl']:.2f}  (target >= 1.0)")
    print(
        f"peak memory ratio gymnpt/trl: {mem['gymnpt'] / max(mem['trl'], 1e-9):.2f}  (target <= 1.0)"
    )


if __name__ == "__main__":
    main()
