"""Rating estimators for two-player game results: Elo, Bradley-Terry, OpenSkill, intervals.

:mod:`gymnpt.arena.ratings` documents them and builds the :class:`RatingReport` from them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "GameResult",
    "elo",
    "bradley_terry",
    "bootstrap_ci",
    "posterior_ci",
    "openskill_ratings",
    "expected_score",
    "ELO_SCALE",
]

#: Elo points per natural-log unit of strength: a gap of 400 points means odds of 10:1.
ELO_SCALE = 400.0 / math.log(10.0)


@dataclass(frozen=True)
class GameResult:
    """One finished two-player game.

    Attributes:
        a: the first agent (the one ``score`` is about).
        b: the second agent.
        score: ``a``'s score: 1.0 win, 0.5 draw, 0.0 loss (any value in [0, 1] is accepted).
    """

    a: str
    b: str
    score: float

    def __post_init__(self) -> None:
        if self.a == self.b:
            raise ValueError(f"a game needs two different agents, got {self.a!r} twice")
        if not 0.0 <= float(self.score) <= 1.0:
            raise ValueError(f"score must be in [0, 1], got {self.score!r}")


def expected_score(rating_a: float, rating_b: float) -> float:
    """The Elo expected score of a player rated ``rating_a`` against one rated ``rating_b``."""
    return 1.0 / (1.0 + 10.0 ** ((rating_b - rating_a) / 400.0))


def _players(games: Sequence[GameResult], players: Sequence[str] | None) -> list[str]:
    if players is not None:
        names = list(dict.fromkeys(players))
        missing = {g.a for g in games} | {g.b for g in games}
        missing -= set(names)
        if missing:
            raise ValueError(f"games mention agents not in players: {sorted(missing)}")
        return names
    return list(dict.fromkeys(n for g in games for n in (g.a, g.b)))


def elo(
    games: Sequence[GameResult],
    players: Sequence[str] | None = None,
    *,
    k: float = 16.0,
    initial: float = 1500.0,
) -> dict[str, float]:
    """Sequential Elo ratings after playing ``games`` in order.

    Args:
        games: the results, in the order they are applied.
        players: every agent to rate (default: those in ``games``, in order of appearance).
        k: the K-factor (rating change per unit of surprise).
        initial: everyone's starting rating.

    Returns:
        Agent name -> rating.
    """
    names = _players(games, players)
    r = {n: float(initial) for n in names}
    for g in games:
        e = expected_score(r[g.a], r[g.b])
        delta = k * (float(g.score) - e)
        r[g.a] += delta
        r[g.b] -= delta
    return r


def _pair_matrices(games: Sequence[GameResult], names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(wins, games) matrices: wins[i, j] is i's total score against j."""
    idx = {n: i for i, n in enumerate(names)}
    n = len(names)
    wins = np.zeros((n, n))
    count = np.zeros((n, n))
    for g in games:
        i, j = idx[g.a], idx[g.b]
        s = float(g.score)
        wins[i, j] += s
        wins[j, i] += 1.0 - s
        count[i, j] += 1.0
        count[j, i] += 1.0
    return wins, count


def _bt_strengths(
    wins: np.ndarray, count: np.ndarray, prior: float, iters: int = 100
) -> np.ndarray:
    """Penalized Bradley-Terry MLE by Newton's method (the objective is strictly concave)."""
    n = wins.shape[0]
    r = np.zeros(n)
    total_wins = wins.sum(axis=1)
    for _ in range(iters):
        diff = r[:, None] - r[None, :]
        p = 1.0 / (1.0 + np.exp(-diff))
        grad = total_wins - (count * p).sum(axis=1) - prior * r
        w = count * p * (1.0 - p)
        hess = w - np.diag(w.sum(axis=1)) - prior * np.eye(n)
        step = np.linalg.solve(hess, grad)
        r = r - step
        if float(np.max(np.abs(step))) < 1e-10:
            break
    return r - r.mean()


def bradley_terry(
    games: Sequence[GameResult],
    players: Sequence[str] | None = None,
    *,
    prior_sd: float = 800.0,
    base: float = 1500.0,
) -> dict[str, float]:
    """Bradley-Terry maximum-likelihood ratings on the Elo scale.

    The probability that ``a`` beats ``b`` is ``1 / (1 + 10 ** ((R_b - R_a) / 400))``; a draw
    counts as half a win for each side. A Gaussian prior with standard deviation ``prior_sd``
    Elo points around ``base`` keeps agents that never lost (or never won) finite; its pull is
    negligible once a pairing has a few dozen games.

    Args:
        games: the results (order does not matter).
        players: every agent to rate (default: those in ``games``).
        prior_sd: prior standard deviation in Elo points (larger = weaker prior).
        base: the mean rating.

    Returns:
        Agent name -> rating (the ratings average to ``base``).
    """
    if prior_sd <= 0:
        raise ValueError(f"prior_sd must be positive, got {prior_sd}")
    names = _players(games, players)
    if not names:
        return {}
    wins, count = _pair_matrices(games, names)
    prior = (ELO_SCALE / prior_sd) ** 2
    r = _bt_strengths(wins, count, prior)
    return {n: base + ELO_SCALE * float(v) for n, v in zip(names, r)}


def _percentile_intervals(
    replicates: Iterable[Sequence[GameResult]],
    fn: Callable[[Sequence[GameResult]], dict[str, float]],
    names: Sequence[str],
    level: float,
) -> dict[str, tuple[float, float]]:
    """Rate every replicate with ``fn``; each agent's central ``level`` percentile interval."""
    samples: dict[str, list[float]] = {a: [] for a in names}
    for replicate in replicates:
        out = fn(replicate)
        for a in names:
            samples[a].append(out[a])
    lo_q, hi_q = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    return {
        a: (float(np.percentile(v, lo_q)), float(np.percentile(v, hi_q)))
        for a, v in samples.items()
    }


