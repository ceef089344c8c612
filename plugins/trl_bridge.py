"""Train on any gymnpt env with TRL's ``GRPOTrainer``: a ``rollout_func`` and its dataset.

::

    from trl import GRPOConfig, GRPOTrainer
    from gymnpt.plugins.trl_bridge import EnvRollout

    bridge = EnvRollout("snake", max_turns=8, max_new_tokens=8)
    trainer = GRPOTrainer(model=model, processing_class=tokenizer,
                          args=GRPOConfig(num_generations=4, ...),
                          train_dataset=bridge.dataset(seeds=range(64)),
                          reward_funcs=bridge.reward, rollout_func=bridge)

Each dataset row is the env's opening conversation for one seed (system prompt and first
observation). TRL's sampler repeats every row ``num_generations`` times; the bridge plays one
whole episode per received prompt with the rollout engine (all of them concurrently, model
calls batched) using the trainer's live model, and returns for each episode:

* ``prompt_ids`` -- the tokens of the opening prompt,
* ``completion_ids`` -- every token after it: the model's replies *and* the env's later
  messages, exactly as the model saw them,
* ``env_mask`` -- 1 on tokens the model sampled, 0 on env text (TRL masks them out of the loss),
* ``logprobs`` -- the sampler's logprobs (0 on env text),
* ``env_return`` -- the episode's return, which :meth:`EnvRollout.reward` hands to TRL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

__all__ = ["EnvRollout"]


def _key(messages: Any) -> str:
    if isinstance(messages, str):
        return messages
    return json.dumps(
        [{"role": m["role"], "content": m["content"]} for m in messages], sort_keys=True
    )


class EnvRollout:
    """A TRL ``rollout_func`` that plays gymnpt episodes (callable as ``f(prompts, trainer)``).

    Args:
        env: a registered env id (single-seat, or multi-seat with ``opponent``).
        env_kwargs: keyword arguments for the env.
        max_turns: cap on model replies per episode.
        max_new_tokens: longest reply per turn (TRL's ``max_completion_length`` caps the
            whole multi-turn completion).
        opponent: agent for the other seats of multi-seat envs (e.g. ``bot:random``); the
            model plays the first seat.
        registry: the registry (default: the process-wide one).
    """

    def __init__(
        self,
        env: str,
        env_kwargs: dict[str, Any] | None = None,
        *,
        max_turns: int | None = 16,
        max_new_tokens: int = 16,
        opponent: str = "bot:random",
        registry: Any = None,
    ) -> None:
        from gymnpt.core.registry import default_registry

        self.env = env
        self.env_kwargs = dict(env_kwargs or {})
        self.max_turns = max_turns
        self.max_new_tokens = max_new_tokens
        self.registry = registry or default_registry()
        self.spec = self.registry.env_spec(env)
        self.opponent = opponent
        self._seeds: dict[str, list[int]] = {}
        self._policy: Any = None
        self.last_trajectories: list[Any] = []

    # ---- data -----------------------------------------------------------------------------
    def opening(self, seed: int) -> list[dict[str, str]]:
        """The opening conversation (system prompt and first observation) for ``seed``."""
        env = self.registry.make_multiagent(self.env, **self.env_kwargs)
        try:
            env.reset(seed=seed)
            seat = self.spec.seats[0]
            instr = env.seat_instructions(seat) if hasattr(env, "seat_instructions") else ""
            if not instr:
                from gymnpt.core.env import env_instructions

                instr = env_instructions(getattr(env, "env", env))
            msgs = [{"role": "system", "content": instr}] if instr else []
            return msgs + [{"role": "user", "content": env.observe(seat)}]
        finally:
            if hasattr(env, "close"):
                env.close()

    def dataset(self, seeds: Iterable[int]) -> Any:
        """A ``datasets.Dataset`` with one row per seed: ``prompt`` (messages) and ``seed``."""
        import datasets

        rows = []
        for s in seeds:
            msgs = self.opening(int(s))
            self._seeds.setdefault(_key(msgs), []).append(int(s))
            rows.append({"prompt": msgs, "seed": int(s)})
        return datasets.Dataset.from_list(rows)

    def seed_of(self, prompt: Any) -> int:
        """The seed whose opening is ``prompt`` (several seeds with one opening share the first)."""
        seeds = self._seeds.get(_key(prompt))
        if not seeds:
            raise KeyError("prompt not from EnvRollout.dataset(); build the training set with it")
        return seeds[0]

    # ---- rollouts ---------------------------------------------------------------------------
    def _sampler(self, trainer: Any) -> Any:
        from gymnpt.agents.hf import HFPolicy

        model = (
            trainer.accelerator.unwrap_model(trainer.model)
            if hasattr(trainer, "accelerator")
            else trainer.model
        )
        tok = getattr(trainer, "processing_class", None) or trainer.tokenizer
        if self._policy is None or self._policy.model is not model:
            self._policy = HFPolicy(
                model=model, tokenizer=tok, name="trl", seed=int(getattr(trainer.args, "seed", 0))
            )
        else:
            self._policy.version += 1
        return self._policy

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, list[Any]]:
        """Play one episode per prompt with the trainer's model; see the module docstring."""
        from gymnpt.rollout.engine import RolloutEngine
        from gymnpt.rollout.planner import EpisodePlanner, bind
        from gymnpt.rollout.policy import SamplingParams

        args = trainer.args
        policy = self._sampler(trainer)
        sampling = SamplingParams(
            temperature=float(getattr(args, "temperature", 1.0) or 1.0),
            top_p=float(getattr(args, "top_p", 1.0) or 1.0),
            max_new_tokens=self.max_new_tokens,
        )
        engine = RolloutEngine(
            self.env,
            self.env_kwargs,
            sampling=sampling,
            max_turns=self.max_turns,
            registry=self.registry,
            call_timeout=None,
        )
        seats = list(self.spec.seats)
        slots: dict[str, Any] = {"learner": policy}
        seating = {s: ("learner" if i == 0 else "opponent") for i, s in enumerate(seats)}
        if len(seats) > 1:
            from gymnpt.rollout.policies import build_policy

            slots["opponent"] = build_policy(self.opponent, self.env, registry=self.registry)
        # TRL repeats each prompt once per generation: the copies share a seed, so a group.
        planner = EpisodePlanner(seats, tag="trl")
        plan = planner.fixed([self.seed_of(p) for p in prompts], seating, record_seats=seats[:1])
        specs = bind(plan, slots)
        was_training = policy.model.training
        trajs = engine.run_episodes(specs)
        policy.model.train(was_training)
        self.last_trajectories = trajs
        cap = getattr(args, "max_completion_length", None)
        out: dict[str, list[Any]] = {
            "prompt_ids": [],
            "completion_ids": [],
            "logprobs": [],
            "env_mask": [],
            "env_return": [],
        }
        for t in trajs:
            if not t.token_ids or 1 not in t.loss_mask:
                raise RuntimeError(
                    f"episode {t.episode_id} produced no model tokens ({t.outcome}: {t.reason})"
                )
            start = t.loss_mask.index(1)
            end = len(t.token_ids) if not cap else min(len(t.token_ids), start + int(cap))
            out["prompt_ids"].append(list(t.token_ids[:start]))
            out["completion_ids"].append(list(t.token_ids[start:end]))
            out["logprobs"].append([float(x) for x in t.logprobs[start:end]])
            out["env_mask"].append([int(m) for m in t.loss_mask[start:end]])
            out["env_return"].append(float(t.return_))
        return out

    @staticmethod
    def reward(
        completions: list[Any], env_return: list[float] | None = None, **kwargs: Any
    ) -> list[float]:
        """TRL reward function: the episode return that the rollout recorded."""
        if env_return is None:
            raise ValueError("env_return missing: use EnvRollout as the trainer's rollout_func")
        return [float(r) for r in env_return]
