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
"""

from __future__ import annotations

import asyncio
import math
import time
import traceback
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gymnpt.core.env import Outcome, as_multiagent
from gymnpt.rollout.policy import BasePolicy, Completion, Policy, Request, SamplingParams
from gymnpt.rollout.tokens import ChatTokens
from gymnpt.rollout.trajectory import Trajectory, TrajectoryWriter

__all__ = ["RolloutEngine", "EpisodeSpec", "summarize", "print_summary", "mean_ci"]


@dataclass
class EpisodeSpec:
    """One episode to play."""

    seed: int | None
    #: seat -> policy, or one policy for every seat (self-play).
    policies: dict[str, Policy] | Policy
    group_id: str = ""
    #: Seats whose trajectories are returned (default: all).
    record_seats: Collection[str] | None = None
    options: dict[str, Any] | None = None
    episode_id: str = ""
    #: Free-form tags copied into each trajectory's ``info`` (e.g. a tournament pairing).
    tags: dict[str, Any] = field(default_factory=dict)


class EpisodeError(Exception):
    """Ends one episode with outcome ``error``."""


class _Batcher:
    """Collects requests for one policy and answers them in batches."""

    def __init__(self, policy: Policy, *, timeout: float | None, max_batch: int) -> None:
        self.policy = policy
        self.timeout = timeout
        self.max_batch = max_batch
        self.queue: list[tuple[Request, asyncio.Future[Completion]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.batch_sizes: list[int] = []

    def submit(self, req: Request) -> asyncio.Future[Completion]:
        fut: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self.queue.append((req, fut))
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
            batch, self.queue = self.queue[: self.max_batch], self.queue[self.max_batch :]
            reqs = [r for r, _ in batch]
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
                for _, fut in batch:
                    if not fut.done():
                        fut.cancel()
                raise
            except BaseException as exc:  # noqa: BLE001 - reported per episode
                err = exc if isinstance(exc, Exception) else RuntimeError(repr(exc))
                if isinstance(exc, asyncio.TimeoutError):
                    err = EpisodeError(
                        f"policy {getattr(self.policy, 'name', '?')} timed out after {self.timeout}s"
                    )
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(err)
                continue
            for (_, fut), out in zip(batch, outs):
                if not fut.done():
                    fut.set_result(out)


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
        max_turns: cap on policy calls per episode (the episode ends ``aborted``).
        max_context_tokens: cap on a seat's conversation length in tokens (ends ``aborted``).
        call_timeout: seconds allowed for one batched model call (None for no limit).
        max_concurrent: episodes in flight at once.
        max_batch: largest batch sent to one policy.
        writer: where finished trajectories are appended as they complete.
        progress: show a Rich progress bar.
        threaded_env: run env steps in worker threads (for envs whose step blocks, like code
            execution); None decides from the env's family.
        registry: the registry to make envs with (default: the process-wide one).
        observer: a plugin manager to notify ``gymnpt_episode_end`` (default: the registry's).
    """

    def __init__(
        self,
        env: str | Callable[[], Any],
        env_kwargs: dict[str, Any] | None = None,
        *,
        sampling: SamplingParams | None = None,
        max_turns: int | None = None,
        max_context_tokens: int | None = None,
        call_timeout: float | None = 120.0,
        max_concurrent: int = 64,
        max_batch: int = 64,
        writer: TrajectoryWriter | None = None,
        progress: bool = False,
        threaded_env: bool | None = None,
        registry: Any = None,
        observer: Any = None,
    ) -> None:
        self.env_id = env if isinstance(env, str) else getattr(env, "__name__", "custom")
        self.env_kwargs = dict(env_kwargs or {})
        self.sampling = sampling or SamplingParams()
        self.max_turns = max_turns
        self.max_context_tokens = max_context_tokens
        self.call_timeout = call_timeout
        self.max_concurrent = max_concurrent
        self.max_batch = max_batch
        self.writer = writer
        self.progress = progress
        self._registry = registry
        self._observer = observer
        family = None
        if isinstance(env, str):
            reg = self.registry
            family = reg.env_spec(env).family
            self._factory: Callable[[], Any] = lambda: reg.make_multiagent(env, **self.env_kwargs)
        else:
            self._factory = lambda: as_multiagent(
                env(**self.env_kwargs) if self.env_kwargs else env()
            )
        self.threaded_env = threaded_env if threaded_env is not None else family in {"code", "web"}
        self._chat_tokens: dict[int, ChatTokens] = {}
        self.stats: dict[str, Any] = {}

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
        specs = [
            EpisodeSpec(
                seed=s,
                policies=policies,
                group_id=f"{self.env_id}:{s}:{gi}",
                record_seats=record_seats,
            )
            for gi, s in enumerate(seeds)
            for _ in range(group_size)
        ]
        return await self.arun_episodes(specs)

    def run_episodes(self, specs: Sequence[EpisodeSpec]) -> list[Trajectory]:
        """Play the given episodes; trajectories come back in the order of ``specs``."""
        return asyncio.run(self.arun_episodes(specs))

    async def arun_episodes(self, specs: Sequence[EpisodeSpec]) -> list[Trajectory]:
        t0 = time.perf_counter()
        batchers: dict[int, _Batcher] = {}
        sem = asyncio.Semaphore(self.max_concurrent)
        results: list[list[Trajectory]] = [[] for _ in specs]
        bar = _Progress(len(specs), f"{self.env_id}") if self.progress else None

        async def one(i: int, spec: EpisodeSpec) -> None:
            async with sem:
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

        try:
            if bar:
                bar.start()
            await asyncio.gather(*(one(i, s) for i, s in enumerate(specs)))
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
        self, policy: Policy, req: Request, batchers: dict[int, _Batcher]
    ) -> Completion:
        if _is_inline_bot(policy):
            res = policy.act(req)  # type: ignore[attr-defined]
            return res if isinstance(res, Completion) else Completion(text=str(res))
        b = batchers.get(id(policy))
        if b is None:
            b = batchers[id(policy)] = _Batcher(
                policy, timeout=self.call_timeout, max_batch=self.max_batch
            )
        return await b.submit(req)

    async def _env_call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.threaded_env:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    async def _episode(
        self, spec: EpisodeSpec, batchers: dict[int, _Batcher], index: int = 0
    ) -> list[Trajectory]:
        episode_id = spec.episode_id or uuid.uuid4().hex[:12]
        t_start = time.perf_counter()
        logs: dict[str, _SeatLog] = {}
        reason: str | None = None
        error = False
        env: Any = None
        seats: list[str] = []
        try:
            env = await self._env_call(self._factory)
            seats = list(env.possible_agents)
            pols = spec.policies
            for seat in seats:
                pol = pols.get(seat) if isinstance(pols, dict) else pols
                if pol is None:
                    raise EpisodeError(f"no policy for seat {seat!r} (seats: {seats})")
                logs[seat] = _SeatLog(seat=seat, policy=pol, version=getattr(pol, "version", 0))
            await self._env_call(env.reset, seed=spec.seed, options=spec.options)
            calls = 0
            threaded = self.threaded_env
            while not _env_done(env):
                seat = env.agent_selection
                log = logs[seat]
                obs = await self._env_call(env.observe, seat) if threaded else env.observe(seat)
                req = self._prepare(env, log, obs, spec, episode_id, index, seats.index(seat))
                if req is None:
                    reason = f"context limit ({self.max_context_tokens} tokens) reached for {seat}"
                    break
                t_gen = time.perf_counter()
                comp = await self._call(log.policy, req, batchers)
                log.gen_time += time.perf_counter() - t_gen
                self._record_reply(log, comp)
                if threaded:
                    await self._env_call(env.step, comp.text)
                else:
                    env.step(comp.text)
                calls += 1
                info = (env.infos or {}).get(seat, {}) if hasattr(env, "infos") else {}
                if info.get("invalid_move"):
                    log.invalid += 1
                for s, r in (env.rewards or {}).items():
                    if s in logs and r:
                        _add_reward(logs[s], float(r))
                if self.max_turns is not None and calls >= self.max_turns and not _env_done(env):
                    reason = f"engine turn limit ({self.max_turns}) reached"
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one episode's failure must not stop the others
            error = True
            reason = f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, EpisodeError):
                reason += "\n" + "".join(traceback.format_exception(exc)[-3:])
        finally:
            if env is not None and hasattr(env, "close"):
                try:
                    env.close()
                except Exception:  # noqa: BLE001
                    pass
        return self._finish(
            spec, episode_id, env, logs, reason, error, time.perf_counter() - t_start
        )

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
            instr = env.seat_instructions(log.seat) if hasattr(env, "seat_instructions") else ""
            if instr:
                new.append({"role": "system", "content": instr})
        new.append({"role": "user", "content": obs})
        prompt_ids = None
        if tokenizer is not None:
            ct = self._chat(tokenizer)
            if not log.token_ids:
                piece = ct.prompt(new)
            else:
                ended = ct.eos_id is not None and log.token_ids[-1] == ct.eos_id
                piece = ct.continuation(new, ended_with_eos=ended)
            if (
                self.max_context_tokens is not None
                and len(log.token_ids) + len(piece) > self.max_context_tokens
            ):
                return None
            log.token_ids += piece
            log.loss_mask += [0] * len(piece)
            log.logprobs += [0.0] * len(piece)
            prompt_ids = list(log.token_ids)
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
            messages=log.messages,  # the seat's live conversation; policies read it, never change it
            prompt_token_ids=prompt_ids,
            seat=log.seat,
            params=params,
            env=env,
            episode_id=episode_id,
            env_id=self.env_id,
        )

    def _record_reply(self, log: _SeatLog, comp: Completion) -> None:
        text = comp.text if isinstance(comp.text, str) else str(comp.text)
        log.messages.append({"role": "assistant", "content": text})
        log.turns += 1
        log.rewards.append(log.pre_reward)
        log.pre_reward = 0.0
        tokenizer = getattr(log.policy, "tokenizer", None)
        if tokenizer is None:
            return
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

    def _finish(
        self,
        spec: EpisodeSpec,
        episode_id: str,
        env: Any,
        logs: dict[str, _SeatLog],
        reason: str | None,
        error: bool,
        wall: float,
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
            elif not done:
                outcome = Outcome.ABORTED
            else:
                outcome = _outcome(env, seat)
            ended = None
            if done and hasattr(env, "infos"):
                ended = (env.infos.get(seat) or {}).get("ended")
            info: dict[str, Any] = dict(spec.tags)
            if log.retokenized:
                info["retokenized"] = True
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


def _env_done(env: Any) -> bool:
    done = getattr(env, "done", None)
    if isinstance(done, bool):
        return done
    return not getattr(env, "agents", []) or not env.agent_selection


def _outcome(env: Any, seat: str) -> str:
    fn = getattr(env, "outcome", None)
    out = fn(seat) if callable(fn) else None
    if out is None and hasattr(env, "infos"):
        o = (env.infos.get(seat) or {}).get("outcome")
        out = o.get(seat) if isinstance(o, dict) else o
    if out is None:
        r = env._cumulative_rewards.get(seat, 0.0) if hasattr(env, "_cumulative_rewards") else 0.0
        out = Outcome.WIN if r > 0 else Outcome.LOSS if r < 0 else Outcome.DRAW
    return str(out)


# ---- summaries ----------------------------------------------------------------------------
def mean_ci(values: Sequence[float], z: float = 1.96) -> tuple[float, float]:
    """Mean and half-width of its normal-approximation 95% confidence interval."""
    n = len(values)
    if n == 0:
        return float("nan"), float("nan")
    m = sum(values) / n
    if n == 1:
        return m, float("nan")
    var = sum((v - m) ** 2 for v in values) / (n - 1)
    return m, z * math.sqrt(var / n)


def summarize(trajs: Sequence[Trajectory]) -> dict[str, dict[str, Any]]:
    """Per (policy, seat) statistics: episodes, mean return with CI, outcome rates."""
    groups: dict[tuple[str, str], list[Trajectory]] = {}
    for t in trajs:
        groups.setdefault((t.policy_id, t.role), []).append(t)
    out: dict[str, dict[str, Any]] = {}
    for (pid, role), ts in sorted(groups.items()):
        m, ci = mean_ci([t.return_ for t in ts])
        counts: dict[str, int] = {}
        for t in ts:
            counts[t.outcome] = counts.get(t.outcome, 0) + 1
        out[f"{pid}@{role}"] = {
            "policy": pid,
            "seat": role,
            "episodes": len(ts),
            "return_mean": m,
            "return_ci95": ci,
            "outcomes": counts,
            "turns_mean": sum(t.num_turns for t in ts) / len(ts),
            "invalid_rate": sum(t.invalid_moves for t in ts) / max(1, sum(t.num_turns for t in ts)),
        }
    return out


def print_summary(
    trajs: Sequence[Trajectory], title: str = "rollout summary", console: Any = None
) -> None:
    """Print a Rich table of :func:`summarize`."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title=title)
    for col in (
        "policy",
        "seat",
        "episodes",
        "mean return (95% CI)",
        "outcomes",
        "turns",
        "invalid",
    ):
        table.add_column(col)
    for row in summarize(trajs).values():
        ci = row["return_ci95"]
        ret = f"{row['return_mean']:.3f}" + (f" ± {ci:.3f}" if ci == ci else "")
        outs = ", ".join(f"{k} {v}" for k, v in sorted(row["outcomes"].items()))
        table.add_row(
            row["policy"],
            row["seat"],
            str(row["episodes"]),
            ret,
            outs,
            f"{row['turns_mean']:.1f}",
            f"{row['invalid_rate']:.1%}",
        )
    console.print(table)


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
        self.returns += [t.return_ for t in trajs]
        m = sum(self.returns) / len(self.returns) if self.returns else 0.0
        self.p.update(self.task, advance=1, extra=f"mean return {m:.3f}")
