"""`gymnpt serve` run for real on loopback, driven by the openai policy."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
import torch
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from gymnpt.agents.hf import HFPolicy
from gymnpt.agents.openai_api import OpenAIPolicy, ServerError, normalize_base_url
from gymnpt.core.config import ConfigError, parse_overrides
from gymnpt.models.tiny import build_tiny
from gymnpt.rollout.policy import Request, SamplingParams
from gymnpt.serving.server import BackgroundServer, Config, create_app


@pytest.fixture(scope="module")
def hf():
    model, tok = build_tiny(seed=0)
    return HFPolicy(model, tok, name="hf:tiny")


@pytest.fixture(scope="module")
def server(hf):
    with BackgroundServer(create_app(hf, served_name="tiny", batch_wait_ms=30)) as srv:
        yield srv


def conv(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": text}]


def reqs(n: int, max_new: int = 8, seed0: int = 10) -> list[Request]:
    return [
        Request(
            messages=conv("x" * (i + 1)),
            params=SamplingParams(max_new_tokens=max_new, seed=seed0 + i),
        )
        for i in range(n)
    ]


def health(srv: BackgroundServer) -> dict:
    return httpx.get(srv.url.removesuffix("/v1") + "/health").json()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_models_and_health(server):
    listing = httpx.get(server.url + "/models").json()
    assert [m["id"] for m in listing["data"]] == ["tiny"]
    h = health(server)
    assert h["status"] == "ok" and h["model"] == "tiny"


def test_chat_mode_matches_the_hf_policy(server, hf):
    pol = OpenAIPolicy(server.url)  # the model name comes from /v1/models
    batch = reqs(4)
    got = asyncio.run(pol.generate(batch))
    want = hf.generate_sync(batch)
    assert pol.model == "tiny" and pol.tokenizer is None
    for g, w in zip(got, want, strict=True):
        assert g.text == w.text and g.token_ids == w.token_ids
        assert g.logprobs == pytest.approx(w.logprobs, abs=1e-4)
        assert g.finish_reason == w.finish_reason


def test_completions_mode_is_token_in_token_out(server, hf):
    pol = OpenAIPolicy(server.url, model="tiny", mode="completions", tokenizer=hf.tokenizer)
    batch = reqs(3, max_new=12)
    prompt = hf.encode_messages(conv("token in"))
    batch.append(
        Request(
            messages=[], prompt_token_ids=prompt, params=SamplingParams(max_new_tokens=6, seed=1)
        )
    )
    got = asyncio.run(pol.generate(batch))
    want = hf.generate_sync(batch)
    for g, w in zip(got, want, strict=True):
        assert g.token_ids == w.token_ids and g.text == w.text
        assert len(g.logprobs) == len(g.token_ids)
        assert g.logprobs == pytest.approx(w.logprobs, abs=1e-4)
    # the logprobs are those of one forward pass over prompt + reply
    ids = torch.tensor([prompt + got[-1].token_ids])
    with torch.no_grad():
        lp = torch.log_softmax(hf.model(ids).logits[0, len(prompt) - 1 : -1], -1)
    want_lp = lp.gather(-1, torch.tensor(got[-1].token_ids)[:, None])[:, 0]
    assert torch.allclose(torch.tensor(got[-1].logprobs), want_lp, atol=1e-4)


def test_raw_openai_formats(server, hf):
    body = {
        "model": "tiny",
        "messages": conv("hi"),
        "max_tokens": 5,
        "logprobs": True,
        "seed": 3,
        "n": 2,
    }
    ans = httpx.post(server.url + "/chat/completions", json=body).json()
    assert ans["object"] == "chat.completion" and len(ans["choices"]) == 2
    for i, choice in enumerate(ans["choices"]):
        entries = choice["logprobs"]["content"]
        assert len(entries) == len(choice["token_ids"]) and {"token", "logprob"} <= set(entries[0])
        alone = hf.generate_sync(
            [Request(messages=conv("hi"), params=SamplingParams(max_new_tokens=5, seed=3 + i))]
        )
        assert choice["token_ids"] == alone[0].token_ids
    assert ans["prompt_token_ids"] == hf.encode_messages(conv("hi"))
    assert ans["usage"]["completion_tokens"] == sum(len(c["token_ids"]) for c in ans["choices"])

    text_prompt = httpx.post(
        server.url + "/completions",
        json={"prompt": "abc", "max_tokens": 4, "logprobs": 0, "seed": 1},
    ).json()
    ids_prompt = httpx.post(
        server.url + "/completions",
        json={"prompt": [97, 98, 99], "max_tokens": 4, "logprobs": 0, "seed": 1},
    ).json()
    assert text_prompt["choices"][0]["token_ids"] == ids_prompt["choices"][0]["token_ids"]
    lp = ids_prompt["choices"][0]["logprobs"]
    assert (
        len(lp["tokens"]) == len(lp["token_logprobs"]) == len(ids_prompt["choices"][0]["token_ids"])
    )
    multi = httpx.post(
        server.url + "/completions", json={"prompt": [[97], [98, 99]], "max_tokens": 2}
    ).json()
    assert len(multi["choices"]) == 2


def test_stop_strings_over_http(server, hf):
    tok = hf.tokenizer
    for seed in range(7, 40):  # the first seed whose reply has a fresh printable ASCII token
        params = SamplingParams(temperature=1.0, max_new_tokens=30, seed=seed)
        ref = hf.generate_sync([Request(messages=conv("stop"), params=params)])[0]
        ids = ref.token_ids
        k = next(
            (
                i
                for i in range(1, len(ids))
                if 33 <= ids[i] <= 126 and chr(ids[i]) not in tok.decode(ids[:i])
            ),
            None,
        )
        if k is not None:
            break
    assert k is not None
    stop = chr(ref.token_ids[k])
    pol = OpenAIPolicy(server.url, model="tiny", tokenizer=False)
    got = asyncio.run(
        pol.generate([Request(messages=conv("stop"), params=params.with_(stop=[stop]))])
    )[0]
    assert got.finish_reason == "stop" and stop not in got.text
    assert got.token_ids == ref.token_ids[: k + 1]


def test_requests_arriving_together_are_batched(server):
    pol = OpenAIPolicy(server.url, model="tiny", max_concurrent=16)
    before = health(server)
    out = asyncio.run(pol.generate(reqs(12, max_new=4)))
    after = health(server)
    assert len(out) == 12
    assert after["requests"] - before["requests"] == 12
    assert after["batches"] - before["batches"] < 12


def test_rollout_engine_over_http_is_token_exact(server, hf):
    from gymnpt.core.registry import default_registry
    from gymnpt.rollout.engine import RolloutEngine

    pol = OpenAIPolicy(server.url, model="tiny", mode="completions", tokenizer=hf.tokenizer)
    bot = default_registry().make_agent("bot:random", "tictactoe")
    engine = RolloutEngine(env="tictactoe", sampling=SamplingParams(max_new_tokens=5))
    trajs = [t for t in engine.run(seeds=[3], policies={"x": pol, "o": bot}) if t.role == "x"]
    t = trajs[0]
    assert sum(t.loss_mask) > 0 and not t.info.get("retokenized")
    ids = torch.tensor([t.token_ids])
    with torch.no_grad():
        lp = torch.log_softmax(hf.model(ids).logits[0, :-1], -1).gather(-1, ids[0, 1:, None])[:, 0]
    mask = torch.tensor(t.loss_mask[1:], dtype=torch.bool)
    assert torch.allclose(lp[mask], torch.tensor(t.logprobs[1:])[mask], atol=1e-4)


def test_bad_requests_are_clear_errors(server):
    pol = OpenAIPolicy(server.url, model="tiny", max_retries=0)
    bad = [Request(messages=conv("x"), params=SamplingParams(max_new_tokens=0))]
    with pytest.raises(ServerError, match="max_tokens must be >= 1") as info:
        asyncio.run(pol.generate(bad))
    assert info.value.status == 400
    wrong = OpenAIPolicy(server.url, model="gpt-9", max_retries=0)
    with pytest.raises(ServerError, match="serves 'tiny'"):
        asyncio.run(wrong.generate(reqs(1)))
    r = httpx.post(server.url + "/completions", json={"prompt": [100000], "max_tokens": 2})
    assert r.status_code == 400 and "out of range" in r.json()["error"]["message"]
    r = httpx.post(server.url + "/chat/completions", content=b"{not json")
    assert r.status_code == 400
    r = httpx.post(server.url + "/chat/completions", json={"messages": conv("x"), "stream": True})
    assert r.status_code == 400 and "stream" in r.json()["error"]["message"]


def test_load_weights_changes_outputs(tmp_path):
    model, tok = build_tiny(seed=0)
    pol = HFPolicy(model, tok)
    other, _ = build_tiny(seed=1)
    other.save_pretrained(tmp_path / "step-1")
    tok.save_pretrained(tmp_path / "step-1")
    with BackgroundServer(create_app(pol, served_name="tiny")) as srv:
        client = OpenAIPolicy(srv.url, model="tiny", mode="completions", tokenizer=tok)
        before = asyncio.run(client.generate(reqs(2)))
        r = httpx.post(
            srv.url + "/load_weights", json={"path": str(tmp_path / "step-1")}, timeout=60
        )
        assert r.status_code == 200 and r.json()["version"] == 1
        after = asyncio.run(client.generate(reqs(2)))
        for a, b in zip(after, before, strict=True):
            assert a.logprobs != pytest.approx(b.logprobs, abs=1e-3)
        assert httpx.get(srv.url + "/models").json()["data"][0]["version"] == 1
        r = httpx.post(srv.url + "/load_weights", json={"path": str(tmp_path / "nothing")})
        assert r.status_code == 400 and "config.json" in r.json()["error"]["message"]


def test_server_down_error_says_so():
    url = f"http://127.0.0.1:{free_port()}/v1"
    pol = OpenAIPolicy(url, model="tiny", max_retries=2, backoff=0.01)
    with pytest.raises(
        ConnectionError, match=r"cannot reach http://127\.0\.0\.1:\d+/v1: .*is the server running\?"
    ):
        asyncio.run(pol.generate(reqs(1)))


def flaky_app(fail_with: int, failures: int) -> tuple[FastAPI, dict[str, int]]:
    """A server that answers ``fail_with`` to the first ``failures`` calls, then succeeds."""
    app = FastAPI()
    calls = {"n": 0}

    @app.post("/v1/chat/completions")
    async def chat() -> JSONResponse:
        calls["n"] += 1
        if calls["n"] <= failures:
            return JSONResponse(
                status_code=fail_with, content={"error": {"message": f"try later ({calls['n']})"}}
            )
        return JSONResponse(
            {
                "choices": [
                    {"message": {"role": "assistant", "content": "up"}, "finish_reason": "stop"}
                ]
            }
        )

    return app, calls


@pytest.mark.parametrize("status", [503, 429])
def test_retries_with_backoff_then_succeeds(status):
    app, calls = flaky_app(status, failures=2)
    with BackgroundServer(app) as srv:
        pol = OpenAIPolicy(srv.url, model="m", max_retries=3, backoff=0.01)
        out = asyncio.run(pol.generate(reqs(1)))
        assert out[0].text == "up" and out[0].token_ids is None and calls["n"] == 3
        calls["n"] = 0
        few = OpenAIPolicy(srv.url, model="m", max_retries=1, backoff=0.01)
        with pytest.raises(
            ServerError, match=rf"answered {status}: try later \(2\) \(after 2 tries\)"
        ):
            asyncio.run(few.generate(reqs(1)))


def test_client_errors_are_not_retried():
    app, calls = flaky_app(400, failures=5)
    with BackgroundServer(app) as srv:
        pol = OpenAIPolicy(srv.url, model="m", max_retries=3, backoff=0.01)
        with pytest.raises(ServerError, match="answered 400"):
            asyncio.run(pol.generate(reqs(1)))
        assert calls["n"] == 1


def test_api_key_is_enforced(hf):
    with BackgroundServer(create_app(hf, served_name="tiny", api_key="s3cret")) as srv:
        with pytest.raises(ServerError, match="401"):
            asyncio.run(OpenAIPolicy(srv.url, model="tiny", api_key="wrong").generate(reqs(1)))
        out = asyncio.run(OpenAIPolicy(srv.url, model="tiny", api_key="s3cret").generate(reqs(1)))
        assert out[0].info["server_token_ids"]


def test_options_are_checked():
    assert normalize_base_url("http://h:8000") == "http://h:8000/v1"
    assert (
        normalize_base_url("https://api.example.com/openai/v1/")
        == "https://api.example.com/openai/v1"
    )
    with pytest.raises(ValueError, match="base_url"):
        OpenAIPolicy("localhost:8000")
    with pytest.raises(ValueError, match="mode"):
        OpenAIPolicy("http://h:1/v1", mode="stream")
    with pytest.raises(ValueError, match="needs tokenizer"):
        OpenAIPolicy("http://h:1/v1", mode="completions")
    with pytest.raises(ValueError, match="needs a tokenizer"):
        OpenAIPolicy("http://h:1/v1", model="tiny", mode="completions", tokenizer=False)
    # chat mode: a model name that is not available here leaves the policy text-only
    assert OpenAIPolicy("http://h:1/v1", model="no-such-model-here").tokenizer is None
    with pytest.raises(ConfigError, match="port"):
        parse_overrides(Config, ["port=0"])
    with pytest.raises(ConfigError, match="did you mean|Did you mean"):
        parse_overrides(Config, ["prot=8000"])
    assert parse_overrides(Config, ["model=tiny", "port=9000"]).port == 9000


def test_registry_makes_openai(server):
    from gymnpt.rollout.policies import build_policy

    pol = build_policy(f"openai:{server.url}", "tictactoe", model="tiny")
    assert isinstance(pol, OpenAIPolicy) and pol.model == "tiny"
    out = asyncio.run(pol.generate(reqs(1)))
    assert out[0].text and out[0].info["server_token_ids"]


def test_gymnpt_serve_command(tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = open(tmp_path / "serve.log", "w+")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gymnpt.cli.main",
            "serve",
            "model=tiny",
            f"port={port}",
            "log_level=warning",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, (
                f"gymnpt serve exited: {(tmp_path / 'serve.log').read_text()}"
            )
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "gymnpt serve did not come up"
            time.sleep(0.3)
        pol = OpenAIPolicy(f"http://127.0.0.1:{port}", mode="completions", tokenizer="tiny")
        out = asyncio.run(pol.generate(reqs(2, max_new=4)))
        assert pol.model == "tiny" and all(o.token_ids and o.logprobs for o in out)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


# ---- chat mode trajectories, top_logprobs ---------------------------------------------------


def _play_chat(pol):
    from gymnpt.core.registry import default_registry
    from gymnpt.rollout.engine import RolloutEngine

    bot = default_registry().make_agent("bot:random", "tictactoe")
    engine = RolloutEngine(env="tictactoe", sampling=SamplingParams(max_new_tokens=5))
    return [t for t in engine.run(seeds=[3], policies={"x": pol, "o": bot}) if t.role == "x"][0]


def test_chat_mode_with_a_tokenizer_is_retokenized_and_marked(server, hf):
    from gymnpt.training.learner import make_batch

    pol = OpenAIPolicy(server.url, model="tiny", mode="chat")
    assert pol.tokenizer is not None  # found locally from the model name
    t = _play_chat(pol)
    assert t.info.get("retokenized") is True and t.num_sampled_tokens > 0
    replies = [m["content"] for m in t.messages if m["role"] == "assistant"]
    runs = t.completions()
    assert len(runs) == len(replies)
    for run, text in zip(runs, replies, strict=True):
        assert hf.tokenizer.decode(run, skip_special_tokens=True).strip() == text.strip()
    batch = make_batch([t], [1.0])
    assert len(batch) == 1 and batch.recompute == [True]
    # the server's own ids are kept for inspection
    out = asyncio.run(pol.generate(reqs(1)))
    assert out[0].token_ids is None and out[0].info["server_token_ids"]


def test_text_only_chat_trajectories_are_refused_by_the_learner(server):
    from gymnpt.training.learner import make_batch

    pol = OpenAIPolicy(server.url, model="tiny", mode="chat", tokenizer=False)
    assert pol.tokenizer is None
    t = _play_chat(pol)
    assert not t.token_ids and t.num_turns > 0
    with pytest.raises(ValueError, match="no token ids.*mode=completions"):
        make_batch([t], [1.0])


def test_top_logprobs_requests_are_refused_clearly(server):
    r = httpx.post(
        server.url + "/chat/completions",
        json={"messages": conv("x"), "max_tokens": 2, "logprobs": True, "top_logprobs": 3},
    )
    assert r.status_code == 400 and "top_logprobs=3 is not supported" in r.text
    r = httpx.post(
        server.url + "/completions", json={"prompt": "abc", "max_tokens": 2, "logprobs": 5}
    )
    assert r.status_code == 400 and "alternatives" in r.json()["error"]["message"]
    ok = httpx.post(
        server.url + "/chat/completions",
        json={"messages": conv("x"), "max_tokens": 2, "logprobs": True, "top_logprobs": 0},
    )
    assert ok.status_code == 200
