"""Snake's ``hints`` option: the head's surroundings and the nearest apple, stated in words."""

from __future__ import annotations

import re

import pytest

from gymnpt.envs.games.snake import DIRECTIONS, SnakeEnv


def _expected(env: SnakeEnv) -> tuple[dict[str, str], tuple[int, int]]:
    r, c = env.snake.head
    around = {}
    for name, (dr, dc) in DIRECTIONS.items():
        cell = (r + dr, c + dc)
        if not (0 <= cell[0] < env.size and 0 <= cell[1] < env.size):
            around[name] = "wall"
        elif cell in env.board.occupied:
            around[name] = "body"
        elif cell in env.board.apples:
            around[name] = "apple"
        else:
            around[name] = "empty"
    apple = min(env.board.apples, key=lambda a: (abs(a[0] - r) + abs(a[1] - c), a))
    return around, (apple[0] - r, apple[1] - c)


def _read(obs: str) -> tuple[dict[str, str], tuple[int, int]]:
    line = re.search(r"Next to the head: (.*)\.", obs).group(1)  # type: ignore[union-attr]
    around = dict(part.split(" ") for part in line.split(", "))
    near = re.search(r"Nearest apple: (.*)\.", obs).group(1)  # type: ignore[union-attr]
    dr = dc = 0
    for part in near.split(", "):
        n, d = part.split(" ")
        dr += {"up": -int(n), "down": int(n)}.get(d, 0)
        dc += {"left": -int(n), "right": int(n)}.get(d, 0)
    return around, (dr, dc)


@pytest.mark.parametrize("seed", range(8))
def test_hints_match_the_board_along_a_game(seed: int) -> None:
    env = SnakeEnv(size=5, apples=2, max_turns=12, hints=True)
    obs, _ = env.reset(seed=seed)
    done = False
    while not done:
        assert _read(obs) == _expected(env)
        obs, _, term, trunc, _ = env.step(env.legal_actions("player")[0])
        done = term or trunc
    assert "Next to the head" not in obs  # the game-over message carries no hints


def test_hints_are_off_by_default() -> None:
    obs, _ = SnakeEnv(size=5, apples=2).reset(seed=0)
    assert "Next to the head" not in obs and "Nearest apple" not in obs
