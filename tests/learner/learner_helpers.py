"""Helpers of the learner tests: a tiny Llama built in memory, hand-made trajectories, and a
registry with two small envs (a line walk with a bot, and a coin env whose rewards random
replies can earn)."""

from __future__ import annotations

import torch

from gymnpt.rollout.trajectory import Trajectory


def tiny_llama(seed: int = 0) -> torch.nn.Module:
    """A 2-layer Llama with a 64-token vocabulary and hidden size 32."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=False,
    )
    return LlamaForCausalLM(cfg).float()


def make_traj(
    ids: list[int],
    mask: list[int],
    ret: float,
    group: str,
    *,
    role: str = "player",
    logprobs: list[float] | None = None,
    ep: str = "",
) -> Trajectory:
    """A trajectory with the given tokens, mask and return."""
    return Trajectory(
        episode_id=ep or f"e{group}{ret}{len(ids)}",
        env_id="test",
        seed=0,
        group_id=group,
        role=role,
        policy_id="tiny",
        token_ids=list(ids),
        loss_mask=list(mask),
        logprobs=list(logprobs) if logprobs is not None else [0.0] * len(ids),
        return_=float(ret),
        outcome="success" if ret > 0 else "failure",
    )


# ---- a small env for in-process trainer tests ------------------------------------------------
from typing import Any  # noqa: E402

from gymnpt.core.env import InvalidAction, Outcome, TextEnv  # noqa: E402
from gymnpt.core.registry import Registry  # noqa: E402
from gymnpt.rollout.policy import BasePolicy, Request  # noqa: E402


class LineWalk(TextEnv):
    """Walk left or right on a line of cells to reach the target; +1 on arrival, -0.1 per move."""

    instructions = "Reach the target. Reply L or R."
    max_turns = 6

    def __init__(self, size: int = 5, **kw: Any) -> None:
        super().__init__(**kw)
        self.size = size

    def _new_game(self, rng: Any, options: dict[str, Any]) -> None:
        self.pos = int(rng.integers(0, self.size))
        self.target = int(rng.integers(0, self.size))
        while self.target == self.pos:
            self.target = int(rng.integers(0, self.size))

    def _to_act(self) -> list[str]:
        return ["player"]

    def _observe(self, seat: str) -> str:
        return "".join(
            "T" if i == self.target else "@" if i == self.pos else "." for i in range(self.size)
        )

    def _parse(self, seat: str, text: str) -> Any:
        t = text.strip().upper()[:1]
        if t not in ("L", "R"):
            raise InvalidAction("reply L or R")
        return t

    def _apply(self, moves: dict[str, Any]) -> dict[str, float]:
        self.pos = max(0, min(self.size - 1, self.pos + (1 if moves["player"] == "R" else -1)))
        if self.pos == self.target:
            self._finish({"player": Outcome.SUCCESS})
            return {"player": 1.0}
        return {"player": -0.1}


class LineBot(BasePolicy):
    name = "bot:line"

    def act(self, request: Request) -> str:
        env = request.env.env.unwrapped
        return "R" if env.target > env.pos else "L"


class LineRandom(BasePolicy):
    name = "bot:random"

    def __init__(self) -> None:
        import random

        self.rng = random.Random(0)

    def act(self, request: Request) -> str:
        return self.rng.choice("LR")


class CoinEnv(TextEnv):
    """Two turns; each reply whose first character has an odd code scores 1 (any reply is legal)."""

    instructions = "Say anything."
    max_turns = 2

    def _new_game(self, rng: Any, options: dict[str, Any]) -> None:
        self.n = int(rng.integers(0, 100))

    def _to_act(self) -> list[str]:
        return ["player"]

    def _observe(self, seat: str) -> str:
        return f"Round {self.turn + 1}, number {self.n}."

    def _parse(self, seat: str, text: str) -> Any:
        return text

    def _apply(self, moves: dict[str, Any]) -> dict[str, float]:
        text = moves["player"]
        return {"player": float(bool(text) and ord(text[0]) % 2 == 1)}


def line_registry() -> Registry:
    """A registry with only the line-walk env and its two bots."""
    from gymnpt.core.plugins import make_plugin_manager

    reg = Registry()
    reg.plugin_manager = make_plugin_manager(autoload=False)
    reg.register_env(
        id="linewalk", entry_point=LineWalk, bots=("bot:line",), description="test env"
    )
    reg.register_env(
        id="coin", entry_point=CoinEnv, description="test env with rewards for random replies"
    )
    reg.register_agent(name="bot:line", factory=lambda env_id=None, **kw: LineBot())
    reg.register_agent(name="bot:random", factory=lambda env_id=None, **kw: LineRandom())
    reg.register_agent(name="hf", factory="gymnpt.agents.hf:make_hf_policy")
    return reg
