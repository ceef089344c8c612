"""Connect Four: notation, gravity, rewards, winner detection against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gymnpt import InvalidAction, default_registry
from gymnpt.core.testing import BAD_REPLIES
from gymnpt.envs.games.connect_four import ConnectFourEnv, parse_column

REG = default_registry()


def brute_winner(grid):
    """The symbol with four in a line anywhere on the grid (checks every window)."""
    a = np.array(grid)
    found = set()
    for r in range(6):
        for c in range(7):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                cells = [(r + dr * k, c + dc * k) for k in range(4)]
                if all(0 <= rr < 6 and 0 <= cc < 7 for rr, cc in cells):
                    vals = {a[rr, cc] for rr, cc in cells}
                    if len(vals) == 1 and vals != {"."}:
                        found |= vals
    return found


@pytest.mark.parametrize(
    "reply,col",
    [
        ("4", 3),
        ("column 4", 3),
        ("Col 1", 0),
        ("<move>7</move>", 6),
        ("Move: 5", 4),
        ("I'd drop in column 3, since 5 is risky", 2),
        ("3 or 6? 6.", 5),
    ],
)
def test_lenient_notation(reply, col):
    assert parse_column(reply, lenient=True) == col


@pytest.mark.parametrize("reply", ["", "0", "8", "middle", "column 9", "44"])
def test_notation_rejects(reply):
    for lenient in (False, True):
        with pytest.raises(InvalidAction):
            parse_column(reply, lenient=lenient)


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_parser_never_crashes(text):
    try:
        assert 0 <= parse_column(text, lenient=True) <= 6
    except InvalidAction:
        pass


def test_vertical_win_and_rewards():
    env = REG.make("connect_four")
    assert isinstance(env, ConnectFourEnv) and env.possible_agents == ["red", "yellow"]
    env.reset(seed=0)
    for move in ["4", "5", "4", "5", "4", "5"]:
        env.step(move)
    assert not env.done
    assert env.grid[5][3] == "R" and env.grid[3][3] == "R" and env.grid[5][4] == "Y"
    env.step("4")
    assert env.done and env.rewards == {"red": 1.0, "yellow": -1.0}
    assert env.infos["red"]["outcome"] == {"red": "win", "yellow": "loss"}


def test_full_column_is_invalid():
    env = REG.make("connect_four")
    env.reset(seed=0, options={"moves": [1, 1, 1, 1, 1, 1]})
    assert "1" not in env.legal_actions("red")
    env.step("1")
    assert env.infos["red"]["invalid_move"] and "full" in env.infos["red"]["error"]


def test_draw_on_full_grid():
    env = REG.make("connect_four")
    env.reset(seed=0)
    moves = [
        1,
        2,
        1,
        2,
        1,
        2,
        2,
        1,
        2,
        1,
        2,
        1,
        3,
        4,
        3,
        4,
        3,
        4,
        4,
        3,
        4,
        3,
        4,
        3,
        5,
        6,
        5,
        6,
        5,
        6,
        6,
        5,
        6,
        5,
        6,
        5,
        7,
        7,
        7,
        7,
        7,
        7,
    ]
    for m in moves:
        assert not env.done
        env.step(str(m))
    assert not brute_winner(env.grid)
    assert env.done and env.infos["red"]["outcome"] == {"red": "draw", "yellow": "draw"}


def test_bad_replies_never_raise():
    env = REG.make("connect_four")
    for reply in BAD_REPLIES:
        env.reset(seed=1)
        env.step(reply)
        assert env.infos["red"]["invalid_move"] != (len(env.moves) == 1)


@given(cols=st.lists(st.integers(0, 6), max_size=60))
@settings(max_examples=150, deadline=None)
def test_random_games_match_brute_force(cols):
    env = ConnectFourEnv()
    env.reset(seed=0)
    for col in cols:
        if env.done:
            break
        seat = env.agent_selection
        height = env.heights[col]
        env.step(str(col + 1))
        if height >= 6:
            assert env.infos[seat]["invalid_move"]
            continue
        assert env.grid[5 - height][col] == ("R" if seat == "red" else "Y")
        # Gravity: no disc floats above an empty cell.
        for c in range(7):
            column = [env.grid[r][c] for r in range(6)]
            filled = [x != "." for x in column]
            assert filled == sorted(filled) and sum(filled) == env.heights[c]
        winners = brute_winner(env.grid)
        assert len(winners) <= 1
        if winners:
            assert env.done and env.winner == ("red" if winners == {"R"} else "yellow") == seat
            assert env.rewards[seat] == 1.0
        else:
            assert env.winner is None and env.done == (len(env.moves) == 42)
