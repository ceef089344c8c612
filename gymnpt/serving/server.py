"""``gymnpt serve``: an OpenAI-compatible HTTP server on the ``hf`` policy.

::

    gymnpt serve model=tiny port=8000 host=127.0.0.1

Endpoints:

* ``GET /health`` and ``GET /v1/models``.
* ``POST /v1/chat/completions``: messages, ``n``, ``temperature``, ``top_p``, ``max_tokens``,
  ``stop``, ``seed``, ``logprobs``.
* ``POST /v1/completions``: ``prompt`` as a string, a list of token ids, or a list of either.
* ``POST /v1/load_weights`` ``{"path": checkpoint_dir}``: load new weights (the version goes up).

Every choice carries the sampled ids in an extra ``token_ids`` field (like vLLM's
``return_token_ids``), and the answer carries ``prompt_token_ids``. Logprobs use the OpenAI
formats (``{"token", "logprob", "bytes", "top_logprobs"}`` entries for chat;
``tokens`` / ``token_logprobs`` / ``text_offset`` for completions) and cover the sampled
tokens only: a request for alternatives (chat ``top_logprobs`` above 0, completions
``logprobs`` above 1) is refused with a 400 error that says so, rather than answered with
empty lists. With ``n > 1`` and a ``seed``, choice ``i`` is sampled with ``seed + i``.

Requests that arrive together are answered by one batched ``generate`` call: a small queue
collects what arrives within ``batch_wait_ms`` (and everything that queued while the previous
batch ran) up to ``max_batch_size`` requests.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi import Request as HTTPRequest
from fastapi.responses import JSONResponse

from gymnpt.core.config import field_help
from gymnpt.rollout.policy import Completion, Request
from gymnpt.serving.wire import (
    APIError,
    _answer,
    _chat_logprobs,
    _completion_logprobs,
    _messages,
    _prompts,
    _sampling,
    _seeded,
    _vocab_size,
)

__all__ = ["BackgroundServer", "Config", "RequestBatcher", "create_app", "run"]


@dataclass
class Config:
    """``gymnpt serve``: serve a model over the OpenAI API."""

    model: str = field_help(
        "model to serve: tiny, a registered model name, a local path or a Hugging Face id",
        default="tiny",
    )
    host: str = field_help("interface to listen on (0.0.0.0 for all)", default="127.0.0.1")
    port: int = field_help("TCP port", default=8000)
    served_name: str = field_help(
        "model name clients send (default: the model argument)", default=""
    )
    device: str = field_help("cpu, cuda, cuda:N or auto", default="cpu")
    dtype: str = field_help("float32, bfloat16, float16 or auto", default="float32")
    threads: int = field_help(
        "CPU threads of the model; 0 = automatic: 1 for tiny models, else the cores not busy "
        "with other work",
        default=0,
    )
    seed: int = field_help("seed of requests that carry no seed", default=0)
    max_batch_size: int = field_help("the most requests sampled together", default=64)
    batch_wait_ms: float = field_help(
        "how long to wait for more requests before a batch starts", default=5.0
    )
    api_key: str = field_help("when set, clients must send it as a bearer token", default="")
    log_level: str = field_help(
        "uvicorn log level: critical, error, warning, info, debug", default="info"
    )

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be in 1..65535, got {self.port}")
        if self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {self.max_batch_size}")
        if self.batch_wait_ms < 0:
            raise ValueError(f"batch_wait_ms must be >= 0, got {self.batch_wait_ms}")
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0 (0 = automatic), got {self.threads}")
        if self.log_level not in ("critical", "error", "warning", "info", "debug", "trace"):
            raise ValueError(
                f"log_level must be critical, error, warning, info or debug, got {self.log_level!r}"
            )


class RequestBatcher:
    """Collects requests from concurrent HTTP calls into batched ``policy.generate`` calls.

    Args:
        policy: the policy that answers.
        wait_s: how long the first request of a batch waits for company.
        max_batch_size: the most requests per ``generate`` call.
    """

    def __init__(self, policy: Any, wait_s: float = 0.005, max_batch_size: int = 64) -> None:
        self.policy = policy
        self.wait_s = wait_s
        self.max_batch_size = max_batch_size
        self.batches = 0
        self.requests = 0
        self._queue: (
            asyncio.Queue[tuple[list[Request], asyncio.Future[list[Completion]]]] | None
        ) = None
        self._task: asyncio.Task[None] | None = None

    async def submit(self, requests: list[Request]) -> list[Completion]:
        """Queue ``requests`` (kept together in one batch) and wait for their completions."""
        loop = asyncio.get_running_loop()
        if self._queue is None or self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = loop.create_task(self._worker())
        fut: asyncio.Future[list[Completion]] = loop.create_future()
        await self._queue.put((requests, fut))
        return await fut

    async def _worker(self) -> None:
        assert self._queue is not None
        queue = self._queue
        loop = asyncio.get_running_loop()
        while True:
            items = [await queue.get()]
            size = len(items[0][0])
            deadline = loop.time() + self.wait_s
            while size < self.max_batch_size:
                try:
                    if queue.empty():
                        left = deadline - loop.time()
                        if left <= 0:
                            break
                        item = await asyncio.wait_for(queue.get(), left)
                    else:
                        item = queue.get_nowait()
                except (asyncio.TimeoutError, asyncio.QueueEmpty):
                    break
                items.append(item)
                size += len(item[0])
            flat = [r for reqs, _ in items for r in reqs]
            self.batches += 1
            self.requests += len(flat)
            try:
                outs = await self.policy.generate(flat)
            except Exception as exc:  # noqa: BLE001 - handed to each waiting caller
                for _, fut in items:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            pos = 0
            for reqs, fut in items:
                if not fut.done():
                    fut.set_result(outs[pos : pos + len(reqs)])
                pos += len(reqs)

    async def close(self) -> None:
        """Stop the worker task."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        self._task = None


