"""Token batches from trajectories, per-token log-probabilities and the clipped policy loss."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from gymnpt.rollout.trajectory import Trajectory


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


def make_batch(trajs: Sequence[Trajectory], advantages: Sequence[float | Sequence[float]]) -> Batch:
    """Turn trajectories with advantages into a :class:`Batch`.

    Trajectories of scripted bots and trajectories without a single sampled token are skipped.
    A trajectory whose tokens were re-tokenized from text, or whose logprobs are missing, is
    marked for recomputation of its old logprobs.

    Raises:
        ValueError: when a model's trajectory has replies but no token ids (a text-only
            backend such as an OpenAI-compatible API in chat mode without a local tokenizer):
            there is nothing to train on, and skipping it silently would hide that.
    """
    b = Batch([], [], [], [], [])
    for t, a in zip(trajs, advantages, strict=True):
        if not t.token_ids and _is_model_reply(t):
            raise ValueError(
                f"trajectory {t.episode_id} of {t.policy_id!r} has {t.num_turns} replies but no "
                "token ids, so the learner cannot train on it. Text-only backends (an "
                "OpenAI-compatible API in mode=chat without a local tokenizer) record only text: "
                "collect with mode=completions, pass tokenizer=<the served model>, or use a local "
                "model policy."
            )
        if not t.token_ids or not any(t.loss_mask):
            continue
        if len(t.loss_mask) != len(t.token_ids):
            raise ValueError(
                f"trajectory {t.episode_id}: {len(t.token_ids)} token ids but {len(t.loss_mask)} mask entries"
            )
        lps = list(t.logprobs) if len(t.logprobs) == len(t.token_ids) else [0.0] * len(t.token_ids)
        missing = len(t.logprobs) != len(t.token_ids) or bool(t.info.get("retokenized"))
        # A windowed context strategy (info["segments"]: where each turn's own prompt starts)
        # gives one row per turn, each exactly the sequence the sampler saw.
        bounds = [*(int(x) for x in t.info.get("segments") or [0]), len(t.token_ids)]
        per_turn = None if isinstance(a, (int, float)) else [float(x) for x in a]
        if per_turn is not None and len(bounds) - 1 != len(per_turn):
            raise ValueError(
                f"trajectory {t.episode_id}: {len(per_turn)} turn advantages for "
                f"{len(bounds) - 1} sequences; per-turn credit needs a windowed context "
                "(context=obs or last:K), where each turn is its own sequence"
            )
        for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=False)):
            mask = [int(m) for m in t.loss_mask[lo:hi]]
            if not any(mask):
                continue
            if mask[0]:
                raise ValueError(
                    f"trajectory {t.episode_id}: the first token of a sequence cannot be a sampled token"
                )
            b.input_ids.append(list(t.token_ids[lo:hi]))
            b.loss_mask.append(mask)
            b.old_logprobs.append([float(x) for x in lps[lo:hi]])
            b.advantages.append(per_turn[k] if per_turn is not None else float(a))  # type: ignore[arg-type]
            b.recompute.append(missing)
    return b


def _is_model_reply(t: Trajectory) -> bool:
    """Whether ``t`` holds replies of a model (not of a scripted bot or a human)."""
    if str(t.policy_id).startswith(("bot:", "human")):
        return False
    return any(m.get("role") == "assistant" for m in t.messages)


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
