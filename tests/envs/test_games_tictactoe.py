"""Tic-tac-toe: notation, rules, rewards, winner detection against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gymnpt import InvalidAction, default_registry
from gymnpt.core.testing import BAD_REPLIES
from gymnpt.envs.games.tictactoe import TicTacToeEnv, parse_cell

REG = default_registry()


def brute_winner(cells):
    """Winner by checking every row, column and diagonal of a 3x3 array."""
    a = np.array(list(cells)).reshape(3, 3)
    lines = [*a, *a.T, a.diagonal(), np.fliplr(a).diagonal()]
    for mark in "xo":
        if any((line == mark).all() for line in lines):
            return mark
    return None


@pytest.mark.parametrize(
    "reply,cell",
    [
        ("b2", 4),
        ("B2", 4),
        ("5", 4),
        ("2,2", 4),
        ("(2, 2)", 4),
        ("row 2, column 2", 4),
        ("<move>b2</move>", 4),
        ("Move: c3", 8),
        ("a1", 0),
        ("1", 0),
        ("9", 8),
        ("3", 2),
        ("7", 6),
        ("2,3", 5),
        ("a2 is tempting but I take c1", 2),
        ("I'll play the center: b2.", 4),
    ],
)
def test_lenient_notation(reply, cell):
    assert parse_cell(reply, lenient=True) == cell


@pytest.mark.parametrize("reply", ["", "center", "0", "d4", "10", "b22", "x" * 100_000, "漢字"])
def test_notation_rejects(reply):
    for lenient in (False, True):
        with pytest.raises(InvalidAction):
            parse_cell(reply, lenient=lenient)


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_parser_never_crashes(text):
    try:
        assert 0 <= parse_cell(text, lenient=True) <= 8
    except InvalidAction:
        pass


def test_a_game_x_wins():
    env = REG.make("tictactoe")
    assert isinstance(env, TicTacToeEnv) and env.possible_agents == ["x", "o"]
    env.reset(seed=0)
    assert env.agent_selection == "x"
    assert "Legal moves: a1, b1, c1, a2, b2, c2, a3, b3, c3" in env.observe("x")
    for move in ["a1", "b1", "a2", "b2"]:
        env.step(move)
        assert env.rewards == {"x": 0.0, "o": 0.0}
    env.step("a3")
    assert env.done and env.rewards == {"x": 1.0, "o": -1.0}
    assert env.infos["x"]["outcome"] == {"x": "win", "o": "loss"}
    assert "You won" in env.observe("x") and "you lost" in env.observe("o")


def test_draw_and_taken_cell():
    env = REG.make("tictactoe")
    env.reset(seed=0)
    env.step("b2")
    env.step("b2")  # taken
    assert env.infos["o"]["invalid_move"] and "taken" in env.infos["o"]["error"]
    assert env.agent_selection == "o"
    for move in ["a1", "c3", "c1", "b1", "b3", "a3", "c2", "a2"]:
        env.step(move)
    assert env.done and env.infos["x"]["outcome"] == {"x": "draw", "o": "draw"}
    assert env.rewards == {"x": 0.0, "o": 0.0}


def test_repeated_invalid_moves_forfeit():
    env = REG.make("tictactoe")
    env.reset(seed=0)
    env.step("nonsense")
    assert not env.done and env.agent_selection == "x"
    env.step("still nonsense")
    assert env.done and env.infos["x"]["outcome"] == {"x": "loss", "o": "win"}
    assert env.rewards["x"] == -1.0


def test_start_position_option():
    env = REG.make("tictactoe")
    env.reset(seed=0, options={"board": "xx.oo...."})
    assert env.agent_selection == "x" and env.legal_actions("x")[0] == "c1"
    with pytest.raises(ValueError):
        env.reset(options={"board": "xxx......"})


def test_bad_replies_never_raise():
    env = REG.make("tictactoe")
    for reply in BAD_REPLIES:
        env.reset(seed=1)
        env.step(reply)
        placed = env.cells.count("x")
        assert env.infos["x"]["invalid_move"] != (placed == 1)


@given(order=st.permutations(range(9)), junk=st.lists(st.booleans(), min_size=9, max_size=9))
@settings(max_examples=150, deadline=None)
def test_random_games_match_brute_force(order, junk):
    env = TicTacToeEnv()
    env.reset(seed=0)
    names = "a1 b1 c1 a2 b2 c2 a3 b3 c3".split()
    for i, cell in enumerate(order):
        if env.done:
            break
        seat = env.agent_selection
        if junk[i] and env.cells[order[0]] != ".":
            env.step(names[order[0]])  # a taken cell: invalid, nothing changes
            assert env.infos[seat]["invalid_move"] and env.agent_selection == seat
        before = list(env.cells)
        env.step(f"Move: {names[cell]}")
        assert env.cells[cell] == seat and sum(a != b for a, b in zip(before, env.cells)) == 1
        assert env.cells.count("x") - env.cells.count("o") in (0, 1)
        w = brute_winner(env.cells)
        assert env.winner == w
        full = "." not in env.cells
        assert env.done == (w is not None or full)
        if env.done:
            expected = (
                {"x": 0.0, "o": 0.0} if w is None else {w: 1.0, ("o" if w == "x" else "x"): -1.0}
            )
            assert env.rewards == expected
