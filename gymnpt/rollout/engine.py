"""The rollout engine: many episodes at once, model calls batched across all of them.

Every episode is a coroutine on one asyncio loop. When a seat has to act, its request goes
to that seat's policy. Requests for the same model policy wait in a per-policy queue and are
answered together by one ``policy.generate(batch)`` call, so all pending model calls from all
episodes and seats are batched (a new batch is formed whenever the model is free). Scripted
bots that act inline are called directly.

For policies that have a ``tokenizer`` the engine keeps the exact token ids of each seat's
conversation (see :mod:`gymnpt.rollout.tokens`): prompts are passed as token ids, sampled ids are
appended as they were sampled, and trajectories record ids, the loss mask and the sampler's
logprobs.

A failing env or policy ends only the affected episode, with outcome ``error`` and the reason.

Watchdog. Every call into an env (making it, ``reset``, ``observe``, ``step``, ``close``) runs
on the episode's own worker thread under a deadline (``step_timeout``: the env spec's
``step_timeout``, else :data:`DEFAULT_STEP_TIMEOUT`, or :data:`DEFAULT_BLOCKING_STEP_TIMEOUT`
for envs whose spec says they block). A call that overruns ends that episode
as ``error`` with the reason; the thread is abandoned (it is a daemon thread) and the other
episodes go on. Env code never runs on the event loop, so a blocking step cannot stall other
episodes, and any exception an env raises, ``SystemExit`` and ``KeyboardInterrupt`` included,
ends only its episode. Every episode is capped at ``max_turns`` replies (the env spec's
``max_turns``, else :data:`DEFAULT_MAX_TURNS`) and then ends as ``truncated``.

Data. A non-finite reward ends the episode as ``error``; observations and replies that are
not valid Unicode text (lone surrogates) are escaped, never fatal.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gymnpt.core.env import MultiSeatEnv, Outcome, as_multiagent
from gymnpt.rollout.context import context_window, parse_context
from gymnpt.rollout.planner import EpisodePlanner, EpisodeSpec, bind
from gymnpt.rollout.policy import BasePolicy, Completion, Policy, Request, SamplingParams
from gymnpt.rollout.tokens import ChatTokens
from gymnpt.rollout.trajectory import Trajectory, TrajectoryWriter
from gymnpt.rollout.workers import EpisodeError, _Batcher, _EnvWorker

__all__ = [
    "RolloutEngine",
    "EpisodeSpec",
    "DEFAULT_STEP_TIMEOUT",
    "DEFAULT_BLOCKING_STEP_TIMEOUT",
    "DEFAULT_MAX_TURNS",
]

#: Deadline in seconds for one env call when neither the command nor the env spec sets one.
DEFAULT_STEP_TIMEOUT = 10.0
#: The same for envs whose steps block for real time (compilers, sandboxes, browsers).
DEFAULT_BLOCKING_STEP_TIMEOUT = 60.0
#: Replies per episode when neither the command nor the env spec sets a limit.
DEFAULT_MAX_TURNS = 1000


@dataclass
class _SeatLog:
    seat: str
    policy: Policy
    messages: list[dict[str, str]] = field(default_factory=list)
    token_ids: list[int] = field(default_factory=list)
    loss_mask: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    pre_reward: float = 0.0
    turns: int = 0
    invalid: int = 0
    retokenized: bool = False
    version: int = 0
    gen_time: float = 0.0
    #: Offsets where each turn's own prompt starts (windowed context strategies).
    segments: list[int] = field(default_factory=list)


def _is_inline_bot(policy: Any) -> bool:
    return (
        isinstance(policy, BasePolicy)
        and getattr(policy, "inline", False)
        and type(policy).act is not BasePolicy.act
    )


class RolloutEngine:
    """Plays episodes concurrently and returns one :class:`Trajectory` per (episode, seat).

    Args:
        env: a registered env id (``"snake"``, ``"snake[size=6]"``) or a zero-argument factory.
        env_kwargs: extra keyword arguments for the env.
        sampling: default sampling parameters for model calls.
        max_turns: cap on policy calls per episode (the episode ends ``truncated``); None takes
            the env spec's ``max_turns``, else :data:`DEFAULT_MAX_TURNS`.
        max_context_tokens: cap on a seat's conversation length in tokens (ends ``aborted``).
        context: what a policy reads each turn: ``full``, ``last:K`` or ``obs`` (see
            :mod:`gymnpt.rollout.context`).
        call_timeout: seconds allowed for one batched model call (None for no limit).
        step_timeout: deadline in seconds for each env call (making the env, ``reset``,
            ``observe``, ``step``); None takes the env spec's ``step_timeout``, else
            :data:`DEFAULT_STEP_TIMEOUT`. ``0`` turns the watchdog off: env calls then run
            inline on the event loop unless the env blocks.
        max_concurrent: episodes in flight at once (at least 1).
        max_batch: largest batch sent to one policy (at least 1).
        writer: where finished trajectories are appended as they complete.
        progress: show a Rich progress bar.
        threaded_env: with the watchdog off, run env calls in worker threads anyway; None
            decides from the env spec's ``blocking`` flag.
        registry: the registry to make envs with (default: the process-wide one).
        observer: a plugin manager to notify ``gymnpt_episode_end`` (default: the registry's).
        env_factory: makes each episode's env instead of the registry (e.g. a stand-in for an
            env held by a remote env worker); the env spec is still read from ``env``. Env
            calls then run in worker threads, as for a blocking env.
    """

    def __init__(
        self,
        env: str | Callable[[], Any],
        env_kwargs: dict[str, Any] | None = None,
        *,
        sampling: SamplingParams | None = None,
        max_turns: int | None = None,
        max_context_tokens: int | None = None,
        context: str = "full",
        call_timeout: float | None = 120.0,
        step_timeout: float | None = None,
        max_concurrent: int = 64,
        max_batch: int = 64,
        writer: TrajectoryWriter | None = None,
        progress: bool = False,
        threaded_env: bool | None = None,
        registry: Any = None,
        observer: Any = None,
        env_factory: Callable[[], Any] | None = None,
    ) -> None:
        for key, value in (("max_concurrent", max_concurrent), ("max_batch", max_batch)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be an integer >= 1, not {value!r}")
        for key, t in (("call_timeout", call_timeout), ("step_timeout", step_timeout)):
            if t is not None and not (isinstance(t, (int, float)) and t >= 0 and t == t):
                raise ValueError(f"{key} must be a number of seconds >= 0 or None, not {t!r}")
        if max_turns is not None and (not isinstance(max_turns, int) or max_turns < 1):
            raise ValueError(f"max_turns must be an integer >= 1 or None, not {max_turns!r}")
        self.env_id = env if isinstance(env, str) else getattr(env, "__name__", "custom")
        self.env_kwargs = dict(env_kwargs or {})
        self.sampling = sampling or SamplingParams()
        self.max_context_tokens = max_context_tokens
        self.context = context
        self._keep = parse_context(context)
        self.call_timeout = call_timeout or None
        self.max_concurrent = max_concurrent
        self.max_batch = max_batch
        self.writer = writer
        self.progress = progress
        self._registry = registry
        self._observer = observer
        env_spec: Any = None
        if isinstance(env, str):
            reg = self.registry
            env_spec = reg.env_spec(env)
            self._factory: Callable[[], Any] = lambda: reg.make_multiagent(env, **self.env_kwargs)
            if env_factory is not None:
                self._factory = env_factory
        else:
            self._factory = lambda: as_multiagent(
                env(**self.env_kwargs) if self.env_kwargs else env()
            )
        spec_turns = getattr(env_spec, "max_turns", None)
        self.max_turns: int = max_turns or spec_turns or DEFAULT_MAX_TURNS
        blocking = bool(getattr(env_spec, "blocking", False)) or env_factory is not None
        if step_timeout is None:
            step_timeout = getattr(env_spec, "step_timeout", None) or (
                DEFAULT_BLOCKING_STEP_TIMEOUT
                if getattr(env_spec, "blocking", False)
                else DEFAULT_STEP_TIMEOUT
            )
        #: Deadline of one env call, or None when the watchdog is off.
        self.step_timeout: float | None = float(step_timeout) or None
        self.threaded_env = threaded_env if threaded_env is not None else blocking
        self._seats: tuple[str, ...] | None = tuple(env_spec.seats) if env_spec else None
        self._chat_tokens: dict[int, ChatTokens] = {}
        self.stats: dict[str, Any] = {}
        #: Env calls running on worker threads -> when each started.
        self._in_env: dict[object, float] = {}

    def seats(self) -> tuple[str, ...]:
        """The env's seats: from its spec, or from one env made for the purpose."""
        if self._seats is None:
            self._seats = _probe_seats(self._factory, self.step_timeout)
        return self._seats

    @property
    def registry(self) -> Any:
        if self._registry is None:
            from gymnpt.core.registry import default_registry

            self._registry = default_registry()
        return self._registry

    # ---- public API -----------------------------------------------------------------------
    def run(
        self,
        seeds: Sequence[int | None],
        policies: dict[str, Policy] | Policy,
        *,
        group_size: int = 1,
        record_seats: Collection[str] | None = None,
    ) -> list[Trajectory]:
        """Play ``group_size`` episodes per seed (a group shares the seed)."""
        return asyncio.run(
            self.arun(seeds, policies, group_size=group_size, record_seats=record_seats)
        )

    async def arun(
        self,
        seeds: Sequence[int | None],
        policies: dict[str, Policy] | Policy,
        *,
        group_size: int = 1,
        record_seats: Collection[str] | None = None,
    ) -> list[Trajectory]:
        """Play ``group_size`` episodes per seed with a fixed seating (see :meth:`run`)."""
        seats = tuple(policies) if isinstance(policies, dict) else self.seats()
        planner = EpisodePlanner(seats, tag=self.env_id)
        if isinstance(policies, dict):
            plan = planner.fixed(
                seeds, {s: s for s in seats}, group_size=group_size, record_seats=record_seats
            )
            specs = bind(plan, policies)
        else:
            plan = planner.fixed(seeds, "policy", group_size=group_size, record_seats=record_seats)
            specs = bind(plan, {"policy": policies})
        return await self.arun_episodes(specs)

    def run_episodes(self, specs: Sequence[EpisodeSpec]) -> list[Trajectory]:
        """Play the given episodes; trajectories come back in the order of ``specs``."""
        return asyncio.run(self.arun_episodes(specs))

    async def arun_episodes(self, specs: Sequence[EpisodeSpec]) -> list[Trajectory]:
        t0 = time.perf_counter()
        batchers: dict[int, _Batcher] = {}
        results: list[list[Trajectory]] = [[] for _ in specs]
        bar = _Progress(len(specs), f"{self.env_id}") if self.progress else None
        pending = iter(enumerate(specs))

        async def one(i: int, spec: EpisodeSpec) -> None:
            trajs = await self._episode(spec, batchers, i)
            results[i] = trajs
            if self.writer is not None:
                self.writer.write_many(trajs)
            obs = (
                self._observer
                if self._observer is not None
                else getattr(self._registry, "plugin_manager", None)
            )
            if obs is not None and obs.hook.gymnpt_episode_end.get_hookimpls():
                for t in trajs:
                    obs.notify("gymnpt_episode_end", record=t.to_dict())
            if bar:
                bar.advance(trajs)

        async def lane() -> None:
            # ``max_concurrent`` lanes take the episodes in order: no coroutine per episode
            # is created up front, however many episodes there are.
            for i, spec in pending:
                await one(i, spec)

        try:
            if bar:
                bar.start()
            await asyncio.gather(*(lane() for _ in range(min(self.max_concurrent, len(specs)))))
        finally:
            if bar:
                bar.stop()
        out = [t for ts in results for t in ts]
        sizes = [n for b in batchers.values() for n in b.batch_sizes]
        self.stats = {
            "episodes": len(specs),
            "wall_s": time.perf_counter() - t0,
            "model_calls": sum(sizes),
            "batches": len(sizes),
            "mean_batch": (sum(sizes) / len(sizes)) if sizes else 0.0,
            "sampled_tokens": sum(t.num_sampled_tokens for t in out),
        }
        return out

    # ---- one episode --------------------------------------------------------------------
    def _chat(self, tokenizer: Any) -> ChatTokens:
        key = id(tokenizer)
        ct = self._chat_tokens.get(key)
        if ct is None:
            ct = self._chat_tokens[key] = ChatTokens(tokenizer)
        return ct

    async def _call(
        self,
        policy: Policy,
        req: Request,
        batchers: dict[int, _Batcher],
        key: tuple[int, int] = (0, 0),
    ) -> Completion:
        if _is_inline_bot(policy):
            res = policy.act(req)  # type: ignore[attr-defined]
            return res if isinstance(res, Completion) else Completion(text=str(res))
        b = batchers.get(id(policy))
        if b is None:
            b = batchers[id(policy)] = _Batcher(
                policy,
                timeout=self.call_timeout,
                max_batch=self.max_batch,
                busy=self._env_calls_younger_than,
                gather_s=0.05 if self.threaded_env else 1.0,
            )
        return await b.submit(req, key)

    async def _env_call(
        self, worker: _EnvWorker | None, what: str, fn: Callable[..., Any], *args: Any, **kw: Any
    ) -> Any:
        if worker is None:
            return fn(*args, **kw)
        token = object()
        self._in_env[token] = time.perf_counter()
        try:
            return await worker.call(self.step_timeout, what, fn, *args, **kw)
        finally:
            del self._in_env[token]

    def _env_calls_younger_than(self, age: float) -> int:
        if not self._in_env:
            return 0
        since = time.perf_counter() - age
        return sum(1 for t in self._in_env.values() if t > since)

    async def _episode(
        self, spec: EpisodeSpec, batchers: dict[int, _Batcher], index: int = 0
    ) -> list[Trajectory]:
        episode_id = spec.episode_id or uuid.uuid4().hex[:12]
        t_start = time.perf_counter()
        logs: dict[str, _SeatLog] = {}
        reason: str | None = None
        error = False
        truncated = False
        env: Any = None
        seats: list[str] = []
        worker = (
            _EnvWorker(f"env-{self.env_id}-{index}")
            if self.step_timeout is not None or self.threaded_env
            else None
        )
        call = self._env_call
        try:
            env = await call(worker, "creation", self._factory)
            seats = [str(s) for s in env.possible_agents]
            pols = spec.policies
            for seat in seats:
                pol = pols.get(seat) if isinstance(pols, dict) else pols
                if pol is None:
                    raise EpisodeError(f"no policy for seat {seat!r} (seats: {seats})")
                logs[seat] = _SeatLog(seat=seat, policy=pol, version=getattr(pol, "version", 0))
            await call(worker, "reset", env.reset, seed=spec.seed, options=spec.options)
            calls = 0
            while not _env_done(env):
                seat = env.agent_selection
                if seat not in logs:
                    raise EpisodeError(f"env selected unknown seat {seat!r} (seats: {seats})")
                log = logs[seat]
                obs = _text(await call(worker, "observe", env.observe, seat))
                req = self._prepare(env, log, obs, spec, episode_id, index, seats.index(seat))
                if req is None:
                    reason = f"context limit ({self.max_context_tokens} tokens) reached for {seat}"
                    break
                t_gen = time.perf_counter()
                comp = await self._call(log.policy, req, batchers, (index, seats.index(seat)))
                log.gen_time += time.perf_counter() - t_gen
                reply = self._record_reply(log, comp)
                await call(worker, "step", env.step, reply)
                calls += 1
                info = env.infos.get(seat) or {}
                if info.get("invalid_move"):
                    log.invalid += 1
                for s, r in (env.rewards or {}).items():
                    if s in logs and r:
                        _add_reward(logs[s], _finite_reward(r, s))
                if calls >= self.max_turns and not _env_done(env):
                    truncated = True
                    reason = f"turn limit ({self.max_turns} replies) reached"
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one episode's failure must not stop the others
            error = True
            reason = f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, EpisodeError):
                reason += "\n" + "".join(traceback.format_exception(exc)[-3:])
        finally:
            await self._close_env(env, worker)
        if not logs:  # failed before its seats were known: still one record per seat
            pols = spec.policies
            known = list(pols) if isinstance(pols, dict) else list(self._seats or ("player",))
            for seat in known:
                pol = pols[seat] if isinstance(pols, dict) else pols
                logs[seat] = _SeatLog(seat=seat, policy=pol, version=getattr(pol, "version", 0))
        return self._finish(
            spec,
            episode_id,
            env,
            logs,
            reason,
            error,
            time.perf_counter() - t_start,
            truncated=truncated,
        )

    async def _close_env(self, env: Any, worker: _EnvWorker | None) -> None:
        close = getattr(env, "close", None) if env is not None else None
        if worker is None:
            if callable(close):
                try:
                    close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass
            return
        if callable(close):
            if worker.stuck:
                worker.post(close)  # runs if the stuck call ever returns
            else:
                try:
                    await worker.call(self.step_timeout, "close", close)
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass
        worker.stop()

    def _prepare(
        self,
        env: Any,
        log: _SeatLog,
        obs: str,
        spec: EpisodeSpec,
        episode_id: str,
        index: int = 0,
        seat_index: int = 0,
    ) -> Request | None:
        tokenizer = getattr(log.policy, "tokenizer", None)
        new: list[dict[str, str]] = []
        if not log.messages:
            instr = env.seat_instructions(log.seat)
            if instr:
                new.append({"role": "system", "content": _text(instr)})
        new.append({"role": "user", "content": obs})
        # A windowed context strategy gives each turn a fresh prompt (a new segment).
        window = None if self._keep is None else context_window(log.messages + new, self._keep)
        prompt_ids = None
        if tokenizer is not None:
            ct = self._chat(tokenizer)
            start = 0
            if not log.token_ids:
                piece = ct.prompt(new)
            elif window is not None:
                piece = ct.prompt(window)
                start = len(log.token_ids)
            else:
                ended = ct.eos_id is not None and log.token_ids[-1] == ct.eos_id
                piece = ct.continuation(new, ended_with_eos=ended)
            if (
                self.max_context_tokens is not None
                and len(log.token_ids) - start + len(piece) > self.max_context_tokens
            ):
                return None
            if start:
                log.segments.append(start)
            log.token_ids += piece
            log.loss_mask += [0] * len(piece)
            log.logprobs += [0.0] * len(piece)
            prompt_ids = log.token_ids[start:]
        log.messages += new
        params = self.sampling
        if params.seed is not None:
            # One sampling seed per (run seed, episode, seat, turn): reproducible, yet the
            # episodes of a group (same env seed) sample differently.
            derived = np.random.SeedSequence(
                [params.seed, index, seat_index, log.turns]
            ).generate_state(1)[0]
            params = params.with_(seed=int(derived))
        return Request(
            # the seat's live conversation (or its window); policies read it, never change it
            messages=log.messages if window is None else window,
            prompt_token_ids=prompt_ids,
            seat=log.seat,
            params=params,
            env=env,
            episode_id=episode_id,
            env_id=self.env_id,
        )

    def _record_reply(self, log: _SeatLog, comp: Completion) -> str:
        """Append the reply to the seat's log; return its text as the env receives it."""
        if not isinstance(comp, Completion):
            raise EpisodeError(f"policy returned {type(comp).__name__}, not a Completion")
        text = _text(comp.text)
        log.messages.append({"role": "assistant", "content": text})
        log.turns += 1
        log.rewards.append(log.pre_reward)
        log.pre_reward = 0.0
        tokenizer = getattr(log.policy, "tokenizer", None)
        if tokenizer is None:
            return text
        if comp.token_ids is not None:
            ids = list(comp.token_ids)
            lps = list(comp.logprobs) if comp.logprobs is not None else [0.0] * len(ids)
            if len(lps) != len(ids):
                lps = (lps + [0.0] * len(ids))[: len(ids)]
        else:  # a backend without token ids: tokenize the text (marked as not token-exact)
            ct = self._chat(tokenizer)
            ids = ct.encode(text + ct.reply_suffix) + ([ct.eos_id] if ct.eos_id is not None else [])
            lps = [0.0] * len(ids)
            log.retokenized = True
        log.token_ids += ids
        log.loss_mask += [1] * len(ids)
        log.logprobs += [float(x) for x in lps]
        return text

    def _finish(
        self,
        spec: EpisodeSpec,
        episode_id: str,
        env: Any,
        logs: dict[str, _SeatLog],
        reason: str | None,
        error: bool,
        wall: float,
        *,
        truncated: bool = False,
    ) -> list[Trajectory]:
        opponents = {
            s: getattr(lg.policy, "name", type(lg.policy).__name__) for s, lg in logs.items()
        }
        out = []
        done = env is not None and not error and _env_done(env)
        for seat, log in logs.items():
            if spec.record_seats is not None and seat not in spec.record_seats:
                continue
            if log.pre_reward:
                if log.rewards:
                    log.rewards[-1] += log.pre_reward
                else:
                    log.rewards.append(log.pre_reward)
            if error:
                outcome = Outcome.ERROR
            elif truncated:
                outcome = Outcome.TRUNCATED
            elif not done:
                outcome = Outcome.ABORTED
            else:
                outcome = _outcome(env, seat, sum(log.rewards))
            ended = (env.infos.get(seat) or {}).get("ended") if done else None
            info: dict[str, Any] = dict(spec.tags)
            if log.segments:
                info["segments"] = [0, *log.segments]
            if log.retokenized:
                info["retokenized"] = True
            # An env's per-episode record (scores, request counts) from its final info.
            episode = (env.infos.get(seat) or {}).get("episode") if done else None
            if isinstance(episode, dict):
                info["episode"] = episode
            out.append(
                Trajectory(
                    episode_id=episode_id,
                    env_id=self.env_id,
                    seed=spec.seed,
                    group_id=spec.group_id or f"{self.env_id}:{spec.seed}",
                    role=seat,
                    policy_id=opponents[seat],
                    policy_version=log.version,
                    messages=log.messages,
                    token_ids=log.token_ids,
                    loss_mask=log.loss_mask,
                    logprobs=log.logprobs,
                    rewards=log.rewards,
                    return_=float(sum(log.rewards)),
                    outcome=outcome,
                    num_turns=log.turns,
                    invalid_moves=log.invalid,
                    opponents=opponents,
                    reason=reason if reason else ended,
                    timings={"episode_s": wall, "generate_s": log.gen_time},
                    info=info,
                )
            )
        return out


