"""Every TextArena game as a gymnpt env: ``textarena/<Id>`` (family ``textarena``).

Registration reads a static catalog of TextArena's ids (see :mod:`.catalog`); it does not
import TextArena or any game module and never touches the network. Ids that cannot run here
are registered with ``unavailable`` set to the reason. The games themselves are loaded when
an env is made (see :mod:`.adapter`).
"""

from __future__ import annotations

from typing import Any

from gymnpt.core.hookspecs import hookimpl

FAMILY = "textarena"
PREFIX = "textarena/"


def gymnpt_id(ta_id: str) -> str:
    """gymnpt's id for a TextArena id: ``"TicTacToe-v0"`` -> ``"textarena/TicTacToe-v0"``."""
    return PREFIX + ta_id


def _describe(game: Any) -> str:
    lo, hi, default = game.players
    players = (
        f"{lo} player" + ("s" if lo > 1 else "")
        if lo == hi
        else f"{lo}-{hi} players (default {default})"
    )
    variant = game.ta_id.split("-v", 1)[1] if "-v" in game.ta_id else ""
    extra = ""
    if "-raw" in variant:
        extra = ", no TextArena wrappers"
    elif "-train" in variant:
        extra = ", TextArena training wrappers"
    return f"TextArena {game.folder}: {players}{extra}."


@hookimpl
def gymnpt_register_envs(registry: Any) -> None:
    """Register one env per TextArena id."""
    from gymnpt.plugins.textarena.catalog import catalog

    for game in catalog():
        lo, hi, default = game.players
        single = hi == 1
        seats = ("player",) if single else tuple(f"player_{i}" for i in range(default))
        tags = [
            "textarena",
            "single-player" if single else ("two-player" if default == 2 else "multi-player"),
        ]
        if lo != hi:
            tags.append(f"players:{lo}-{hi}")
        registry.register_env(
            id=gymnpt_id(game.ta_id),
            entry_point="gymnpt.plugins.textarena.adapter:make_env",
            family=FAMILY,
            seats=seats,
            kwargs={"ta_id": game.ta_id},
            description=_describe(game),
            bots=("bot:textarena-random",),
            single_agent=single,
            unavailable=game.unavailable,
            tags=tuple(tags),
            # Moves are short, but some games (debate, negotiation) want a paragraph.
            max_new_tokens=128,
        )


@hookimpl
def gymnpt_register_agents(registry: Any) -> None:
    """Register ``bot:textarena-random`` (also as ``bot:random``) for every TextArena env.

    TextArena games have no list of legal moves, so ``bot:random`` on a TextArena env means
    this bot wherever the registry prefers a family-specific agent over a generic one.
    """
    for name in ("bot:textarena-random", "bot:random"):
        registry.register_agent(
            name=name,
            factory="gymnpt.plugins.textarena.bots:make_bot",
            description="Random bracketed move taken from the latest TextArena observation.",
            envs=(f"family:{FAMILY}",),
        )
