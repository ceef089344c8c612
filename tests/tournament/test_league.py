"""The league pool: membership, sampling strategies, records and checkpoint state."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from gymnpt.rollout.policy import BasePolicy
from gymnpt.training.league import League


class Fixed(BasePolicy):
    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False

    def act(self, request):  # pragma: no cover - not played here
        return "1"

    def close(self) -> None:
        self.closed = True


def counts(league: League, strategy: str, n: int = 4000) -> Counter[str]:
    return Counter(league.sample(strategy) for _ in range(n))


def make_league(**kw) -> League:
    lg = League(seed=7, **kw)
    lg.add("bot:random", lambda: Fixed("bot:random"), kind="bot")
    for step in (10, 20, 30):
        lg.add(f"step-{step}", lambda s=step: Fixed(f"step-{s}"), kind="snapshot", step=step)
    return lg


def test_uniform_and_recency_sampling() -> None:
    lg = make_league()
    c = counts(lg, "uniform")
    assert set(c) == {"bot:random", "step-10", "step-20", "step-30"}
    assert max(c.values()) / min(c.values()) < 1.3
    w = lg.weights("recency")
    assert w["step-30"] > w["step-20"] > w["step-10"] > w["bot:random"]
    assert w["step-20"] / w["step-30"] == pytest.approx(0.7)
    c = counts(lg, "recency")
    assert c["step-30"] > c["step-10"]


def test_rating_sampling_prefers_even_opponents() -> None:
    lg = make_league()
    for _ in range(30):
        lg.record("bot:random", "win")  # far too easy
        lg.record("step-10", 0.0)  # far too hard
    for _ in range(15):
        lg.record("step-20", "win")
        lg.record("step-20", "loss")  # about even
    w = lg.weights("rating")
    assert w["step-20"] > 2 * w["bot:random"]
    assert w["step-20"] > 2 * w["step-10"]
    assert w["step-30"] > w["bot:random"]  # unplayed snapshots stay near 50%
    assert all(v > 0 for v in w.values())
    m = lg.members["step-20"]
    assert (m.wins, m.draws, m.losses, m.games) == (15, 0, 15, 30) and m.score == 0.5


def test_state_dict_round_trip_continues_the_same_stream(tmp_path) -> None:
    lg = make_league()
    lg.add("step-40", str(tmp_path / "ckpt-40"))  # a snapshot by path
    for i in range(10):
        lg.record(lg.sample("rating"), "win" if i % 3 else "draw")
    state = json.loads(json.dumps(lg.state_dict()))  # must survive JSON
    expected = [lg.sample("uniform") for _ in range(20)]

    fresh = League(seed=123)
    fresh.add("bot:random", lambda: Fixed("bot:random"), kind="bot")
    for step in (10, 20, 30):
        fresh.add(f"step-{step}", lambda s=step: Fixed(f"step-{s}"), kind="snapshot")
    fresh.load_state_dict(state)
    assert [fresh.sample("uniform") for _ in range(20)] == expected
    assert fresh.names() == lg.names()
    assert fresh.learner_rating == pytest.approx(lg.learner_rating)
    assert fresh.members["step-40"].path == str(tmp_path / "ckpt-40")
    assert fresh.members["step-30"].meta == {"step": 30}
    assert fresh.policy("step-20").name == "step-20"


def test_load_state_needs_factory_members_re_added() -> None:
    state = make_league().state_dict()
    with pytest.raises(ValueError, match="added with factories"):
        League().load_state_dict(state)
    with pytest.raises(ValueError, match="not a league state"):
        League().load_state_dict({"oops": 1})


def test_policies_are_cached_and_evicted() -> None:
    built = Counter()

    def factory(name):
        def f():
            built[name] += 1
            return Fixed(name)

        return f

    lg = League(max_cached=2)
    for n in "abc":
        lg.add(n, factory(n), kind="bot")
    a = lg.policy("a")
    assert lg.policy("a") is a and built["a"] == 1
    lg.policy("b")
    lg.policy("c")  # evicts a (least recently used) and closes it
    assert a.closed
    lg.policy("a")
    assert built["a"] == 2


def test_path_members_use_the_loader_and_snapshots_are_pruned(tmp_path) -> None:
    loaded = []
    lg = League(loader=lambda p: loaded.append(p) or Fixed(p), max_snapshots=2)
    lg.add("bot", lambda: Fixed("bot"), kind="bot")
    for s in range(4):
        lg.add(f"s{s}", tmp_path / f"s{s}")
    assert lg.names() == ["bot", "s2", "s3"]
    assert lg.policy("s3").name == str(tmp_path / "s3") and loaded == [str(tmp_path / "s3")]


def test_bad_input_is_reported_clearly() -> None:
    lg = League()
    with pytest.raises(ValueError, match="empty"):
        lg.sample()
    lg.add("a", lambda: Fixed("a"), kind="bot")
    with pytest.raises(ValueError, match="unknown league strategy"):
        lg.sample("best")
    with pytest.raises(ValueError, match="kind"):
        lg.add("b", lambda: Fixed("b"), kind="teacher")
    with pytest.raises(TypeError):
        lg.add("b", 42)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="no league member"):
        lg.record("zzz", "win")
    with pytest.raises(ValueError):
        lg.record("a", "won")
    with pytest.raises(ValueError):
        lg.record("a", 2.0)
