"""The ``games`` plugin: six first-party text games and their variants.

=====================  ============================  ======================================
id                     seats                         game
=====================  ============================  ======================================
``snake``              player                        Snake, 10x10, one apple, goal 10
``snake-8x8``          player                        Snake on an 8x8 board
``snake-multi``        snake_0, snake_1              two snakes moving simultaneously
``snake-multi-4``      snake_0 .. snake_3            four snakes on a 14x14 board
``tictactoe``          x, o                          tic-tac-toe
``connect_four``       red, yellow                   Connect Four, 7x6
``guess_the_number``   player                        1-100 in 7 guesses
``guess_the_number-1000`` player                     1-1000 in 10 guesses
``wordle``             player                        Wordle, 6 guesses
``kuhn_poker``         p0, p1                        one hand of Kuhn poker
``kuhn_poker-10``      p0, p1                        a 10-hand Kuhn poker match
=====================  ============================  ======================================

Rules, action formats and rewards are in each module's docstring and in docs/games.md. Every
game parses replies strictly (``Move: b2`` on a line of its own, or the move alone); the env
option ``lenient=True`` (``tictactoe[lenient=True]``) reads moves out of prose instead. Each
spec's ``metrics`` counts the replies outside the strict format.
"""

from __future__ import annotations

from typing import Any

from gymnpt.core.hookspecs import hookimpl

__all__ = ["GAME_VARIANTS", "gymnpt_register_envs"]

_P = "gymnpt.envs.games."

#: Registered env ids per game; the bots of each game register for all of its ids.
GAME_VARIANTS: dict[str, tuple[str, ...]] = {
    "snake": ("snake", "snake-8x8"),
    "snake-multi": ("snake-multi", "snake-multi-4"),
    "tictactoe": ("tictactoe",),
    "connect_four": ("connect_four",),
    "guess_the_number": ("guess_the_number", "guess_the_number-1000"),
    "wordle": ("wordle",),
    "kuhn_poker": ("kuhn_poker", "kuhn_poker-10"),
}


@hookimpl
def gymnpt_register_envs(registry: Any) -> None:
    """Register the first-party games."""
    reg = registry.register_env
    snake_bots = ("bot:greedy", "bot:random")
    reg(
        id="snake",
        entry_point=_P + "snake:SnakeEnv",
        metrics=_P + "snake:episode_metrics",
        family="games",
        max_new_tokens=16,
        seats=("player",),
        kwargs={"size": 10, "apples": 1, "goal": 10, "max_turns": 200},
        description="Snake on a 10x10 board: eat 10 apples without hitting a wall or yourself",
        bots=snake_bots,
        # The default CPU training run: a 5x5 board with two apples, 8 moves and the head's
        # surroundings in the observation keep episodes short, rewards frequent and the board
        # readable by the tiny model.
        train_preset={"size": 5, "apples": 2, "max_turns": 8, "hints": True, "invalid_retries": 0},
    )
    reg(
        id="snake-8x8",
        entry_point=_P + "snake:SnakeEnv",
        metrics=_P + "snake:episode_metrics",
        family="games",
        max_new_tokens=16,
        seats=("player",),
        kwargs={"size": 8, "apples": 1, "goal": 10, "max_turns": 150},
        description="Snake on an 8x8 board",
        bots=snake_bots,
    )
    reg(
        id="snake-multi",
        entry_point=_P + "snake:SnakeMultiEnv",
        metrics=_P + "snake:episode_metrics",
        family="games",
        max_new_tokens=16,
        seats=("snake_0", "snake_1"),
        kwargs={"snakes": 2, "size": 10, "apples": 3, "max_turns": 100},
        description="Two snakes moving simultaneously on a 10x10 board; last snake standing wins",
        bots=snake_bots,
    )
    reg(
        id="snake-multi-4",
        entry_point=_P + "snake:SnakeMultiEnv",
        metrics=_P + "snake:episode_metrics",
        family="games",
        max_new_tokens=16,
        seats=tuple(f"snake_{i}" for i in range(4)),
        kwargs={"snakes": 4, "size": 14, "apples": 5, "max_turns": 150},
        description="Four snakes moving simultaneously on a 14x14 board",
        bots=snake_bots,
    )
    reg(
        id="tictactoe",
        entry_point=_P + "tictactoe:TicTacToeEnv",
        metrics=_P + "tictactoe:episode_metrics",
        family="games",
        max_new_tokens=16,
        seats=("x", "o"),
        description="Tic-tac-toe; moves like b2",
        bots=("bot:minimax", "bot:random"),
    )
    reg(
        id="connect_four",
        entry_point=_P + "connect_four:ConnectFourEnv",
        metrics=_P + "connect_four:episode_metrics",
        family="games",
        max_new_tokens=16,
        seats=("red", "yellow"),
        description="Connect Four on a 7x6 grid; moves are columns 1-7",
        bots=("bot:minimax", "bot:random"),
    )
    reg(
        id="guess_the_number",
        entry_point=_P + "guess_the_number:GuessTheNumberEnv",
        metrics=_P + "guess_the_number:episode_metrics",
        family="games",
        max_new_tokens=16,
        seats=("player",),
        kwargs={"low": 1, "high": 100, "max_guesses": 7},
        description="Find a number from 1 to 100 in 7 guesses with higher/lower hints",
        bots=("bot:binary", "bot:random"),
    )
    reg(
        id="guess_the_number-1000",
        entry_point=_P + "guess_the_number:GuessTheNumberEnv",
        metrics=_P + "guess_the_number:episode_metrics",
        family="games",
        max_new_tokens=16,
        seats=("player",),
        kwargs={"low": 1, "high": 1000, "max_guesses": 10},
        description="Find a number from 1 to 1000 in 10 guesses",
        bots=("bot:binary", "bot:random"),
    )
    reg(
        id="wordle",
        entry_point=_P + "wordle:WordleEnv",
        metrics=_P + "wordle:episode_metrics",
        family="games",
        max_new_tokens=16,
        seats=("player",),
        kwargs={"max_guesses": 6},
        description="Wordle: find a five-letter word in six guesses",
        bots=("bot:solver", "bot:random"),
    )
    reg(
        id="kuhn_poker",
        entry_point=_P + "kuhn_poker:KuhnPokerEnv",
        metrics=_P + "kuhn_poker:episode_metrics",
        family="games",
        max_new_tokens=16,
        seats=("p0", "p1"),
        kwargs={"hands": 1},
        evaluators={"exploitability": _P + "kuhn_exploitability:evaluate"},
        description="One hand of Kuhn poker (J/Q/K, private cards, check/bet/call/fold)",
        bots=("bot:nash", "bot:random"),
    )
    reg(
        id="kuhn_poker-10",
        entry_point=_P + "kuhn_poker:KuhnPokerEnv",
        metrics=_P + "kuhn_poker:episode_metrics",
        family="games",
        max_new_tokens=16,
        seats=("p0", "p1"),
        kwargs={"hands": 10},
        evaluators={"exploitability": _P + "kuhn_exploitability:evaluate"},
        description="A 10-hand Kuhn poker match",
        bots=("bot:nash", "bot:random"),
    )
