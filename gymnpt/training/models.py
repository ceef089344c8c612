"""Models, samplers and RNG state for training: loading, the sampling policy, weight sync."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from gymnpt.training.config import Config


# =============================================================================================
# Models, samplers, RNG
# =============================================================================================
def _device(cfg: Config) -> torch.device:
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


def _dtype(cfg: Config, device: torch.device) -> torch.dtype:
    if cfg.dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, cfg.dtype)


def resolve_model_path(name: str) -> str:
    """A local folder for ``name`` (``tiny`` and other built-in names are created on first use)."""
    try:
        from gymnpt.models.tiny import resolve_model
    except ImportError:
        return name
    return str(resolve_model(name))


def load_model(
    name: str, *, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` for a model name, path or Hugging Face id."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model_path(name)
    tok = AutoTokenizer.from_pretrained(path)
    model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    model = model.to(device)
    if tok.pad_token_id is None and tok.eos_token is not None:
        tok.pad_token = tok.eos_token
    return model, tok


def make_sampler(cfg: Config, model: Any, tokenizer: Any, model_path: str) -> Any:
    """The policy that samples rollouts.

    ``hf`` wraps the learner's own model object (weights are shared, so a sync is a version
    bump). ``vllm`` runs its own engine and receives the new weights through
    ``sync_weights(model)`` after each update.
    """
    from gymnpt.rollout.policies import build_policy

    if cfg.sampler.base_url:
        if cfg.policy != "hf":
            raise ValueError(
                "sampler.base_url samples from a server: leave policy=hf (the server itself "
                "may run vLLM)"
            )
        served = ServedSampler(
            cfg.sampler.base_url,
            tokenizer,
            env_id=cfg.env,
            lora=cfg.lora.r > 0,
            weights_dir=cfg.sampler.weights_dir or None,
            api_key=cfg.sampler.api_key or None,
            timeout=cfg.sampler.timeout,
            name=f"served:{cfg.model}",
        )
        served.push(model)  # the server starts from the learner's weights, not its own
        return served
    if cfg.policy == "hf":
        sampler = build_policy(
            "hf",
            cfg.env,
            model=model,
            tokenizer=tokenizer,
            seed=cfg.seed,
            max_batch_size=cfg.concurrency,
        )
        sampler.name = f"hf:{cfg.model}"
        return sampler
    dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
    return build_policy(
        "vllm",
        cfg.env,
        model=model_path,
        dtype=dtype,
        seed=cfg.seed,
        max_model_len=cfg.max_model_len,
    )


class ServedSampler:
    """Rollouts sampled by a server in another process (``gymnpt serve``, hf or vLLM backend).

    Requests go to its ``/v1/completions`` as token ids (the ``openai`` policy in completions
    mode), so trajectories stay token-exact. After each update :meth:`sync_weights` writes the
    learner's weights (only the LoRA adapter when LoRA is on) with ``save_pretrained`` to
    ``weights_dir`` and asks the server to load them (``POST /v1/load_weights``); the server
    must be able to read that folder. A server that cannot be reached fails the run with a
    message that says so; ``gymnpt train resume=<run>`` continues once it is back.

    Args:
        base_url: the server's API root, e.g. ``http://127.0.0.1:8000/v1``.
        tokenizer: the learner's tokenizer (the server gets the same one with the weights).
        env_id: the env (for the policy's name in trajectories).
        lora: push LoRA adapters instead of full weights.
        weights_dir: where pushed weights are written (None: a temporary folder).
        api_key: the server's API key, if any.
        timeout: seconds allowed for one request.
        name: the policy name in trajectories.
    """

    def __init__(
        self,
        base_url: str,
        tokenizer: Any,
        *,
        env_id: str | None = None,
        lora: bool = False,
        weights_dir: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        name: str = "served",
    ) -> None:
        import tempfile
        import weakref
        from pathlib import Path

        from gymnpt.rollout.policies import build_policy

        self.policy = build_policy(
            "openai",
            env_id,
            base_url=base_url,
            api_key=api_key,
            mode="completions",
            tokenizer=tokenizer,
            timeout=timeout,
        )
        self.policy.name = name
        self.base_url: str = self.policy.base_url
        self.tokenizer = tokenizer
        self.name = name
        self.version = 0
        self.lora = lora
        self.api_key = api_key
        self.timeout = timeout
        if weights_dir:
            self.weights_dir = Path(weights_dir)
            self.weights_dir.mkdir(parents=True, exist_ok=True)
        else:
            tmp = tempfile.TemporaryDirectory(prefix="gymnpt-sampler-")
            self._tmp = tmp
            weakref.finalize(self, tmp.cleanup)
            self.weights_dir = Path(tmp.name)

    async def generate(self, requests: list[Any]) -> list[Any]:
        """Sample completions from the server."""
        return await self.policy.generate(requests)  # type: ignore[no-any-return]

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = f"{self.base_url}{path}"
        try:
            resp = httpx.post(url, json=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise RuntimeError(
                f"the sampler server at {self.base_url} cannot be reached "
                f"({type(exc).__name__}: {exc}); start it again (gymnpt serve ...) and "
                "continue the run with gymnpt train resume=<run folder>"
            ) from exc
        if resp.status_code != 200:
            raise RuntimeError(
                f"the sampler server at {self.base_url} refused {path} "
                f"(HTTP {resp.status_code}): {resp.text[:500]}"
            )
        return resp.json()  # type: ignore[no-any-return]

    def push(self, model: Any) -> dict[str, Any]:
        """Write ``model``'s weights (or its LoRA adapter) and have the server load them."""
        import shutil

        target = self.weights_dir / "current"
        if target.exists():
            shutil.rmtree(target)
        model.save_pretrained(target)  # a PEFT model writes only its adapter
        if self.tokenizer is not None and hasattr(self.tokenizer, "save_pretrained"):
            self.tokenizer.save_pretrained(target)
        return self._post("/load_weights", {"path": str(target.resolve())})

    def sync_weights(self, model: Any) -> None:
        """Push the learner's new weights and bump the version."""
        self.push(model)
        self.version += 1

    def close(self) -> None:
        """Close the HTTP client."""
        close = getattr(self.policy, "close", None)
        if callable(close):
            close()


def sync_sampler(sampler: Any, model: Any) -> None:
    """Give the sampler the learner's new weights (or just bump its version when shared)."""
    fn = getattr(sampler, "sync_weights", None)
    if callable(fn):
        fn(model)
    else:
        sampler.version = int(getattr(sampler, "version", 0)) + 1


def rng_state() -> dict[str, Any]:
    """The global RNG states (Python, NumPy, torch CPU and CUDA)."""
    st: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    random.setstate(st["python"])
    np.random.set_state(st["numpy"])
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
