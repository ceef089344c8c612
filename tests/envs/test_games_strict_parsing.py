"""Strict reply parsing of every first-party game, against adversarial prose.

A reply is a move only when it states one in the format the instructions give: a line of its
own ``Move: b2`` (``Guess:``, ``Action:``) or the move alone. Numbers and cells mentioned in
reasoning, echoes of the prompt and lists of moves are invalid moves; ``lenient=True`` reads
them as before, and the games' ``metrics`` count the replies outside the format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gymnpt import InvalidAction, Trajectory, default_registry
from gymnpt.core.registry import load_entry_point
from gymnpt.envs.games import GAME_VARIANTS
from gymnpt.envs.games.connect_four import parse_column
from gymnpt.envs.games.guess_the_number import parse_guess
from gymnpt.envs.games.kuhn_poker import parse_poker_action
from gymnpt.envs.games.snake import parse_direction
from gymnpt.envs.games.tictactoe import parse_cell
from gymnpt.envs.games.wordle import guess_words, parse_word

REG = default_registry()
ALL_IDS = [i for ids in GAME_VARIANTS.values() for i in ids]
KUHN_ALL = ["check", "bet", "call", "fold"]


@dataclass
class Game:
    """One game's parser, label and a few moves (as written, and as parsed)."""

    parse: Callable[..., Any]
    label: str
    moves: dict[str, Any]


GAMES = {
    "tictactoe": Game(parse_cell, "Move", {"b2": 4, "a1": 0, "c3": 8, "A3": 6}),
    "connect_four": Game(parse_column, "Move", {"4": 3, "1": 0, "7": 6}),
    "guess_the_number": Game(parse_guess, "Guess", {"50": 50, "7": 7, "100": 100}),
    "wordle": Game(
        lambda t, lenient=False: parse_word(t, guess_words(), lenient),
        "Guess",
        {"CRANE": "crane", "slate": "slate", "Mouse": "mouse"},
    ),
    "kuhn_poker": Game(
        lambda t, lenient=False: parse_poker_action(t, KUHN_ALL, lenient),
        "Action",
        {"bet": "bet", "CHECK": "check", "fold": "fold"},
    ),
    "snake": Game(parse_direction, "Move", {"up": "up", "Left": "left", "DOWN": "down"}),
}


def _moves(name: str) -> list[tuple[str, Any]]:
    return list(GAMES[name].moves.items())


# ---- the cases of the bug report -----------------------------------------------------------


def test_reported_replies_are_invalid_strictly_and_read_leniently():
    with pytest.raises(InvalidAction, match="Guess:"):
        parse_word("Guess the secret five-letter word.", guess_words())
    assert parse_word("Guess the secret five-letter word.", guess_words(), lenient=True) == "guess"
    with pytest.raises(InvalidAction):
        parse_cell("7 is an identity")
    assert parse_cell("7 is an identity", lenient=True) == 6
    with pytest.raises(InvalidAction):
        parse_guess("My guess is 50 because it is between 1 and 100")
    assert parse_guess("My guess is 50 because it is between 1 and 100", lenient=True) == 100
    with pytest.raises(InvalidAction):
        parse_cell("a1, b2, c3")


# ---- accepted forms --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GAMES))
def test_stated_forms_are_accepted(name):
    game = GAMES[name]
    for written, parsed in _moves(name):
        for reply in (
            written,
            f"  {written}.\n",
            f"**{written}**",
            f"{game.label}: {written}",
            f"{game.label.upper()}: `{written}`",
            f"**{game.label}:** {written}.",
            f"Let me think about it.\nThe board is open.\n{game.label}: {written}",
            f"{game.label}: {written}\nThat keeps my options open.",
            f"{game.label}: {written}\n{game.label}: {written}",
            f"> {game.label}: [{written}]",
            f"Thinking.\r\n{game.label}: {written}\r\n",
        ):
            assert game.parse(reply) == parsed, reply


# ---- adversarial prose -----------------------------------------------------------------------

ADVERSARIAL = [
    "{a} looks weak, so I play {b}",
    "I will go with {a}.",
    "My move is {a}",
    "move {a}",
    "Options: {a}, {b}",
    "{label}: {a}, {b}",
    "{label}: {a} or {b}",
    "{label}: {a} because it is better than {b}",
    "{label}: {a}\nOn second thought:\n{label}: {b}",
    "- {a}\n- {b}",
    "{a} {b}",
    "I considered {label}: {a} but prefer {b}",
    "for example '{label}: {a}'",
    "<move>{a}</move>",
    "{label}:",
    "{label}: <{placeholder}>",
]


