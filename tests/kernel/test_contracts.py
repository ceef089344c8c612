"""Typed contracts: the ``MultiSeatEnv`` protocol, spec-driven metrics and evaluators, the
registry's model names and backends, and the one chat encoding every backend shares."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from toy_envs import CountTo, HighCard

import gymnpt
from gymnpt.arena.evaluation import evaluate, run_evaluators
from gymnpt.core.env import SingleSeatAdapter, as_multiagent, missing_members
from gymnpt.core.registry import EnvSpec, Registry, UnknownNameError, default_registry
from gymnpt.rollout.engine import RolloutEngine
from gymnpt.rollout.policy import BasePolicy, Request, SamplingParams, effective_params
from gymnpt.rollout.tokens import ChatTokens, encode_chat, prompt_ids


class Picks(BasePolicy):
    def __init__(self, move: str) -> None:
        self.move = move
        self.name = f"picks{move}"

    def act(self, req: Request) -> str:
        return self.move


class Duel:
    """A two-seat env written from scratch (no gymnpt base class): the higher number wins.

    It states no outcome, so the engine falls back to the sign of each seat's return.
    """

    def __init__(self) -> None:
        self.possible_agents = ["left", "right"]
        self.agents: list[str] = []
        self.agent_selection = ""
        self.rewards: dict[str, float] = {}
        self.infos: dict[str, dict[str, Any]] = {}
        self.moves: dict[str, int] = {}

    @property
    def done(self) -> bool:
        return not self.agents

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        self.agents = list(self.possible_agents)
        self.agent_selection = "left"
        self.moves = {}

    def observe(self, agent: str) -> str:
        return "Say a number."

    def step(self, action: Any) -> None:
        seat = self.agent_selection
        self.moves[seat] = int(action) if str(action).isdigit() else 0
        self.rewards = {s: 0.0 for s in self.possible_agents}
        self.infos = {s: {} for s in self.possible_agents}
        if seat == "left":
            self.agent_selection = "right"
            return
        diff = self.moves["left"] - self.moves["right"]
        self.rewards = {"left": float(diff > 0) - (diff < 0), "right": float(diff < 0) - (diff > 0)}
        self.agents, self.agent_selection = [], ""

    def seat_instructions(self, seat: str) -> str:
        return ""

    def outcome(self, seat: str) -> str | None:
        return None

    def legal_actions(self, seat: str) -> list[str] | None:
        return None

    def close(self) -> None:
        pass


def test_every_env_face_fulfils_the_protocol() -> None:
    assert gymnpt.MultiSeatEnv is gymnpt.core.env.MultiSeatEnv
    for env in (HighCard(), SingleSeatAdapter(CountTo()), Duel(), as_multiagent(CountTo())):
        assert isinstance(env, gymnpt.MultiSeatEnv), missing_members(env)
        assert missing_members(env) == []
    game = default_registry().make_multiagent("tictactoe")
    assert isinstance(game, gymnpt.MultiSeatEnv)


def test_textarena_adapter_fulfils_the_protocol() -> None:
    reg = default_registry()
    ids = [s.id for s in reg.envs.values() if s.family == "textarena" and not s.unavailable]
    multi = [i for i in ids if reg.envs[i].num_seats > 1]
    if not multi:
        pytest.skip("no multi-seat TextArena game can run here")
    env = reg.make_multiagent(multi[0])
    assert isinstance(env, gymnpt.MultiSeatEnv), missing_members(env)


def test_as_multiagent_names_what_is_missing() -> None:
    class Half:
        possible_agents = ["a"]

        def observe(self, agent: str) -> str:
            return ""

    with pytest.raises(TypeError, match="lacks: .*agent_selection.*step"):
        as_multiagent(Half())


def test_engine_plays_a_protocol_env_and_reads_no_private_state() -> None:
    trajs = RolloutEngine(Duel, registry=object()).run(
        [0, 1], {"left": Picks("7"), "right": Picks("3")}
    )
    assert {(t.role, t.outcome) for t in trajs} == {("left", "win"), ("right", "loss")}
    assert [t.return_ for t in trajs] == [1.0, -1.0, 1.0, -1.0]


def _toy_registry(**spec_fields: Any) -> Registry:
    reg = Registry()
    reg.register_env(EnvSpec(id="highcard", entry_point=HighCard, seats=("a", "b"), **spec_fields))
    return reg


def share_of_wins(trajs: list[Any]) -> dict[str, float]:
    return {"win_share": sum(t.outcome == "win" for t in trajs) / len(trajs)}


def always_three(policy: Any, *, registry: Any, sampling: Any) -> dict[str, Any]:
    assert isinstance(registry, Registry)
    return {"always_three": float(policy.move == "3"), "samples": 1}


def broken(policy: Any, *, registry: Any, sampling: Any) -> dict[str, Any]:
    raise RuntimeError("cannot measure")


def test_spec_metrics_reach_eval_results_generically() -> None:
    reg = _toy_registry(metrics=share_of_wins)
    res = evaluate("highcard", Picks("3"), Picks("1"), episodes=4, registry=reg)
    assert res.metrics == {"win_share": 1.0}
    assert res.row()["win_share"] == "1.000"
    plain = evaluate("highcard", Picks("3"), Picks("1"), episodes=2, registry=_toy_registry())
    assert plain.metrics == {}


def test_spec_evaluators_run_by_name_and_failures_are_reported() -> None:
    reg = _toy_registry(evaluators={"three": always_three, "broken": broken})
    seen: list[str] = []
    out = run_evaluators(
        reg.env_spec("highcard"),
        Picks("3"),
        registry=reg,
        sampling=SamplingParams(),
        on_error=lambda name, exc: seen.append(name),
    )
    assert out["three"] == {"always_three": 1.0, "samples": 1}
    assert out["broken"] == {"error": "RuntimeError: cannot measure"}
    assert seen == ["broken"]


def test_the_kuhn_poker_evaluator_comes_from_the_games_plugin() -> None:
    spec = default_registry().env_spec("kuhn_poker")
    assert spec.evaluators["exploitability"].startswith("gymnpt.envs.games.")
    nash = default_registry().make_agent("bot:nash", "kuhn_poker")
    res = run_evaluators(spec, nash, registry=default_registry())
    assert res["exploitability"]["exploitability"] == pytest.approx(0.0, abs=1e-9)


def test_spec_presets_and_blocking_flags_live_on_the_spec() -> None:
    from gymnpt.training.config import Config

    reg = default_registry()
    assert reg.env_spec("snake").train_preset
    cfg = Config(env="snake")
    cfg.resolve_env(reg)
    assert cfg.env_kwargs == reg.env_spec("snake").train_preset
    variant = Config(env="snake[size=6]")
    variant.resolve_env(reg)
    assert variant.env_kwargs == {}
    with pytest.raises(ValueError, match="env= is required"):
        Config().resolve_env(reg)
    blocking = [s for s in reg.envs.values() if s.family == "code"]
    assert blocking and all(s.blocking for s in blocking)
    assert RolloutEngine(blocking[0].id, registry=reg).threaded_env


def test_model_names_and_backends_come_from_the_registry() -> None:
    reg = Registry()
    reg.register_model(name="small", resolve=lambda: "/models/small")
    assert reg.resolve_model("small") == "/models/small"
    assert reg.resolve_model("org/other-model") == "org/other-model"
    reg.register_backend(name="nowhere", factory=dict, available=lambda: "no cluster here")
    with pytest.raises(RuntimeError, match="no cluster here"):
        reg.make_backend("nowhere")
    with pytest.raises(UnknownNameError):
        reg.make_backend("spark")
    full = default_registry()
    assert full.models["smollm2"].plugin == "agents"
    assert full.backends["ray"].plugin == "ray"


def test_backends_share_one_chat_encoding_and_sampling_path() -> None:
    from gymnpt.agents.hf import HFPolicy
    from gymnpt.agents.vllm_backend import VLLMPolicy
    from gymnpt.models.tiny import build_tiny

    model, tok = build_tiny()
    msgs = [{"role": "system", "content": "Play."}, {"role": "user", "content": "Your move."}]
    ids = encode_chat(tok, msgs)
    assert ids == ChatTokens(tok).prompt(msgs)
    hf = HFPolicy(model, tok)
    assert hf.encode_messages(msgs) == ids
    # The vLLM backend's methods run on the same tokenizer without an engine.
    vllm_like = SimpleNamespace(tokenizer=tok, model_name="tiny", vocab_size=len(tok), overrides={})
    assert VLLMPolicy.encode_messages(vllm_like, msgs) == ids  # type: ignore[arg-type]
    req = Request(messages=msgs, prompt_token_ids=[len(tok) + 5])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        VLLMPolicy._prompt(vllm_like, req)  # type: ignore[arg-type]
    assert prompt_ids(Request(messages=msgs), tok) == ids
    hf.overrides = {"temperature": 0.0}
    params = SamplingParams(temperature=1.0, top_p=0.5)
    assert hf._params(params) == effective_params(params, {"temperature": 0.0})
    vllm_params = VLLMPolicy._params(SimpleNamespace(overrides={"temperature": 0.0}), params)  # type: ignore[arg-type]
    assert vllm_params == hf._params(params)
