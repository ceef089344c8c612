"""``gymnpt train sampler.base_url=...``: rollouts sampled by a real ``gymnpt serve`` process.

The learner pushes its weights to the server before the first rollout and after every update
(``/v1/load_weights``); a dead server fails the run with a clear message, and the run resumes
from its checkpoint once the server is back.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ENV = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "GYMNPT_DISABLE_TENSORBOARD": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``gymnpt serve model=tiny`` in a subprocess on loopback."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/v1"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        cmd = [sys.executable, "-m", "gymnpt.cli.main", "serve", "model=tiny"]
        cmd += [f"port={self.port}", "threads=1", "log_level=warning"]
        self.proc = subprocess.Popen(
            cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "gymnpt serve exited"
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.3)
        raise RuntimeError("gymnpt serve did not come up")

    def health(self) -> dict[str, Any]:
        return httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=10).json()  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server(_free_port()).start()
    yield srv
    srv.stop()


def _train(url: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "gymnpt.cli.main", "train", "env=snake"]
    cmd += ["sft.steps=2", "sft.episodes=8", "sft.batch_size=4", "tokenizer_vocab=0"]
    cmd += ["seeds_per_step=2", "group_size=2", "max_turns=3", "eval.episodes=2"]
    cmd += [f"sampler.base_url={url}", f"out={out}", "name=served", "progress=false"]
    cmd += ["threads=1", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ENV, check=False)


def test_train_pushes_weights_to_a_served_sampler_and_resumes(
    server: Server, tmp_path: Path
) -> None:
    proc = _train(server.url, tmp_path, "steps=2")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    root = tmp_path / "served"
    rows = [json.loads(x) for x in (root / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r.get("stage") != "sft"][-2:] == [1, 2]
    # the learner's weights before the first rollout, then after each of the two updates
    assert server.health()["version"] == 3
    trajs = [json.loads(x) for x in (root / "trajectories.jsonl").read_text().splitlines()]
    assert trajs and {t["policy_id"] for t in trajs} == {"served:tiny"}
    # token-exact: sampled ids are masked in and carry the server's logprobs
    t = trajs[0]
    assert len(t["token_ids"]) == len(t["loss_mask"]) and sum(t["loss_mask"]) > 0
    assert any(lp != 0.0 for lp, m in zip(t["logprobs"], t["loss_mask"]) if m)
    assert {t["policy_version"] for t in trajs} == {0, 1}

    # the server dies: the run stops with a message that says what to do
    server.stop()
    proc = _train(server.url, tmp_path, "steps=3", f"resume={root}")
    assert proc.returncode != 0
    said = proc.stdout + proc.stderr
    assert "cannot be reached" in said and "resume" in said, said[-3000:]

    # back up: the run resumes from its step-2 checkpoint and pushes its weights again
    server.start()
    proc = _train(server.url, tmp_path, "steps=3", f"resume={root}")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    rows = [json.loads(x) for x in (root / "metrics.jsonl").read_text().splitlines()]
    assert 3 in [r["step"] for r in rows if r.get("stage") != "sft"]
    assert server.health()["version"] >= 2  # pushed on resume and after step 3


def test_policy_vllm_with_a_served_sampler_is_refused(tmp_path: Path) -> None:
    from gymnpt.training.config import Config
    from gymnpt.training.models import make_sampler

    cfg = Config(env="snake", policy="vllm")
    cfg.sampler.base_url = "http://127.0.0.1:9/v1"
    with pytest.raises(ValueError, match="policy=hf"):
        make_sampler(cfg, None, None, "")


def test_bad_base_url_is_refused() -> None:
    from gymnpt.training.config import SamplerConfig

    with pytest.raises(ValueError, match="base_url"):
        SamplerConfig(base_url="localhost:8000")
