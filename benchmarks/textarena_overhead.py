"""Overhead of gymnpt's TextArena adapter against raw TextArena (target: ratio <= 1.10).

For each game, a fixed list of episodes (seed + the replies a random bot gave) is replayed
twice, side by side in one process: once through TextArena's own loop (``ta.make`` a fresh
env per episode, ``reset``, then ``get_observation`` / ``step`` until done, ``close``) and once
through :class:`~gymnpt.plugins.textarena.adapter.TextArenaEnv` (``reset``, ``observe``,
``step``). Both read the acting player's observation every turn. The two runs alternate for
several rounds and the fastest time of each is compared (the minimum is the least disturbed
by other processes on a shared machine). The last column is the adapter's added cost per
reply in microseconds (delta mode), which matters more than the ratio for games whose own
step takes only tens of microseconds.

Run: ``python benchmarks/textarena_overhead.py [--episodes 30] [--rounds 7]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from gymnpt.plugins.textarena.adapter import TextArenaEnv, load_textarena
from gymnpt.plugins.textarena.bots import TextArenaRandomBot
from gymnpt.rollout.policy import Request

GAMES = [
    "TicTacToe-v0",
    "KuhnPoker-v0",
    "Nim-v0",
    "LiarsDice-v0",
    "Poker-v0",
    "ConnectFour-v0",
    "Sudoku-v0-very-easy",
    "Minesweeper-v0",
]


def record(ta_id: str, episodes: int) -> list[tuple[int, list[str]]]:
    """(seed, replies) per episode, from the random bot playing through the adapter."""
    env = TextArenaEnv(ta_id, observation="full")
    out = []
    for seed in range(episodes):
        bot = TextArenaRandomBot(seed=seed)
        env.reset(seed=seed)
        acts = []
        while not env.done and len(acts) < 300:
            seat = env.agent_selection
            obs = env.observe(seat)
            act = bot.act(Request(messages=[{"role": "user", "content": obs}], seat=seat)).text
            acts.append(act)
            env.step(act)
        out.append((seed, acts))
    return out


def run_raw(ta: Any, ta_id: str, players: int, plays: list[tuple[int, list[str]]]) -> float:
    t0 = time.perf_counter()
    for seed, acts in plays:
        env = ta.make(ta_id)
        env.reset(num_players=players, seed=seed)
        for act in acts:
            env.get_observation()
            done, _ = env.step(act)
            if done:
                break
        env.close()
    return time.perf_counter() - t0


def run_adapter(env: TextArenaEnv, plays: list[tuple[int, list[str]]]) -> float:
    t0 = time.perf_counter()
    for seed, acts in plays:
        env.reset(seed=seed)
        for act in acts:
            env.observe(env.agent_selection)
            env.step(act)
            if env.done:
                break
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--games", nargs="*", default=GAMES)
    args = ap.parse_args()
    ta = load_textarena()
    rows = []
    for ta_id in args.games:
        plays = record(ta_id, args.episodes)
        steps = sum(len(a) for _, a in plays)
        envs = {mode: TextArenaEnv(ta_id, observation=mode) for mode in ("full", "delta")}
        players = envs["full"].num_players
        times: dict[str, list[float]] = {"raw": [], "full": [], "delta": []}
        run_raw(ta, ta_id, players, plays[:3])  # warm up
        for _ in range(args.rounds):
            times["raw"].append(run_raw(ta, ta_id, players, plays))
            times["full"].append(run_adapter(envs["full"], plays))
            times["delta"].append(run_adapter(envs["delta"], plays))
        best = {k: min(v) for k, v in times.items()}
        extra = (best["delta"] - best["raw"]) / steps * 1e6
        rows.append(
            (
                ta_id,
                steps,
                best["raw"],
                best["full"] / best["raw"],
                best["delta"] / best["raw"],
                extra,
            )
        )
    print(
        f"{'game':<24}{'steps':>7}{'raw us/step':>13}{'full/raw':>10}{'delta/raw':>11}{'+us/step':>10}"
    )
    for ta_id, steps, raw, rf, rd, extra in rows:
        print(
            f"{ta_id:<24}{steps:>7}{raw / steps * 1e6:>13.1f}{rf:>10.3f}{rd:>11.3f}{extra:>10.1f}"
        )
    full = statistics.geometric_mean([r[3] for r in rows])
    delta = statistics.geometric_mean([r[4] for r in rows])
    print(f"{'geometric mean':<44}{full:>10.3f}{delta:>11.3f}   (target <= 1.10)")


if __name__ == "__main__":
    main()
