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

ALGOS = ("grpo", "dr_grpo", "rloo")
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
    lr: float = field(default=1e-3, metadata={"help": "AdamW learning rate."})
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
        default=4,
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

    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise ValueError(f"algo must be one of {ALGOS}, got {self.algo!r}")
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
# Advantages and dynamic sampling
# =============================================================================================
def group_keys(trajs: Sequence[Trajectory]) -> list[str]:
    """The group of each trajectory: its ``group_id`` and seat (role-conditioned baselines)."""
    return [f"{t.group_id}|{t.role}" for t in trajs]


def compute_advantages(
    returns: Sequence[float], groups: Sequence[str], algo: str = "grpo", eps: float = 1e-4
) -> np.ndarray:
    """One advantage per episode from its return and its group's returns.

    Args:
        returns: episode returns.
        groups: a group key per episode (episodes of one group share a seed).
        algo: ``grpo`` (group-normalised), ``dr_grpo`` (mean-centred) or ``rloo`` (leave-one-out).
        eps: added to the group std for ``grpo``.

    Returns:
        Advantages as a float64 array. A group of one episode gets advantage 0.
    """
    if algo not in ALGOS:
        raise ValueError(f"algo must be one of {ALGOS}, got {algo!r}")
    if len(returns) != len(groups):
        raise ValueError(f"{len(returns)} returns but {len(groups)} group keys")
    r = np.asarray(returns, dtype=np.float64)
    adv = np.zeros_like(r)
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    for idx in members.values():
        if len(idx) < 2:
            continue
        rg = r[idx]
        mean = rg.mean()
        if algo == "grpo":
            adv[idx] = (rg - mean) / (rg.std(ddof=1) + eps)
        elif algo == "dr_grpo":
            adv[idx] = rg - mean
        else:  # rloo: R_i - mean of the other k-1 returns = k/(k-1) * (R_i - mean)
            k = len(idx)
            adv[idx] = k / (k - 1) * (rg - mean)
    return adv


def filter_groups(trajs: Sequence[Trajectory]) -> tuple[list[Trajectory], int]:
    """Drop groups whose returns are all equal: they carry no learning signal.

    Returns:
        The kept trajectories (in order) and the number of groups dropped.
    """
    keys = group_keys(trajs)
    returns: dict[str, list[float]] = {}
    for k, t in zip(keys, trajs, strict=True):
        returns.setdefault(k, []).append(t.return_)
    keep = {k for k, rs in returns.items() if len(rs) > 1 and max(rs) - min(rs) > 1e-9}
    return [t for k, t in zip(keys, trajs, strict=True) if k in keep], len(returns) - len(keep)


# =============================================================================================
# Batches of token sequences
# =============================================================================================
@dataclass
class Batch:
    """Trajectories as token sequences for the update (one row per trajectory, unpadded)."""

    input_ids: list[list[int]]
    loss_mask: list[list[int]]
    old_logprobs: list[list[float]]
    advantages: list[float]
    #: Rows whose old logprobs must be recomputed (the sampler gave none).
    recompute: list[bool]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def num_tokens(self) -> int:
        return sum(sum(m) for m in self.loss_mask)


def make_batch(trajs: Sequence[Trajectory], advantages: Sequence[float]) -> Batch:
    """Turn trajectories with advantages into a :class:`Batch`.

    Trajectories without token ids (bots, text-only backends) or without a single sampled
    token are skipped. A trajectory whose tokens were re-tokenized from text, or whose
    logprobs are missing, is marked for recomputation of its old logprobs.
    """
    b = Batch([], [], [], [], [])
    for t, a in zip(trajs, advantages, strict=True):
        if not t.token_ids or not any(t.loss_mask):
            continue
        if len(t.loss_mask) != len(t.token_ids):
            raise ValueError(
                f"trajectory {t.episode_id}: {len(t.token_ids)} token ids but {len(t.loss_mask)} mask entries"
            )
        if t.loss_mask[0]:
            raise ValueError(
                f"trajectory {t.episode_id}: the first token cannot be a sampled token"
            )
        lps = list(t.logprobs) if len(t.logprobs) == len(t.token_ids) else [0.0] * len(t.token_ids)
        missing = len(t.logprobs) != len(t.token_ids) or bool(t.info.get("retokenized"))
        b.input_ids.append(list(t.token_ids))
        b.loss_mask.append([int(m) for m in t.loss_mask])
        b.old_logprobs.append([float(x) for x in lps])
        b.advantages.append(float(a))
        b.recompute.append(missing)
    return b