def _add_reward(log: _SeatLog, r: float) -> None:
    # A reward that arrives after a seat's reply belongs to that reply; before its first reply
    # it is held until the first reply.
    if log.rewards:
        log.rewards[-1] += r
    else:
        log.pre_reward += r


def _probe_seats(factory: Callable[[], Any], timeout: float | None) -> tuple[str, ...]:
    """Make one env (under the deadline, on a daemon thread) and return its seats."""
    box: dict[str, Any] = {}

    def probe() -> None:
        try:
            env = factory()
            try:
                box["seats"] = tuple(str(s) for s in env.possible_agents)
            finally:
                close = getattr(env, "close", None)
                if callable(close):
                    close()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=probe, name="env-seats", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise RuntimeError(f"making the env did not return within {timeout:g}s (step_timeout)")
    if "error" in box:
        exc = box["error"]
        if isinstance(exc, Exception):
            raise exc
        raise RuntimeError(f"making the env raised {type(exc).__name__}: {exc}")
    return box["seats"]


def _text(value: Any) -> str:
    """``value`` as text that encodes as UTF-8: lone surrogates become ``\\udXXX`` escapes."""
    if not isinstance(value, str):
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode("utf-8", errors="replace")
        else:
            value = "" if value is None else str(value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return value


def _finite_reward(value: Any, seat: str) -> float:
    try:
        r = float(value)
    except (TypeError, ValueError):
        raise EpisodeError(
            f"env gave seat {seat!r} a reward that is not a number: {value!r}"
        ) from None
    if not math.isfinite(r):
        raise EpisodeError(f"env gave seat {seat!r} a non-finite reward ({r})")
    return r


def _env_done(env: MultiSeatEnv) -> bool:
    return bool(env.done)


def _outcome(env: MultiSeatEnv, seat: str, seat_return: float) -> str:
    """The env's outcome for ``seat``; else its info's; else the sign of the seat's return."""
    out = env.outcome(seat)
    if out is None:
        o = (env.infos.get(seat) or {}).get("outcome")
        out = o.get(seat) if isinstance(o, dict) else o
    if out is None:
        r = seat_return
        out = Outcome.WIN if r > 0 else Outcome.LOSS if r < 0 else Outcome.DRAW
    return str(out)


# ---- summaries ----------------------------------------------------------------------------
class _Progress:
    def __init__(self, total: int, label: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.p = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[extra]}"),
            transient=False,
        )
        self.task = self.p.add_task(label, total=total, extra="")
        self.returns: list[float] = []

    def start(self) -> None:
        self.p.start()

    def stop(self) -> None:
        self.p.stop()

    def advance(self, trajs: list[Trajectory]) -> None:
        self.returns += [t.return_ for t in trajs if t.outcome != Outcome.ERROR]
        m = sum(self.returns) / len(self.returns) if self.returns else 0.0
        self.p.update(self.task, advance=1, extra=f"mean return {m:.3f}")
