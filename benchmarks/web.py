"""Web envs, measured side by side in one run.

* shop steps/s with ``bot:reference``: text mode (HTTP) and browser mode (headless Chromium),
  and their ratio;
* MiniWoB++ steps/s with ``bot:reference`` on a few tasks (one pooled browser);
* pooled vs fresh browser per episode on ``click-test``: episodes/s of one env that keeps its
  browser, against launching and quitting a browser for every episode (the ratio);
* memory per browser: proportional set size (PSS) of chromedriver and every Chromium process
  of one browser, from ``/proc/<pid>/smaps_rollup``;
* ``--all-tasks``: reset every available MiniWoB++ task and take three random clicks, and
  list the tasks whose episodes fail to run.

Usage: ``python benchmarks/web.py [--episodes N] [--all-tasks]``. Needs Chromium
(``apt-get install -y chromium chromium-driver``).
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gymnpt.envs.web.bots import MINIWOB_SOLVERS, shop_action
from gymnpt.envs.web.browser import Browser, browser_unavailable, default_pool
from gymnpt.envs.web.miniwob_env import UNSUPPORTED, MiniWoBEnv, miniwob_tasks
from gymnpt.envs.web.shop import ShopEnv


def _bot_steps_per_s(
    env: Any, act: Callable[[Any], str], episodes: int, won: Callable[[float], bool]
) -> tuple[float, float]:
    """(steps/s including resets, rate of episodes whose last reward ``won``) of a bot."""
    env.reset(seed=10_000)  # warm up: server start, browser launch
    steps, wins = 0, 0
    t0 = time.perf_counter()
    for seed in range(episodes):
        env.reset(seed=seed)
        while True:
            _, r, term, trunc, _ = env.step(act(env))
            steps += 1
            if term or trunc:
                wins += won(r)
                break
    dt = time.perf_counter() - t0
    env.close()
    return steps / dt, wins / episodes


def shop_steps_per_s(mode: str, episodes: int) -> tuple[float, float]:
    """(steps/s, full-match rate) of the reference shopper."""
    return _bot_steps_per_s(ShopEnv(mode=mode), shop_action, episodes, lambda r: r == 1.0)


def miniwob_steps_per_s(task: str, episodes: int) -> tuple[float, float]:
    """(steps/s including resets, success rate) of the reference bot on ``task``."""
    solver = MINIWOB_SOLVERS[task]
    return _bot_steps_per_s(MiniWoBEnv(task), solver, episodes, lambda r: r > 0)


def pooled_vs_fresh(episodes: int) -> tuple[float, float]:
    """Episodes/s of click-test with a pooled browser, and with a fresh browser each time."""
    env = MiniWoBEnv("click-test")
    env.reset(seed=0)
    t0 = time.perf_counter()
    for seed in range(episodes):
        env.reset(seed=seed)
        env.step("click(4)")
    pooled = episodes / (time.perf_counter() - t0)
    env.close()
    t0 = time.perf_counter()
    for seed in range(episodes):
        browser = Browser.launch()
        e = MiniWoBEnv("click-test", pool=_OnePool(browser))
        e.reset(seed=seed)
        e.step("click(4)")
        e.close()
        browser.quit()
    fresh = episodes / (time.perf_counter() - t0)
    return pooled, fresh


class _OnePool:
    """A pool of exactly one browser, for the fresh-browser loop."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser

    def acquire(self, timeout: float = 0.0) -> Browser:
        return self.browser

    def release(self, browser: Browser, *, broken: bool = False) -> None:
        pass


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def browser_memory_mb() -> float:
    """PSS in MiB of one browser with a MiniWoB++ page loaded."""
    env = MiniWoBEnv("click-button")
    env.reset(seed=0)
    pgid = env._browser.pgid
    total = 0
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if os.getpgid(int(d.name)) == pgid:
                    total += _pss_kb(int(d.name))
            except OSError:
                pass
    env.close()
    return total / 1024


def all_tasks() -> None:
    """Reset every available task and take three random clicks; list failures."""
    failed: dict[str, str] = {}
    t0 = time.perf_counter()
    tasks = [t for t in miniwob_tasks() if t not in UNSUPPORTED]
    for task in tasks:
        env = MiniWoBEnv(task)
        try:
            env.reset(seed=0)
            if not env.elements:
                failed[task] = "no elements listed"
            rng = random.Random(0)
            for _ in range(3):
                legal = env.legal_actions("player")
                if not legal:
                    break
                _, _, term, trunc, info = env.step(rng.choice(legal))
                if info.get("outcome", {}).get("player") == "error":
                    failed[task] = str(info.get("ended"))
                if term or trunc:
                    break
        except Exception as exc:  # noqa: BLE001 - report, go on
            failed[task] = f"{type(exc).__name__}: {exc}"[:160]
        finally:
            env.close()
    dt = time.perf_counter() - t0
    print(f"\nall tasks: {len(tasks)} available tasks reset and stepped in {dt:.1f}s")
    print(f"  tasks that failed to run: {len(failed)}")
    for task, why in failed.items():
        print(f"  {task}: {why}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--all-tasks", action="store_true")
    args = ap.parse_args()
    why = browser_unavailable()
    if why:
        raise SystemExit(f"needs Chromium: {why}")
    n = args.episodes
    print(f"cores: {os.cpu_count()}; episodes per measurement: {n}\n")
    text, text_ok = shop_steps_per_s("text", n)
    browser, browser_ok = shop_steps_per_s("browser", n)
    print("shop (bot:reference)           steps/s   full match")
    print(f"  text mode                     {text:7.1f}   {text_ok:6.0%}")
    print(f"  browser mode                  {browser:7.1f}   {browser_ok:6.0%}")
    print(f"  text / browser                {text / browser:7.1f}x\n")
    print("MiniWoB++ (bot:reference)      steps/s   success")
    for task in ("click-test", "click-button", "enter-text", "login-user", "click-checkboxes"):
        sps, ok = miniwob_steps_per_s(task, n)
        print(f"  {task:28s}  {sps:7.1f}   {ok:6.0%}")
    pooled, fresh = pooled_vs_fresh(max(3, n // 2))
    print("\nclick-test episodes/s          pooled    fresh browser per episode")
    print(f"                                {pooled:7.2f}   {fresh:7.2f}")
    print(f"  pooled / fresh                {pooled / fresh:7.1f}x")
    print(f"\nmemory per browser (PSS)      {browser_memory_mb():7.0f} MiB")
    if args.all_tasks:
        all_tasks()
    default_pool().close_all()


if __name__ == "__main__":
    main()