def _pad(
    rows: list[list[Any]], value: Any, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    width = max(len(r) for r in rows)
    out = torch.full((len(rows), width), value, dtype=dtype)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, dtype=dtype)
    return out.to(device)


def _decoder_and_head(model: nn.Module) -> tuple[nn.Module | None, nn.Module | None]:
    """The backbone and LM head of a causal LM (through PEFT wrappers), when recognisable."""
    base: Any = model
    if hasattr(base, "get_base_model"):
        base = base.get_base_model()
    get_dec = getattr(base, "get_decoder", None)
    head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    dec = None
    if callable(get_dec):
        try:
            dec = get_dec()
        except Exception:  # noqa: BLE001 - models without a separable decoder
            dec = None
    if dec is base or getattr(base.config, "final_logit_softcapping", None):
        return None, None
    return dec, head


def token_logprobs(
    model: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    target_mask: torch.Tensor,
    *,
    temperature: float = 1.0,
    with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probabilities of the selected tokens under ``model``.

    The LM head is applied only where ``target_mask`` is set, so memory grows with the number
    of sampled tokens rather than with sequence length times vocabulary.

    Args:
        model: a causal LM (optionally PEFT-wrapped).
        input_ids: ``[B, T]`` token ids (right-padded).
        attention_mask: ``[B, T]`` 1 on real tokens (right padding needs no mask and is run without).
        target_mask: ``[B, T]`` bool, True at positions whose token's logprob is wanted
            (position 0 is never a target).
        temperature: logits are divided by it.
        with_entropy: also return the entropy of the predictive distribution at each target.

    Returns:
        ``(logprobs, entropy)``: 1-D float32 tensors in row-major order of ``target_mask``.
    """
    sel = target_mask[:, 1:]
    targets = input_ids[:, 1:][sel]
    # With right padding, causal attention never lets a real token see a pad, so the mask can be
    # dropped: attention then runs its fast causal path instead of materialising a [B, T, T] mask.
    attn: torch.Tensor | None = attention_mask[:, :-1]
    if attn is not None and bool((attn[:, 1:] <= attn[:, :-1]).all()):
        attn = None
    dec, head = _decoder_and_head(model)
    if dec is not None and head is not None:
        hidden = dec(input_ids=input_ids[:, :-1], attention_mask=attn, use_cache=False)
        hidden = hidden[0] if isinstance(hidden, tuple) else hidden.last_hidden_state
        logits = head(hidden[sel])
    else:
        out = model(input_ids=input_ids[:, :-1], attention_mask=attn, use_cache=False)
        logits = out.logits[sel]
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    logz = torch.logsumexp(logits, dim=-1)
    logp = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - logz
    ent = None
    if with_entropy:
        with torch.no_grad():
            p = torch.softmax(logits, dim=-1)
            ent = logz - (p * logits).sum(-1)
    return logp, ent


def policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    *,
    clip_low: float,
    clip_high: float,
    ref_logp: torch.Tensor | None = None,
    kl_coef: float = 0.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Per-token clipped-ratio loss (before averaging).

    Args:
        logp: current logprobs of the sampled tokens.
        old_logp: the sampler's logprobs of the same tokens.
        advantages: the advantage of each token's episode.
        clip_low: ratio may not go below ``1 - clip_low`` for negative-advantage gains.
        clip_high: ratio may not go above ``1 + clip_high`` for positive-advantage gains.
        ref_logp: reference-model logprobs for the KL penalty.
        kl_coef: weight of the KL penalty.

    Returns:
        ``(loss_per_token, parts)`` where parts holds per-token ``pg``, ``kl``, ``clipped``
        and ``ratio`` (detached except ``pg`` and ``kl``).
    """
    log_ratio = logp - old_logp
    ratio = torch.exp(log_ratio)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high) * advantages
    pg = -torch.min(unclipped, clipped)
    loss = pg
    kl = torch.zeros_like(logp)
    if ref_logp is not None:
        d = ref_logp - logp
        kl = torch.exp(d) - d - 1.0  # k3 estimator of KL(policy || reference), >= 0
        loss = loss + kl_coef * kl
    parts = {
        "pg": pg,
        "kl": kl,
        "clipped": (clipped < unclipped).detach(),
        "ratio": ratio.detach(),
        "approx_kl": (0.5 * log_ratio.detach() ** 2),
    }
    return loss, parts


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
            adv_list = [float(a) for a in advantages]
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
