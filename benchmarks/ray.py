"""Episodes/s: the local engine against the same engine with env workers on Ray.

Three workloads, measured side by side in one run on the same seeds:

* bot-only   -- connect_four, bot:random vs bot:random (env steps cost microseconds);
* code       -- code/io-python with bot:reference (every step runs programs in a sandbox);
* tiny model -- snake with the built-in tiny model (model calls batched in the driver).

"local" is :class:`~gymnpt.rollout.engine.RolloutEngine` as it is; "ray" is the same engine
with ``env_factory`` set to a :class:`~gymnpt.plugins.ray_rollout.RayEnvPool` (``--workers``
env-worker actors; the policies stay in the driver). Ray's start-up (the local instance and
the actors) is timed apart and left out of the episodes/s. On one small machine Ray adds a
round trip per env call and cannot add cores, so expect it to be slower here; it pays off
when envs step on other machines.

    python benchmarks/ray.py --episodes 32 --workers 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from gymnpt.rollout.engine import RolloutEngine
from gymnpt.rollout.policies import build_policy
from gymnpt.rollout.policy import SamplingParams

# This file is named like the package it measures: keep its folder off the import path so
# that ``import ray`` finds Ray itself.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]


def _run(env: str, policies: Any, seeds: list[int], factory: Any, **kw: Any) -> float:
    engine = RolloutEngine(env, env_factory=factory, **kw)
    if isinstance(policies, dict):
        seats = engine.seats()
        policies = dict(zip(seats, policies.values()))
    t0 = time.perf_counter()
    trajs = engine.run(seeds, policies)
    wall = time.perf_counter() - t0
    errors = [t.reason for t in trajs if t.outcome == "error"]
    if errors:
        raise RuntimeError(f"{env}: {len(errors)} episodes failed: {errors[0]}")
    return len(seeds) / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2, help="env-worker actors")
    ap.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local Ray instance")
    ap.add_argument("--only", default="", help="comma list of workloads: bots,code,model")
    args = ap.parse_args()

    import ray

    from gymnpt.plugins.ray_rollout import RayEnvPool

    wanted = set(filter(None, args.only.split(","))) or {"bots", "code", "model"}
    seeds = list(range(args.episodes))
    t0 = time.perf_counter()
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - t0

    tiny = build_policy("hf", "snake", model="tiny", seed=0, num_threads=1)
    workloads: list[tuple[str, str, Any, dict[str, Any]]] = []
    if "bots" in wanted:
        bots = {"a": build_policy("bot:random", "connect_four")}
        bots["b"] = build_policy("bot:random", "connect_four")
        workloads.append(("bot-only", "connect_four", bots, {}))
    if "code" in wanted:
        ref = build_policy("bot:reference", "code/io-python")
        workloads.append(("code", "code/io-python", ref, {}))
    if "model" in wanted:
        sampling = SamplingParams(temperature=1.0, max_new_tokens=8, seed=0)
        workloads.append(("tiny model", "snake", tiny, {"sampling": sampling, "max_turns": 4}))

    print(f"{args.episodes} episodes per run; ray start-up {ray_start:.1f}s (not counted)")
    print(f"{'workload':<12} {'local ep/s':>11} {'ray ep/s':>10} {'ray/local':>10} {'pool s':>7}")
    for label, env, pols, kw in workloads:
        _run(env, pols, seeds[:2], None, **kw)  # warm-up: imports, sandbox probe, model
        local = _run(env, pols, seeds, None, **kw)
        t1 = time.perf_counter()
        with RayEnvPool(env, workers=args.workers) as pool:
            _run(env, pols, seeds[:2], pool.factory, **kw)  # actors up and warm
            pool_s = time.perf_counter() - t1
            remote = _run(env, pols, seeds, pool.factory, **kw)
        print(f"{label:<12} {local:11.2f} {remote:10.2f} {remote / local:10.2f} {pool_s:7.1f}")
    ray.shutdown()


if __name__ == "__main__":
    main()
