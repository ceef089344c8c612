"""The engine's watchdog, turn cap and error paths: nothing hangs, one failure ends one episode."""

from __future__ import annotations

import asyncio
import json
import math
import threading

import pytest
from toy_envs import CountTo, HighCard

from gymnpt.core.registry import EnvSpec, Registry
from gymnpt.rollout.engine import DEFAULT_MAX_TURNS, RolloutEngine
from gymnpt.rollout.policy import BasePolicy, Completion, Request
from gymnpt.rollout.summary import first_errors, summarize
from gymnpt.rollout.trajectory import TrajectoryWriter, read_trajectories, to_json_line


class Next(BasePolicy):
    """Always says the next number (CountTo wins with it)."""

    name = "next"

    def act(self, req: Request) -> str:
        return req.env.legal_actions(req.seat)[0]


class Say(BasePolicy):
    """Always replies with the same text."""

    name = "say"

    def __init__(self, text: object) -> None:
        self.text = text

    def act(self, req: Request) -> Completion:
        return Completion(text=self.text)  # type: ignore[arg-type]


def _engine(env, **kw):
    return RolloutEngine(env, registry=object(), **kw)


def _by_seed(trajs):
    out = {}
    for t in trajs:
        out.setdefault(t.seed, []).append(t)
    return out


# ---- envs with faults ------------------------------------------------------------------------
_RELEASE = threading.Event()


class HangsOnSeedZero(CountTo):
    """Seed 0: the first step blocks until released (forever if nobody does)."""

    def _apply(self, moves):
        if self.seed == 0:
            _RELEASE.wait()
        return super()._apply(moves)


class WaitsForOthers(CountTo):
    """Seed 0 blocks in its step until another episode finishes. Only an engine that keeps
    playing the others while one step blocks can finish this run."""

    others_done = threading.Event()

    def _apply(self, moves):
        if self.seed == 0:
            assert WaitsForOthers.others_done.wait(60), "the other episodes never ran"
        out = super()._apply(moves)
        if self.seed != 0 and self._done:
            WaitsForOthers.others_done.set()
        return out


class Raises(CountTo):
    """Seed 0 raises ``exc`` from its step."""

    exc: BaseException = SystemExit(3)

    def _apply(self, moves):
        if self.seed == 0:
            raise self.exc
        return super()._apply(moves)


class NanReward(CountTo):
    def _apply(self, moves):
        super()._apply(moves)
        return {"player": float("nan")}


class Endless(CountTo):
    """Never ends: every reply is fine and nothing is won."""

    def _apply(self, moves):
        return {"player": 0.0}


class Surrogates(CountTo):
    def _observe(self, seat):
        return "broken text \ud800 here"


def test_a_step_that_never_returns_ends_only_its_episode():
    _RELEASE.clear()
    try:
        trajs = _engine(HangsOnSeedZero, step_timeout=0.5).run([0, 1, 2], Next())
    finally:
        _RELEASE.set()  # let the abandoned thread finish
    by_seed = _by_seed(trajs)
    stuck = by_seed[0][0]
    assert stuck.outcome == "error" and "did not return within 0.5s" in stuck.reason
    assert all(by_seed[s][0].outcome == "success" for s in (1, 2))


def test_a_blocking_step_does_not_block_the_other_episodes():
    WaitsForOthers.others_done.clear()
    trajs = _engine(WaitsForOthers, step_timeout=120).run([0, 1, 2, 3], Next())
    assert {t.outcome for t in trajs} == {"success"}


@pytest.mark.parametrize("exc", [SystemExit(3), KeyboardInterrupt(), GeneratorExit()])
def test_base_exceptions_from_an_env_end_one_episode(exc):
    Raises.exc = exc
    trajs = _engine(Raises).run([0, 1], Next())
    by_seed = _by_seed(trajs)
    assert by_seed[0][0].outcome == "error"
    assert type(exc).__name__ in by_seed[0][0].reason
    assert by_seed[1][0].outcome == "success"


def _slow_factory(**kw):
    _RELEASE.wait()
    return CountTo()


def test_creation_that_times_out_still_gives_an_error_record():
    reg = Registry()
    reg.register_env(EnvSpec(id="slow", entry_point=_slow_factory, step_timeout=0.3))
    _RELEASE.clear()
    try:
        trajs = RolloutEngine("slow", registry=reg).run([5], Next())
    finally:
        _RELEASE.set()
    assert len(trajs) == 1 and trajs[0].outcome == "error" and trajs[0].seed == 5
    assert "creation did not return" in trajs[0].reason


def test_a_factory_that_never_returns_fails_fast():
    _RELEASE.clear()
    try:
        engine = RolloutEngine(_slow_factory, registry=object(), step_timeout=0.3)
        with pytest.raises(RuntimeError, match="did not return within 0.3s"):
            engine.run([5], Next())
    finally:
        _RELEASE.set()


def test_non_finite_reward_is_an_error_and_the_line_is_valid_json(tmp_path):
    with TrajectoryWriter(tmp_path / "t.jsonl") as w:
        trajs = _engine(NanReward, writer=w).run([0], Next())
    assert trajs[0].outcome == "error" and "non-finite reward" in trajs[0].reason
    line = (tmp_path / "t.jsonl").read_text().splitlines()[0]
    json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} written"))


def test_lone_surrogates_are_escaped_not_fatal(tmp_path):
    with TrajectoryWriter(tmp_path / "t.jsonl") as w:
        trajs = _engine(Surrogates, writer=w, max_turns=2).run([0], Say("a \udfff reply"))
    t = trajs[0]
    assert t.outcome != "error", t.reason
    texts = [m["content"] for m in t.messages]
    assert all(isinstance(x, str) for x in texts)
    for x in texts:
        x.encode("utf-8")  # encodable: the surrogates were escaped
    assert any("\\ud800" in x for x in texts) and any("\\udfff" in x for x in texts)
    assert read_trajectories(tmp_path / "t.jsonl")[0].messages == t.messages


