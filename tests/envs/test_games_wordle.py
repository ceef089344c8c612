"""Wordle: feedback rules (duplicate letters), parser, word lists, rewards."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gymnpt import InvalidAction, default_registry
from gymnpt.core.testing import BAD_REPLIES
from gymnpt.envs.games.wordle import WordleEnv, answer_words, guess_words, parse_word, score_guess

REG = default_registry()


def test_word_lists():
    answers, valid = answer_words(), guess_words()
    assert len(answers) >= 300 and len(valid) >= 800
    assert all(len(w) == 5 and w.isalpha() and w.islower() for w in valid)
    assert set(answers) <= valid


@pytest.mark.parametrize(
    "guess,answer,marks",
    [
        ("crane", "crane", "GGGGG"),
        ("speed", "abide", "__Y_Y"),  # one E in the answer: only the first E is marked
        ("eerie", "there", "Y_Y_G"),  # the green E uses one copy; one more E left for a Y
        ("allee", "eagle", "YY_YG"),
        ("lever", "eagle", "YY_Y_"),
        ("abbey", "babes", "YYGG_"),
        ("mamma", "madam", "GGY_Y"),  # the first spare M gets the one yellow
        ("stout", "trust", "YY_YG"),
    ],
)
def test_feedback(guess, answer, marks):
    assert score_guess(guess, answer) == marks


letters = st.text(alphabet="abcde", min_size=5, max_size=5)


@given(guess=letters, answer=letters)
@settings(max_examples=300, deadline=None)
def test_feedback_properties(guess, answer):
    marks = score_guess(guess, answer)
    for i in range(5):
        assert (marks[i] == "G") == (guess[i] == answer[i])
    g, a = Counter(guess), Counter(answer)
    for ch in g:
        marked = sum(1 for i in range(5) if guess[i] == ch and marks[i] != "_")
        assert marked == min(g[ch], a[ch])
    # Yellows go to the leftmost unmatched copies.
    for ch in g:
        ys = [i for i in range(5) if guess[i] == ch and marks[i] != "G"]
        got = [marks[i] == "Y" for i in ys]
        assert got == sorted(got, reverse=True)


@pytest.mark.parametrize(
    "reply,word",
    [
        ("crane", "crane"),
        ("CRANE", "crane"),
        ("I guess CRANE", "crane"),
        ("my guess is crane", "crane"),
        ("Guess: slate", "slate"),
        ("<guess>pilot</guess>", "pilot"),
        ("Maybe house? No: MOUSE.", "mouse"),
        ("which word? think", "think"),
    ],
)
def test_lenient_parser(reply, word):
    assert parse_word(reply, guess_words(), lenient=True) == word


@pytest.mark.parametrize("reply", ["", "xyzzy", "cat", "abcdefg", "ÉCRAN", "x" * 100_000])
def test_parser_rejects(reply):
    for lenient in (False, True):
        with pytest.raises(InvalidAction):
            parse_word(reply, guess_words(), lenient=lenient)


def test_game_flow_and_rewards():
    env = REG.make("wordle")
    assert isinstance(env.unwrapped, WordleEnv)
    obs, _ = env.reset(seed=0, options={"answer": "there"})
    assert "6 guesses" in obs
    obs, r, term, _, info = env.step("eerie")
    assert "EERIE  Y _ Y _ G" in obs and "5 guesses left" in obs and r == 0.0
    obs, r, term, _, info = env.step("qwert")
    assert info["invalid_move"] and env.unwrapped.guesses_left == 5
    obs, r, term, _, info = env.step("THERE")
    assert term and r == 1.0 and info["outcome"] == {"player": "success"}


def test_failure_after_six_guesses():
    env = REG.make("wordle")
    env.reset(seed=0, options={"answer": "there"})
    for w in ["crane", "pilot", "mouse", "audio", "chair", "bread"]:
        *_, term, _, info = env.step(w)
    assert term and info["outcome"] == {"player": "failure"}
    assert "THERE" in env.unwrapped._observe("player")


def test_seeded_answer():
    a, b = REG.make("wordle"), REG.make("wordle")
    a.reset(seed=4)
    b.reset(seed=4)
    assert a.unwrapped.answer == b.unwrapped.answer in answer_words()


def test_bad_replies_never_raise():
    env = REG.make("wordle")
    for reply in BAD_REPLIES:
        env.reset(seed=1)
        env.step(reply)
