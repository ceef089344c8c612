"""``hf``: a transformers causal LM as a batched, token-exact policy.

:class:`HFPolicy` answers every pending request of a ``generate`` call in one batch: prompts
are left-padded, the prompt is run once, and tokens are then sampled one step at a time with
the KV cache (a compact loop written here rather than ``model.generate``, for exact control of
the ids and their logprobs).

Token in / token out:

* The prompt is ``Request.prompt_token_ids`` when the rollout engine gives it, else the
  tokenizer's chat template applied to ``Request.messages`` with the generation prompt.
* ``Completion.token_ids`` are the ids exactly as sampled, up to and including the end-of-turn
  token when one was sampled, and nothing after it.
* ``Completion.text`` is those ids decoded with special tokens skipped. When a stop string
  appears, sampling stops at the token that completed it; the text is cut before the stop
  string, while the ids end with that token (so they decode to the text, the stop string, and
  at most the rest of that last token); ``info["stop"]`` names the stop string.
* ``Completion.logprobs[i]`` is the log-probability of ``token_ids[i]`` under
  ``log_softmax(logits / temperature)`` with the model's unmodified logits (temperature 0, i.e.
  greedy, counts as 1) before any top-p truncation: the distribution the learner recomputes
  with one forward pass over the conversation at the same temperature. With
  ``logprobs="raw"`` it is ``log_softmax(logits)`` whatever the temperature.

Abandoned work stops: :meth:`HFPolicy.cancel` (called by the rollout engine when a batched call
passes its deadline) sets a flag that the sampling loop checks before every decoding step, so
the generation thread of every ``generate`` call in flight returns within one model step,
raising :class:`GenerationCancelled`, and the model is free for the next batch.

Sampling is seeded per request: a request whose ``params.seed`` is set draws from its own
``torch.Generator`` seeded with it (the same seed gives the same ids, alone or in any batch);
other requests get a seed drawn in order from the policy's generator (``seed=`` at
construction), so a run with the same seeds and the same request order reproduces.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
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

__all__ = ["GenerationCancelled", "HFPolicy", "make_hf_policy"]

_DTYPES = ("auto", "float32", "float16", "bfloat16")


class GenerationCancelled(RuntimeError):
    """A ``generate`` call stopped by :meth:`HFPolicy.cancel` before it finished."""


@dataclass
class _Row:
    """One request being sampled."""

    prompt: list[int]
    params: SamplingParams
    generator: Any
    ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    done: bool = False
    finish_reason: str = "length"
    stop: str | None = None
    text: str | None = None


class _PrefixCache:
    """Key/value tensors of finished sequences, reused when a later prompt extends one.

    In a multi-turn episode each prompt is the previous prompt, the sampled reply and the new
    env message, so the model only has to read the new message. Entries are dropped when the
    model's weights change (any in-place update of a parameter, or a version bump) and when
    the byte budget is exceeded (least recently used first).
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget = budget_bytes
        self.entries: OrderedDict[tuple[int, ...], list[tuple[Any, Any]]] = OrderedDict()
        self.sizes: dict[tuple[int, ...], int] = {}
        self.bytes = 0
        self.fingerprint: Any = None
        self.hits = 0
        self.reused_tokens = 0

    def check(self, fingerprint: Any) -> None:
        if fingerprint != self.fingerprint:
            self.clear()
            self.fingerprint = fingerprint

    def clear(self) -> None:
        self.entries.clear()
        self.sizes.clear()
        self.bytes = 0

    def lookup(self, prompt: list[int]) -> tuple[tuple[int, ...], list[tuple[Any, Any]]] | None:
        t = tuple(prompt)
        best: tuple[int, ...] | None = None
        for key in self.entries:
            n = len(key)
            if n <= len(t) and (best is None or n > len(best)) and t[:n] == key:
                best = key
        if best is None:
            return None
        self.entries.move_to_end(best)
        self.hits += 1
        return best, self.entries[best]

    def add(
        self, key: tuple[int, ...], layers: list[tuple[Any, Any]], replaces: tuple[int, ...] | None
    ) -> None:
        size = sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in layers)
        if size > self.budget:
            return
        if replaces is not None and replaces in self.entries:
            self._drop(replaces)
        if key in self.entries:
            self._drop(key)
        self.entries[key] = layers
        self.sizes[key] = size
        self.bytes += size
        while self.bytes > self.budget and self.entries:
            self._drop(next(iter(self.entries)))

    def _drop(self, key: tuple[int, ...]) -> None:
        self.entries.pop(key)
        self.bytes -= self.sizes.pop(key)


