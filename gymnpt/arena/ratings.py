"""Ratings from two-player game results: Elo, Bradley-Terry, OpenSkill and a crosstable.

Every function takes a list of :class:`GameResult` (who played whom and the first player's
score: 1 win, 0.5 draw, 0 loss) and is deterministic: the same games in the same order give
the same numbers.

* :func:`elo` -- the classic sequential Elo update (depends on the order of the games).
* :func:`bradley_terry` -- the maximum-likelihood Bradley-Terry strengths (draws count as half
  a win each), with a weak Gaussian prior so that unbeaten players stay finite, on the Elo scale
  (a 400-point gap means 10:1 odds).
* :func:`bootstrap_ci` -- percentile confidence intervals by resampling games within each
  pairing (so every pairing keeps its number of games).
* :func:`openskill_ratings` -- Weng-Lin (Plackett-Luce) ratings from the ``openskill`` library.
* :func:`crosstable` -- wins, draws, losses and score of every agent against every other.

:func:`rate` runs all of them and returns a :class:`RatingReport` that renders as JSON,
Markdown and a PNG plot.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "GameResult",
    "elo",
    "bradley_terry",
    "bootstrap_ci",
    "openskill_ratings",
    "crosstable",
    "RatingRow",
    "RatingReport",
    "rate",
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
    samples: dict[str, list[float]] = {a: [] for a in names}
    for _ in range(n):
        picks = np.sort(np.concatenate([g[rng.integers(0, len(g), len(g))] for g in index_groups]))
        out = fn([games[i] for i in picks])
        for a in names:
            samples[a].append(out[a])
    lo_q, hi_q = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    return {
        a: (float(np.percentile(v, lo_q)), float(np.percentile(v, hi_q)))
        for a, v in samples.items()
    }


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


def crosstable(
    games: Iterable[GameResult], players: Sequence[str] | None = None
) -> dict[str, dict[str, dict[str, float]]]:
    """Head-to-head records: ``table[a][b]`` is a's record against b.

    Each cell holds ``wins``, ``draws``, ``losses``, ``games`` and ``score`` (mean score of
    ``a``, nan when they never met). A game with a fractional score other than 0.5 adds its
    score to ``score`` and counts as a win when above 0.5, a loss when below.
    """
    games = list(games)
    names = _players(games, players)
    table = {
        a: {
            b: {"wins": 0, "draws": 0, "losses": 0, "games": 0, "points": 0.0}
            for b in names
            if b != a
        }
        for a in names
    }
    for g in games:
        s = float(g.score)
        for me, other, sc in ((g.a, g.b, s), (g.b, g.a, 1.0 - s)):
            cell = table[me][other]
            cell["games"] += 1
            cell["points"] += sc
            key = "draws" if sc == 0.5 else ("wins" if sc > 0.5 else "losses")
            cell[key] += 1
    out: dict[str, dict[str, dict[str, float]]] = {}
    for a, row in table.items():
        out[a] = {}
        for b, c in row.items():
            points = c.pop("points")
            c["score"] = points / c["games"] if c["games"] else math.nan
            out[a][b] = c
    return out


@dataclass
class RatingRow:
    """One agent's line in the ratings table."""

    name: str
    games: int
    wins: int
    draws: int
    losses: int
    #: Mean score over all games (win 1, draw 0.5).
    score: float
    bt: float
    bt_ci: tuple[float, float]
    elo: float
    elo_ci: tuple[float, float]
    openskill_mu: float
    openskill_sigma: float
    openskill_ordinal: float


