"""Context strategies: windowed prompts are recorded as segments, trained on as the sampler saw them."""

from __future__ import annotations

import numpy as np
import pytest
from learner_helpers import line_registry

from gymnpt.rollout.context import context_window, parse_context, turn_windows
from gymnpt.rollout.engine import RolloutEngine
from gymnpt.rollout.policy import SamplingParams
from gymnpt.training.learner import make_batch
from gymnpt.training.warmstart import tokenize_episodes


def _conversation(turns: int) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": "rules"}]
    for i in range(turns):
        msgs += [{"role": "user", "content": f"obs{i}"}, {"role": "assistant", "content": f"r{i}"}]
    return msgs


def test_parse_context() -> None:
    assert parse_context("full") is None
    assert parse_context("obs") == 0
    assert parse_context("last:3") == 3
    for bad in ("last", "last:-1", "recent", ""):
        with pytest.raises(ValueError, match="full, obs or last:K"):
            parse_context(bad)


def test_windows_keep_system_prompt_and_last_exchanges() -> None:
    msgs = _conversation(3)[:-1]  # ends with the current observation obs2
    assert [m["content"] for m in context_window(msgs, 0)] == ["rules", "obs2"]
    assert [m["content"] for m in context_window(msgs, 1)] == ["rules", "obs1", "r1", "obs2"]
    assert context_window(msgs, None) == msgs
    assert context_window(msgs, 9) == msgs
    wins = turn_windows(_conversation(3), 0)
    assert [[m["content"] for m in w] for w in wins] == [
        ["rules", "obs0", "r0"],
        ["rules", "obs1", "r1"],
        ["rules", "obs2", "r2"],
    ]
    assert turn_windows(_conversation(3), None) == [_conversation(3)]


def _play(context: str) -> list:
    from gymnpt.agents.hf import HFPolicy
    from gymnpt.models.tiny import build_tiny

    model, tok = build_tiny(
        0, hidden_size=32, intermediate_size=64, num_attention_heads=2, num_key_value_heads=2
    )
    pol = HFPolicy(model=model, tokenizer=tok, name="tiny", seed=0)
    eng = RolloutEngine(
        "linewalk",
        sampling=SamplingParams(temperature=1.0, max_new_tokens=3, seed=0),
        registry=line_registry(),
        context=context,
        call_timeout=None,
    )
    return eng.run([0, 1, 2, 3], pol), tok


def test_obs_context_records_one_segment_per_turn_token_exactly() -> None:
    trajs, tok = _play("obs")
    assert all(t.outcome != "error" for t in trajs), [t.reason for t in trajs]
    multi = [t for t in trajs if t.num_turns > 1]
    assert multi, "the line walk should take several turns for an untrained model"
    for t in trajs:
        segs = t.info["segments"]
        assert len(segs) == t.num_turns and segs[0] == 0
        # Each segment's prompt is exactly the warm start's tokenization of that turn's window
        # (the sampled reply tokens are kept as sampled; their text need not re-encode to them).
        bounds = [*segs, len(t.token_ids)]
        rows = tokenize_episodes([t], tok, "obs")
        assert len(rows) == t.num_turns
        for (lo, hi), (ids, mask) in zip(zip(bounds[:-1], bounds[1:]), rows, strict=True):
            seg_mask = t.loss_mask[lo:hi]
            n_prompt = seg_mask.index(1)
            assert t.token_ids[lo : lo + n_prompt] == ids[: mask.index(1)]
            assert all(seg_mask[n_prompt:])
    batch = make_batch(trajs, [1.0] * len(trajs))
    assert len(batch) == sum(t.num_turns for t in trajs)
    assert all(not m[0] for m in batch.loss_mask)
    assert batch.num_tokens == sum(sum(t.loss_mask) for t in trajs)


def test_full_context_is_one_sequence() -> None:
    trajs, _ = _play("full")
    assert all(t.outcome != "error" for t in trajs), [t.reason for t in trajs]
    assert all("segments" not in t.info for t in trajs)
    assert len(make_batch(trajs, [1.0] * len(trajs))) == len(trajs)


def test_turn_credit_gives_each_turn_its_return_to_go() -> None:
    from learner_helpers import make_traj

    from gymnpt.training.learner import turn_advantages

    # prompt, reply | prompt, reply | prompt, reply: three turns as three segments
    t = make_traj([1, 2, 9, 3, 4, 9, 5, 6, 9], [0, 0, 1, 0, 0, 1, 0, 0, 1], 0.0, "g")
    t.info["segments"] = [0, 3, 6]
    t.rewards = [0.0, 1.0, -1.0]
    u = make_traj([1, 2, 9, 3, 4, 9], [0, 0, 1, 0, 0, 1], 1.0, "g")
    u.info["segments"] = [0, 3]
    u.rewards = [0.0, 1.0]
    adv = turn_advantages([t, u], gamma=0.5)
    # returns-to-go: t = [0 + .5 * (1 + .5 * -1), 1 - .5, -1] = [.25, .5, -1]; u = [.5, 1]
    rtg = np.array([0.25, 0.5, -1.0, 0.5, 1.0])
    want = (rtg - rtg.mean()) / (rtg.std() + 1e-4)
    assert np.allclose([*adv[0], *adv[1]], want)
    batch = make_batch([t, u], adv)
    assert np.allclose(batch.advantages, want)
    assert batch.input_ids[1] == [3, 4, 9]
    t.info.pop("segments")  # one sequence cannot carry three turn advantages
    with pytest.raises(ValueError, match="windowed context"):
        make_batch([t], [adv[0]])
