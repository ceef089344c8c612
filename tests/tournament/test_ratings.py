"""Ratings: Elo, Bradley-Terry MLE with posterior and bootstrap intervals, OpenSkill, crosstable."""

from __future__ import annotations

import json
import math
import random

import pytest

from gymnpt.arena.ratings import (
    GameResult,
    bootstrap_ci,
    bradley_terry,
    crosstable,
    elo,
    expected_score,
    openskill_ratings,
    posterior_ci,
    rate,
)


def simulate(
    strengths: dict[str, float], n: int, seed: int = 0, draw_band: float = 0.0
) -> list[GameResult]:
    rng = random.Random(seed)
    names = list(strengths)
    games = []
    for _ in range(n):
        a, b = rng.sample(names, 2)
        p = expected_score(strengths[a], strengths[b])
        u = rng.random()
        if abs(u - p) < draw_band:
            s = 0.5
        else:
            s = 1.0 if u < p else 0.0
        games.append(GameResult(a, b, s))
    return games


def test_bradley_terry_recovers_known_gaps() -> None:
    games = simulate({"a": 0.0, "b": 200.0, "c": 400.0}, 3000, seed=1)
    r = bradley_terry(games, prior_sd=10_000)
    assert r["c"] > r["b"] > r["a"]
    assert r["c"] - r["a"] == pytest.approx(400, abs=40)
    assert r["b"] - r["a"] == pytest.approx(200, abs=40)
    assert sum(r.values()) / 3 == pytest.approx(1500)


def test_bradley_terry_matches_closed_form_for_two_players() -> None:
    # 30 wins of 40: the unpenalized MLE is log(30/10) natural units apart.
    games = [GameResult("x", "y", 1.0)] * 30 + [GameResult("x", "y", 0.0)] * 10
    r = bradley_terry(games, prior_sd=1e9)
    assert r["x"] - r["y"] == pytest.approx(400 * math.log10(3), abs=1e-3)


def test_unbeaten_player_stays_finite_and_draws_count_half() -> None:
    games = [GameResult("w", "l", 1.0)] * 10
    r = bradley_terry(games)
    assert math.isfinite(r["w"]) and r["w"] > r["l"]
    even = bradley_terry([GameResult("p", "q", 0.5)] * 6)
    assert even["p"] == pytest.approx(even["q"])


def test_elo_updates_zero_sum_and_toward_winner() -> None:
    r = elo([GameResult("a", "b", 1.0)], k=32)
    assert r["a"] == pytest.approx(1516) and r["b"] == pytest.approx(1484)
    r = elo([GameResult("a", "b", 1.0), GameResult("b", "a", 0.5)], players=["a", "b", "c"])
    assert r["c"] == 1500 and r["a"] + r["b"] == pytest.approx(3000)


def test_bootstrap_interval_covers_estimate_and_shrinks_with_data() -> None:
    few = simulate({"a": 0.0, "b": 300.0}, 40, seed=2)
    many = simulate({"a": 0.0, "b": 300.0}, 800, seed=2)
    widths = []
    for games in (few, many):
        est = bradley_terry(games)
        ci = bootstrap_ci(games, lambda g: bradley_terry(g, ["a", "b"]), n=150, seed=0)
        lo, hi = ci["b"]
        assert lo <= est["b"] <= hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2
    # deterministic given the seed
    again = bootstrap_ci(few, lambda g: bradley_terry(g, ["a", "b"]), n=150, seed=0)
    first = bootstrap_ci(few, lambda g: bradley_terry(g, ["a", "b"]), n=150, seed=0)
    assert again == first


def test_openskill_orders_players_and_handles_draws() -> None:
    games = simulate({"a": 0.0, "b": 400.0}, 60, seed=3)
    r = openskill_ratings(games)
    assert r["b"]["mu"] > r["a"]["mu"]
    assert r["a"]["ordinal"] == pytest.approx(r["a"]["mu"] - 3 * r["a"]["sigma"])
    d = openskill_ratings([GameResult("p", "q", 0.5)] * 5)
    assert d["p"]["mu"] == pytest.approx(d["q"]["mu"])
    with pytest.raises(ValueError, match="unknown openskill model"):
        openskill_ratings(games, model="NoSuchModel")


def test_crosstable_counts_both_directions() -> None:
    games = [GameResult("a", "b", 1.0), GameResult("b", "a", 0.5), GameResult("b", "a", 1.0)]
    t = crosstable(games, ["a", "b", "c"])
    assert t["a"]["b"] == {
        "wins": 1,
        "draws": 1,
        "losses": 1,
        "games": 3,
        "score": pytest.approx(0.5),
    }
    assert t["b"]["a"]["wins"] == 1 and t["b"]["a"]["losses"] == 1
    assert t["a"]["c"]["games"] == 0 and math.isnan(t["a"]["c"]["score"])


def test_bad_games_are_rejected() -> None:
    with pytest.raises(ValueError):
        GameResult("a", "a", 1.0)
    with pytest.raises(ValueError):
        GameResult("a", "b", 1.5)
    with pytest.raises(ValueError, match="not in players"):
        elo([GameResult("a", "b", 1.0)], players=["a"])


