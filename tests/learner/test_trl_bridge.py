"""The TRL bridge: TRL's GRPOTrainer trains on a gymnpt env through ``rollout_func``."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from learner_helpers import line_registry

from gymnpt.models.tiny import build_tiny
from gymnpt.plugins.trl_bridge import EnvRollout


def test_grpo_trainer_steps_on_an_env_change_parameters(tmp_path: Path) -> None:
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from trl import GRPOConfig, GRPOTrainer

    model, tok = build_tiny(seed=1, hidden_size=32, intermediate_size=64)
    bridge = EnvRollout("coin", max_turns=2, max_new_tokens=3, registry=line_registry())
    data = bridge.dataset(seeds=range(8))
    assert data[0]["prompt"][0]["role"] == "system" and data[0]["seed"] == 0
    args = GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        num_generations=4,
        max_steps=2,
        learning_rate=5e-2,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        beta=0.0,
        max_completion_length=128,
        save_strategy="no",
        seed=0,
        temperature=1.0,
        dataloader_num_workers=0,
    )
    trainer = GRPOTrainer(
        model=model,
        processing_class=tok,
        args=args,
        train_dataset=data,
        reward_funcs=bridge.reward,
        rollout_func=bridge,
    )
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    trainer.train()
    assert trainer.state.global_step == 2
    changed = [k for k, v in model.named_parameters() if not torch.equal(v, before[k])]
    assert changed, "no parameter changed"
    # the rollouts were whole multi-turn episodes with env text masked out
    trajs = bridge.last_trajectories
    assert len(trajs) == 4 and all(t.env_id == "coin" and t.num_turns == 2 for t in trajs)
    start = trajs[0].loss_mask.index(1)
    assert 0 in trajs[0].loss_mask[start:]  # the env's second message sits inside the completion


def test_rollout_func_output_is_token_exact() -> None:
    model, tok = build_tiny(seed=1, hidden_size=32, intermediate_size=64)
    bridge = EnvRollout("linewalk", max_turns=3, max_new_tokens=3, registry=line_registry())
    data = bridge.dataset(seeds=[3, 4])

    class _Args:
        temperature, top_p, max_completion_length, seed = 1.0, 1.0, None, 0

    class _Trainer:
        args = _Args()
        processing_class = tok

        def __init__(self) -> None:
            self.model = model

    prompts = [data[0]["prompt"], data[0]["prompt"], data[1]["prompt"]]
    out = bridge(prompts, _Trainer())
    assert len(out["prompt_ids"]) == 3 and out["env_return"] == [
        t.return_ for t in bridge.last_trajectories
    ]
    for i, t in enumerate(bridge.last_trajectories):
        assert out["prompt_ids"][i] + out["completion_ids"][i] == t.token_ids
        assert len(out["env_mask"][i]) == len(out["completion_ids"][i]) == len(out["logprobs"][i])
        assert out["env_mask"][i][0] == 1
        # the prompt ids are the chat template of the opening conversation
        text = tok.apply_chat_template(
            data[0 if i < 2 else 1]["prompt"], tokenize=False, add_generation_prompt=True
        )
        assert out["prompt_ids"][i] == tok.encode(text, add_special_tokens=False)
    assert [t.seed for t in bridge.last_trajectories] == [3, 3, 4]
