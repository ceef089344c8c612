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
    if cfg.policy == "hf":
        from gymnpt.agents.hf import HFPolicy

        return HFPolicy(
            model=model,
            tokenizer=tokenizer,
            name=f"hf:{cfg.model}",
            seed=cfg.seed,
            max_batch_size=cfg.concurrency,
        )
    from gymnpt.rollout.policies import build_policy

    dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
    return build_policy(
        "vllm",
        cfg.env,
        model=model_path,
        dtype=dtype,
        seed=cfg.seed,
        max_model_len=cfg.max_model_len,
    )


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