def test_report_renders_json_markdown_and_png(tmp_path) -> None:
    games = simulate({"strong": 300.0, "mid": 100.0, "weak": -200.0}, 300, seed=4, draw_band=0.05)
    report = rate(games, n_bootstrap=50, seed=0)
    assert report.order == ["strong", "mid", "weak"]
    row = report.row("strong")
    assert row.bt_ci[0] <= row.bt <= row.bt_ci[1]
    assert row.wins + row.draws + row.losses == row.games
    d = json.loads(json.dumps(report.to_dict()))
    assert [r["name"] for r in d["ratings"]] == report.order
    md = report.to_markdown(title="t")
    assert "| 1 | strong |" in md and "## Crosstable" in md
    png = report.plot(tmp_path / "r.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    empty = rate([], ["a", "b"], n_bootstrap=10)
    assert empty.num_games == 0 and math.isnan(empty.row("a").score)
    assert "–" in empty.to_markdown()


# ---- honest intervals for perfect records -----------------------------------------------------


def _win_prob(rating_gap: float) -> float:
    return 1.0 / (1.0 + 10.0 ** (-rating_gap / 400.0))


def _jeffreys(wins: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact Jeffreys interval, Beta(wins + 1/2, n - wins + 1/2) quantiles, by bisection."""
    mpmath = pytest.importorskip("mpmath")
    a, b = wins + 0.5, n - wins + 0.5

    def quantile(q: float) -> float:
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            if mpmath.betainc(a, b, 0, mid, regularized=True) < q:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    return quantile((1 - level) / 2), quantile((1 + level) / 2)


def _gap_interval(games, n=1500, prior_sd=1e4):
    ci = posterior_ci(games, lambda g: bradley_terry(g, ["a", "b"], prior_sd=prior_sd), n=n, seed=0)
    # two players: ratings are base +- gap/2
    return tuple(_win_prob(2 * (x - 1500.0)) for x in ci["a"])


@pytest.mark.parametrize("wins,n", [(10, 10), (0, 10), (7, 10), (3, 5)])
def test_two_player_interval_is_the_exact_jeffreys_interval(wins, n):
    games = [GameResult("a", "b", 1.0)] * wins + [GameResult("b", "a", 1.0)] * (n - wins)
    lo, hi = _gap_interval(games)
    exact_lo, exact_hi = _jeffreys(wins, n)
    assert lo == pytest.approx(exact_lo, abs=0.015)
    assert hi == pytest.approx(exact_hi, abs=0.015)
    assert hi - lo > 0.05  # never zero-width, perfect records included


def test_perfect_record_interval_against_clopper_pearson():
    # 20 wins in 20 games: the exact (Clopper-Pearson) 95% lower bound of the win probability
    # is 0.025 ** (1 / 20) = 0.8316; the Jeffreys bound is a little higher, and neither is 1.
    games = [GameResult("a", "b", 1.0)] * 20
    lo, hi = _gap_interval(games)
    assert 0.8316 <= lo <= 0.9
    assert hi > 0.999
    report = rate(games, n_bootstrap=200, seed=0)
    for row in report.rows:
        for est, (low, high) in ((row.bt, row.bt_ci), (row.elo, row.elo_ci)):
            assert low <= est <= high and high - low > 10, row
        assert row.bt_ci[1] - row.bt_ci[0] > 100
    # the plain bootstrap is the zero-width interval this replaces
    boot = bootstrap_ci(games, lambda g: bradley_terry(g, ["a", "b"]), n=50, seed=0)
    assert boot["a"][0] == boot["a"][1]


def test_interval_coverage_on_small_tournaments():
    """Frequentist check: the exact coverage of the 95% interval over 20-game matches.

    The interval depends only on the number of wins, so the coverage is the binomial
    probability of the win counts whose interval holds the true gap.
    """
    n = 20
    gaps = {}
    for wins in range(n + 1):
        games = [GameResult("a", "b", 1.0)] * wins + [GameResult("b", "a", 1.0)] * (n - wins)
        ci = posterior_ci(
            games, lambda g: bradley_terry(g, ["a", "b"], prior_sd=1e4), n=300, seed=1
        )
        gaps[wins] = tuple(2 * (x - 1500.0) for x in ci["a"])
    for true_gap in (0.0, 200.0, 400.0, 800.0):
        p = _win_prob(true_gap)
        coverage = sum(
            math.comb(n, w) * p**w * (1 - p) ** (n - w)
            for w, (lo, hi) in gaps.items()
            if lo <= true_gap <= hi
        )
        assert coverage >= 0.9, (true_gap, coverage)


def test_posterior_interval_keeps_draws_half_and_is_deterministic():
    games = [GameResult("a", "b", 0.5)] * 10 + [GameResult("b", "c", 1.0)] * 3
    fn = lambda g: bradley_terry(g, ["a", "b", "c"])  # noqa: E731
    first = posterior_ci(games, fn, n=100, seed=3)
    assert first == posterior_ci(games, fn, n=100, seed=3)
    lo, hi = first["a"]
    assert lo < bradley_terry(games)["a"] < hi
    assert posterior_ci([], fn, n=10) == {}
    with pytest.raises(ValueError, match="prior"):
        posterior_ci(games, fn, prior=0)
