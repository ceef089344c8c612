"""Model-aware training defaults: pretrained models get LoRA, a small rate and no warm start."""

from __future__ import annotations

from gymnpt.core.config import parse_overrides
from gymnpt.training.config import (
    PRETRAINED_DEFAULTS,
    Config,
    apply_model_defaults,
    is_pretrained,
)


def test_tiny_keeps_its_defaults():
    cfg = parse_overrides(Config, ["env=tictactoe"])
    before = (cfg.lora.r, cfg.learner.lr, cfg.sft.steps, cfg.max_new_tokens)
    assert apply_model_defaults(cfg) == []
    assert (cfg.lora.r, cfg.learner.lr, cfg.sft.steps, cfg.max_new_tokens) == before
    assert not is_pretrained("tiny") and not is_pretrained("tiny:3")


def test_pretrained_model_gets_lora_small_lr_and_no_warm_start():
    cfg = parse_overrides(Config, ["env=tictactoe", "model=smollm2"])
    changed = apply_model_defaults(cfg)
    assert cfg.lora.r == PRETRAINED_DEFAULTS["lora.r"] > 0
    assert cfg.learner.lr == PRETRAINED_DEFAULTS["learner.lr"] < Config().learner.lr
    assert cfg.sft.steps == 0 and cfg.max_new_tokens == 16  # tictactoe's spec: a move
    assert "lora.r=16" in changed and "sft.steps=0" in changed


def test_keys_the_user_set_are_kept():
    cfg = parse_overrides(
        Config, ["env=tictactoe", "model=smollm2", "lora.r=4", "sft.steps=5", "learner.lr=3e-4"]
    )
    changed = apply_model_defaults(cfg)
    assert (cfg.lora.r, cfg.sft.steps, cfg.learner.lr) == (4, 5, 3e-4)
    assert not any(c.startswith(("lora.r", "sft.steps", "learner.lr")) for c in changed)
    # full-parameter training of a pretrained model: turn the model defaults off
    full = parse_overrides(Config, ["env=tictactoe", "model=smollm2", "model_defaults=false"])
    assert apply_model_defaults(full) == [] and full.lora.r == 0


def test_pretrained_reply_length_comes_from_the_env():
    from gymnpt.core.registry import Registry

    reg = Registry()
    for env_id, length in (("long", 512), ("plain", None)):
        reg.register_env(
            id=env_id,
            entry_point="gymnpt.envs.games.tictactoe:TicTacToeEnv",
            max_new_tokens=length,
        )
    long = parse_overrides(Config, ["env=long", "model=smollm2"])
    assert "max_new_tokens=512" in apply_model_defaults(long, reg) and long.max_new_tokens == 512
    plain = parse_overrides(Config, ["env=plain", "model=smollm2"])
    apply_model_defaults(plain, reg)
    assert plain.max_new_tokens == PRETRAINED_DEFAULTS["max_new_tokens"]
    # a value the user set wins over the env's
    mine = parse_overrides(Config, ["env=long", "model=smollm2", "max_new_tokens=40"])
    assert not any(c.startswith("max_new_tokens") for c in apply_model_defaults(mine, reg))
    assert mine.max_new_tokens == 40
