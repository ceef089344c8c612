"""Episodes per second of each dialogue game with reference bots, measured side by side.

Two loops per game, in one run:

* ``direct`` -- the game master alone: reset, then each acting seat's reference reply
  (``DialogueGame.reference_reply``) is stepped until the episode ends;
* ``engine`` -- the same episodes through :class:`gymnpt.rollout.engine.RolloutEngine` with
  ``bot:reference`` in every seat (chat messages, trajectories, per-episode records).

The ratio ``engine / direct`` is the share of the master's speed left after the engine's
bookkeeping. Usage: ``python benchmarks/dialogue.py [--episodes N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from gymnpt import default_registry
from gymnpt.core.registry import load_entry_point
from gymnpt.envs.dialogue import GAMES
from gymnpt.rollout.engine import RolloutEngine


def direct(game: str, episodes: int) -> float:
    """Episodes per second of the bare master loop."""
    cls = load_entry_point("gymnpt.envs.dialogue." + GAMES[game][0])
    env = cls()
    t0 = time.perf_counter()
    for ep in range(episodes):
        env.reset(seed=ep)
        rng = random.Random(ep)
        while not env.done:
            env.step(env.reference_reply(env.agent_selection, rng))
    return episodes / (time.perf_counter() - t0)


def engine(game: str, episodes: int) -> float:
    """Episodes per second through the rollout engine."""
    env_id = f"dialogue/{game}"
    reg = default_registry()
    eng = RolloutEngine(env_id, registry=reg)
    bot = reg.make_agent("bot:reference", env_id)
    t0 = time.perf_counter()
    eng.run(list(range(episodes)), bot)
    return episodes / (time.perf_counter() - t0)


def main() -> None:
    """Print episodes/s per game and loop, and the engine/direct ratio."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    for game in GAMES:  # warm the word tables and stem caches once
        direct(game, 2)
    print(f"{'game':<20} {'direct eps/s':>13} {'engine eps/s':>13} {'engine/direct':>14}")
    for game in GAMES:
        ds, es = [], []
        for _ in range(args.repeats):  # interleaved, so that load changes hit both loops
            ds.append(direct(game, args.episodes))
            es.append(engine(game, args.episodes))
        d, e = statistics.median(ds), statistics.median(es)
        print(f"{game:<20} {d:>13.1f} {e:>13.1f} {e / d:>14.2f}")


if __name__ == "__main__":
    main()
