"""``bot:nash`` for Kuhn poker: a Nash-equilibrium strategy, parameterized by ``alpha``.

Kuhn (1950) found a one-parameter family of equilibria. With ``alpha`` in [0, 1/3]:

First player (p0):

* Jack: bet with probability ``alpha``, else check; fold if p1 then bets.
* Queen: check; if p1 then bets, call with probability ``alpha + 1/3``.
* King: bet with probability ``3 * alpha``, else check; call if p1 then bets.

Second player (p1):

* facing a bet: King calls, Queen calls with probability 1/3, Jack folds;
* after a check: King bets, Queen checks, Jack bets (bluffs) with probability 1/3.

Every member of the family earns p0 an expected -1/18 chip per hand, and no strategy does
better against it in either seat.
"""

from __future__ import annotations

from typing import Any

from gymnpt.envs.games.kuhn_poker import KuhnPokerEnv
from gymnpt.rollout.policy import Request

from .base import GameBot, game_of

__all__ = ["NashKuhnBot", "make_nash", "nash_policy"]


def nash_policy(card: str, history: tuple[str, ...], alpha: float = 1 / 3) -> dict[str, float]:
    """The equilibrium's action probabilities for ``card`` after the betting ``history``."""
    h = tuple(history)
    if h == ():  # p0 opens
        bet = {"J": alpha, "Q": 0.0, "K": 3 * alpha}[card]
        return {"check": 1.0 - bet, "bet": bet}
    if h == ("check", "bet"):  # p0 faces a bet after checking
        call = {"J": 0.0, "Q": alpha + 1 / 3, "K": 1.0}[card]
        return {"call": call, "fold": 1.0 - call}
    if h == ("bet",):  # p1 faces a bet
        call = {"J": 0.0, "Q": 1 / 3, "K": 1.0}[card]
        return {"call": call, "fold": 1.0 - call}
    if h == ("check",):  # p1 after a check
        bet = {"J": 1 / 3, "Q": 0.0, "K": 1.0}[card]
        return {"check": 1.0 - bet, "bet": bet}
    raise ValueError(f"no decision after betting history {h!r}")


class NashKuhnBot(GameBot):
    """Plays the Kuhn poker equilibrium with parameter ``alpha`` (default 1/3).

    Args:
        alpha: p0's Jack-bluffing frequency, in [0, 1/3].
    """

    name = "bot:nash"

    def __init__(self, env_id: str | None = None, alpha: float = 1 / 3, **kwargs: Any) -> None:
        kwargs.pop("level", None)
        super().__init__(env_id=env_id, **kwargs)
        alpha = float(alpha)
        if not 0.0 <= alpha <= 1 / 3 + 1e-12:
            raise ValueError(f"alpha must be in [0, 1/3], got {alpha}")
        self.alpha = min(alpha, 1 / 3)

    def probabilities(self, game: KuhnPokerEnv, seat: str) -> dict[str, float]:
        """This bot's action probabilities for ``seat`` in the live game."""
        return nash_policy(game.cards[seat], tuple(game.history), self.alpha)

    def act(self, request: Request) -> str:
        game = game_of(request, KuhnPokerEnv)
        probs = self.probabilities(game, request.seat)
        x = self.rng_for(request, game).random()
        for action, p in probs.items():
            if x < p:
                return action
            x -= p
        return max(probs, key=probs.__getitem__)


def make_nash(env_id: str | None = None, **kwargs: Any) -> NashKuhnBot:
    """Factory of ``bot:nash``."""
    return NashKuhnBot(env_id=env_id, **kwargs)
