"""Env workers on Ray: episodes whose envs live in Ray actors, driven by the local engine.

The rollout engine keeps the policies (so model calls from all episodes are still batched in
one process, or sent to a served sampler) and reaches each episode's env through a
:class:`RemoteEnv`: a stand-in with the :class:`~gymnpt.core.env.MultiSeatEnv` members whose
``reset``/``observe``/``step`` run in an env-worker actor of a :class:`RayEnvPool`. Each
``reset`` and ``step`` brings back the env's state (seats, rewards, infos, ``done``) in the
same round trip, so the engine reads it without further calls.

Slow envs gain: code sandboxes, browsers and TextArena games step in other processes (on
other machines of a cluster), many at once, while the driver only batches model calls.

Retries. A :class:`RemoteEnv` logs the ``reset`` and ``step`` calls its env has taken. When
its actor dies (killed, out of memory, node lost) the pool replaces the actor, the env is
made again on a live one and the log is replayed; since ``reset(seed)`` and the same actions
give the same transcript (the env contract), the episode goes on where it was, and its
trajectory is the one an uninterrupted run gives. No episode is lost or played twice.

Scripted bots read their game through ``request.env``; over Ray, attributes that are not
part of the contract (``unwrapped``, a game's fields) are fetched from the actor as a copy
of their current value, and methods are called remotely.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["RayEnvPool", "RemoteEnv", "EnvHost"]

#: State attributes sent back after every ``reset`` and ``step``.
_STATE = ("agents", "agent_selection", "rewards", "infos", "done")


def _state(env: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _STATE:
        try:
            value = getattr(env, name)
        except Exception:  # noqa: BLE001 - a missing member is reported by the engine itself
            continue
        if isinstance(value, list):
            value = list(value)
        elif isinstance(value, dict):
            value = {k: (dict(v) if isinstance(v, dict) else v) for k, v in value.items()}
        out[name] = value
    if out.get("done"):
        # The engine asks for outcomes after the env is closed: send them with the last state.
        outcomes: dict[str, Any] = {}
        for seat in getattr(env, "possible_agents", []):
            try:
                outcomes[str(seat)] = env.outcome(seat)
            except Exception:  # noqa: BLE001 - asked for again (and reported) if needed
                pass
        out["outcomes"] = outcomes
    return out


class EnvHost:
    """The body of one env-worker actor: holds many envs of one env id, by handle.

    Methods run in the actor's thread pool (``max_concurrency``), so calls for different
    envs overlap; each env sees its calls one at a time, in order, from its episode.

    Args:
        env_id: a registered env id (with variants in brackets).
        env_kwargs: keyword arguments for the env.
    """

    def __init__(self, env_id: str, env_kwargs: dict[str, Any] | None = None) -> None:
        from gymnpt.core.registry import default_registry

        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self._registry = default_registry()
        self._envs: dict[int, Any] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def open(self) -> tuple[int, list[str], dict[str, Any]]:
        """Make an env; return its handle, its seats and its state."""
        env = self._registry.make_multiagent(self.env_id, **self.env_kwargs)
        with self._lock:
            handle = next(self._ids)
            self._envs[handle] = env
        return handle, [str(s) for s in env.possible_agents], _state(env)

    def call(
        self, handle: int, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        """Call ``env.method(*args, **kwargs)``; return its result and the env's state."""
        env = self._envs[handle]
        result = getattr(env, method)(*args, **kwargs)
        return result, _state(env)

    def attr(self, handle: int, name: str) -> tuple[str, Any]:
        """``("method", None)`` when ``env.name`` is callable, else ``("value", env.name)``."""
        value = getattr(self._envs[handle], name)
        if callable(value) and not isinstance(value, type):
            return "method", None
        return "value", value

    def close(self, handle: int) -> None:
        """Close and forget an env (best effort)."""
        with self._lock:
            env = self._envs.pop(handle, None)
        close = getattr(env, "close", None)
        if callable(close):
            close()

    def open_envs(self) -> int:
        """How many envs this worker holds now."""
        return len(self._envs)


