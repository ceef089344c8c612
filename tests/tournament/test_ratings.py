"""Ratings: Elo, Bradley-Terry MLE with bootstrap intervals, OpenSkill, crosstable."""

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
