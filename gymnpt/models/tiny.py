"""The built-in tiny model: ``model=tiny``.

A small Llama-style transformer with a byte-level tokenizer and a ChatML chat template, built in
code with no download, so every command runs on a fresh CPU machine. The weights are random
(seeded); training warm-starts them with supervised fine-tuning on bot games.

The tokenizer has one token per byte (ids 0-255) and three special tokens: ``<|pad|>`` (256),
``<|im_start|>`` (257) and ``<|im_end|>`` (258, the end-of-turn / eos token). Any text
round-trips exactly, and short replies such as ``up`` or ``down`` are a few tokens each.

The chat template is ChatML and append-only: rendering ``messages[:k]`` is a prefix of
rendering ``messages[:k+1]``::

    <|im_start|>system\\n...<|im_end|>\\n<|im_start|>user\\n...<|im_end|>\\n<|im_start|>assistant\\n

Use :func:`build_tiny` for an in-memory ``(model, tokenizer)`` pair, :func:`tiny_path` for a
saved copy in the cache (created once), and :func:`resolve_model` to turn a model name used on
the command line (``tiny``, ``smollm2``, a Hugging Face id or a local path) into something
``from_pretrained`` accepts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "CHAT_TEMPLATE",
    "TINY_DEFAULTS",
    "build_tiny",
    "build_tiny_tokenizer",
    "cache_dir",
    "fit_tiny_tokenizer",
    "resolve_model",
    "tiny_path",
]

PAD, IM_START, IM_END = "<|pad|>", "<|im_start|>", "<|im_end|>"

#: ChatML, append-only, with ``add_generation_prompt`` support.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

#: Architecture of the tiny model; every key can be overridden in :func:`build_tiny`.
TINY_DEFAULTS: dict[str, Any] = {
    "hidden_size": 128,
    "intermediate_size": 384,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 4096,
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "initializer_range": 0.02,
}

#: Bumped whenever the tokenizer or the construction changes, so cached copies are rebuilt.
_FORMAT_VERSION = 1


def _bytes_to_unicode() -> dict[int, str]:
    """The byte -> printable character map used by byte-level BPE tokenizers."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars, strict=True)}


def build_tiny_tokenizer() -> Any:
    """The tiny model's tokenizer: one token per byte plus the ChatML special tokens.

    Returns:
        A ``transformers.PreTrainedTokenizerFast`` with ``eos_token="<|im_end|>"``,
        ``pad_token="<|pad|>"`` and the ChatML :data:`CHAT_TEMPLATE`.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    byte_chars = _bytes_to_unicode()
    vocab = {byte_chars[b]: b for b in range(256)}
    for i, tok in enumerate((PAD, IM_START, IM_END)):
        vocab[tok] = 256 + i
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    return _wrap_tokenizer(core)


def fit_tiny_tokenizer(texts: Iterable[str], vocab_size: int = 512) -> Any:
    """A compact byte-level BPE tokenizer fitted on ``texts`` (e.g. rendered bot episodes).

    Words and board cells that recur in the texts become single tokens, so a conversation is
    several times shorter than with one token per byte; every byte stays in the vocabulary,
    so any other text still round-trips exactly. The special tokens, their roles and the chat
    template are those of :func:`build_tiny_tokenizer`.

    Args:
        texts: the training texts.
        vocab_size: the vocabulary size to reach (at least the 259 byte and special tokens).

    Returns:
        A ``transformers.PreTrainedTokenizerFast``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if vocab_size < 259:
        raise ValueError(f"vocab_size must be >= 259 (bytes and special tokens), got {vocab_size}")
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[PAD, IM_START, IM_END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    return _wrap_tokenizer(core)


def _wrap_tokenizer(core: Any) -> Any:
    """``core`` (a ``tokenizers.Tokenizer``) with the tiny model's special tokens and template."""
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token=IM_END,
        pad_token=PAD,
        extra_special_tokens=[IM_START],
        padding_side="left",
        model_max_length=TINY_DEFAULTS["max_position_embeddings"],
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _tiny_config(tokenizer: Any, overrides: dict[str, Any]) -> Any:
    from transformers import LlamaConfig

    unknown = set(overrides) - set(TINY_DEFAULTS) - {"attn_implementation"}
    if unknown:
        raise ValueError(
            f"unknown tiny-model option(s) {sorted(unknown)}; valid: {sorted(TINY_DEFAULTS)}"
        )
    arch = {**TINY_DEFAULTS, **overrides}
    attn = arch.pop("attn_implementation", "sdpa")
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **arch,
    )
    cfg._attn_implementation = attn
    return cfg


