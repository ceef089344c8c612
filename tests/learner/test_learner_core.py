"""The GRPO learner core on a tiny in-memory Llama and hand-made trajectories."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from learner_helpers import make_traj, tiny_llama

from gymnpt.training.learner import (
    Learner,
    LearnerConfig,
    LoraConfig,
    apply_lora,
    compute_advantages,
    filter_groups,
    make_batch,
    token_logprobs,
)


def full_logprobs(model: torch.nn.Module, ids: list[int]) -> torch.Tensor:
    """logp(ids[t] | ids[:t]) for t >= 1, from one plain forward pass (reference computation)."""
    x = torch.tensor([ids])
    logits = model(input_ids=x).logits[0, :-1].float()
    return torch.log_softmax(logits, -1).gather(-1, x[0, 1:].unsqueeze(-1)).squeeze(-1)


def sample_batch() -> list:
    # two groups of two episodes; multi-turn masks (two sampled runs separated by env tokens)
    return [
        make_traj([1, 2, 3, 10, 11, 4, 5, 12, 13], [0, 0, 0, 1, 1, 0, 0, 1, 1], 1.0, "g1"),
        make_traj([1, 2, 3, 20, 4, 5, 21, 22], [0, 0, 0, 1, 0, 0, 1, 1], 0.0, "g1"),
        make_traj([1, 6, 30, 31, 32, 7], [0, 0, 1, 1, 1, 0], 2.0, "g2"),
        make_traj([1, 6, 40, 7, 8, 41], [0, 0, 1, 0, 0, 1], -1.0, "g2"),
    ]


# ---- advantages ------------------------------------------------------------------------------
def test_advantages_hand_values() -> None:
    r = [1.0, 0.0, 3.0, 2.0, 5.0]
    g = ["a", "a", "b", "b", "c"]
    grpo = compute_advantages(r, g, "grpo", eps=0.0)
    s = np.std([1.0, 0.0], ddof=1)
    assert grpo == pytest.approx([0.5 / s, -0.5 / s, 0.5 / s, -0.5 / s, 0.0])
    assert compute_advantages(r, g, "dr_grpo") == pytest.approx([0.5, -0.5, 0.5, -0.5, 0.0])
    # leave-one-out: R_i - mean(others)
    r3, g3 = [1.0, 2.0, 6.0], ["x"] * 3
    assert compute_advantages(r3, g3, "rloo") == pytest.approx([1 - 4, 2 - 3.5, 6 - 1.5])
    with pytest.raises(ValueError, match="algo"):
        compute_advantages(r, g, "ppo")


def test_filter_groups_drops_zero_variance_and_keeps_roles_apart() -> None:
    trajs = [
        make_traj([1, 2], [0, 1], 1.0, "g1"),
        make_traj([1, 3], [0, 1], 1.0, "g1"),
        make_traj([1, 2], [0, 1], 1.0, "g2"),
        make_traj([1, 3], [0, 1], 0.0, "g2"),
        make_traj([1, 2], [0, 1], 1.0, "g3", role="x"),
        make_traj([1, 3], [0, 1], 0.0, "g3", role="o"),
    ]
    kept, dropped = filter_groups(trajs)
    assert [t.group_id for t in kept] == ["g2", "g2"]
    assert dropped == 3  # g1 (no variance) and the two single-episode role groups of g3


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="algo"):
        LearnerConfig(algo="nope")
    with pytest.raises(ValueError, match="loss_agg"):
        LearnerConfig(loss_agg="mean")
    with pytest.raises(ValueError, match="lr"):
        LearnerConfig(lr=0)


def test_make_batch_rejects_inconsistent_records() -> None:
    bad = make_traj([1, 2, 3], [0, 1], 1.0, "g")
    with pytest.raises(ValueError, match="mask"):
        make_batch([bad], [1.0])
    # records without sampled tokens (bots) are skipped, not an error
    assert len(make_batch([make_traj([1, 2], [0, 0], 1.0, "g")], [1.0])) == 0


# ---- logprobs and loss -------------------------------------------------------------------------
def test_token_logprobs_match_a_plain_forward_pass(model: torch.nn.Module) -> None:
    trajs = sample_batch()
    learner = Learner(model, LearnerConfig(micro_batch_size=3))
    batch = make_batch(trajs, [0.0] * len(trajs))
    t = learner._tensors([0, 1, 2, 3], batch)
    with torch.no_grad():
        got, ent = token_logprobs(model, t["ids"], t["attn"], t["mask"], with_entropy=True)
        want = torch.cat(
            [
                full_logprobs(model, tr.token_ids)[torch.tensor(tr.loss_mask[1:]).bool()]
                for tr in trajs
            ]
        )
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert ent is not None and bool((ent > 0).all()) and bool((ent <= np.log(64) + 1e-4).all())


def hand_loss(
    model: torch.nn.Module, trajs: list, adv: np.ndarray, clip: float, agg: str
) -> torch.Tensor:
    """The clipped GRPO loss written out term by term."""
    per_seq, all_terms = [], []
    for tr, a in zip(trajs, adv, strict=True):
        lp = full_logprobs(model, tr.token_ids)
        terms = []
        for pos in range(1, len(tr.token_ids)):
            if not tr.loss_mask[pos]:
                continue
            ratio = torch.exp(lp[pos - 1] - tr.logprobs[pos])
            terms.append(-torch.minimum(ratio * a, torch.clamp(ratio, 1 - clip, 1 + clip) * a))
        all_terms += terms
        per_seq.append(torch.stack(terms).mean())
    return torch.stack(all_terms).mean() if agg == "token" else torch.stack(per_seq).mean()


@pytest.mark.parametrize("agg", ["token", "sequence"])
def test_loss_matches_hand_computed_value(model: torch.nn.Module, agg: str) -> None:
    trajs = sample_batch()
    # old logprobs: the current ones shifted so that some ratios fall outside the clip range
    gen = torch.Generator().manual_seed(0)
    for tr in trajs:
        with torch.no_grad():
            lp = full_logprobs(model, tr.token_ids)
        tr.logprobs = [0.0] + [
            float(x) + float(torch.randn(1, generator=gen)) * 0.3 if m else 0.0
            for x, m in zip(lp.tolist(), tr.loss_mask[1:], strict=True)
        ]
    cfg = LearnerConfig(loss_agg=agg, micro_batch_size=1, clip_eps=0.2, filter_zero_std=False)
    learner = Learner(model, cfg)
    adv = compute_advantages(
        [t.return_ for t in trajs], [t.group_id for t in trajs], "grpo", cfg.adv_eps
    )
    batch = make_batch(trajs, adv)
    got = learner.loss(batch)
    want = hand_loss(model, trajs, adv, 0.2, agg)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    # gradient accumulation: micro-batches of 1 give the same gradient as one pass of 4
    got.backward()
    g1 = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    learner.cfg.micro_batch_size = 4
    learner.loss(batch).backward()
    for a, b in zip(g1, (p.grad for p in model.parameters()), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)


def test_masked_out_tokens_get_zero_gradient(model: torch.nn.Module) -> None:
    # sampled tokens at positions 2-3; everything from position 3 on is env text
    tr = make_traj([1, 5, 9, 10, 7, 8, 3, 4], [0, 0, 1, 1, 0, 0, 0, 0], 1.0, "g")
    other = make_traj([1, 5, 9, 11, 7, 8, 3, 4], [0, 0, 1, 1, 0, 0, 0, 0], 0.0, "g")
    learner = Learner(model, LearnerConfig(filter_zero_std=False))
    batch = make_batch([tr, other], [1.0, -1.0])
    emb = model.get_input_embeddings()
    captured: dict[str, torch.Tensor] = {}

    def hook(_m, _i, out):  # keep the embedding output to read its gradient per position
        out.retain_grad()
        captured["e"] = out

    h = emb.register_forward_hook(hook)
    try:
        learner.loss(batch).backward()
    finally:
        h.remove()
    g = captured["e"].grad  # [2, T-1, H], rows sorted longest first (equal here)
    # inputs at positions >= 3 only feed predictions of env tokens: exactly zero gradient
    assert torch.count_nonzero(g[:, 3:]) == 0
    assert torch.count_nonzero(g[:, :3]) > 0
    # changing env tokens and old logprobs outside the mask does not change the loss
    l1 = learner.loss(batch).item()
    batch.input_ids[0][5:] = [60, 61, 62]
    batch.old_logprobs[0][5:] = [-3.0, -2.0, -1.0]
    assert learner.loss(batch).item() == pytest.approx(l1, abs=1e-7)


# ---- the update ---------------------------------------------------------------------------------
def test_step_changes_parameters_and_reports_metrics(model: torch.nn.Module) -> None:
    trajs = sample_batch()
    before = copy.deepcopy(model.state_dict())
    learner = Learner(
        model,
        LearnerConfig(
            lr=1e-2, epochs=2, minibatch_size=2, micro_batch_size=1, old_logprobs="recompute"
        ),
    )
    m = learner.step(trajs)
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert len(changed) == len(before)
    assert m["learn/trajectories"] == 4 and m["learn/optimizer_steps"] == 4
    assert m["policy/ratio_mean"] == pytest.approx(1.0, abs=0.2)
    for key in (
        "loss/policy",
        "policy/entropy",
        "policy/clip_frac",
        "grad/norm",
        "learn/tokens_per_s",
        "time/learn",
    ):
        assert np.isfinite(m[key]), key


def test_step_raises_likelihood_of_better_episode(model: torch.nn.Module) -> None:
    good = make_traj([1, 2, 3, 10, 11], [0, 0, 0, 1, 1], 1.0, "g")
    bad = make_traj([1, 2, 3, 20, 21], [0, 0, 0, 1, 1], 0.0, "g")
    learner = Learner(model, LearnerConfig(lr=3e-3, old_logprobs="recompute", epochs=4))
    with torch.no_grad():
        g0, b0 = (
            full_logprobs(model, good.token_ids)[2:].sum(),
            full_logprobs(model, bad.token_ids)[2:].sum(),
        )
    for _ in range(3):
        learner.step([good, bad])
    with torch.no_grad():
        g1, b1 = (
            full_logprobs(model, good.token_ids)[2:].sum(),
            full_logprobs(model, bad.token_ids)[2:].sum(),
        )
    assert g1 > g0 and b1 < b0


def test_zero_variance_batch_is_skipped(model: torch.nn.Module) -> None:
    before = copy.deepcopy(model.state_dict())
    m = Learner(model).step(
        [make_traj([1, 2, 3], [0, 1, 1], 1.0, "g"), make_traj([1, 2, 4], [0, 1, 1], 1.0, "g")]
    )
    assert m["learn/skipped"] == 1.0 and m["learn/groups_dropped"] == 1.0
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_kl_to_reference_is_zero_at_start_and_grows(model: torch.nn.Module) -> None:
    trajs = sample_batch()
    learner = Learner(model, LearnerConfig(lr=1e-2, kl_coef=0.5, old_logprobs="recompute"))
    m1 = learner.step(trajs)
    assert m1["loss/kl"] == pytest.approx(0.0, abs=1e-6)
    m2 = learner.step(trajs)
    assert m2["loss/kl"] > 0


def test_lora_trains_only_adapters_and_uses_base_as_reference() -> None:
    model = apply_lora(tiny_llama(), LoraConfig(r=4, alpha=8))
    base = {k: v.clone() for k, v in model.named_parameters() if "lora_" not in k}
    lora = {k: v.clone() for k, v in model.named_parameters() if "lora_B" in k}
    learner = Learner(model, LearnerConfig(lr=1e-2, kl_coef=0.1, old_logprobs="recompute"))
    learner.step(sample_batch())
    m = learner.step(sample_batch())
    assert all(torch.equal(v, dict(model.named_parameters())[k]) for k, v in base.items())
    assert any(not torch.equal(v, dict(model.named_parameters())[k]) for k, v in lora.items())
    assert m["loss/kl"] > 0


def test_learner_state_round_trip(model: torch.nn.Module) -> None:
    learner = Learner(model, LearnerConfig(lr=1e-2, old_logprobs="recompute"))
    learner.step(sample_batch())
    state = copy.deepcopy(learner.state_dict())
    twin_model = copy.deepcopy(model)
    twin = Learner(twin_model, LearnerConfig(lr=1e-2, old_logprobs="recompute"))
    twin.load_state_dict(state)
    learner.step(sample_batch())
    twin.step(sample_batch())
    for a, b in zip(model.parameters(), twin_model.parameters(), strict=True):
        torch.testing.assert_close(a, b)
