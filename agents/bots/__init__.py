"""Scripted bots, one module per game.

=================  ==========================================  =================================
name               envs                                        strategy
=================  ==========================================  =================================
``bot:random``     any env with ``legal_actions``              uniform random legal move
``bot:random``     guess_the_number*, wordle                   random guess (consistent range /
                                                               random valid word)
``bot:greedy``     snake*, snake-multi*                        BFS to the nearest apple, safely
``bot:minimax``    tictactoe, connect_four                     alpha-beta; ``level`` = depth
``bot:binary``     guess_the_number*                           bisection
``bot:solver``     wordle                                      consistent-candidate solver
``bot:nash``       kuhn_poker*                                 Kuhn's equilibrium (``alpha``)
=================  ==========================================  =================================

Every bot takes a ``seed`` keyword; ``bot:minimax-3`` passes ``level=3``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["register"]

_B = "gymnpt.agents.bots."


def register(registry: Any) -> None:
    """Register every scripted bot with ``registry``."""
    from gymnpt.envs.games import GAME_VARIANTS as V

    add = registry.register_agent
    # The generic random bot first: game-specific "bot:random" entries registered later win.
    add(
        name="bot:random",
        factory=_B + "generic:make_random",
        envs=(),
        description="uniformly random legal move (any env that lists legal_actions)",
    )
    add(
        name="bot:random",
        factory=_B + "guess_the_number:make_random",
        envs=V["guess_the_number"],
        description="random guess within the range still consistent with the hints",
    )
    add(
        name="bot:random",
        factory=_B + "wordle:make_random",
        envs=V["wordle"],
        description="random valid word, ignoring the feedback",
    )
    add(
        name="bot:greedy",
        factory=_B + "snake:make_greedy",
        envs=V["snake"] + V["snake-multi"],
        description="greedy-safe snake: BFS to the nearest apple, never into a dead end",
    )
    add(
        name="bot:minimax",
        factory=_B + "tictactoe:make_minimax",
        envs=V["tictactoe"],
        description="alpha-beta tic-tac-toe; level = depth (default: perfect play)",
    )
    add(
        name="bot:minimax",
        factory=_B + "connect_four:make_minimax",
        envs=V["connect_four"],
        description="alpha-beta Connect Four with a window heuristic; level = depth (default 4)",
    )
    add(
        name="bot:binary",
        factory=_B + "guess_the_number:make_binary",
        envs=V["guess_the_number"],
        description="binary search: guess the middle of the consistent range",
    )
    add(
        name="bot:solver",
        factory=_B + "wordle:make_solver",
        envs=V["wordle"],
        description="Wordle solver: guess a word consistent with all feedback",
    )
    add(
        name="bot:nash",
        factory=_B + "kuhn_poker:make_nash",
        envs=V["kuhn_poker"],
        description="Kuhn poker Nash equilibrium (alpha in [0, 1/3], default 1/3)",
    )