@pytest.mark.parametrize("name", sorted(GAMES))
@pytest.mark.parametrize("template", ADVERSARIAL)
def test_moves_in_prose_lists_and_conflicts_are_invalid(name, template):
    game = GAMES[name]
    (a, _), (b, _) = _moves(name)[:2]
    reply = template.format(a=a, b=b, label=game.label, placeholder="move")
    with pytest.raises(InvalidAction):
        game.parse(reply)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_echoes_of_the_prompt_are_invalid(env_id):
    env = REG.make_multiagent(env_id)
    env.reset(seed=0)
    seat = env.agent_selection
    prompt = env.seat_instructions(seat)
    observation = env.observe(seat)
    for echo in (prompt, observation, f"{prompt}\n\n{observation}", prompt.splitlines()[-1]):
        probe = REG.make_multiagent(env_id)
        probe.reset(seed=0)
        probe.step(echo)
        assert probe.infos[seat]["invalid_move"], (env_id, echo)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_every_prompt_states_the_strict_format(env_id):
    env = REG.make_multiagent(env_id)
    env.reset(seed=0)
    for seat in env.possible_agents:
        prompt = env.seat_instructions(seat)
        assert "on a line of its own" in prompt and "invalid move" in prompt


words = st.sampled_from(
    "I think the best is because maybe then not here cell column number word and or so".split()
)


@pytest.mark.parametrize("name", sorted(GAMES))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_prose_mentioning_moves_is_never_a_move(name, data):
    game = GAMES[name]
    pieces = data.draw(
        st.lists(st.one_of(words, st.sampled_from(list(game.moves))), min_size=2, max_size=12)
    )
    reply = data.draw(st.sampled_from([" ", ", ", "\n"])).join(pieces)
    with pytest.raises(InvalidAction):
        game.parse(reply)


@pytest.mark.parametrize("name", sorted(GAMES))
@settings(max_examples=60, deadline=None)
@given(prose=st.text(max_size=200), data=st.data())
def test_a_label_line_after_any_prose_is_read(name, prose, data):
    game = GAMES[name]
    assume(f"{game.label.lower()}" not in prose.lower())
    written, parsed = data.draw(st.sampled_from(_moves(name)))
    assert game.parse(f"{prose}\n{game.label}: {written}") == parsed


@pytest.mark.parametrize("name", sorted(GAMES))
@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=300))
def test_strict_parsers_never_raise_anything_else(name, text):
    try:
        GAMES[name].parse(text)
    except InvalidAction:
        pass


# ---- env option and metrics ------------------------------------------------------------------


@pytest.mark.parametrize(
    "env_id,reply",
    [
        ("tictactoe", "The centre b2 is strongest."),
        ("connect_four", "I drop in column 4"),
        ("guess_the_number", "I guess 50"),
        ("wordle", "my guess is crane"),
        ("kuhn_poker", "I bet"),
        ("snake", "going up"),
        ("snake-multi", "going up"),
    ],
)
def test_lenient_option_reads_prose_strict_env_refuses_it(env_id, reply):
    strict = REG.make_multiagent(env_id)
    strict.reset(seed=0)
    seat = strict.agent_selection
    strict.step(reply)
    assert strict.infos[seat]["invalid_move"]
    assert (
        "Move:" in strict.observe(seat)
        or "Guess:" in strict.observe(seat)
        or ("Action:" in strict.observe(seat))
    )
    lenient = REG.make_multiagent(f"{env_id}[lenient=True]")
    lenient.reset(seed=0)
    lenient.step(reply)
    assert not lenient.infos[seat]["invalid_move"], lenient.infos[seat]


def _traj(env_id: str, replies: list[str]) -> Trajectory:
    messages = [{"role": "system", "content": "rules"}]
    for r in replies:
        messages += [{"role": "user", "content": "your move"}, {"role": "assistant", "content": r}]
    return Trajectory(
        episode_id="e", env_id=env_id, seed=0, group_id="g", role="x", policy_id="p",
        messages=messages,
    )  # fmt: skip


def test_metrics_count_replies_outside_the_format():
    metrics = load_entry_point(REG.env_spec("tictactoe").metrics)
    trajs = [
        _traj("tictactoe", ["Move: b2", "I take a1", "c3"]),
        _traj("tictactoe", ["5", "Move: a1, a2"]),
        _traj("tictactoe", []),
    ]
    out = metrics(trajs)
    assert out == {"replies": 5.0, "format_violations": 3.0, "format_violation_rate": 0.6}
    assert metrics([])["format_violation_rate"] == 0.0


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_every_game_declares_format_metrics(env_id):
    fn = load_entry_point(REG.env_spec(env_id).metrics)
    assert fn([_traj(env_id, ["not a move at all, sorry"])])["format_violations"] == 1.0