def test_non_string_replies_reach_the_env_as_text():
    for reply in (None, 12, b"\xff\x00", ["[1]"], float("nan")):
        trajs = _engine(CountTo, max_turns=3).run([0], Say(reply))
        assert trajs[0].outcome != "error", trajs[0].reason
        assert all(isinstance(m["content"], str) for m in trajs[0].messages)


def test_default_turn_cap_truncates():
    trajs = _engine(Endless).run([0], Next())
    t = trajs[0]
    assert t.outcome == "truncated" and t.num_turns == DEFAULT_MAX_TURNS
    assert summarize(trajs)["next@player"]["truncated"] == 1


def _registry(**spec_kw) -> Registry:
    reg = Registry()
    reg.register_env(EnvSpec(id="toy", entry_point=spec_kw.pop("entry_point"), **spec_kw))
    return reg


def test_env_spec_sets_the_turn_cap_and_the_deadline():
    trajs = RolloutEngine("toy", registry=_registry(entry_point=Endless, max_turns=7)).run(
        [0], Next()
    )
    assert trajs[0].outcome == "truncated" and trajs[0].num_turns == 7
    _RELEASE.clear()
    try:
        reg = _registry(entry_point=HangsOnSeedZero, step_timeout=0.25)
        engine = RolloutEngine("toy", registry=reg)
        assert engine.step_timeout == 0.25
        trajs = engine.run([0], Next())
    finally:
        _RELEASE.set()
    assert trajs[0].outcome == "error" and "0.25s" in trajs[0].reason


@pytest.mark.parametrize(
    "kw",
    [
        {"max_concurrent": 0},
        {"max_concurrent": -1},
        {"max_batch": 0},
        {"max_turns": 0},
        {"step_timeout": -1},
        {"call_timeout": float("nan")},
    ],
)
def test_bad_engine_settings_fail_fast(kw):
    with pytest.raises(ValueError):
        _engine(CountTo, **kw)


def test_errors_are_left_out_of_the_statistics():
    Raises.exc = ZeroDivisionError("env bug")
    trajs = _engine(Raises).run([0, 1, 2], Next())
    row = summarize(trajs)["next@player"]
    assert row["episodes"] == 3 and row["errors"] == 1 and row["completed"] == 2
    good = [t.return_ for t in trajs if t.outcome != "error"]
    assert row["return_mean"] == pytest.approx(sum(good) / 2)
    kinds = first_errors(trajs)
    assert list(kinds) == ["ZeroDivisionError"] and kinds["ZeroDivisionError"][0] == 1
    assert "env bug" in kinds["ZeroDivisionError"][1]


def test_an_abandoned_batch_is_cancelled():
    class Slow:
        name = "slow"
        version = 0
        tokenizer = None
        cancelled = 0

        async def generate(self, requests):
            await asyncio.sleep(30)
            return [Completion(text="1") for _ in requests]

        def cancel(self):
            Slow.cancelled += 1

    trajs = _engine(HighCard, call_timeout=0.2).run([0], Slow())
    assert {t.outcome for t in trajs} == {"error"}
    assert Slow.cancelled == 1


def test_episodes_in_flight_never_exceed_max_concurrent():
    lock = threading.Lock()
    live = [0, 0]  # now, most

    class Counting(CountTo):
        def __init__(self, **kw):
            super().__init__(**kw)
            with lock:
                live[0] += 1
                live[1] = max(live)

        def close(self):
            with lock:
                live[0] -= 1

    trajs = _engine(Counting, max_concurrent=4).run(list(range(20)), Next())
    assert len(trajs) == 20 and all(t.outcome == "success" for t in trajs)
    assert live == [0, 4]


def test_json_lines_are_strict_for_every_outcome():
    Raises.exc = RuntimeError("x")
    trajs = _engine(Raises).run([0, 1], Next())
    for t in trajs:
        line = to_json_line(t.to_dict())
        back = json.loads(line, parse_constant=lambda c: pytest.fail(c))
        assert all(math.isfinite(r) for r in back["rewards"])


def test_evaluation_reports_errors_apart_from_the_results():
    from gymnpt.arena.evaluation import evaluate

    Raises.exc = ZeroDivisionError("env bug")
    res = evaluate("toy", Next(), registry=_registry(entry_point=Raises), episodes=3, seed=0)
    assert res.episodes == 3 and res.errors == 1 and res.completed == 2
    assert res.outcomes == {"error": 1, "success": 2}
    assert res.rate("success")[0] == 1.0  # over completed episodes
    assert res.success_rate == 1.0
    assert res.error_kinds["ZeroDivisionError"][0] == 1
    assert res.row()["errors"] == "1"
    res = evaluate("toy", Next(), registry=_registry(entry_point=Raises), episodes=1, seed=0)
    assert (
        res.completed == 0 and math.isnan(res.return_mean) and res.row()["return (95% CI)"] == "-"
    )


def test_a_slow_step_does_not_hold_up_the_other_episodes_batches():
    class Batched:
        """A model-like policy: requests go through the engine's batch queue."""

        name = "batched"
        version = 0
        tokenizer = None

        async def generate(self, requests):
            return [Completion(text=r.env.legal_actions(r.seat)[0]) for r in requests]

    # Seed 0's step waits until the other episodes are done; they can only finish if their
    # batches stop waiting for seed 0's env call.
    WaitsForOthers.others_done.clear()
    trajs = _engine(WaitsForOthers, step_timeout=60).run([0, 1, 2, 3], Batched())
    assert {t.outcome for t in trajs} == {"success"}