def bootstrap_ci(
    games: Sequence[GameResult],
    fn: Callable[[Sequence[GameResult]], dict[str, float]],
    *,
    n: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals for any rating function.

    Games are resampled with replacement within each pairing (unordered pair of agents), and
    the resampled games keep their original order, so every replicate has the same design as
    the tournament.

    Args:
        games: the results.
        fn: games -> {agent: rating}; must rate every agent in ``games`` even if a replicate
            happens to drop one (bind ``players=`` for that).
        n: bootstrap replicates.
        seed: RNG seed (the intervals are deterministic given it).
        level: coverage of the interval.

    Returns:
        Agent name -> (low, high). With ``n == 0`` or no games, intervals are (nan, nan).
    """
    names = _players(games, None)
    if n <= 0 or not games:
        return {a: (math.nan, math.nan) for a in names}
    groups: dict[frozenset[str], list[int]] = {}
    for i, g in enumerate(games):
        groups.setdefault(frozenset((g.a, g.b)), []).append(i)
    index_groups = [np.asarray(v) for v in groups.values()]
    rng = np.random.default_rng(seed)

    def replicates() -> Iterator[list[GameResult]]:
        for _ in range(n):
            picks = np.concatenate([g[rng.integers(0, len(g), len(g))] for g in index_groups])
            yield [games[i] for i in np.sort(picks)]

    return _percentile_intervals(replicates(), fn, names, level)


def posterior_ci(
    games: Sequence[GameResult],
    fn: Callable[[Sequence[GameResult]], dict[str, float]],
    *,
    n: int = 200,
    seed: int = 0,
    level: float = 0.95,
    prior: float = 0.5,
) -> dict[str, tuple[float, float]]:
    """Percentile intervals from the Jeffreys posterior of every pairing's score.

    For each unordered pairing with ``m`` games and ``points`` won by its first agent (draws
    count half), a replicate draws ``p ~ Beta(points + prior, m - points + prior)`` and gives
    every game of the pairing the score ``p`` (from its first agent's side), keeping the game
    order; ``fn`` rates the replicate. With two agents and a rating monotone in the score the
    interval is the Jeffreys interval of the win probability mapped onto the rating scale, the
    standard interval for a binomial proportion, which stays honest at 0 or ``m`` wins where
    resampling games cannot (every resample of a perfect record is that record again).

    Args:
        games: the results.
        fn: games -> {agent: rating}; must rate every agent in ``games`` (bind ``players=``).
        n: posterior draws.
        seed: RNG seed (the intervals are deterministic given it).
        level: coverage of the interval.
        prior: the Beta prior's parameter on each side (0.5 = Jeffreys, 1 = uniform).

    Returns:
        Agent name -> (low, high). With ``n == 0`` or no games, intervals are (nan, nan).
    """
    if prior <= 0:
        raise ValueError(f"prior must be positive, got {prior}")
    names = _players(games, None)
    if n <= 0 or not games:
        return {a: (math.nan, math.nan) for a in names}
    pairs: dict[tuple[str, str], list[int]] = {}
    for i, g in enumerate(games):
        pairs.setdefault((g.a, g.b) if g.a < g.b else (g.b, g.a), []).append(i)
    alphas, betas = [], []
    for (first, _), idx in pairs.items():
        points = sum(
            float(games[i].score) if games[i].a == first else 1.0 - float(games[i].score)
            for i in idx
        )
        alphas.append(points + prior)
        betas.append(len(idx) - points + prior)
    rng = np.random.default_rng(seed)
    draws = rng.beta(np.asarray(alphas), np.asarray(betas), size=(n, len(pairs)))
    firsts = [first for first, _ in pairs]

    def replicates() -> Iterator[list[GameResult]]:
        for row in draws:
            replicate = list(games)
            for k, idx in enumerate(pairs.values()):
                p = float(row[k])
                for i in idx:
                    g = games[i]
                    replicate[i] = GameResult(g.a, g.b, p if g.a == firsts[k] else 1.0 - p)
            yield replicate

    return _percentile_intervals(replicates(), fn, names, level)


def openskill_ratings(
    games: Sequence[GameResult],
    players: Sequence[str] | None = None,
    *,
    model: str = "PlackettLuce",
) -> dict[str, dict[str, float]]:
    """Weng-Lin Bayesian ratings (``openskill``), updated game by game in order.

    Args:
        games: the results, in order.
        players: every agent to rate (default: those in ``games``).
        model: an ``openskill.models`` class name (PlackettLuce, BradleyTerryFull, ...).

    Returns:
        Agent name -> ``{"mu", "sigma", "ordinal"}`` where ``ordinal = mu - 3 sigma`` is a
        conservative skill estimate.
    """
    import openskill.models as osm

    models = {cls.__name__: cls for cls in osm.MODELS}
    if model not in models:
        raise ValueError(
            f"unknown openskill model {model!r}; choose from {', '.join(sorted(models))}"
        )
    m = models[model]()
    names = _players(games, players)
    r = {n: m.rating(name=n) for n in names}
    for g in games:
        s = float(g.score)
        ranks = [0, 0] if s == 0.5 else ([0, 1] if s > 0.5 else [1, 0])
        (ra,), (rb,) = m.rate([[r[g.a]], [r[g.b]]], ranks=ranks)
        r[g.a], r[g.b] = ra, rb
    return {
        n: {"mu": float(v.mu), "sigma": float(v.sigma), "ordinal": float(v.mu - 3 * v.sigma)}
        for n, v in r.items()
    }
