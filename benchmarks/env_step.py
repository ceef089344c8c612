"""Steps per second of gymnpt's games against TextArena's, measured side by side.

Both sides run the same loop: read the acting player's observation, pick a random legal move
with a seeded ``random.Random``, step. gymnpt envs are made with ``gymnpt.make`` (registry and
wrapper stack); TextArena envs with ``textarena.make`` (its default wrappers).

* tic-tac-toe: gymnpt ``tictactoe`` (moves ``b2``) vs ``TicTacToe-v0`` (moves ``[4]``).
* snake: gymnpt ``snake-multi`` configured like ``Snake-v0`` (2 snakes of length 1 on 5x5,
  2 apples, 40 rounds) vs ``Snake-v0`` (moves ``[up]``). A third row runs gymnpt's
  single-player ``snake`` (same board; Gymnasium ``step`` returns the next observation)
  against the same TextArena loop; TextArena has no single-player snake.

Usage: ``python benchmarks/env_step.py [--episodes N] [--repeats R]``. Prints steps/s and the
ratio gymnpt / TextArena (higher is better for gymnpt).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

import gymnpt

_TTT_CELLS = [(r, c) for r in range(3) for c in range(3)]
_TA_SNAKE_MOVES = ["[up]", "[down]", "[left]", "[right]"]


def gymnpt_tictactoe(episodes: int, seed: int) -> int:
    rng = random.Random(seed)
    env = gymnpt.make("tictactoe")
    steps = 0
    for ep in range(episodes):
        env.reset(seed=ep)
        while not env.done:
            seat = env.agent_selection
            env.observe(seat)
            legal = env.legal_actions(seat)
            env.step(legal[rng.randrange(len(legal))])
            steps += 1
    return steps


def textarena_tictactoe(episodes: int, seed: int) -> int:
    import textarena as ta

    rng = random.Random(seed)
    steps = 0
    for ep in range(episodes):
        env = ta.make("TicTacToe-v0")
        env.reset(num_players=2, seed=ep)
        done = False
        while not done:
            env.get_observation()
            board = env.state.game_state["board"]
            legal = [f"[{r * 3 + c}]" for r, c in _TTT_CELLS if board[r][c] == ""]
            done, _ = env.step(legal[rng.randrange(len(legal))])
            steps += 1
        env.close()
    return steps


def gymnpt_snake(episodes: int, seed: int) -> int:
    rng = random.Random(seed)
    env = gymnpt.make("snake-multi", size=5, apples=2, length=1, max_turns=40)
    steps = 0
    for ep in range(episodes):
        env.reset(seed=ep)
        while not env.done:
            seat = env.agent_selection
            env.observe(seat)
            legal = env.legal_actions(seat)
            env.step(legal[rng.randrange(len(legal))])
            steps += 1
    return steps


def gymnpt_snake_single(episodes: int, seed: int) -> int:
    rng = random.Random(seed)
    env = gymnpt.make("snake", size=5, apples=2, length=1, max_turns=40, goal=None)
    steps = 0
    for ep in range(episodes):
        env.reset(seed=ep)
        done = False
        game = env.unwrapped
        while not done:
            legal = game.legal_actions("player")
            _, _, term, trunc, _ = env.step(legal[rng.randrange(len(legal))])
            done = term or trunc
            steps += 1
    return steps


def textarena_snake(episodes: int, seed: int) -> int:
    import textarena as ta

    rng = random.Random(seed)
    steps = 0
    for ep in range(episodes):
        env = ta.make("Snake-v0")
        env.reset(num_players=2, seed=ep)
        done = False
        while not done:
            env.get_observation()
            done, _ = env.step(_TA_SNAKE_MOVES[rng.randrange(4)])
            steps += 1
        env.close()
    return steps


def rate(fn: Callable[[int, int], int], episodes: int, seed: int) -> float:
    """Steps per second of one run."""
    t0 = time.perf_counter()
    steps = fn(episodes, seed)
    return steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rows = [
        ("tictactoe vs TicTacToe-v0", gymnpt_tictactoe, textarena_tictactoe),
        ("snake-multi vs Snake-v0", gymnpt_snake, textarena_snake),
        ("snake (1 player) vs Snake-v0", gymnpt_snake_single, textarena_snake),
    ]
    for _, ours, theirs in rows:  # warm up imports and caches
        ours(5, 0)
        theirs(5, 0)
    print(f"{'game':<30} {'gymnpt steps/s':>15} {'textarena steps/s':>18} {'ratio':>7}")
    for name, ours, theirs in rows:
        # Paired runs, alternating sides, so that background load hits both alike; the
        # ratio is the median of the per-pair ratios, the rates are the medians.
        a, b = [], []
        for r in range(args.repeats):
            a.append(rate(ours, args.episodes, r))
            b.append(rate(theirs, args.episodes, r))
        ratio = statistics.median(x / y for x, y in zip(a, b))
        print(
            f"{name:<30} {statistics.median(a):>15,.0f} {statistics.median(b):>18,.0f} {ratio:>7.2f}"
        )


if __name__ == "__main__":
    main()
