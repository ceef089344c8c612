"""The OpenAI wire format of ``gymnpt serve``: request parsing, logprobs and answers.

Bad requests raise :class:`APIError`, which the server turns into a JSON error with its
HTTP status.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from gymnpt.rollout.policy import Completion, SamplingParams

__all__ = ["APIError"]


class APIError(Exception):
    """An error answered in the OpenAI format."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


def _messages(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise APIError(400, "messages must be a non-empty list of {role, content}")
    out = []
    for m in raw:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise APIError(400, f"each message needs a role and content, got {str(m)[:100]}")
        content = m.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(
                p.get("text", "")
                for p in content
                if isinstance(p, dict) and p.get("type") == "text"
            )
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise APIError(400, f"message content must be a string, got {type(content).__name__}")
        out.append({"role": m["role"], "content": content})
    return out


def _vocab_size(policy: Any, tokenizer: Any) -> int:
    model = getattr(policy, "model", None)
    size = getattr(getattr(model, "config", None), "vocab_size", None)
    return int(size) if size else len(tokenizer)


def _prompts(raw: Any, tokenizer: Any, vocab: int) -> list[list[int]]:
    def one(p: Any) -> list[int]:
        if isinstance(p, str):
            ids = list(tokenizer.encode(p))
        elif isinstance(p, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in p):
            ids = list(p)
        else:
            raise APIError(400, "prompt must be a string, a list of token ids, or a list of those")
        if not ids:
            raise APIError(400, "empty prompt")
        bad = [t for t in ids if not 0 <= t < vocab]
        if bad:
            raise APIError(400, f"token ids out of range 0..{vocab - 1}: {bad[:5]}")
        return ids

    if isinstance(raw, str) or (
        isinstance(raw, list) and raw and all(isinstance(t, int) for t in raw)
    ):
        return [one(raw)]
    if isinstance(raw, list) and raw:
        return [one(p) for p in raw]
    raise APIError(400, "prompt must be a string, a list of token ids, or a list of those")


def _number(body: dict[str, Any], key: str, default: Any, kind: type) -> Any:
    value = body.get(key)
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (kind is int and not isinstance(value, int))
    ):
        raise APIError(400, f"{key} must be a {kind.__name__}, got {value!r}")
    return kind(value)


def _sampling(body: dict[str, Any], default_max_tokens: int) -> tuple[SamplingParams, int]:
    temperature = _number(body, "temperature", 1.0, float)
    top_p = _number(body, "top_p", 1.0, float)
    max_tokens = _number(body, "max_completion_tokens", None, int)
    max_tokens = _number(
        body, "max_tokens", max_tokens if max_tokens is not None else default_max_tokens, int
    )
    n = _number(body, "n", 1, int)
    seed = _number(body, "seed", None, int)
    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if stop is not None and not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
        raise APIError(400, f"stop must be a string or a list of strings, got {stop!r}")
    if temperature < 0:
        raise APIError(400, f"temperature must be >= 0, got {temperature}")
    if not 0 < top_p <= 1:
        raise APIError(400, f"top_p must be in (0, 1], got {top_p}")
    if max_tokens < 1:
        raise APIError(400, f"max_tokens must be >= 1, got {max_tokens}")
    if not 1 <= n <= 128:
        raise APIError(400, f"n must be in 1..128, got {n}")
    params = SamplingParams(
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_tokens,
        stop=[s for s in stop if s] or None if stop else None,
        seed=seed,
    )
    return params, n


def _seeded(params: SamplingParams, i: int) -> SamplingParams:
    return params if params.seed is None or i == 0 else params.with_(seed=params.seed + i)


def _token_text(tokenizer: Any, tid: int) -> str:
    return str(tokenizer.decode([tid], skip_special_tokens=False))


def _chat_logprobs(tokenizer: Any, comp: Completion) -> list[dict[str, Any]]:
    out = []
    for tid, lp in zip(comp.token_ids or [], comp.logprobs or [], strict=False):
        text = _token_text(tokenizer, tid)
        out.append(
            {"token": text, "logprob": lp, "bytes": list(text.encode("utf-8")), "top_logprobs": []}
        )
    return out


def _completion_logprobs(tokenizer: Any, comp: Completion) -> dict[str, Any]:
    tokens, offsets, pos = [], [], 0
    for tid in comp.token_ids or []:
        text = _token_text(tokenizer, tid)
        tokens.append(text)
        offsets.append(pos)
        pos += len(text)
    return {
        "tokens": tokens,
        "token_logprobs": list(comp.logprobs or []),
        "top_logprobs": None,
        "text_offset": offsets,
    }


def _answer(
    obj: str,
    prefix: str,
    name: str,
    choices: list[dict[str, Any]],
    outs: list[Completion],
    prompt_ids: Any,
) -> dict[str, Any]:
    prompt_tokens = sum(int(c.info.get("prompt_tokens", 0)) for c in outs[:1]) if outs else 0
    if prompt_ids and isinstance(prompt_ids[0], list):
        prompt_tokens = sum(len(p) for p in prompt_ids)
    completion_tokens = sum(len(c.token_ids or []) for c in outs)
    return {
        "id": f"{prefix}-{uuid.uuid4().hex}",
        "object": obj,
        "created": int(time.time()),
        "model": name,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "prompt_token_ids": prompt_ids,
        "system_fingerprint": f"gymnpt-v{outs[0].info.get('version', 0) if outs else 0}",
    }
