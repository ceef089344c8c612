"""Where env calls run: one worker thread per episode under a deadline, and the batcher that
gathers pending model calls from every episode into one call per policy."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any

from gymnpt.rollout.policy import Completion, Policy, Request


class EpisodeError(Exception):
    """Ends one episode with outcome ``error``."""


class EnvTimeout(EpisodeError):
    """An env call overran its deadline."""


def _settle(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.done():  # the caller gave up (deadline) or was cancelled
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


class _EnvWorker:
    """One daemon thread that makes every call into one episode's env.

    Calls run one at a time, in order, on the same thread (envs that hold thread-bound
    resources, like a browser driver, see one thread). The event loop awaits each call under
    a deadline; a call that overruns is abandoned with its thread.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.stuck = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, args, kwargs, loop, fut = job
            try:
                ok, value = True, fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - handed to the episode
                ok, value = False, exc
            except BaseException as exc:  # noqa: BLE001 - SystemExit etc. end one episode only
                ok, value = False, EpisodeError(f"env raised {type(exc).__name__}: {exc}")
            if fut is None:
                continue
            try:
                loop.call_soon_threadsafe(_settle, fut, ok, value)
            except RuntimeError:  # the loop has closed: nobody waits for this result
                return

    async def call(
        self, timeout: float | None, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        """Run ``fn(*args, **kwargs)`` on the worker thread; raise :class:`EnvTimeout` when it
        takes longer than ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._jobs.put((fn, args, kwargs, loop, fut))
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            self.stuck = True
            raise EnvTimeout(
                f"env {what} did not return within {timeout:g}s (step_timeout)"
            ) from None

    def post(self, fn: Callable[..., Any]) -> None:
        """Queue ``fn()`` without waiting for it (runs after a stuck call, if that returns)."""
        self._jobs.put((fn, (), {}, None, None))

    def stop(self) -> None:
        self._jobs.put(None)


class _Batcher:
    """Collects requests for one policy and answers them in batches."""

    def __init__(
        self,
        policy: Policy,
        *,
        timeout: float | None,
        max_batch: int,
        busy: Callable[[float], int] = lambda age: 0,
        gather_s: float = 1.0,
    ) -> None:
        self.policy = policy
        #: ``busy(age)``: env calls running on worker threads that started less than ``age``
        #: seconds ago. A batch waits for calls younger than ``gather_s`` (their episodes will
        #: ask soon), so batches are the same from run to run while env calls take less than
        #: that; a slower call does not hold up the others' batches any longer.
        self.busy = busy
        self.gather_s = gather_s
        self.timeout = timeout
        self.max_batch = max_batch
        self.queue: list[tuple[Request, asyncio.Future[Completion], tuple[int, int]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.batch_sizes: list[int] = []

    def submit(self, req: Request, key: tuple[int, int] = (0, 0)) -> asyncio.Future[Completion]:
        """Queue ``req``; ``key`` (episode index, seat index) orders requests within batches."""
        fut: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self.queue.append((req, fut, key))
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._loop())
        return fut

    async def _loop(self) -> None:
        while self.queue:
            # Let every runnable episode reach its next model call before forming a batch.
            last = -1
            for _ in range(50):
                if len(self.queue) == last or len(self.queue) >= self.max_batch:
                    break
                last = len(self.queue)
                await asyncio.sleep(0)
            # Episodes whose env call is running on a worker thread will ask soon: wait for
            # them (up to gather_s into their call) so that they join this batch.
            while self.busy(self.gather_s) > 0 and len(self.queue) < self.max_batch:
                await asyncio.sleep(0.0005)
            self.queue.sort(key=lambda item: item[2])
            batch, self.queue = self.queue[: self.max_batch], self.queue[self.max_batch :]
            reqs = [r for r, _, _ in batch]
            self.batches += 1
            self.batch_sizes.append(len(reqs))
            try:
                coro = self.policy.generate(reqs)
                outs = await (asyncio.wait_for(coro, self.timeout) if self.timeout else coro)
                if len(outs) != len(reqs):
                    raise RuntimeError(
                        f"policy returned {len(outs)} completions for {len(reqs)} requests"
                    )
            except asyncio.CancelledError:
                for _, fut, _ in batch:
                    if not fut.done():
                        fut.cancel()
                raise
            except BaseException as exc:  # noqa: BLE001 - reported per episode
                err = exc if isinstance(exc, Exception) else RuntimeError(repr(exc))
                if isinstance(exc, asyncio.TimeoutError):
                    err = EpisodeError(
                        f"policy {getattr(self.policy, 'name', '?')} timed out after {self.timeout}s"
                    )
                    # Stop the abandoned work where the policy can (e.g. a generation thread).
                    cancel = getattr(self.policy, "cancel", None)
                    if callable(cancel):
                        try:
                            cancel()
                        except Exception:  # noqa: BLE001 - best effort
                            pass
                for _, fut, _ in batch:
                    if not fut.done():
                        fut.set_exception(err)
                continue
            for (_, fut, _), out in zip(batch, outs):
                if not fut.done():
                    fut.set_result(out)