def build_tiny(seed: int = 0, tokenizer: Any = None, **overrides: Any) -> tuple[Any, Any]:
    """Build the tiny model and its tokenizer in memory.

    The result depends only on ``seed`` and ``overrides`` (the global torch RNG is neither
    read nor changed).

    Args:
        seed: seed of the random initialization.
        tokenizer: the tokenizer (default: :func:`build_tiny_tokenizer`; for example one from
            :func:`fit_tiny_tokenizer`); the vocabulary size follows it.
        **overrides: architecture keys of :data:`TINY_DEFAULTS` (e.g. ``hidden_size=64``).

    Returns:
        ``(model, tokenizer)``: a float32 ``LlamaForCausalLM`` in eval mode and its tokenizer.
    """
    import torch
    from transformers import GenerationConfig, LlamaForCausalLM

    if tokenizer is None:
        tokenizer = build_tiny_tokenizer()
    config = _tiny_config(tokenizer, overrides)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=True
    )
    model.eval()
    return model, tokenizer


def cache_dir() -> Path:
    """gymnpt's cache folder: ``$GYMNPT_CACHE`` or ``~/.cache/gymnpt``."""
    root = os.environ.get("GYMNPT_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "gymnpt"


def _key(seed: int, overrides: dict[str, Any]) -> str:
    import transformers

    blob = json.dumps(
        {
            "format": _FORMAT_VERSION,
            "seed": seed,
            "arch": {**TINY_DEFAULTS, **overrides},
            "transformers": transformers.__version__.split(".")[0],
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def save_atomically(target: Path, write: Any) -> Path:
    """Create folder ``target`` by calling ``write(tmp_dir)`` and renaming the result.

    Readers never see a half-written folder; when another process wins the race, its copy is
    kept and ours is discarded.

    Args:
        target: the folder to create.
        write: a callable that fills the temporary folder it is given.

    Returns:
        ``target``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        write(tmp)
        os.chmod(tmp, 0o755)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / "config.json").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def tiny_path(seed: int = 0, **overrides: Any) -> Path:
    """The saved tiny model (model and tokenizer), created once under :func:`cache_dir`.

    Args:
        seed: seed of the random initialization.
        **overrides: architecture keys of :data:`TINY_DEFAULTS`.

    Returns:
        The folder, e.g. ``~/.cache/gymnpt/tiny-<hash>``, loadable with ``from_pretrained``.
    """
    target = cache_dir() / f"tiny-{_key(seed, overrides)}"
    if (target / "config.json").exists() and (target / "tokenizer.json").exists():
        return target

    def write(tmp: Path) -> None:
        from transformers.utils import logging as hf_logging

        model, tokenizer = build_tiny(seed, **overrides)
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            model.save_pretrained(tmp)
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        tokenizer.save_pretrained(tmp)

    return save_atomically(target, write)


def resolve_model(name: str | os.PathLike[str]) -> str:
    """Turn a model name into something ``from_pretrained`` accepts.

    ``tiny`` (or ``tiny:<seed>``) is the built-in tiny model; a short name a plugin registered
    (``registry.register_model``, e.g. ``smollm2`` from the agents plugin) resolves through the
    registry; anything else (a Hugging Face id or a local path) is returned unchanged.

    Args:
        name: the model name.

    Returns:
        A local path or a Hugging Face model id.
    """
    text = str(name).strip()
    if not text:
        raise ValueError(
            "empty model name; use model=tiny, a registered model name, a local path or an HF id"
        )
    if text == "tiny" or text.startswith("tiny:"):
        seed_text = text.partition(":")[2]
        if seed_text and not seed_text.isdigit():
            raise ValueError(f"bad tiny model name {text!r}; expected 'tiny' or 'tiny:<seed>'")
        return str(tiny_path(int(seed_text) if seed_text else 0))
    if os.path.exists(text):
        return text
    # Short names that plugins register (``smollm2`` comes from the agents plugin).
    from gymnpt.core.registry import default_registry

    return default_registry().resolve_model(text)
