"""The policy protocol: answer a batch of conversations.

Every backend (``hf``, ``vllm``, ``openai``, scripted bots, ``human``) implements
:class:`Policy`. A model-backed policy exposes its ``tokenizer``; the rollout engine then
tracks the exact token ids of each conversation and passes them as
``Request.prompt_token_ids`` (token in), and the policy returns the ids it sampled with
their logprobs (token out), so that the history is never re-tokenized.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "SamplingParams",
    "Request",
    "Completion",
    "Policy",
    "BasePolicy",
    "Message",
    "check_sampling",
    "effective_params",
    "sampling_overrides",
]

Message = dict[str, str]


@dataclass
class SamplingParams:
    """How to sample one reply."""

    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 64
    stop: list[str] | None = None
    #: Seed for this request's sampling, when the backend supports it.
    seed: int | None = None

    def with_(self, **kw: Any) -> SamplingParams:
        return replace(self, **kw)


def check_sampling(params: SamplingParams) -> None:
    """Raise ValueError when ``params`` cannot be sampled with."""
    if params.max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {params.max_new_tokens}")
    if params.temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {params.temperature}")
    if not 0 < params.top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {params.top_p}")
    if params.stop is not None and not all(isinstance(s, str) for s in params.stop):
        raise ValueError(f"stop must be a list of strings, got {params.stop!r}")


def effective_params(params: SamplingParams, overrides: dict[str, Any]) -> SamplingParams:
    """A request's sampling parameters with a policy's forced settings on top, checked.

    Every backend resolves what it samples with here, so the same request gets the same
    settings from ``hf`` and ``vllm``.
    """
    out = params.with_(**overrides) if overrides else params
    check_sampling(out)
    return out


def sampling_overrides(
    temperature: float | None = None,
    top_p: float | None = None,
    max_new_tokens: int | None = None,
    stop: list[str] | None = None,
) -> dict[str, Any]:
    """The sampling settings a policy forces on every request (the ones that are not None),
    checked."""
    out = {
        k: v
        for k, v in {
            "temperature": temperature,
            "top_p": top_p,
            "max_new_tokens": max_new_tokens,
            "stop": list(stop) if stop is not None else None,
        }.items()
        if v is not None
    }
    if out:
        check_sampling(SamplingParams().with_(**out))
    return out


@dataclass
class Request:
    """One pending model call: a seat's conversation so far."""

    #: The whole conversation for this seat, system prompt first (read-only for policies).
    messages: list[Message]
    #: The exact token ids the model must condition on (set by the engine for policies with
    #: a tokenizer). When None, the policy renders ``messages`` itself.
    prompt_token_ids: list[int] | None = None
    seat: str = "player"
    params: SamplingParams = field(default_factory=SamplingParams)
    #: The live env (multi-agent API), for scripted bots that read the game state. Never
    #: sent over the wire.
    env: Any = None
    episode_id: str = ""
    env_id: str = ""


@dataclass
class Completion:
    """A reply, with the sampled token ids and their logprobs when the backend has them."""

    text: str
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    #: "stop" (end of turn token or a stop string) or "length" (hit max_new_tokens).
    finish_reason: str = "stop"
    #: Extra per-backend details (timings, usage).
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Policy(Protocol):
    """Anything that answers batches of conversations.

    Optional methods, looked up with ``getattr`` by the callers that use them:

    * ``cancel() -> None``: stop the work of every ``generate`` call in flight. The rollout
      engine calls it when a batched call passes its deadline (``call_timeout``), after it has
      given up on that call's answers (the episodes of the batch end as ``error``), so that an
      abandoned batch stops using the model (a generation thread returns within one decoding
      step, a server request is aborted). It must be safe from any thread, must not affect
      calls made after it returns, and may do nothing when nothing is running. A policy
      without it keeps computing the abandoned answers until they are done.
    * ``close() -> None``: release what the policy holds (a model, a server, a connection).
    """

    #: A stable name for trajectories and tables, e.g. ``hf:tiny`` or ``bot:minimax``.
    name: str
    #: Bumped on each weight update; recorded in trajectories.
    version: int
    #: The tokenizer when the backend is a language model, else None.
    tokenizer: Any

    async def generate(self, requests: list[Request]) -> list[Completion]:
        """Answer every request; the i-th completion answers the i-th request."""
        ...


class BasePolicy:
    """Convenience base: subclasses implement :meth:`act` (one request, sync) or
    :meth:`generate` (a batch, async)."""

    name: str = "policy"
    version: int = 0
    tokenizer: Any = None
    #: Whether :meth:`act` is cheap enough to run on the event loop.
    inline: bool = True

    def act(self, request: Request) -> str | Completion:
        raise NotImplementedError

    async def generate(self, requests: list[Request]) -> list[Completion]:
        out = []
        for req in requests:
            if self.inline:
                res = self.act(req)
            else:
                res = await asyncio.to_thread(self.act, req)
            out.append(res if isinstance(res, Completion) else Completion(text=str(res)))
        return out

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
