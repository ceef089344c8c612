"""Sandbox overhead: executions/s of ``print(1)`` per backend vs a bare ``subprocess.run``.

Measured side by side in one run, sequentially and with 8 concurrent threads; rounds
alternate between the contenders so that machine noise hits them alike. Targets:
local <= 1.5x bare, bwrap <= 2x bare. Where a Docker daemon answers, a second table
compares one docker execution in a warm container (``docker exec``) with one in a fresh
container per execution (cold) and with a bare subprocess.

    python benchmarks/sandbox.py [--runs 40] [--rounds 3] [--concurrency 8] [--cold-runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from gymnpt.sandboxes import available_sandboxes, get_sandbox
from gymnpt.sandboxes.process import sandbox_python


def _timed(fn: Callable[[], object], runs: int, concurrency: int) -> float:
    """Seconds for ``runs`` calls of ``fn`` with ``concurrency`` threads."""
    start = time.perf_counter()
    if concurrency == 1:
        for _ in range(runs):
            fn()
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda _: fn(), range(runs)))
    return time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print a table of rates and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--cold-runs", type=int, default=5)
    args = ap.parse_args()

    python = sandbox_python()
    argv = [python, "-c", "print(1)"]

    def bare() -> None:
        out = subprocess.run(argv, capture_output=True, check=False)
        assert out.stdout == b"1\n"

    contenders: dict[str, Callable[[], object]] = {"bare": bare}
    for name, why in available_sandboxes().items():
        if why:
            print(f"# {name}: skipped ({why})")
            continue
        sb = get_sandbox(name, wall_time=10)

        def run(sb=sb) -> None:
            res = sb.run([sb.python, "-c", "print(1)"])
            assert res.ok and res.stdout == "1\n", res

        contenders[name] = run
    print(f"# interpreter: {python}; {args.runs} runs x {args.rounds} rounds")
    for fn in contenders.values():  # warm up
        fn()
    for conc in (1, args.concurrency):
        times: dict[str, list[float]] = {k: [] for k in contenders}
        for _ in range(args.rounds):
            for name, fn in contenders.items():
                times[name].append(_timed(fn, args.runs, conc))
        base = statistics.median(times["bare"])
        label = "sequential" if conc == 1 else f"{conc} concurrent"
        print(f"\n{label}:")
        print(f"{'backend':<8} {'exec/s':>8} {'ms/exec':>8} {'overhead ms':>12} {'x bare':>7}")
        for name, ts in times.items():
            t = statistics.median(ts)
            per = t / args.runs * 1000
            over = (t - base) / args.runs * 1000
            print(f"{name:<8} {args.runs / t:8.1f} {per:8.2f} {over:12.2f} {t / base:7.2f}")
    if "docker" in contenders:
        _docker_warm_vs_cold(contenders["bare"], contenders["docker"], args)


def _docker_warm_vs_cold(bare: Callable[[], object], warm: Callable[[], object], args) -> None:
    """Per-execution cost of docker: warm container vs a fresh one per run vs bare."""
    from gymnpt.sandboxes.docker import DockerSandbox

    cold_sb = DockerSandbox(wall_time=30, reuse=False)

    def cold() -> None:
        res = cold_sb.run([cold_sb.python, "-c", "print(1)"])
        assert res.ok and res.stdout == "1\n", res

    cold()
    per: dict[str, list[float]] = {"bare": [], "docker warm": [], "docker cold": []}
    for _ in range(args.rounds):
        per["bare"].append(_timed(bare, args.runs, 1) / args.runs)
        per["docker warm"].append(_timed(warm, args.runs, 1) / args.runs)
        per["docker cold"].append(_timed(cold, args.cold_runs, 1) / args.cold_runs)
    ms = {k: statistics.median(v) * 1000 for k, v in per.items()}
    print(f"\ndocker, sequential ({args.cold_runs} cold runs per round):")
    print(f"{'mode':<12} {'ms/exec':>9} {'x bare':>8} {'x warm':>8}")
    for name, m in ms.items():
        print(f"{name:<12} {m:9.1f} {m / ms['bare']:8.2f} {m / ms['docker warm']:8.2f}")


if __name__ == "__main__":
    main()
