"""Snake and snake-multi: rules, parser, rewards, seeding, properties."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gymnpt import InvalidAction, default_registry
from gymnpt.core.testing import BAD_REPLIES
from gymnpt.envs.games.snake import SnakeEnv, SnakeMultiEnv, parse_direction

REG = default_registry()


def place(board, index, body, heading, apples=None):
    """Put snake ``index`` at ``body`` (head first) and optionally set the apples."""
    snake = board.snakes[index]
    for cell in snake.body:
        board.occupied.pop(cell, None)
    snake.body = deque(body)
    snake.heading = heading
    for cell in body:
        board.occupied[cell] = index
    if apples is not None:
        board.apples = list(apples)


def test_made_through_registry():
    env = REG.make("snake")
    assert isinstance(env.unwrapped, SnakeEnv)
    obs, info = env.reset(seed=3)
    assert "Legal moves" in obs and "H" in obs
    assert env.unwrapped.size == 10
    assert (
        isinstance(REG.make("snake-8x8").unwrapped, SnakeEnv)
        and REG.make("snake-8x8").unwrapped.size == 8
    )
    assert REG.make("snake[size=6]").unwrapped.size == 6
    multi = REG.make("snake-multi")
    assert isinstance(multi, SnakeMultiEnv) and multi.possible_agents == ["snake_0", "snake_1"]
    assert REG.make("snake-multi-4").possible_agents == [f"snake_{i}" for i in range(4)]


@pytest.mark.parametrize(
    "reply,expected",
    [
        ("up", "up"),
        ("DOWN", "down"),
        ("Move: left", "left"),
        ("<move>right</move>", "right"),
        ("I considered up, but I'll go left.", "left"),
        ("U", "up"),
        ("r", "right"),
        ("[w]", "up"),
        ("a", "left"),
        ("s", "down"),
        ("d", "down"),
        ("north", "up"),
        ("East!", "right"),
        ("→", "right"),
        ("Thinking...\nMove: down\nbecause it is safe", "down"),
    ],
)
def test_lenient_parser_accepts(reply, expected):
    assert parse_direction(reply, lenient=True) == expected


@pytest.mark.parametrize(
    "reply", ["", "   ", "forward", "I think a good plan is needed", "upward", "x" * 100_000, "🐍"]
)
def test_parser_rejects(reply):
    for lenient in (False, True):
        with pytest.raises(InvalidAction):
            parse_direction(reply, lenient=lenient)


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_parser_never_crashes(text):
    try:
        assert parse_direction(text, lenient=True) in ("up", "down", "left", "right")
    except InvalidAction:
        pass


def test_apple_grows_and_scores():
    env = REG.make("snake")
    env.reset(seed=0)
    game = env.unwrapped
    place(game.board, 0, [(5, 5), (5, 4), (5, 3)], "right", apples=[(5, 6)])
    obs, reward, term, trunc, info = env.step("right")
    assert reward == 1.0 and not term and not trunc
    assert list(game.snake.body) == [(5, 6), (5, 5), (5, 4), (5, 3)]
    assert game.snake.score == 1 and len(game.board.apples) == 1
    assert game.board.apples[0] not in game.board.occupied
    obs, reward, *_ = env.step("down")
    assert reward == 0.0 and len(game.snake.body) == 4


def test_wall_death_is_failure_with_penalty():
    env = REG.make("snake", death_penalty=2.0)
    env.reset(seed=0)
    game = env.unwrapped
    place(game.board, 0, [(0, 5), (1, 5), (2, 5)], "up", apples=[(9, 9)])
    obs, reward, term, trunc, info = env.step("up")
    assert term and not trunc and reward == -2.0
    assert info["outcome"] == {"player": "failure"}
    assert "hit the wall" in obs


def test_self_collision_and_tail_chasing():
    env = REG.make("snake", length=1)
    env.reset(seed=0)
    game = env.unwrapped
    # A loop of 4: moving into the cell the tail leaves is safe.
    place(game.board, 0, [(5, 5), (6, 5), (6, 6), (5, 6)], "up", apples=[(0, 0)])
    _, reward, term, *_ = env.step("right")
    assert not term and game.snake.head == (5, 6)
    # A longer body: turning into its middle kills.
    place(game.board, 0, [(5, 5), (5, 4), (6, 4), (6, 5), (6, 6)], "right", apples=[(0, 0)])
    _, reward, term, _, info = env.step("down")
    assert term and reward == -1.0 and "itself" in info["ended"]


def test_reversing_is_an_invalid_move():
    env = REG.make("snake")
    env.reset(seed=0)
    game = env.unwrapped
    place(game.board, 0, [(5, 5), (5, 4), (5, 3)], "right", apples=[(0, 0)])
    obs, reward, term, trunc, info = env.step("left")
    assert info["invalid_move"] and "turns back" in info["error"]
    assert game.snake.head == (5, 5) and not term
    assert "left" not in game.legal_actions("player")


def test_goal_success_and_turn_cap():
    env = REG.make("snake", goal=1)
    env.reset(seed=0)
    place(env.unwrapped.board, 0, [(5, 5), (5, 4), (5, 3)], "right", apples=[(5, 6)])
    *_, term, trunc, info = env.step("right")
    assert term and info["outcome"] == {"player": "success"}
    env = REG.make("snake", max_turns=2, goal=None)
    env.reset(seed=0)
    place(env.unwrapped.board, 0, [(5, 5), (5, 4), (5, 3)], "right", apples=[(0, 0)])
    env.step("up")
    *_, term, trunc, info = env.step("up")
    assert trunc and not term and info["outcome"] == {"player": "aborted"}


def test_seeding_determines_the_episode():
    def play(seed):
        env = REG.make("snake")
        obs = [env.reset(seed=seed)[0]]
        for a in ["up", "left", "up", "right", "x", "down"]:
            o, r, t, tr, _ = env.step(a)
            obs.append((o, r))
            if t or tr:
                break
        return obs

    assert play(5) == play(5)
    assert play(5)[0] != play(6)[0]


@pytest.mark.parametrize("env_id", ["snake", "snake-multi"])
def test_bad_replies_are_invalid_moves(env_id):
    env = REG.make_multiagent(env_id)
    for reply in BAD_REPLIES:
        env.reset(seed=1)
        seat = env.agent_selection
        env.step(reply)
        assert env.infos[seat]["invalid_move"] is True


def test_invalid_arguments_are_clear():
    with pytest.raises(ValueError, match="size"):
        SnakeEnv(size=2)
    with pytest.raises(ValueError, match="snakes"):
        SnakeMultiEnv(snakes=1)
    with pytest.raises(ValueError, match="too small"):
        SnakeMultiEnv(snakes=8, size=6)


# ---- several snakes ----------------------------------------------------------------------


def test_multi_moves_are_simultaneous():
    env = REG.make("snake-multi")
    env.reset(seed=2)
    game = env
    place(game.board, 0, [(2, 2), (2, 1), (2, 0)], "right", apples=[(9, 9), (9, 8), (9, 7)])
    place(game.board, 1, [(7, 7), (7, 8), (7, 9)], "left")
    assert env.agent_selection == "snake_0"
    env.step("down")
    assert game.board.round == 0 and game.board.snakes[0].head == (2, 2)
    assert env.agent_selection == "snake_1"
    env.step("up")
    assert game.board.round == 1
    assert game.board.snakes[0].head == (3, 2) and game.board.snakes[1].head == (6, 7)


def test_multi_head_on_collision_is_a_draw():
    env = REG.make("snake-multi")
    env.reset(seed=2)
    place(env.board, 0, [(5, 3), (5, 2), (5, 1)], "right", apples=[(0, 0), (0, 1), (0, 2)])
    place(env.board, 1, [(5, 5), (5, 6), (5, 7)], "left")
    env.step("right")
    env.step("left")
    assert env.done
    assert env.infos["snake_0"]["outcome"] == {"snake_0": "draw", "snake_1": "draw"}
    assert env.rewards == {"snake_0": -1.0, "snake_1": -1.0}


def test_multi_last_snake_standing_wins():
    env = REG.make("snake-multi", win_bonus=5.0)
    env.reset(seed=2)
    place(env.board, 0, [(0, 3), (1, 3), (2, 3)], "up", apples=[(9, 0), (9, 1), (9, 2)])
    place(env.board, 1, [(5, 5), (5, 6), (5, 7)], "left")
    env.step("up")  # into the wall
    env.step("left")
    assert env.done
    assert env.infos["snake_1"]["outcome"] == {"snake_0": "loss", "snake_1": "win"}
    assert env.rewards == {"snake_0": -1.0, "snake_1": 5.0}


def test_multi_body_collision_and_round_cap():
    env = REG.make("snake-multi", max_turns=1)
    env.reset(seed=2)
    place(env.board, 0, [(4, 4), (4, 3), (4, 2)], "right", apples=[(4, 5), (0, 0), (0, 1)])
    place(env.board, 1, [(7, 7), (7, 8), (7, 9)], "left")
    env.step("right")  # eats
    env.step("left")
    assert env.done  # round cap: both alive, snake_0 has more apples
    assert env.infos["snake_0"]["outcome"] == {"snake_0": "win", "snake_1": "loss"}


def _check_invariants(board, n_apples):
    live_cells = []
    for i, s in enumerate(board.snakes):
        if s.alive:
            assert len(s.body) == 3 + s.score
            for r, c in s.body:
                assert 0 <= r < board.size and 0 <= c < board.size
                assert board.occupied[(r, c)] == i
            live_cells.extend(s.body)
    assert len(live_cells) == len(set(live_cells)) == len(board.occupied)
    assert not set(board.apples) & set(board.occupied)
    assert len(set(board.apples)) == len(board.apples)
    free = board.size * board.size - len(board.occupied)
    assert len(board.apples) == min(n_apples, free)


@given(
    seed=st.integers(0, 10_000),
    snakes=st.integers(2, 3),
    actions=st.lists(st.sampled_from(["up", "down", "left", "right", "??", "w", "a"]), max_size=80),
)
@settings(max_examples=60, deadline=None)
def test_multi_random_play_keeps_the_board_consistent(seed, snakes, actions):
    env = SnakeMultiEnv(snakes=snakes, size=8, apples=2, max_turns=30)
    env.reset(seed=seed)
    total = {s: 0.0 for s in env.seats}
    forfeit = False
    for a in actions:
        if env.done:
            break
        seat = env.agent_selection
        assert env.board.snakes[env.seats.index(seat)].alive
        env.step(a)
        forfeit |= bool(env.infos[seat].get("penalized"))
        for s, r in env.rewards.items():
            total[s] += r
        _check_invariants(env.board, 2)
    if not forfeit:  # rewards are exactly apples eaten minus the death penalty
        for i, s in enumerate(env.seats):
            snake = env.board.snakes[i]
            assert total[s] == snake.score - (0.0 if snake.alive else 1.0)


@given(
    seed=st.integers(0, 10_000),
    actions=st.lists(st.sampled_from(["up", "down", "left", "right"]), max_size=60),
)
@settings(max_examples=60, deadline=None)
def test_single_random_play_keeps_the_board_consistent(seed, actions):
    env = REG.make("snake", size=6, apples=2, goal=None)
    env.reset(seed=seed)
    for a in actions:
        _, reward, term, trunc, info = env.step(a)
        _check_invariants(env.unwrapped.board, 2)
        if term or trunc:
            assert info["outcome"]["player"] in ("failure", "success", "aborted")
            break


def test_without_retries_an_invalid_reply_ends_the_episode_with_the_penalty():
    from gymnpt import make

    env = make("snake", size=5, invalid_retries=0)
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step("not a move")
    assert terminated and reward == -1.0 and info["invalid_move"]
    env = make("snake", size=5)
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step("not a move")
    assert not terminated and reward == 0.0 and info["retries_left"] == 0
