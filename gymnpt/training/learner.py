"""The learner: multi-turn GRPO on token-exact trajectories, readable top to bottom.

A *group* is the set of episodes that share a seed (and, in multi-seat games, a seat). Each
trajectory gets one advantage from its return relative to its group; that advantage applies to
every token the policy sampled in the episode (``loss_mask == 1``), across all of its turns.
Prompt and env tokens (``loss_mask == 0``) never receive gradient.

The update is the clipped-ratio policy gradient of PPO/GRPO::

    ratio_t   = exp(logp_new_t - logp_old_t)          # logp_old: the sampler's logprobs
    loss_t    = -min(ratio_t * A, clip(ratio_t, 1 - eps_low, 1 + eps_high) * A)
              + kl_coef * KL_t(policy || reference)   # optional, k3 estimator
    loss      = mean over masked tokens (token level) or mean of per-episode means (sequence)

run for ``epochs`` passes over the batch in minibatches, with gradient accumulation over
micro-batches and gradient-norm clipping.

Advantage estimators (``algo``):

* ``grpo``     -- ``(R - mean_group) / (std_group + eps)``
* ``dr_grpo``  -- ``R - mean_group`` (no std normalisation; Dr. GRPO)
* ``rloo``     -- ``R - mean(others in group)`` (leave-one-out baseline)
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from gymnpt.rollout.trajectory import Trajectory
from gymnpt.training.advantages import (
    ALGOS,
    compute_advantages,
    filter_groups,
    group_keys,
    turn_advantages,
)
from gymnpt.training.batches import Batch, _pad, make_batch, policy_loss, token_logprobs

__all__ = [
    "LearnerConfig",
    "LoraConfig",
    "Learner",
    "Batch",
    "compute_advantages",
    "filter_groups",
    "group_keys",
    "make_batch",
    "token_logprobs",
    "policy_loss",
    "apply_lora",
]

LOSS_AGGS = ("token", "sequence")
OLD_LOGPROBS = ("sampler", "recompute")


# =============================================================================================
# Config
# =============================================================================================
@dataclass
class LoraConfig:
    """LoRA adapters through PEFT (``r=0`` trains all weights)."""

    r: int = field(
        default=0, metadata={"help": "LoRA rank; 0 disables LoRA and trains every weight."}
    )
    alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator (lora_alpha)."})
    dropout: float = field(default=0.0, metadata={"help": "Dropout on the LoRA input."})
    target_modules: str = field(
        default="all-linear",
        metadata={
            "help": "Modules to adapt: 'all-linear' or a comma-separated list such as 'q_proj,v_proj'."
        },
    )

    def __post_init__(self) -> None:
        if self.r < 0:
            raise ValueError(f"lora.r must be >= 0, got {self.r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"lora.dropout must be in [0, 1), got {self.dropout}")


@dataclass
class LearnerConfig:
    """Settings of the policy-gradient update."""

    algo: str = field(
        default="grpo", metadata={"help": "Advantage estimator: grpo, dr_grpo or rloo."}
    )
    lr: float = field(default=5e-4, metadata={"help": "AdamW learning rate."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    betas: list[float] = field(
        default_factory=lambda: [0.9, 0.99], metadata={"help": "AdamW betas."}
    )
    epochs: int = field(
        default=1, metadata={"help": "Passes over each rollout batch (PPO epochs)."}
    )
    minibatch_size: int = field(
        default=16,
        metadata={"help": "Trajectories per optimizer step; 0 means the whole batch in one step."},
    )
    micro_batch_size: int = field(
        default=16,
        metadata={
            "help": "Trajectories per forward/backward pass (gradient accumulation); raise it on GPU."
        },
    )
    micro_batch_tokens: int = field(
        default=0, metadata={"help": "Cap on padded tokens per forward pass; 0 for no cap."}
    )
    clip_eps: float = field(
        default=0.2, metadata={"help": "Lower clip range of the probability ratio."}
    )
    clip_eps_high: float = field(
        default=0.0, metadata={"help": "Upper clip range; 0 uses clip_eps (symmetric clipping)."}
    )
    kl_coef: float = field(
        default=0.0,
        metadata={"help": "Weight of the KL penalty to the frozen reference model; 0 disables it."},
    )
    loss_agg: str = field(
        default="token",
        metadata={
            "help": "Loss averaging: 'token' (mean over all sampled tokens) or 'sequence' (mean of per-episode means)."
        },
    )
    max_grad_norm: float = field(
        default=1.0, metadata={"help": "Gradient-norm clip; 0 disables clipping."}
    )
    adv_eps: float = field(
        default=1e-4, metadata={"help": "Added to the group std in grpo normalisation."}
    )
    filter_zero_std: bool = field(
        default=True,
        metadata={"help": "Drop groups whose returns are all equal (dynamic sampling)."},
    )
    old_logprobs: str = field(
        default="sampler",
        metadata={
            "help": "Where the ratio's old logprobs come from: 'sampler' (as sampled) or 'recompute' (a forward pass before the update)."
        },
    )
    temperature: float = field(
        default=1.0,
        metadata={"help": "Sampling temperature; logits are divided by it to match the sampler."},
    )
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "Recompute activations in backward to save memory."}
    )
    seed: int = field(default=0, metadata={"help": "Seed of the minibatch shuffling generator."})
    credit: str = field(
        default="episode",
        metadata={
            "help": "episode: one advantage per episode from algo=; turn: per-turn discounted returns-to-go normalised over the batch (ReBN; needs a windowed context such as context=obs)."
        },
    )
    gamma: float = field(default=1.0, metadata={"help": "Discount of credit=turn returns-to-go."})

    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise ValueError(f"algo must be one of {ALGOS}, got {self.algo!r}")
        if self.credit not in ("episode", "turn"):
            raise ValueError(f"credit must be episode or turn, got {self.credit!r}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")
        if self.loss_agg not in LOSS_AGGS:
            raise ValueError(f"loss_agg must be one of {LOSS_AGGS}, got {self.loss_agg!r}")
        if self.old_logprobs not in OLD_LOGPROBS:
            raise ValueError(
                f"old_logprobs must be one of {OLD_LOGPROBS}, got {self.old_logprobs!r}"
            )
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.minibatch_size < 0 or self.micro_batch_size < 1 or self.micro_batch_tokens < 0:
            raise ValueError(
                "minibatch_size must be >= 0, micro_batch_size >= 1 and micro_batch_tokens >= 0"
            )
        if self.clip_eps <= 0 or self.clip_eps_high < 0:
            raise ValueError("clip_eps must be > 0 and clip_eps_high >= 0")
        if self.kl_coef < 0 or self.max_grad_norm < 0 or self.temperature <= 0:
            raise ValueError("kl_coef and max_grad_norm must be >= 0 and temperature > 0")
        if len(self.betas) != 2:
            raise ValueError(f"betas must have two values, got {self.betas}")


# =============================================================================================
# LoRA
# =============================================================================================
def apply_lora(model: nn.Module, cfg: LoraConfig) -> nn.Module:
    """Wrap ``model`` with LoRA adapters (PEFT); returns it unchanged when ``cfg.r == 0``."""
    if cfg.r <= 0:
        return model
    import peft

    targets: str | list[str] = cfg.target_modules
    if targets != "all-linear":
        targets = [t.strip() for t in cfg.target_modules.split(",") if t.strip()]
    pcfg = peft.LoraConfig(
        r=cfg.r,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    return peft.get_peft_model(model, pcfg)


# =============================================================================================
# The learner
# =============================================================================================
class Learner:
    """Owns the trainable model, its optimizer and the reference model.

    Args:
        model: the causal LM to train (already LoRA-wrapped if wanted).
        cfg: the update settings.
        ref_model: a frozen reference for the KL penalty. When None and ``kl_coef > 0``,
            a PEFT model uses itself with adapters disabled, otherwise a frozen copy is made.
    """

    def __init__(
        self, model: nn.Module, cfg: LearnerConfig | None = None, ref_model: nn.Module | None = None
    ) -> None:
        self.cfg = cfg = cfg or LearnerConfig()
        self.model = model
        self.device = next(model.parameters()).device
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("the model has no trainable parameters")
        self.optimizer = torch.optim.AdamW(
            params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(cfg.betas[0], cfg.betas[1])
        )
        self.ref_model = ref_model
        self._ref_is_adapter_off = False
        if cfg.kl_coef > 0 and ref_model is None:
            if hasattr(model, "disable_adapter"):
                self._ref_is_adapter_off = True
            else:
                import copy

                self.ref_model = copy.deepcopy(model).eval()
                for p in self.ref_model.parameters():
                    p.requires_grad_(False)
        if cfg.gradient_checkpointing and hasattr(model, "gradient_checkpointing_enable"):
            model.gradient_checkpointing_enable()  # type: ignore[operator]
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.updates = 0

    # ---- plumbing: micro-batches ------------------------------------------------------------
    def _micro_batches(self, rows: list[int], batch: Batch) -> Iterator[list[int]]:
        """Split rows into forward passes, longest first (less padding), by count and tokens."""
        rows = sorted(rows, key=lambda i: -len(batch.input_ids[i]))
        cur: list[int] = []
        for i in rows:
            width = len(batch.input_ids[cur[0]]) if cur else len(batch.input_ids[i])
            over_tokens = (
                self.cfg.micro_batch_tokens
                and cur
                and width * (len(cur) + 1) > self.cfg.micro_batch_tokens
            )
            if cur and (len(cur) >= self.cfg.micro_batch_size or over_tokens):
                yield cur
                cur = []
            cur.append(i)
        if cur:
            yield cur

    def _tensors(self, rows: list[int], batch: Batch) -> dict[str, torch.Tensor]:
        dev = self.device
        ids = _pad([batch.input_ids[i] for i in rows], 0, torch.long, dev)
        attn = _pad([[1] * len(batch.input_ids[i]) for i in rows], 0, torch.long, dev)
        mask = _pad([batch.loss_mask[i] for i in rows], 0, torch.long, dev).bool()
        old = _pad([batch.old_logprobs[i] for i in rows], 0.0, torch.float32, dev)
        adv = torch.tensor([batch.advantages[i] for i in rows], dtype=torch.float32, device=dev)
        seq = torch.arange(len(rows), device=dev).unsqueeze(1).expand_as(mask)
        return {
            "ids": ids,
            "attn": attn,
            "mask": mask,
            "old": old[mask],
            "adv": adv[seq[mask]],
            "seq": seq[mask],
        }

    @torch.no_grad()
    def _ref_logprobs(self, t: dict[str, torch.Tensor]) -> torch.Tensor:
        if self._ref_is_adapter_off:
            with self.model.disable_adapter():  # type: ignore[operator]
                return token_logprobs(
                    self.model, t["ids"], t["attn"], t["mask"], temperature=self.cfg.temperature
                )[0]
        assert self.ref_model is not None
        return token_logprobs(
            self.ref_model, t["ids"], t["attn"], t["mask"], temperature=self.cfg.temperature
        )[0]

    @torch.no_grad()
    def recompute_old_logprobs(self, batch: Batch, rows: Sequence[int] | None = None) -> None:
        """Replace the old logprobs of ``rows`` (default: those marked) with the current model's."""
        rows = [i for i in range(len(batch)) if batch.recompute[i]] if rows is None else list(rows)
        if not rows:
            return
        was_training = self.model.training
        self.model.eval()
        for mb in self._micro_batches(rows, batch):
            t = self._tensors(mb, batch)
            logp, _ = token_logprobs(
                self.model, t["ids"], t["attn"], t["mask"], temperature=self.cfg.temperature
            )
            values: list[float] = logp.cpu().tolist()
            k = 0
            for i in mb:  # logprobs come row by row in micro-batch order
                row = batch.old_logprobs[i]
                for pos, m in enumerate(batch.loss_mask[i]):
                    if m:
                        row[pos] = values[k]
                        k += 1
        self.model.train(was_training)

    # ---- algorithm: one update on a batch of trajectories ------------------------------------
    def step(
        self, trajs: Sequence[Trajectory], advantages: Sequence[float] | None = None
    ) -> dict[str, float]:
        """Compute advantages and run ``epochs`` of clipped policy-gradient updates.

        Args:
            trajs: the rollout batch (groups of episodes that share seeds).
            advantages: one advantage per trajectory, computed elsewhere (role-conditioned
                self-play advantages); then no group is filtered and ``algo`` is not used.

        Returns:
            Namespaced metrics (``loss/policy``, ``policy/clip_frac``, ``learn/tokens_per_s`` ...).
        """
        cfg = self.cfg
        t0 = time.perf_counter()
        n_in = len(trajs)
        dropped = 0
        if advantages is not None:
            if len(advantages) != len(trajs):
                raise ValueError(f"{len(advantages)} advantages for {len(trajs)} trajectories")
            adv_list: list[Any] = [float(a) for a in advantages]
        elif cfg.credit == "turn":
            adv_list = turn_advantages(trajs, cfg.gamma, cfg.adv_eps)  # type: ignore[assignment]
        else:
            if cfg.filter_zero_std:
                trajs, dropped = filter_groups(trajs)
            adv_list = compute_advantages(
                [t.return_ for t in trajs], group_keys(trajs), cfg.algo, cfg.adv_eps
            ).tolist()
        batch = make_batch(trajs, adv_list)
        metrics: dict[str, float] = {
            "learn/trajectories": float(len(batch)),
            "learn/groups_dropped": float(dropped),
            "learn/trajectories_in": float(n_in),
        }
        if len(batch) == 0:
            metrics.update({"learn/skipped": 1.0, "time/learn": time.perf_counter() - t0})
            return metrics
        if cfg.old_logprobs == "recompute":
            batch.recompute = [True] * len(batch)
        self.recompute_old_logprobs(batch)
        m = self.update(batch)
        metrics.update(m)
        metrics["adv/abs_mean"] = float(np.mean(np.abs(batch.advantages)))
        metrics["time/learn"] = time.perf_counter() - t0
        return metrics

    def _micro_loss(
        self, t: dict[str, torch.Tensor], *, n_rows: int, n_tokens: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, dict[str, torch.Tensor]]:
        """This micro-batch's share of the minibatch loss (its parts sum to the minibatch mean)."""
        cfg = self.cfg
        logp, ent = token_logprobs(
            self.model,
            t["ids"],
            t["attn"],
            t["mask"],
            temperature=cfg.temperature,
            with_entropy=True,
        )
        ref = self._ref_logprobs(t) if cfg.kl_coef > 0 else None
        loss_tok, parts = policy_loss(
            logp,
            t["old"],
            t["adv"],
            clip_low=cfg.clip_eps,
            clip_high=cfg.clip_eps_high or cfg.clip_eps,
            ref_logp=ref,
            kl_coef=cfg.kl_coef,
        )
        if cfg.loss_agg == "token":
            loss = loss_tok.sum() / n_tokens
        else:  # sequence: mean over each episode's tokens, then mean over episodes
            n_seq = int(t["ids"].shape[0])
            lens = torch.bincount(t["seq"], minlength=n_seq).clamp(min=1).float()
            per_seq = torch.zeros(n_seq, device=loss_tok.device).index_add(0, t["seq"], loss_tok)
            loss = (per_seq / lens).sum() / n_rows
        return loss, logp, ent, parts

    def loss(self, batch: Batch, rows: Sequence[int] | None = None) -> torch.Tensor:
        """The aggregated loss over ``rows`` of ``batch`` (default: all), with gradient.

        This is exactly the quantity one optimizer step of :meth:`update` minimises.
        """
        rows = list(range(len(batch))) if rows is None else list(rows)
        n_tokens = sum(sum(batch.loss_mask[i]) for i in rows)
        total = torch.zeros((), device=self.device)
        for mb in self._micro_batches(rows, batch):
            total = (
                total
                + self._micro_loss(self._tensors(mb, batch), n_rows=len(rows), n_tokens=n_tokens)[0]
            )
        return total

    def update(self, batch: Batch) -> dict[str, float]:
        """The optimisation loop on a prepared :class:`Batch` (advantages already set)."""
        cfg = self.cfg
        self.model.train()
        t0 = time.perf_counter()
        sums = {
            "pg": 0.0,
            "kl": 0.0,
            "clipped": 0.0,
            "approx_kl": 0.0,
            "ratio": 0.0,
            "entropy": 0.0,
        }
        n_tok_seen = 0
        grad_norms: list[float] = []
        trained_tokens = 0
        mb_size = cfg.minibatch_size or len(batch)
        for _epoch in range(cfg.epochs):
            order = torch.randperm(len(batch), generator=self.generator).tolist()
            for start in range(0, len(batch), mb_size):
                rows = order[start : start + mb_size]
                n_tokens = sum(sum(batch.loss_mask[i]) for i in rows)
                self.optimizer.zero_grad(set_to_none=True)
                for mb in self._micro_batches(rows, batch):
                    t = self._tensors(mb, batch)
                    loss, logp, ent, parts = self._micro_loss(
                        t, n_rows=len(rows), n_tokens=n_tokens
                    )
                    loss.backward()
                    k = logp.numel()
                    n_tok_seen += k
                    trained_tokens += int(t["attn"].sum())
                    sums["pg"] += float(parts["pg"].detach().sum())
                    sums["kl"] += float(parts["kl"].detach().sum())
                    sums["clipped"] += float(parts["clipped"].float().sum())
                    sums["approx_kl"] += float(parts["approx_kl"].sum())
                    sums["ratio"] += float(parts["ratio"].sum())
                    sums["entropy"] += float(ent.sum()) if ent is not None else 0.0
                if cfg.max_grad_norm > 0:
                    gn = torch.nn.utils.clip_grad_norm_(self._params(), cfg.max_grad_norm)
                else:
                    gn = torch.norm(
                        torch.stack([p.grad.norm() for p in self._params() if p.grad is not None])
                    )
                grad_norms.append(float(gn))
                self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.updates += 1
        dt = time.perf_counter() - t0
        n = max(1, n_tok_seen)
        return {
            "loss/policy": sums["pg"] / n,
            "loss/kl": sums["kl"] / n,
            "policy/entropy": sums["entropy"] / n,
            "policy/clip_frac": sums["clipped"] / n,
            "policy/approx_kl": sums["approx_kl"] / n,
            "policy/ratio_mean": sums["ratio"] / n,
            "grad/norm": float(np.mean(grad_norms)) if grad_norms else 0.0,
            "learn/sampled_tokens": float(batch.num_tokens),
            "learn/tokens_per_s": trained_tokens / dt if dt > 0 else math.nan,
            "learn/optimizer_steps": float(len(grad_norms)),
        }

    def _params(self) -> list[torch.nn.Parameter]:
        return [p for g in self.optimizer.param_groups for p in g["params"]]

    # ---- checkpoint state ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Optimizer, shuffling generator and counters (the model is saved separately)."""
        return {
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        self.optimizer.load_state_dict(state["optimizer"])
        for group in self.optimizer.param_groups:  # the config's lr wins (e.g. changed on resume)
            group["lr"] = self.cfg.lr
        self.generator.set_state(state["generator"])
        self.updates = int(state.get("updates", 0))