class RayEnvPool:
    """A pool of env-worker actors for one env; :meth:`factory` makes :class:`RemoteEnv` s.

    Args:
        env_id: a registered env id.
        env_kwargs: keyword arguments for the env.
        workers: env-worker actors (each a process; on a cluster, spread over its nodes).
        max_concurrency: env calls one worker runs at once (threads of the actor).
        num_cpus_per_worker: CPUs Ray reserves for each worker.
        max_recoveries: how often one episode may move to a fresh worker before it fails.
        address: a Ray cluster to attach to (None: ``RAY_ADDRESS``, the cluster this process
            already joined, or a local one started here).
        num_cpus: CPUs of a locally started cluster (None = all of this machine).
    """

    def __init__(
        self,
        env_id: str,
        env_kwargs: dict[str, Any] | None = None,
        *,
        workers: int = 2,
        max_concurrency: int = 32,
        num_cpus_per_worker: float = 1.0,
        max_recoveries: int = 3,
        address: str | None = None,
        num_cpus: int | None = None,
    ) -> None:
        if workers < 1 or max_concurrency < 1 or max_recoveries < 0:
            raise ValueError("workers and max_concurrency must be >= 1, max_recoveries >= 0")
        import ray

        self._started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address:
                kwargs["address"] = address
            elif num_cpus:
                kwargs["num_cpus"] = num_cpus
            ray.init(**kwargs)
            self._started = True
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.max_recoveries = max_recoveries
        self._actor_cls = ray.remote(
            num_cpus=num_cpus_per_worker, max_concurrency=max_concurrency, max_restarts=0
        )(EnvHost)
        self._lock = threading.Lock()
        self._next = itertools.count()
        #: The live actor in each slot.
        self.actors: list[Any] = [self._spawn() for _ in range(workers)]
        #: Actors replaced after they died.
        self.replaced = 0

    def _spawn(self) -> Any:
        return self._actor_cls.remote(self.env_id, self.env_kwargs)

    def pick(self) -> tuple[int, Any]:
        """A worker for a new env (round robin)."""
        with self._lock:
            slot = next(self._next) % len(self.actors)
            return slot, self.actors[slot]

    def replace(self, slot: int, dead: Any) -> Any:
        """A live actor for ``slot`` after ``dead`` failed (a new one unless already replaced)."""
        with self._lock:
            if self.actors[slot] is dead:
                self.actors[slot] = self._spawn()
                self.replaced += 1
            return self.actors[slot]

    def factory(self) -> RemoteEnv:
        """A new env held by a worker of this pool (pass as the engine's ``env_factory``)."""
        return RemoteEnv(self)

    def close(self) -> None:
        """Stop the workers (and the local Ray instance when this pool started it)."""
        import ray

        for actor in self.actors:
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.actors = []
        if self._started and ray.is_initialized():
            ray.shutdown()
        self._started = False

    def __enter__(self) -> RayEnvPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RemoteEnv:
    """An env held by an env-worker actor, with the members the rollout engine uses.

    Args:
        pool: the pool whose workers hold the env.
    """

    def __init__(self, pool: RayEnvPool) -> None:
        self._pool = pool
        self._log: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self._slot, self._actor = pool.pick()
        self._handle = 0
        self._st: dict[str, Any] = {}
        self.possible_agents: list[str] = []
        self._remote_open()

    # ---- transport -------------------------------------------------------------------------
    def _remote_open(self) -> None:
        import ray
        from ray.exceptions import RayActorError

        for _ in range(self._pool.max_recoveries + 1):
            try:
                handle, seats, st = ray.get(self._actor.open.remote())
                break
            except RayActorError:
                self._actor = self._pool.replace(self._slot, self._actor)
        else:
            raise RuntimeError(f"no env worker could make {self._pool.env_id}")
        self._handle, self.possible_agents, self._st = handle, seats, st

    def _recover(self) -> None:
        """Make the env again on a live worker and replay what it has taken so far."""
        import ray

        self._actor = self._pool.replace(self._slot, self._actor)
        self._remote_open()
        for method, args, kwargs in self._log:
            _, self._st = ray.get(self._actor.call.remote(self._handle, method, args, kwargs))

    def _with_recovery(self, fn: Callable[[], Any]) -> Any:
        from ray.exceptions import RayActorError

        recoveries = 0
        while True:
            try:
                return fn()
            except RayActorError:
                if recoveries >= self._pool.max_recoveries:
                    raise
                recoveries += 1
                try:
                    self._recover()
                except RayActorError:
                    continue

    def _call(self, method: str, *args: Any, log: bool = False, **kwargs: Any) -> Any:
        import ray

        def once() -> Any:
            return ray.get(self._actor.call.remote(self._handle, method, args, kwargs))

        result, self._st = self._with_recovery(once)
        if log:
            self._log.append((method, args, kwargs))
        return result

    # ---- the env contract ------------------------------------------------------------------
    @property
    def agents(self) -> list[str]:
        """Seats still in the game."""
        return list(self._st.get("agents", []))

    @property
    def agent_selection(self) -> str:
        """The seat that acts now."""
        return str(self._st.get("agent_selection", ""))

    @property
    def rewards(self) -> dict[str, float]:
        """Each seat's reward from the last step."""
        return dict(self._st.get("rewards") or {})

    @property
    def infos(self) -> dict[str, dict[str, Any]]:
        """Each seat's info from the last step."""
        return dict(self._st.get("infos") or {})

    @property
    def done(self) -> bool:
        """True once the episode has ended."""
        return bool(self._st.get("done", False))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        """Start an episode (remotely)."""
        self._log.clear()
        return self._call("reset", seed=seed, options=options, log=True)

    def step(self, action: Any) -> Any:
        """Take the acting seat's reply (remotely)."""
        return self._call("step", action, log=True)

    def observe(self, agent: str) -> str:
        """The next message ``agent`` reads."""
        return self._call("observe", agent)  # type: ignore[no-any-return]

    def seat_instructions(self, seat: str) -> str:
        """The system prompt of ``seat``."""
        return self._call("seat_instructions", seat)  # type: ignore[no-any-return]

    def outcome(self, seat: str) -> str | None:
        """``seat``'s outcome once the game is over (kept after :meth:`close`)."""
        known = self._st.get("outcomes") or {}
        if seat in known:
            return known[seat]  # type: ignore[no-any-return]
        return self._call("outcome", seat)  # type: ignore[no-any-return]

    def legal_actions(self, seat: str) -> list[str] | None:
        """The moves ``seat`` may make now."""
        return self._call("legal_actions", seat)  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close the remote env (best effort; a dead worker took it with it)."""
        import ray

        if not self._handle:
            return
        try:
            ray.get(self._actor.close.remote(self._handle), timeout=30)
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
        self._handle = 0

    def __getattr__(self, name: str) -> Any:
        # Anything else (``unwrapped``, a game's fields, env-specific methods) comes from the
        # worker: values as a copy of their current state, methods as remote calls.
        if name.startswith("__") or name in ("_pool", "_actor", "_handle", "_st", "_log"):
            raise AttributeError(name)
        import ray

        kind, value = self._with_recovery(
            lambda: ray.get(self._actor.attr.remote(self._handle, name))
        )
        if kind == "method":
            return lambda *args, **kwargs: self._call(name, *args, **kwargs)
        return value
