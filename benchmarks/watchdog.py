"""What the engine's per-call deadline costs: env calls on worker threads against inline calls.

One run, the same envs, seeds and scripted bots, side by side:

(a) inline   -- ``step_timeout=0``: env calls run on the event loop (no deadline);
(b) watchdog -- the default: every env call on the episode's worker thread, under a deadline.

Printed: episodes/s for each and the ratio (a)/(b), the slowdown the watchdog adds when env
steps and bots take microseconds. With a model in the loop (milliseconds per call) the
difference is lost in generation time.

    python benchmarks/watchdog.py --episodes 200 --repeats 3
"""

from __future__ import annotations

import argparse
import time

from gymnpt.core.registry import default_registry
from gymnpt.rollout.engine import RolloutEngine
from gymnpt.rollout.policies import build_policy


def episodes_per_s(env_id: str, bot: str, episodes: int, step_timeout: float | None) -> float:
    reg = default_registry()
    engine = RolloutEngine(env_id, registry=reg, step_timeout=step_timeout)
    policy = build_policy(bot, env_id)
    t0 = time.perf_counter()
    engine.run(list(range(episodes)), policy)
    return episodes / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--envs", default="tictactoe,snake,kuhn_poker")
    args = ap.parse_args()
    print(f"{'env':<14} {'inline ep/s':>12} {'watchdog ep/s':>14} {'inline/watchdog':>16}")
    for env_id in args.envs.split(","):
        inline, guarded = [], []
        for _ in range(args.repeats):  # interleaved, so that load changes hit both alike
            inline.append(episodes_per_s(env_id, "bot:random", args.episodes, 0))
            guarded.append(episodes_per_s(env_id, "bot:random", args.episodes, None))
        a, b = max(inline), max(guarded)
        print(f"{env_id:<14} {a:>12.0f} {b:>14.0f} {a / b:>16.2f}")


if __name__ == "__main__":
    main()
