"""Tournament throughput: the `gymnpt tournament` path against a bare loop, and local vs Ray.

Plays the same bot-only round robin (same games, same seeds) three ways and prints games/s
side by side:

* bare loop   -- one game after another: make the env, reset, ask the bot, step.
* tournament  -- :func:`gymnpt.arena.tournament.run_tournament` with ``backend=local``: the
  rollout engine, result rows appended to results.jsonl, ratings and reports.
* ray         -- the same with ``backend=ray`` on a local Ray cluster (started once; its
  start-up time is reported separately).

The overhead ratio is bare-loop games/s divided by tournament games/s (target <= 1.15).
Every way must produce the same outcome for every game; the script checks that.

    python benchmarks/tournament.py --env connect_four --agents bot:random,bot:minimax-2 --games 20
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from gymnpt.arena.tournament import Config, run_tournament, schedule
from gymnpt.core.registry import default_registry
from gymnpt.rollout.policy import Request


def bare_loop(
    env_id: str, agents: list[str], games: int, seed: int
) -> tuple[float, dict[str, list[str]]]:
    """Play every game sequentially with no engine. Returns (seconds, key -> outcomes)."""
    reg = default_registry()
    pols = {a: reg.make_agent(a, env_id) for a in agents}
    spec = reg.env_spec(env_id)
    plan = schedule(agents, list(spec.seats), games, seed)
    out: dict[str, list[str]] = {}
    t0 = time.perf_counter()
    for g in plan:
        seating = dict(g.seating)
        env = reg.make_multiagent(env_id)
        env.reset(seed=g.seed)
        while not env.done:
            seat = env.agent_selection
            req = Request(
                messages=[{"role": "user", "content": env.observe(seat)}],
                seat=seat,
                env=env,
                env_id=env_id,
            )
            env.step(pols[seating[seat]].act(req))
        out[g.key] = [env.outcome(s) for s in spec.seats]
    return time.perf_counter() - t0, out


def tournament(
    env_id: str, agents: list[str], games: int, seed: int, backend: str, **kw: Any
) -> tuple[float, dict[str, list[str]]]:
    out_dir = Path(tempfile.mkdtemp(prefix="gymnpt-bench-"))
    try:
        cfg = Config(
            env=env_id,
            agents=agents,
            games=games,
            seed=seed,
            out=str(out_dir),
            backend=backend,
            bootstrap=0,
            plot=False,
            progress=False,
            evaluators=False,
            **kw,
        )
        t0 = time.perf_counter()
        res = run_tournament(cfg)
        wall = time.perf_counter() - t0
        if res.errors:
            raise RuntimeError(f"{res.errors} games ended in an error")
        rows = [json.loads(x) for x in (out_dir / "results.jsonl").read_text().splitlines()]
        return wall, {r["key"]: r["outcomes"] for r in rows}
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--env", default="connect_four")
    ap.add_argument("--agents", default="bot:random,bot:minimax-2")
    ap.add_argument("--games", type=int, default=20, help="games per pairing")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="best of N for each way")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument(
        "--chunk-size", type=int, default=0, help="games per Ray task (0: split in two)"
    )
    args = ap.parse_args()
    agents = args.agents.split(",")
    n_games = len(
        schedule(agents, list(default_registry().env_spec(args.env).seats), args.games, args.seed)
    )

    bare_t, bare_out = min(
        (bare_loop(args.env, agents, args.games, args.seed) for _ in range(args.repeats)),
        key=lambda x: x[0],
    )
    tour_t, tour_out = min(
        (tournament(args.env, agents, args.games, args.seed, "local") for _ in range(args.repeats)),
        key=lambda x: x[0],
    )
    assert tour_out == bare_out, "the tournament played different games than the bare loop"
    rows = [("bare loop", bare_t), ("tournament (local)", tour_t)]

    ray_start = None
    if not args.no_ray:
        import ray

        t0 = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - t0
        chunk = args.chunk_size or max(1, (n_games + 1) // 2)
        try:
            ray_t, ray_out = min(
                (
                    tournament(args.env, agents, args.games, args.seed, "ray", chunk_size=chunk)
                    for _ in range(args.repeats)
                ),
                key=lambda x: x[0],
            )
        finally:
            ray.shutdown()
        assert ray_out == bare_out, "the Ray backend played different games than the bare loop"
        rows.append((f"tournament (ray, {chunk} games/task)", ray_t))

    print(f"{args.env}: {', '.join(agents)}; {n_games} games, best of {args.repeats}")
    print(f"{'way':<34} {'seconds':>9} {'games/s':>9} {'vs bare':>8}")
    for name, t in rows:
        print(f"{name:<34} {t:9.3f} {n_games / t:9.1f} {t / bare_t:8.3f}")
    print(
        f"overhead ratio (bare games/s / tournament games/s): {tour_t / bare_t:.3f} (target <= 1.15)"
    )
    if ray_start is not None:
        print(f"Ray cluster start-up (not in the times above): {ray_start:.1f}s")


if __name__ == "__main__":
    main()
