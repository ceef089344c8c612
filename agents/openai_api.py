"""``openai``: any OpenAI-compatible endpoint as a policy.

Works with ``gymnpt serve``, ``vllm serve`` and hosted APIs. Two modes:

* ``mode=chat`` (default) posts the conversation to ``/v1/chat/completions``; the server
  applies its chat template to the whole conversation on every turn, so the ids it samples
  do not continue a trajectory's token ids. When the served model's tokenizer is available
  here (``tokenizer=``, or ``model`` naming ``tiny``, a registered model such as ``smollm2``, a
  local path or a Hugging Face id in the local cache) the policy returns the reply as text
  only and the rollout engine re-tokenizes it, marking the trajectory
  ``info["retokenized"] = True`` (the learner then recomputes the old logprobs). Without a
  tokenizer (a hosted API) trajectories hold text only, and the learner refuses them with a
  message saying so. The server's ids and logprobs stay in ``Completion.info``.
* ``mode=completions`` posts prompt *token ids* to ``/v1/completions`` (token in) and reads
  back the sampled ids (``token_ids`` in each choice, as ``gymnpt serve`` and vLLM's
  ``return_token_ids`` give them) and their logprobs (token out). It needs the model's
  tokenizer here (``tokenizer=``, by default loaded from ``model``: ``tiny``, ``smollm2``, a
  path or a Hugging Face id); the engine then keeps token-exact trajectories.

Requests of one batch are sent concurrently (at most ``max_concurrent`` at a time). Connection
errors, timeouts, 5xx and 429 answers are retried with exponential backoff; when the server
cannot be reached at all the error says ``cannot reach <url>: ... is the server running?``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any
from urllib.parse import urlsplit

from gymnpt.rollout.policy import Completion, Request, SamplingParams, sampling_overrides
from gymnpt.rollout.tokens import prompt_ids

__all__ = ["OpenAIPolicy", "ServerError", "make_openai_policy"]

_MODES = ("chat", "completions")


class ServerError(RuntimeError):
    """The server answered with an error status (after retries, for retryable ones)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def normalize_base_url(url: str) -> str:
    """``http://host:8000`` -> ``http://host:8000/v1``; a URL with a path is kept as is."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must look like http://host:port/v1, got {url!r}")
    if parts.path in ("", "/"):
        url += "/v1"
    return url


class OpenAIPolicy:
    """A policy served over the OpenAI HTTP API.

    Args:
        base_url: the API root, e.g. ``http://127.0.0.1:8000/v1`` (``/v1`` is added to a
            bare ``http://host:port``).
        model: the served model name; when None, the first one ``/v1/models`` lists.
        api_key: bearer token (default: ``$OPENAI_API_KEY``, else none).
        mode: ``chat`` or ``completions`` (token in / token out; see the module doc).
        tokenizer: a tokenizer or a model name to load it from (default: ``model``). Required
            in ``completions`` mode; in ``chat`` mode it makes trajectories re-tokenized
            rather than text-only (``False`` keeps them text-only).
        name: the policy name in trajectories (default ``openai:<model>``).
        max_concurrent: the most requests in flight at once.
        timeout: seconds per HTTP request.
        max_retries: retries of a retryable failure before giving up.
        backoff: first retry delay in seconds; doubled on each retry up to ``max_backoff``.
        max_backoff: the longest delay between retries.
        logprobs: ask the server for the logprobs of the sampled tokens.
        return_token_ids: in ``completions`` mode, ask for the sampled ids (vLLM's and gymnpt
            serve's ``return_token_ids``); turn off for servers that reject unknown fields.
        temperature: when set, overrides every request's temperature.
        top_p: when set, overrides every request's top_p.
        max_new_tokens: when set, overrides every request's max_new_tokens.
        stop: when set, overrides every request's stop strings.
        extra_body: extra JSON fields sent with every request.
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        *,
        mode: str = "chat",
        tokenizer: Any = None,
        name: str | None = None,
        max_concurrent: int = 16,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        logprobs: bool = True,
        return_token_ids: bool = True,
        temperature: float | None = None,
        top_p: float | None = None,
        max_new_tokens: int | None = None,
        stop: list[str] | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        if max_concurrent < 1 or max_retries < 0 or timeout <= 0 or backoff < 0:
            raise ValueError(
                "need max_concurrent >= 1, max_retries >= 0, timeout > 0, backoff >= 0"
            )
        self.base_url = normalize_base_url(base_url)
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.mode = mode
        self.max_concurrent = max_concurrent
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.want_logprobs = logprobs
        self.return_token_ids = return_token_ids
        self.extra_body = dict(extra_body or {})
        self.overrides: dict[str, Any] = sampling_overrides(
            temperature, top_p, max_new_tokens, stop
        )
        self.version = 0
        self.name = name or f"openai:{model or self.base_url}"
        self.tokenizer: Any = None
        if mode == "completions":
            if tokenizer is False:
                raise ValueError("mode=completions sends token ids: it needs a tokenizer")
            self.tokenizer = self._load_tokenizer(tokenizer if tokenizer is not None else model)
        elif tokenizer is not None and tokenizer is not False:
            self.tokenizer = self._load_tokenizer(tokenizer)
        elif tokenizer is None and model:
            self.tokenizer = _local_tokenizer(model)
        self._loop: Any = None
        self._client: Any = None
        self._sem: asyncio.Semaphore | None = None
        self._model_lock: asyncio.Lock | None = None

    @staticmethod
    def _load_tokenizer(tokenizer: Any) -> Any:
        if tokenizer is None:
            raise ValueError(
                "mode=completions needs tokenizer= (or model=) naming the served model's tokenizer"
            )
        if not isinstance(tokenizer, (str, os.PathLike)):
            return tokenizer
        from transformers import AutoTokenizer

        from gymnpt.models.tiny import resolve_model

        path = resolve_model(str(tokenizer))
        try:
            return AutoTokenizer.from_pretrained(path)
        except OSError as exc:
            raise FileNotFoundError(
                f"mode=completions needs the served model's tokenizer here; cannot load {tokenizer!r}: "
                f"{exc}. Pass tokenizer=<local path or cached id>, or use mode=chat."
            ) from exc

    # ---- HTTP plumbing ---------------------------------------------------------------------
    def _state(self) -> tuple[Any, asyncio.Semaphore]:
        """The HTTP client and semaphore of the running event loop (made on first use)."""
        import httpx

        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._client is None or self._sem is None:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            limits = httpx.Limits(
                max_connections=self.max_concurrent, max_keepalive_connections=self.max_concurrent
            )
            self._client = httpx.AsyncClient(headers=headers, timeout=self.timeout, limits=limits)
            self._sem = asyncio.Semaphore(self.max_concurrent)
            self._model_lock = asyncio.Lock()
            self._loop = loop
        return self._client, self._sem

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One API call with retries; returns the decoded JSON answer."""
        import httpx

        client, sem = self._state()
        url = f"{self.base_url}{path}"
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                await asyncio.sleep(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
            try:
                async with sem:
                    resp = await client.request(method, url, json=body)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                last = exc
                continue
            if resp.status_code == 429 or resp.status_code >= 500:
                last = ServerError(
                    f"{url} answered {resp.status_code}: {_error_text(resp)}", resp.status_code
                )
                continue
            if resp.status_code >= 400:
                raise ServerError(
                    f"{url} answered {resp.status_code}: {_error_text(resp)}", resp.status_code
                )
            try:
                return resp.json()
            except ValueError as exc:
                raise ServerError(
                    f"{url} answered with a body that is not JSON: {resp.text[:200]!r}"
                ) from exc
        tries = self.max_retries + 1
        if isinstance(last, ServerError):
            raise ServerError(f"{last} (after {tries} tries)", last.status)
        if isinstance(last, httpx.TimeoutException) and not isinstance(last, httpx.ConnectTimeout):
            raise TimeoutError(
                f"{url} did not answer within {self.timeout}s ({tries} tries): {type(last).__name__}"
            ) from last
        raise ConnectionError(
            f"cannot reach {self.base_url}: {type(last).__name__}: {last} ({tries} tries); is the server running?"
        ) from last

    async def served_model(self) -> str:
        """The model name requests carry: ``model=`` or the first one the server lists."""
        if self.model:
            return self.model
        self._state()
        assert self._model_lock is not None
        async with self._model_lock:
            if not self.model:
                listing = await self._call("GET", "/models")
                data = listing.get("data") if isinstance(listing, dict) else None
                if not data:
                    raise ServerError(f"{self.base_url}/models lists no model; pass model=")
                self.model = str(data[0]["id"])
        return self.model

    # ---- the policy --------------------------------------------------------------------------
    async def generate(self, requests: list[Request]) -> list[Completion]:
        """Send every request concurrently; the i-th completion answers the i-th request."""
        if not requests:
            return []
        await self.served_model()
        return list(await asyncio.gather(*(self._one(r) for r in requests)))

    def _params(self, params: SamplingParams) -> SamplingParams:
        return params.with_(**self.overrides) if self.overrides else params

    def _body(self, params: SamplingParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_new_tokens,
            "n": 1,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        return body

    async def _one(self, req: Request) -> Completion:
        params = self._params(req.params)
        body = self._body(params)
        if self.mode == "chat":
            body["messages"] = [{"role": m["role"], "content": m["content"]} for m in req.messages]
            if self.want_logprobs:
                body["logprobs"] = True
            body.update(self.extra_body)
            answer = await self._call("POST", "/chat/completions", body)
            return self._parse_chat(answer)
        body["prompt"] = prompt_ids(req, self.tokenizer, name=self.model or "")
        if self.want_logprobs:
            body["logprobs"] = 1
        if self.return_token_ids:
            body["return_token_ids"] = True
        body.update(self.extra_body)
        answer = await self._call("POST", "/completions", body)
        return self._parse_completion(answer)

    @staticmethod
    def _choice(answer: Any) -> dict[str, Any]:
        try:
            choice = answer["choices"][0]
        except (KeyError, IndexError, TypeError) as exc:
            raise ServerError(f"malformed answer without choices: {str(answer)[:200]}") from exc
        return dict(choice)

    def _parse_chat(self, answer: Any) -> Completion:
        choice = self._choice(answer)
        text = (choice.get("message") or {}).get("content") or ""
        lp_block = choice.get("logprobs") or {}
        entries = lp_block.get("content") if isinstance(lp_block, dict) else None
        logprobs = [float(e["logprob"]) for e in entries] if entries else None
        ids = _ids(choice.get("token_ids"))
        info = {"usage": answer.get("usage"), "model": answer.get("model")}
        if self.tokenizer is not None:
            # The server templated the whole conversation itself: its ids do not continue the
            # trajectory, so hand back text and let the engine re-tokenize it (marked).
            info.update(server_token_ids=ids, server_logprobs=logprobs)
            ids, logprobs = None, None
        return Completion(
            text=str(text),
            token_ids=ids,
            logprobs=logprobs,
            finish_reason=_finish(choice.get("finish_reason")),
            info=info,
        )

    def _parse_completion(self, answer: Any) -> Completion:
        choice = self._choice(answer)
        lp_block = choice.get("logprobs") or {}
        token_lps = lp_block.get("token_logprobs") if isinstance(lp_block, dict) else None
        logprobs = [float(x) if x is not None else 0.0 for x in token_lps] if token_lps else None
        ids = _ids(choice.get("token_ids"))
        if ids is not None and logprobs is not None and len(ids) != len(logprobs):
            logprobs = None
        return Completion(
            text=str(choice.get("text") or ""),
            token_ids=ids,
            logprobs=logprobs if ids is not None else None,
            finish_reason=_finish(choice.get("finish_reason")),
            info={"usage": answer.get("usage"), "model": answer.get("model")},
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
        self._client = None

    def close(self) -> None:
        """Close the HTTP client when its event loop is gone or idle (best effort)."""
        client, loop = self._client, self._loop
        self._client = None
        if client is None or loop is None or loop.is_closed():
            return
        if not loop.is_running():
            try:
                loop.run_until_complete(client.aclose())
            except RuntimeError:
                pass


def _local_tokenizer(model: str) -> Any:
    """The tokenizer of ``model`` when it is available without a download, else None."""
    from transformers import AutoTokenizer

    from gymnpt.models.tiny import resolve_model

    try:
        path = resolve_model(str(model))
        return AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError):
        return None


def _ids(raw: Any) -> list[int] | None:
    if not isinstance(raw, list):
        return None
    try:
        return [int(x) for x in raw]
    except (TypeError, ValueError):
        return None


def _finish(reason: Any) -> str:
    return "length" if reason == "length" else "stop"


def _error_text(resp: Any) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:300]
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and "message" in err:
            return str(err["message"])
        if "detail" in data:
            return str(data["detail"])
    return str(data)[:300]


def make_openai_policy(
    env_id: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    mode: str = "chat",
    **kwargs: Any,
) -> OpenAIPolicy:
    """Registry factory of the ``openai`` agent."""
    del env_id
    if not base_url:
        raise ValueError("the openai policy needs base_url=http://host:port/v1")
    return OpenAIPolicy(base_url, model, api_key, mode=mode, **kwargs)
