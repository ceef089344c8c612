"""``bot:textarena-random``: plausible random moves for any TextArena game.

TextArena does not list legal moves, but most games print them in brackets ("Available
Moves: '[0]', '[4]'", "[check], [bet]"). The bot reads the seat's latest observation and
picks one bracketed token at random from the most recent line that offers any; failing
that, it answers a random small number in brackets.
"""

from __future__ import annotations

import random
import re
from typing import Any

from gymnpt.rollout.policy import BasePolicy, Completion, Request

__all__ = ["TextArenaRandomBot", "candidate_moves"]

_TOKEN_RE = re.compile(r"\[[^\[\]\n]{1,40}\]")
#: Bracketed sender tags that start observation lines; never moves.
_TAG_RE = re.compile(r"^\[(GAME|Player \d+|[A-Z][a-z]+ ?\d*)\]$")


def candidate_moves(observation: str) -> list[str]:
    """Bracketed move tokens offered by the most recent line of ``observation`` that has any."""
    for line in reversed(observation.splitlines()):
        body = re.sub(r"^\s*\[[^\]]*\]\s*", "", line, count=1)  # drop the sender tag
        tokens = [t for t in _TOKEN_RE.findall(body) if not _TAG_RE.match(t)]
        if tokens:
            return list(dict.fromkeys(tokens))
    return []


class TextArenaRandomBot(BasePolicy):
    """Picks a random bracketed move from the latest observation.

    Args:
        seed: Seed of the bot's own random stream.
        env_id: The env it plays (unused; part of the agent factory signature).
    """

    def __init__(self, seed: int = 0, env_id: str | None = None, **_: Any) -> None:
        self.name = "bot:textarena-random"
        self.version = 0
        self.rng = random.Random(seed)

    def act(self, request: Request) -> Completion:
        obs = ""
        for msg in reversed(request.messages):
            if msg.get("role") == "user":
                obs = msg.get("content", "")
                break
        if not obs and request.env is not None:
            try:
                obs = request.env.observe(request.seat)
            except Exception:  # noqa: BLE001 - the observation is only a hint
                obs = ""
        moves = candidate_moves(obs)
        text = self.rng.choice(moves) if moves else f"[{self.rng.randrange(10)}]"
        return Completion(text=text)


def make_bot(env_id: str | None = None, seed: int = 0, **kwargs: Any) -> TextArenaRandomBot:
    """Agent factory for ``bot:textarena-random``."""
    return TextArenaRandomBot(seed=seed, env_id=env_id)