async def _generate(batcher: RequestBatcher, reqs: list[Request]) -> list[Completion]:
    try:
        return await batcher.submit(reqs)
    except ValueError as exc:
        raise APIError(400, str(exc)) from exc


def create_app(
    policy: Any,
    *,
    served_name: str | None = None,
    batch_wait_ms: float = 5.0,
    max_batch_size: int = 64,
    api_key: str | None = None,
) -> FastAPI:
    """The FastAPI app serving ``policy`` (a token-level policy such as the registry's ``hf`` agent).

    Args:
        policy: a policy with a ``tokenizer``; ``load_weights(path)`` is used by
            ``/v1/load_weights`` when it has one.
        served_name: the model name clients use (default: ``policy.model_name`` or ``name``).
        batch_wait_ms: how long a request waits for others to batch with.
        max_batch_size: the most requests per ``generate`` call.
        api_key: when set, requests must carry ``Authorization: Bearer <api_key>``.
    """
    tokenizer = policy.tokenizer
    if tokenizer is None:
        raise ValueError("gymnpt serve needs a policy with a tokenizer (a language model)")
    name = served_name or str(getattr(policy, "model_name", "") or policy.name)
    batcher = RequestBatcher(policy, batch_wait_ms / 1000.0, max_batch_size)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await batcher.close()

    app = FastAPI(
        title="gymnpt serve", description=f"OpenAI-compatible API for {name}", lifespan=lifespan
    )
    app.state.policy = policy
    app.state.batcher = batcher
    app.state.served_name = name
    started = int(time.time())

    @app.exception_handler(APIError)
    async def _api_error(_: HTTPRequest, exc: APIError) -> Any:
        return JSONResponse(
            status_code=exc.status,
            content={"error": {"message": exc.message, "type": exc.kind, "code": exc.status}},
        )

    @app.middleware("http")
    async def _auth(request: HTTPRequest, call_next: Any) -> Any:
        if api_key and request.url.path.startswith("/v1/"):
            if request.headers.get("authorization", "") != f"Bearer {api_key}":
                return JSONResponse(
                    status_code=401,
                    content={
                        "error": {
                            "message": "missing or wrong API key",
                            "type": "authentication_error",
                            "code": 401,
                        }
                    },
                )
        return await call_next(request)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "model": name,
            "version": int(getattr(policy, "version", 0)),
            "batches": batcher.batches,
            "requests": batcher.requests,
        }

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": name,
                    "object": "model",
                    "created": started,
                    "owned_by": "gymnpt",
                    "version": int(getattr(policy, "version", 0)),
                }
            ],
        }

    async def body_of(request: HTTPRequest) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError as exc:
            raise APIError(400, f"the request body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise APIError(400, "the request body must be a JSON object")
        model = body.get("model")
        if model not in (None, "", name):
            raise APIError(
                404,
                f"model {model!r} is not served here; this server serves {name!r}",
                "not_found_error",
            )
        if body.get("stream"):
            raise APIError(400, "stream=true is not supported by gymnpt serve")
        return body

    @app.post("/v1/chat/completions")
    async def chat(request: HTTPRequest) -> dict[str, Any]:
        body = await body_of(request)
        messages = _messages(body.get("messages"))
        params, n = _sampling(body, default_max_tokens=256)
        want_lp = bool(body.get("logprobs"))
        top = body.get("top_logprobs")
        if top not in (None, 0):
            raise APIError(
                400,
                f"top_logprobs={top!r} is not supported by gymnpt serve: logprobs cover the "
                "sampled tokens only; omit top_logprobs or set it to 0",
            )
        reqs = [Request(messages=messages, params=_seeded(params, i)) for i in range(n)]
        outs = await _generate(batcher, reqs)
        choices = []
        for i, comp in enumerate(outs):
            choice: dict[str, Any] = {
                "index": i,
                "message": {"role": "assistant", "content": comp.text},
                "finish_reason": comp.finish_reason,
                "logprobs": {"content": _chat_logprobs(tokenizer, comp)} if want_lp else None,
                "token_ids": comp.token_ids,
            }
            choices.append(choice)
        prompt_ids = (
            policy.encode_messages(messages) if hasattr(policy, "encode_messages") else None
        )
        return _answer("chat.completion", "chatcmpl", name, choices, outs, prompt_ids)

    @app.post("/v1/completions")
    async def completions(request: HTTPRequest) -> dict[str, Any]:
        body = await body_of(request)
        if body.get("echo"):
            raise APIError(400, "echo=true is not supported by gymnpt serve")
        prompts = _prompts(body.get("prompt"), tokenizer, _vocab_size(policy, tokenizer))
        params, n = _sampling(body, default_max_tokens=16)
        lp = body.get("logprobs")
        if lp is not None and (
            isinstance(lp, bool) or not isinstance(lp, int) or not 0 <= lp <= 20
        ):
            raise APIError(400, f"logprobs must be an integer in 0..20 or null, got {lp!r}")
        if lp is not None and lp > 1:
            raise APIError(
                400,
                f"logprobs={lp} asks for {lp} alternatives per token, which gymnpt serve does "
                "not compute; use logprobs=1 (or 0) for the sampled tokens' logprobs",
            )
        reqs = [
            Request(messages=[], prompt_token_ids=p, params=_seeded(params, i))
            for p in prompts
            for i in range(n)
        ]
        outs = await _generate(batcher, reqs)
        choices = []
        for i, comp in enumerate(outs):
            choices.append(
                {
                    "index": i,
                    "text": comp.text,
                    "finish_reason": comp.finish_reason,
                    "logprobs": _completion_logprobs(tokenizer, comp) if lp is not None else None,
                    "token_ids": comp.token_ids,
                }
            )
        prompt_ids = prompts[0] if len(prompts) == 1 else prompts
        return _answer("text_completion", "cmpl", name, choices, outs, prompt_ids)

    @app.post("/v1/load_weights")
    async def load_weights(request: HTTPRequest) -> dict[str, Any]:
        body = await request.json()
        path = body.get("path") if isinstance(body, dict) else None
        if not isinstance(path, str) or not path:
            raise APIError(400, 'load_weights needs {"path": "<checkpoint folder>"}')
        loader = getattr(policy, "load_weights", None)
        if loader is None:
            raise APIError(400, f"the served policy {policy.name!r} cannot load weights")
        try:
            await asyncio.to_thread(loader, path)
        except (OSError, ValueError) as exc:
            raise APIError(400, f"cannot load weights from {path}: {exc}") from exc
        return {"status": "ok", "path": path, "version": int(policy.version)}

    return app


# ---- running ---------------------------------------------------------------------------------
class BackgroundServer:
    """Run an ASGI app with uvicorn in a background thread (for tests and notebooks).

    Use as a context manager::

        with BackgroundServer(create_app(policy)) as server:
            OpenAIPolicy(server.url)  # http://127.0.0.1:<free port>/v1

    Args:
        app: the ASGI app.
        host: the interface.
        port: the port; 0 picks a free one.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        import socket

        import uvicorn

        if port == 0:
            with socket.socket() as s:
                s.bind((host, 0))
                port = int(s.getsockname()[1])
        self.host, self.port = host, port
        self.server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(
            target=self.server.run, name=f"gymnpt-serve-{port}", daemon=True
        )

    @property
    def url(self) -> str:
        """The API root, ``http://host:port/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout: float = 30.0) -> BackgroundServer:
        """Start serving; returns once the server accepts connections."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.host}:{self.port} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run(cfg: Config) -> int:
    """Serve ``cfg.model`` until interrupted."""
    import uvicorn
    from rich.console import Console

    from gymnpt.rollout.policies import build_policy

    console = Console(stderr=True)
    console.print(f"loading {cfg.model} ...")
    policy = build_policy(
        "hf",
        model=cfg.model,
        device=cfg.device,
        dtype=cfg.dtype,
        seed=cfg.seed,
        max_batch_size=cfg.max_batch_size,
        num_threads=cfg.threads or None,
    )
    app = create_app(
        policy,
        served_name=cfg.served_name or cfg.model,
        batch_wait_ms=cfg.batch_wait_ms,
        max_batch_size=cfg.max_batch_size,
        api_key=cfg.api_key or None,
    )
    console.print(f"serving {app.state.served_name!r} at http://{cfg.host}:{cfg.port}/v1")
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level=cfg.log_level)
    return 0