def _resolve_device(device: str) -> str:
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _torch_dtype(dtype: str, device: str) -> Any:
    import torch

    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, dtype)


class HFPolicy:
    """A transformers causal LM answering batches of requests.

    Args:
        model: a model name (``tiny``, ``smollm2``, a local path or a Hugging Face id) to load,
            or a loaded model (then ``tokenizer`` is required). A loaded model is used as is:
            the learner passes its live model so that sampling uses its current weights.
        tokenizer: the tokenizer, when ``model`` is a loaded model (else loaded with it).
        name: the policy name in trajectories (default ``hf:<model>``).
        device: ``cpu``, ``cuda``, ``cuda:1`` or ``auto``; only used when loading.
        dtype: ``float32`` (default), ``bfloat16``, ``float16`` or ``auto``; only used when loading.
        seed: seed of the generator that seeds requests without ``params.seed``.
        logprobs: ``sampling`` (temperature-scaled, the default) or ``raw`` (see module doc).
        max_batch_size: the most requests run together; larger batches are split.
        temperature: when set, overrides every request's temperature.
        top_p: when set, overrides every request's top_p.
        max_new_tokens: when set, overrides every request's max_new_tokens.
        stop: when set, overrides every request's stop strings.
        num_threads: CPU threads torch uses while sampling (restored afterwards). None (the
            default) picks 1 for models under 20M parameters, whose small matrix products do
            not gain from more threads and slow down badly when cores are shared, and
            :func:`auto_threads` (the cores not busy with other work when the policy is made)
            for larger ones; 0 leaves torch's setting alone.
        prefix_cache_mb: memory for reusing the key/value cache of earlier turns of a
            conversation (0 turns it off). Multi-turn prompts then cost only their new tokens.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | Any = "tiny",
        tokenizer: Any = None,
        *,
        name: str | None = None,
        device: str = "cpu",
        dtype: str = "float32",
        seed: int = 0,
        logprobs: str = "sampling",
        max_batch_size: int = 64,
        temperature: float | None = None,
        top_p: float | None = None,
        max_new_tokens: int | None = None,
        stop: list[str] | None = None,
        num_threads: int | None = None,
        prefix_cache_mb: int = 256,
    ) -> None:
        import torch

        if logprobs not in ("sampling", "raw"):
            raise ValueError(f"logprobs must be 'sampling' or 'raw', got {logprobs!r}")
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        self.device = _resolve_device(device)
        self.dtype = dtype
        self.logprob_mode = logprobs
        self.max_batch_size = max_batch_size
        self.num_threads = num_threads
        self._auto: int | None = None
        self._prefix = _PrefixCache(prefix_cache_mb * 2**20) if prefix_cache_mb > 0 else None
        self.overrides: dict[str, Any] = sampling_overrides(
            temperature, top_p, max_new_tokens, stop
        )
        self.version = 0
        self._lock = threading.Lock()
        #: Cancel flags of the ``generate`` calls in flight (see :meth:`cancel`).
        self._flags: set[threading.Event] = set()
        self._flags_lock = threading.Lock()
        #: Decoding steps run so far (one per sampled token position of a batch); it stops
        #: growing once cancelled work has returned.
        self.decode_steps = 0
        self._seed_gen = torch.Generator().manual_seed(seed)
        if isinstance(model, (str, os.PathLike)):
            self.model_name = str(model)
            self.model, self.tokenizer = self._load(self.model_name, tokenizer)
        else:
            if tokenizer is None:
                raise ValueError("HFPolicy(model=<loaded model>) needs tokenizer=")
            self.model_name = str(
                getattr(getattr(model, "config", None), "name_or_path", "") or "model"
            )
            self.model, self.tokenizer = model, tokenizer
        self.name = name or f"hf:{self.model_name}"
        self._setup_tokens()

    # ---- loading ---------------------------------------------------------------------------
    def _load(self, name: str, tokenizer: Any = None) -> tuple[Any, Any]:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from gymnpt.models.tiny import resolve_model

        path = resolve_model(name)
        try:
            if is_adapter_dir(path):
                model = load_adapter_model(path, dtype=_torch_dtype(self.dtype, self.device))
            else:
                model = AutoModelForCausalLM.from_pretrained(
                    path, dtype=_torch_dtype(self.dtype, self.device)
                )
        except OSError as exc:
            raise FileNotFoundError(
                f"cannot load model {name!r} (resolved to {path!r}): {exc}. Use model=tiny, "
                "model=smollm2, a local folder with config.json, or a Hugging Face id that is "
                "cached or downloadable here."
            ) from exc
        model = model.to(self.device)  # type: ignore[arg-type]
        model.eval()
        if tokenizer is None:
            tok_path = path
            if is_adapter_dir(path) and not any(
                (Path(path) / f).exists() for f in ("tokenizer.json", "tokenizer_config.json")
            ):
                tok_path = adapter_base(path)
            tokenizer = AutoTokenizer.from_pretrained(tok_path)
        return model, tokenizer

    def _setup_tokens(self) -> None:
        tok = self.tokenizer
        gen_cfg = getattr(self.model, "generation_config", None)
        eos = stop_token_ids(tok, getattr(gen_cfg, "eos_token_id", None))
        if not eos:
            raise ValueError(f"tokenizer of {self.model_name!r} has no eos / end-of-turn token")
        self.eos_ids = eos
        pad = tok.pad_token_id
        self.pad_id = int(pad if pad is not None else min(eos))

    def set_model(self, model: Any, tokenizer: Any = None) -> None:
        """Sample from ``model`` from now on (e.g. the learner's live model) and bump the version.

        Args:
            model: the new model (same vocabulary as the tokenizer).
            tokenizer: a new tokenizer, when it changes too.
        """
        with self._lock:
            self.model = model
            if tokenizer is not None:
                self.tokenizer = tokenizer
            self._setup_tokens()
            self.version += 1

    def load_weights(self, path: str | os.PathLike[str]) -> None:
        """Load a checkpoint folder (``save_pretrained`` output) and bump the version.

        The tokenizer is reloaded too when the folder has one.

        Args:
            path: a folder with ``config.json`` and weights, or a LoRA adapter folder
                (``adapter_config.json``; loaded onto its base model and merged).
        """
        p = Path(path)
        if not (p / "config.json").exists() and not is_adapter_dir(p):
            raise FileNotFoundError(
                f"no checkpoint at {p}: expected a folder with config.json or adapter_config.json"
            )
        has_tok = (p / "tokenizer.json").exists() or (p / "tokenizer_config.json").exists()
        model, tokenizer = self._load(str(p), None if has_tok else self.tokenizer)
        self.set_model(model, tokenizer)

    # ---- prompts ---------------------------------------------------------------------------
    def encode_messages(self, messages: list[dict[str, str]]) -> list[int]:
        """Token ids of ``messages`` rendered by the chat template with the generation prompt."""
        return encode_chat(self.tokenizer, messages, name=self.model_name)

    def _params(self, params: SamplingParams) -> SamplingParams:
        return effective_params(params, self.overrides)

    def rng_state(self) -> Any:
        """The state of the stream that seeds requests without a seed (for checkpoints)."""
        return self._seed_gen.get_state()

    def set_rng_state(self, state: Any) -> None:
        """Restore what :meth:`rng_state` returned."""
        self._seed_gen.set_state(state)

    # ---- generation ------------------------------------------------------------------------
    async def generate(self, requests: list[Request]) -> list[Completion]:
        """Answer all ``requests`` in batches; the blocking model work runs in a thread.

        Raises:
            GenerationCancelled: :meth:`cancel` was called before the answers were ready.
        """
        if not requests:
            return []
        # The flag is registered here, not in the thread, so that a cancel() right after a
        # timeout reaches a thread that has not started yet.
        flag = self._new_flag()
        return await asyncio.to_thread(self._generate_flagged, requests, flag)

    def generate_sync(self, requests: list[Request]) -> list[Completion]:
        """The blocking form of :meth:`generate`.

        Raises:
            GenerationCancelled: :meth:`cancel` was called (from another thread) meanwhile.
        """
        return self._generate_flagged(requests, self._new_flag())

    def cancel(self) -> None:
        """Stop every ``generate`` call in flight; later calls run normally.

        Each stopped call's thread returns within one decoding step (raising
        :class:`GenerationCancelled`); the caller has already given up on its answers. Safe to
        call from any thread, and a no-op when nothing is running.
        """
        with self._flags_lock:
            for flag in self._flags:
                flag.set()

    def _new_flag(self) -> threading.Event:
        flag = threading.Event()
        with self._flags_lock:
            self._flags.add(flag)
        return flag

    def _generate_flagged(self, requests: list[Request], flag: threading.Event) -> list[Completion]:
        try:
            return self._generate(requests, flag)
        finally:
            with self._flags_lock:
                self._flags.discard(flag)

    def _generate(self, requests: list[Request], flag: threading.Event) -> list[Completion]:
        import torch

        if flag.is_set():
            raise GenerationCancelled("generation cancelled before it started")
        rows: list[_Row] = []
        for req in requests:
            params = self._params(req.params)
            prompt = prompt_ids(req, self.tokenizer, name=self.model_name)
            seed = params.seed
            if seed is None:
                seed = int(torch.randint(0, 2**62, (1,), generator=self._seed_gen).item())
            rows.append(_Row(prompt, params, torch.Generator().manual_seed(int(seed))))
        order = sorted(range(len(rows)), key=lambda i: len(rows[i].prompt))
        with self._lock:
            if flag.is_set():  # cancelled while waiting for the model
                raise GenerationCancelled("generation cancelled before it started")
            version = self.version
            if self._prefix is not None:
                params_version = sum(p._version for p in self.model.parameters())
                self._prefix.check((id(self.model), version, params_version))
            threads = self._threads()
            saved = torch.get_num_threads()
            if threads:
                torch.set_num_threads(threads)
            try:
                for start in range(0, len(order), self.max_batch_size):
                    chunk = [rows[i] for i in order[start : start + self.max_batch_size]]
                    self._sample(chunk, flag)
            finally:
                if threads:
                    torch.set_num_threads(saved)
        out = []
        for row in rows:
            text = row.text if row.text is not None else self._decode(row.ids)
            info: dict[str, Any] = {"prompt_tokens": len(row.prompt), "version": version}
            if row.stop is not None:
                info["stop"] = row.stop
            out.append(
                Completion(
                    text=text,
                    token_ids=row.ids,
                    logprobs=row.logprobs,
                    finish_reason=row.finish_reason,
                    info=info,
                )
            )
        return out

    def _threads(self) -> int:
        """Threads to sample with, or 0 to leave torch's setting alone."""
        if self.num_threads is not None:
            return max(0, self.num_threads)
        device = next(self.model.parameters()).device
        if device.type != "cpu":
            return 0
        size = sum(p.numel() for p in self.model.parameters())
        if size < 20_000_000:
            return 1
        if self._auto is None:
            self._auto = auto_threads()
        return self._auto

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def _sample(self, rows: list[_Row], flag: threading.Event | None = None) -> None:
        import torch

        model = self.model
        device = next(model.parameters()).device
        batch = len(rows)
        # Reuse the key/value cache of the longest earlier sequence each prompt extends.
        hits = [self._prefix.lookup(r.prompt) if self._prefix is not None else None for r in rows]
        reuse = [min(len(h[0]), len(r.prompt) - 1) if h else 0 for h, r in zip(hits, rows)]
        past_width = max(reuse)
        suffixes = [r.prompt[c:] for r, c in zip(rows, reuse)]
        width = max(len(x) for x in suffixes)
        input_ids = torch.full((batch, width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((batch, past_width + width), dtype=torch.long)
        positions = torch.zeros((batch, width), dtype=torch.long)
        for i, (suffix, c) in enumerate(zip(suffixes, reuse)):
            input_ids[i, width - len(suffix) :] = torch.tensor(suffix, dtype=torch.long)
            attention[i, past_width - c : past_width] = 1
            attention[i, past_width + width - len(suffix) :] = 1
            positions[i, width - len(suffix) :] = torch.arange(c, c + len(suffix))
        cache = None
        if past_width:
            from transformers import DynamicCache

            assert self._prefix is not None
            self._prefix.reused_tokens += sum(reuse)
            cache = DynamicCache(config=model.config)
            n_layers = len(next(h for h in hits if h)[1])
            for layer in range(n_layers):
                ref_k, ref_v = next(h for h in hits if h)[1][layer]
                ks = ref_k.new_zeros((batch, ref_k.shape[0], past_width, ref_k.shape[2]))
                vs = ref_v.new_zeros((batch, ref_v.shape[0], past_width, ref_v.shape[2]))
                for i, (h, c) in enumerate(zip(hits, reuse)):
                    if h and c:
                        k, v = h[1][layer]
                        ks[i, :, past_width - c :] = k[:, :c]
                        vs[i, :, past_width - c :] = v[:, :c]
                cache.update(ks.to(device), vs.to(device), layer)
        temps = torch.tensor([r.params.temperature for r in rows], dtype=torch.float32)
        greedy = temps <= 0
        scale = torch.where(greedy, torch.ones_like(temps), temps)[:, None]
        top_p = torch.tensor([r.params.top_p for r in rows], dtype=torch.float32)[:, None]
        steps = max(r.params.max_new_tokens for r in rows)
        input_ids, attention, positions = (t.to(device) for t in (input_ids, attention, positions))
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = model(
                    input_ids=input_ids,
                    attention_mask=attention,
                    position_ids=positions,
                    past_key_values=cache,
                    use_cache=True,
                    logits_to_keep=1,
                )
                past = out.past_key_values
                next_pos = positions[:, -1:] + 1
                fed = 0
                for _ in range(steps):
                    if flag is not None and flag.is_set():
                        raise GenerationCancelled(
                            f"generation cancelled after {fed} of {steps} decoding steps"
                        )
                    self.decode_steps += 1
                    logits = out.logits[:, -1, :].float().cpu()
                    tokens = self._pick(rows, logits, greedy, scale, top_p)
                    if all(r.done for r in rows):
                        break
                    attention = torch.cat(
                        [attention, torch.ones((batch, 1), dtype=torch.long, device=device)], dim=1
                    )
                    out = model(
                        input_ids=tokens[:, None].to(device),
                        attention_mask=attention,
                        position_ids=next_pos,
                        past_key_values=past,
                        use_cache=True,
                    )
                    past = out.past_key_values
                    next_pos = next_pos + 1
                    fed += 1
                if self._prefix is not None:
                    self._remember(rows, hits, attention, past, fed)
        finally:
            if was_training:
                model.train()

    def _remember(
        self, rows: list[_Row], hits: list[Any], attention: Any, past: Any, fed: int
    ) -> None:
        """Keep each row's key/values (prompt and the sampled tokens fed back) for later turns."""
        assert self._prefix is not None
        layers = [(layer.keys, layer.values) for layer in past.layers]
        for i, row in enumerate(rows):
            n_ids = min(len(row.ids), fed)
            length = len(row.prompt) + n_ids
            idx = attention[i].nonzero()[:length, 0]
            if len(idx) != length:
                continue
            kv = [(k[i][:, idx].clone(), v[i][:, idx].clone()) for k, v in layers]
            key = tuple(row.prompt) + tuple(row.ids[:n_ids])
            self._prefix.add(key, kv, replaces=hits[i][0] if hits[i] else None)

    def _pick(self, rows: list[_Row], logits: Any, greedy: Any, scale: Any, top_p: Any) -> Any:
        """Choose the next token of every live row and record it; returns the token tensor."""
        import torch

        scaled = torch.log_softmax(logits / scale, dim=-1)
        lp_table = scaled if self.logprob_mode == "sampling" else torch.log_softmax(logits, dim=-1)
        probs = scaled.exp()
        if bool((top_p < 1).any()):
            sorted_p, idx = probs.sort(dim=-1, descending=True)
            drop = (sorted_p.cumsum(-1) - sorted_p) >= top_p
            sorted_p = sorted_p.masked_fill(drop, 0.0)
            probs = torch.zeros_like(probs).scatter(-1, idx, sorted_p)
        argmax = logits.argmax(dim=-1)
        tokens = torch.full((len(rows),), self.pad_id, dtype=torch.long)
        for i, row in enumerate(rows):
            if row.done:
                continue
            if bool(greedy[i]):
                tok = int(argmax[i])
            else:
                tok = int(torch.multinomial(probs[i], 1, generator=row.generator).item())
            tokens[i] = tok
            row.ids.append(tok)
            row.logprobs.append(float(lp_table[i, tok]))
            if tok in self.eos_ids:
                row.done, row.finish_reason = True, "stop"
            elif row.params.stop and self._check_stop(row):
                row.done, row.finish_reason = True, "stop"
            elif len(row.ids) >= row.params.max_new_tokens:
                row.done, row.finish_reason = True, "length"
        return tokens

    def _check_stop(self, row: _Row) -> bool:
        stops = [s for s in row.params.stop or [] if s]
        if not stops:
            return False
        window = 2 * max(len(s) for s in stops) + 4
        tail = self._decode(row.ids[-window:])
        if not any(s in tail for s in stops):
            return False
        text = self._decode(row.ids)
        hits = [(text.find(s), s) for s in stops if s in text]
        if not hits:
            return False
        pos, stop = min(hits)
        row.text, row.stop = text[:pos], stop
        return True

    def close(self) -> None:
        """Release the model."""
        self.model = None


def is_adapter_dir(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a LoRA (PEFT) adapter folder without full model weights."""
    p = Path(path)
    return (p / "adapter_config.json").is_file() and not (p / "config.json").is_file()


def adapter_base(path: str | os.PathLike[str]) -> str:
    """The base model of the adapter folder ``path``, resolved to a loadable path or id.

    Raises:
        FileNotFoundError: when the adapter names no base model.
    """
    import json

    from gymnpt.models.tiny import resolve_model

    cfg = json.loads((Path(path) / "adapter_config.json").read_text(encoding="utf-8"))
    base = cfg.get("base_model_name_or_path")
    if not base:
        raise FileNotFoundError(
            f"the LoRA adapter in {path} names no base model (base_model_name_or_path)"
        )
    return str(resolve_model(str(base)))


def load_adapter_model(path: str | os.PathLike[str], *, dtype: Any = None) -> Any:
    """Load the base model of a LoRA adapter folder, apply the adapter and merge it.

    The merged model samples as fast as the base model and equals base + adapter.
    """
    import peft
    from transformers import AutoModelForCausalLM

    base_path = adapter_base(path)
    try:
        base = AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype)
    except OSError as exc:
        raise FileNotFoundError(
            f"cannot load the base model {base_path!r} of the LoRA adapter in {path}: {exc}"
        ) from exc
    return peft.PeftModel.from_pretrained(base, str(path)).merge_and_unload()


def usable_cores() -> int:
    """CPU cores this process may use: its CPU affinity, capped by a cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]  # noqa: SIM115
        if quota != "max":
            cores = min(cores, max(1, int(float(quota) / float(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def auto_threads() -> int:
    """Threads for a local model that do not oversubscribe the cores.

    The usable cores (:func:`usable_cores`) minus the one-minute load average of the machine,
    rounded, at least 1: on an idle machine every core, on cores shared with other busy
    processes fewer (on two busy cores, one). The choice is made once per policy; pass
    ``threads=N`` to pin it, e.g. for runs that must match bit for bit across machines.
    """
    cores = usable_cores()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    return max(1, min(cores, round(cores - load)))


def make_hf_policy(env_id: str | None = None, model: str = "tiny", **kwargs: Any) -> HFPolicy:
    """Registry factory of the ``hf`` agent: ``HFPolicy(model, **kwargs)``."""
    del env_id
    return HFPolicy(model, **kwargs)
