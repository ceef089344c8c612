"""CPU threads for a local model: sampled tokens/s of SmolLM2 at several thread settings.

One run loads ``model`` (default ``smollm2``, SmolLM2-135M-Instruct) once and measures, side by
side and interleaved round by round so that changes in machine load hit every setting alike:

* ``1`` and ``2`` threads, pinned;
* ``torch`` -- torch's own default (``num_threads=0``: the setting is left alone);
* ``auto`` -- what ``HFPolicy`` picks by itself (:func:`gymnpt.agents.hf.auto_threads`: the
  usable cores minus the load average, at least 1);

each for one request at a time and for a batch of ``--batch`` requests. Printed: tokens/s of
each and its ratio to torch's default. Replies are sampled with fixed seeds and the prefix
cache is off, so every setting samples the same tokens from the same prompts.

    python benchmarks/threads.py --tokens 16 --batch 8 --rounds 2
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from gymnpt.agents.hf import HFPolicy, auto_threads, usable_cores
from gymnpt.core.registry import default_registry
from gymnpt.rollout.policy import Request, SamplingParams


def requests(n: int, tokens: int) -> list[Request]:
    """``n`` first-turn tic-tac-toe prompts with fixed sampling seeds."""
    env = default_registry().make_multiagent("tictactoe")
    out = []
    for i in range(n):
        env.reset(seed=i)
        seat = env.agent_selection
        msgs = [
            {"role": "system", "content": env.seat_instructions(seat)},
            {"role": "user", "content": env.observe(seat)},
        ]
        out.append(
            Request(messages=msgs, params=SamplingParams(max_new_tokens=tokens, seed=100 + i))
        )
    return out


def rate(policy: HFPolicy, reqs: list[Request]) -> float:
    """Sampled tokens per second of one ``generate`` call on ``reqs``."""
    t0 = time.perf_counter()
    outs = policy.generate_sync(reqs)
    return sum(len(o.token_ids or []) for o in outs) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--tokens", type=int, default=16, help="new tokens per reply")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (best is kept)")
    args = ap.parse_args()

    policy = HFPolicy(args.model, prefix_cache_mb=0, temperature=1.0)
    n_params = sum(p.numel() for p in policy.model.parameters())
    auto = auto_threads()
    print(
        f"model {args.model} ({n_params / 1e6:.0f}M parameters); usable cores {usable_cores()}, "
        f"load average {os.getloadavg()[0]:.1f}, torch default {torch.get_num_threads()} "
        f"threads, auto picks {auto}",
        flush=True,
    )
    settings = {"1": 1, "2": 2, "torch": 0, "auto": None}
    single, batch = requests(1, args.tokens), requests(args.batch, args.tokens)
    policy.num_threads = 1
    rate(policy, single)  # warm-up
    best: dict[tuple[str, str], float] = {}
    for _ in range(args.rounds):
        for name, threads in settings.items():
            policy.num_threads = threads
            for kind, reqs in (("single", single), (f"batch {args.batch}", batch)):
                key = (name, kind)
                got = rate(policy, reqs)
                best[key] = max(best.get(key, 0.0), got)
                print(f"  {name:>5} threads, {kind}: {got:.1f} tokens/s", flush=True)
    kinds = ["single", f"batch {args.batch}"]
    print(
        f"\n| threads | {' | '.join(f'{k} tok/s' for k in kinds)} | {' | '.join(f'{k} vs torch' for k in kinds)} |"
    )
    print("|---|" + "---:|" * (2 * len(kinds)))
    for name in settings:
        label = f"auto ({auto})" if name == "auto" else name
        vals = [best[(name, k)] for k in kinds]
        ratios = [best[(name, k)] / best[("torch", k)] for k in kinds]
        print(
            f"| {label} | {' | '.join(f'{v:.1f}' for v in vals)} | "
            f"{' | '.join(f'{r:.2f}x' for r in ratios)} |"
        )


if __name__ == "__main__":
    main()