@dataclass
class RatingReport:
    """Ratings, intervals and the crosstable of one set of games."""

    rows: list[RatingRow]
    crosstable: dict[str, dict[str, dict[str, float]]]
    num_games: int
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def order(self) -> list[str]:
        """Agent names from strongest to weakest (by Bradley-Terry rating)."""
        return [r.name for r in self.rows]

    def row(self, name: str) -> RatingRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no agent {name!r} in the ratings; agents: {', '.join(self.order)}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN becomes None)."""
        return _nan_to_none(
            {
                "num_games": self.num_games,
                "settings": self.settings,
                "ratings": [asdict(r) for r in self.rows],
                "crosstable": self.crosstable,
            }
        )

    def to_markdown(self, title: str | None = None) -> str:
        """A ratings table and a crosstable in Markdown."""
        lines = [f"# {title}", ""] if title else []
        lines += [
            f"{self.num_games} games. Bradley-Terry and Elo on the Elo scale with bootstrap "
            f"{int(100 * self.settings.get('level', 0.95))}% intervals; OpenSkill "
            f"{self.settings.get('openskill_model', 'PlackettLuce')} (mu, sigma).",
            "",
            "| rank | agent | Bradley-Terry | 95% CI | Elo | 95% CI | OpenSkill mu ± sigma | games | W-D-L | score |",
            "|---:|---|---:|---|---:|---|---|---:|---|---:|",
        ]
        for i, r in enumerate(self.rows, 1):
            lines.append(
                f"| {i} | {_md(r.name)} | {r.bt:.0f} | {_ci(r.bt_ci)} | {r.elo:.0f} | {_ci(r.elo_ci)} | "
                f"{r.openskill_mu:.2f} ± {r.openskill_sigma:.2f} | {r.games} | "
                f"{r.wins}-{r.draws}-{r.losses} | {r.score:.3f} |"
            )
        names = self.order
        lines += [
            "",
            "## Crosstable",
            "",
            "Row agent's score against the column agent (wins-draws-losses).",
            "",
            "| | " + " | ".join(_md(n) for n in names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for a in names:
            cells = []
            for b in names:
                if a == b:
                    cells.append("—")
                    continue
                c = self.crosstable[a][b]
                if not c["games"]:
                    cells.append("")
                else:
                    cells.append(f"{c['score']:.2f} ({c['wins']}-{c['draws']}-{c['losses']})")
            lines.append(f"| **{_md(a)}** | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def plot(self, path: str | Path, title: str = "ratings") -> Path:
        """Save a PNG of the Bradley-Terry and Elo ratings with their intervals."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = list(reversed(self.rows))  # strongest at the top
        y = np.arange(len(rows))
        fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.45 * max(1, len(rows))))
        for offset, label, val, ci, color in (
            (0.12, "Bradley-Terry", "bt", "bt_ci", "tab:blue"),
            (-0.12, "Elo", "elo", "elo_ci", "tab:orange"),
        ):
            xs = np.array([getattr(r, val) for r in rows])
            lo = np.array([getattr(r, ci)[0] for r in rows])
            hi = np.array([getattr(r, ci)[1] for r in rows])
            err = np.vstack([np.nan_to_num(xs - lo), np.nan_to_num(hi - xs)])
            ax.errorbar(xs, y + offset, xerr=err, fmt="o", capsize=3, color=color, label=label)
        ax.set_yticks(y)
        ax.set_yticklabels([r.name for r in rows])
        ax.set_xlabel(f"rating ({int(100 * self.settings.get('level', 0.95))}% bootstrap CI)")
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(loc="best", fontsize="small")
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path


def rate(
    games: Sequence[GameResult],
    players: Sequence[str] | None = None,
    *,
    n_bootstrap: int = 200,
    seed: int = 0,
    level: float = 0.95,
    elo_k: float = 16.0,
    prior_sd: float = 800.0,
    openskill_model: str = "PlackettLuce",
) -> RatingReport:
    """Rate agents from ``games`` with every method and build the crosstable.

    Args:
        games: the results in a canonical order (sequential Elo and OpenSkill depend on it).
        players: every agent to list (default: those in ``games``).
        n_bootstrap: bootstrap replicates for the intervals (0 disables them).
        seed: bootstrap seed.
        level: interval coverage.
        elo_k: Elo K-factor.
        prior_sd: Bradley-Terry prior standard deviation (Elo points).
        openskill_model: the ``openskill`` model name.

    Returns:
        A :class:`RatingReport` whose rows are sorted strongest first by Bradley-Terry rating.
    """
    games = list(games)
    names = _players(games, players)

    def bt_fn(gs: Sequence[GameResult]) -> dict[str, float]:
        return bradley_terry(gs, names, prior_sd=prior_sd)

    def elo_fn(gs: Sequence[GameResult]) -> dict[str, float]:
        return elo(gs, names, k=elo_k)

    bt = bt_fn(games)
    el = elo_fn(games)
    bt_ci = bootstrap_ci(games, bt_fn, n=n_bootstrap, seed=seed, level=level)
    elo_ci = bootstrap_ci(games, elo_fn, n=n_bootstrap, seed=seed, level=level)
    osk = openskill_ratings(games, names, model=openskill_model)
    table = crosstable(games, names)
    rows = []
    nan_ci = (math.nan, math.nan)
    for n in names:
        cells = table[n].values()
        played = int(sum(c["games"] for c in cells))
        wins = int(sum(c["wins"] for c in cells))
        draws = int(sum(c["draws"] for c in cells))
        losses = int(sum(c["losses"] for c in cells))
        points = sum(c["score"] * c["games"] for c in cells if c["games"])
        rows.append(
            RatingRow(
                name=n,
                games=played,
                wins=wins,
                draws=draws,
                losses=losses,
                score=points / played if played else math.nan,
                bt=bt[n],
                bt_ci=bt_ci.get(n, nan_ci),
                elo=el[n],
                elo_ci=elo_ci.get(n, nan_ci),
                openskill_mu=osk[n]["mu"],
                openskill_sigma=osk[n]["sigma"],
                openskill_ordinal=osk[n]["ordinal"],
            )
        )
    rows.sort(key=lambda r: (-r.bt, r.name))
    settings = {
        "n_bootstrap": n_bootstrap,
        "seed": seed,
        "level": level,
        "elo_k": elo_k,
        "prior_sd": prior_sd,
        "openskill_model": openskill_model,
    }
    return RatingReport(rows=rows, crosstable=table, num_games=len(games), settings=settings)


def _ci(ci: tuple[float, float]) -> str:
    lo, hi = ci
    if math.isnan(lo) or math.isnan(hi):
        return "–"
    return f"[{lo:.0f}, {hi:.0f}]"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    return obj
