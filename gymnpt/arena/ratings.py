"""Ratings from two-player game results: Elo, Bradley-Terry, OpenSkill and a crosstable.

Every function takes a list of :class:`GameResult` (who played whom and the first player's
score: 1 win, 0.5 draw, 0 loss) and is deterministic: the same games in the same order give
the same numbers.

* :func:`elo` -- the classic sequential Elo update (depends on the order of the games).
* :func:`bradley_terry` -- the maximum-likelihood Bradley-Terry strengths (draws count as half
  a win each), with a weak Gaussian prior so that unbeaten players stay finite, on the Elo scale
  (a 400-point gap means 10:1 odds).
* :func:`posterior_ci` -- the intervals :func:`rate` reports: each replicate draws every
  pairing's expected score from its Jeffreys posterior ``Beta(points + 1/2, losses + 1/2)``
  and rates the games scored at that draw. A perfect record (20 wins in 20 games) still leaves
  doubt about how strong the winner is, so its interval has width; a plain bootstrap would
  resample 20 wins every time and print a zero-width interval.
* :func:`bootstrap_ci` -- percentile confidence intervals by resampling games within each
  pairing (so every pairing keeps its number of games); zero-width for perfect records.
* :func:`openskill_ratings` -- Weng-Lin (Plackett-Luce) ratings from the ``openskill`` library.
* :func:`crosstable` -- wins, draws, losses and score of every agent against every other.

:func:`rate` runs all of them and returns a :class:`RatingReport` that renders as JSON,
Markdown and a PNG plot. The estimators live in :mod:`gymnpt.arena.estimators` and are
re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gymnpt.arena.estimators import (
    ELO_SCALE,
    GameResult,
    _players,
    bootstrap_ci,
    bradley_terry,
    elo,
    expected_score,
    openskill_ratings,
    posterior_ci,
)

__all__ = [
    "GameResult",
    "elo",
    "bradley_terry",
    "bootstrap_ci",
    "posterior_ci",
    "openskill_ratings",
    "crosstable",
    "RatingRow",
    "RatingReport",
    "rate",
    "expected_score",
    "ELO_SCALE",
]


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
        return nan_to_none(
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
            f"{self.num_games} games. Bradley-Terry and Elo on the Elo scale with "
            f"{int(100 * self.settings.get('level', 0.95))}% intervals from the Jeffreys "
            "posterior of each pairing's score; OpenSkill "
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
        ax.set_xlabel(f"rating ({int(100 * self.settings.get('level', 0.95))}% interval)")
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
        n_bootstrap: posterior draws for the intervals (0 disables them); see
            :func:`posterior_ci`.
        seed: seed of the draws.
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
    bt_ci = posterior_ci(games, bt_fn, n=n_bootstrap, seed=seed, level=level)
    elo_ci = posterior_ci(games, elo_fn, n=n_bootstrap, seed=seed, level=level)
    # A perfect record puts the maximum-a-posteriori rating at the edge of the posterior draws
    # (no draw reaches a score of exactly 1); widen the interval to include the estimate.
    bt_ci = {a: _with(ci, bt[a]) for a, ci in bt_ci.items()}
    elo_ci = {a: _with(ci, el[a]) for a, ci in elo_ci.items()}
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
        "interval": "jeffreys-posterior",
        "openskill_model": openskill_model,
    }
    return RatingReport(rows=rows, crosstable=table, num_games=len(games), settings=settings)


def _with(ci: tuple[float, float], value: float) -> tuple[float, float]:
    lo, hi = ci
    if math.isnan(lo) or math.isnan(hi):
        return ci
    return (min(lo, value), max(hi, value))


def _ci(ci: tuple[float, float]) -> str:
    lo, hi = ci
    if math.isnan(lo) or math.isnan(hi):
        return "–"
    return f"[{lo:.0f}, {hi:.0f}]"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def nan_to_none(obj: Any) -> Any:
    """``obj`` with every NaN float replaced by None (JSON has no NaN)."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [nan_to_none(v) for v in obj]
    return obj
