"""The ``dialogue`` plugin: a game master and two-player games in the style of clembench.

==============================  ==========================  ===================================
id                              seats                       game
==============================  ==========================  ===================================
``dialogue/taboo``              describer, guesser          describe a word without taboo words
``dialogue/referencegame``      describer, guesser          pick the described grid of three
``dialogue/wordle_withclue``    guesser                     Wordle with a one-word clue
``dialogue/wordle_withcritic``  guesser, critic             Wordle with a clue and a critic
``dialogue/imagegame``          instructor, drawer          redraw a 5x5 grid from instructions
``dialogue/codenames``          cluegiver, guesser          find your team's words on a board
==============================  ==========================  ===================================

The master (parse, validate, advance; format violations abort) and the scores are in
:mod:`.master`; docs/dialogue-games.md explains them. Every game has ``bot:reference`` and
``bot:random`` for every seat. Word data: ``words.txt`` and ``wordle_words.txt`` (wordfreq,
CC BY-SA 4.0, and WordNet 3.0; see ``NOTICE.txt``).
"""

from __future__ import annotations

from typing import Any

from gymnpt import hookimpl

__all__ = ["GAMES", "env_ids", "gymnpt_register_envs", "gymnpt_register_agents"]

_P = "gymnpt.envs.dialogue."

#: Game name -> (entry point, seats, description).
GAMES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "taboo": (
        "taboo:TabooGame",
        ("describer", "guesser"),
        "Taboo: describe a word without its forbidden words; 3 guesses",
    ),
    "referencegame": (
        "referencegame:ReferenceGame",
        ("describer", "guesser"),
        "Reference game: describe one of three 5x5 grids so the partner picks it",
    ),
    "wordle_withclue": (
        "wordle:WordleWithClue",
        ("guesser",),
        "Wordle with a one-word clue; 6 guesses",
    ),
    "wordle_withcritic": (
        "wordle:WordleWithCritic",
        ("guesser", "critic"),
        "Wordle with a clue; a critic agrees or objects before each guess",
    ),
    "imagegame": (
        "imagegame:ImageGame",
        ("instructor", "drawer"),
        "Image game: instruct the partner to redraw a 5x5 letter grid",
    ),
    "codenames": (
        "codenames:CodenamesGame",
        ("cluegiver", "guesser"),
        "Codenames-like: one-word clues to find the team's 4 words among 12",
    ),
}

_REPLY_LIMITS = {
    "taboo": 12,
    "referencegame": 4,
    "wordle_withclue": 12,
    "wordle_withcritic": 36,
    "imagegame": 24,
    "codenames": 16,
}


def env_ids() -> tuple[str, ...]:
    """The registered env ids of the dialogue games."""
    return tuple(f"dialogue/{g}" for g in GAMES)


@hookimpl
def gymnpt_register_envs(registry: Any) -> None:
    """Register the dialogue games."""
    for game, (entry, seats, desc) in GAMES.items():
        registry.register_env(
            id=f"dialogue/{game}",
            entry_point=_P + entry,
            family="dialogue",
            seats=seats,
            single_agent=False,
            description=desc,
            bots=("bot:reference", "bot:random"),
            max_turns=_REPLY_LIMITS[game],
            # Clues, guesses and grid instructions: a sentence or a few lines.
            max_new_tokens=128,
            metrics=_P + "master:clemscore",
            cooperative=True,
            tags=("dialogue", "clembench"),
        )


@hookimpl
def gymnpt_register_agents(registry: Any) -> None:
    """Register ``bot:reference`` and ``bot:random`` for the dialogue family."""
    registry.register_agent(
        name="bot:reference",
        factory=_P + "bots:make_reference",
        envs=("family:dialogue",),
        description="reference player of every dialogue-game role (word tables, grid parsing)",
    )
    registry.register_agent(
        name="bot:random",
        factory=_P + "bots:make_random",
        envs=("family:dialogue",),
        description="well-formed random replies for every dialogue-game role",
    )
