"""Typed configs of ``gymnpt train``: the run, the warm start, evaluation, offline data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gymnpt.rollout.context import CONTEXT_HELP, parse_context
from gymnpt.training.learner import ALGOS, LearnerConfig, LoraConfig
from gymnpt.training.selfplay import LeagueConfig

#: Training seeds stay below this; evaluation seeds start at ``eval.seed`` (>= this).
EVAL_SEED_FLOOR = 1_000_000


# =============================================================================================
# Config
# =============================================================================================
@dataclass
class WarmStartConfig:
    """Supervised warm start on episodes of a scripted bot (the first stage of ``train``)."""

    steps: int = field(
        default=300, metadata={"help": "SFT optimizer steps; 0 skips the warm start."}
    )
    bot: str = field(
        default="",
        metadata={"help": "Bot whose episodes are imitated (default: the env's strong bot)."},
    )
    episodes: int = field(default=128, metadata={"help": "Bot episodes to imitate."})
    batch_size: int = field(
        default=16,
        metadata={"help": "Examples per SFT step (conversations, or turns with a window context)."},
    )
    lr: float = field(default=1e-3, metadata={"help": "SFT learning rate (AdamW)."})
    min_return: float = field(
        default=float("-inf"), metadata={"help": "Only imitate episodes with at least this return."}
    )
    seed: int = field(default=500_000, metadata={"help": "First seed of the bot episodes."})

    def __post_init__(self) -> None:
        if self.steps < 0 or self.episodes < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError(
                "sft.steps must be >= 0, sft.episodes and sft.batch_size >= 1, sft.lr > 0"
            )


@dataclass
class SamplerConfig:
    """A sampler in another process (``gymnpt serve``, hf or vLLM) instead of the learner's own."""

    base_url: str = field(
        default="",
        metadata={
            "help": "Sample rollouts from this server (http://host:port/v1, e.g. `gymnpt serve`); weights are pushed to it after each update. Empty = sample in this process."
        },
    )
    weights_dir: str = field(
        default="",
        metadata={
            "help": "Folder the pushed weights are written to; the server must read it (shared storage on a cluster). Empty = a temporary folder."
        },
    )
    api_key: str = field(default="", metadata={"help": "API key of the server, if it needs one."})
    timeout: float = field(default=120.0, metadata={"help": "Seconds allowed for one request."})

    def __post_init__(self) -> None:
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"sampler.base_url must look like http://host:port/v1, got {self.base_url!r}"
            )
        if not self.timeout > 0:
            raise ValueError(f"sampler.timeout must be > 0, got {self.timeout}")


@dataclass
class EvalConfig:
    """Evaluation on held-out seeds."""

    episodes: int = field(default=200, metadata={"help": "Episodes per agent in the final table."})
    seed: int = field(
        default=EVAL_SEED_FLOOR, metadata={"help": "First held-out seed (>= 1000000)."}
    )
    every: int = field(
        default=0,
        metadata={"help": "Evaluate the model every N steps during training; 0 = only at the end."},
    )
    periodic_episodes: int = field(
        default=32, metadata={"help": "Episodes per periodic evaluation."}
    )
    bots: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Bots in the final table (default: bot:random and the env's strong bot)."
        },
    )
    opponent: str = field(default="bot:random", metadata={"help": "Opponent in multi-seat envs."})
    temperature: float = field(
        default=-1.0,
        metadata={
            "help": "Model sampling temperature at evaluation; -1 = the training temperature."
        },
    )

    def __post_init__(self) -> None:
        if self.episodes < 1 or self.periodic_episodes < 1 or self.every < 0:
            raise ValueError(
                "eval.episodes and eval.periodic_episodes must be >= 1, eval.every >= 0"
            )
        if self.seed < EVAL_SEED_FLOOR:
            raise ValueError(
                f"eval.seed must be >= {EVAL_SEED_FLOOR} so that evaluation seeds are never trained on"
            )


@dataclass
class DataConfig:
    """Offline training from a trajectories file (``algo=sft`` or ``algo=dpo``)."""

    epochs: float = field(default=1.0, metadata={"help": "Passes over the data."})
    batch_size: int = field(default=8, metadata={"help": "Examples per device step."})
    lr: float = field(default=5e-5, metadata={"help": "Learning rate."})
    beta: float = field(default=0.1, metadata={"help": "DPO beta."})
    min_return: float = field(
        default=float("-inf"),
        metadata={
            "help": "SFT: keep episodes with at least this return (besides success/win outcomes)."
        },
    )
    max_steps: int = field(
        default=-1, metadata={"help": "Stop after this many steps (-1 = epochs decide)."}
    )


@dataclass
class Config:
    """``gymnpt train``: reinforcement learning on a text env (or SFT/DPO on trajectories)."""

    env: str = field(
        default="",
        metadata={
            "help": "Env id, with variants in brackets (id[key=value]); `gymnpt envs` lists them."
        },
    )
    env_kwargs: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "Keyword arguments for the env."}
    )
    model: str = field(
        default="tiny", metadata={"help": "Model: tiny, a local path or a Hugging Face id."}
    )
    model_defaults: bool = field(
        default=True,
        metadata={
            "help": "Pretrained models (not tiny): LoRA r=16, learner.lr=1e-5, sft.steps=0, max_new_tokens from the env (its spec's max_new_tokens, else 64) and fewer eval episodes wherever a key is left at its default."
        },
    )
    policy: str = field(
        default="hf",
        metadata={"help": "Sampler backend: hf (the learner's model in process) or vllm."},
    )
    algo: str = field(
        default="grpo",
        metadata={"help": "grpo, dr_grpo, rloo (online RL) or sft, dpo (from data=)."},
    )
    data: str = field(default="", metadata={"help": "Trajectories JSONL for algo=sft|dpo."})
    preset: bool = field(
        default=True,
        metadata={
            "help": "Apply the env's CPU training preset (its spec's train_preset) when env_kwargs is empty."
        },
    )
    steps: int = field(default=15, metadata={"help": "RL steps (rollout batch + update each)."})
    seeds_per_step: int = field(
        default=8, metadata={"help": "Groups (distinct seeds) per rollout batch."}
    )
    group_size: int = field(default=8, metadata={"help": "Episodes per seed (GRPO group size)."})
    refill_rounds: int = field(
        default=1,
        metadata={
            "help": "Extra rollout rounds to replace zero-variance groups (dynamic sampling)."
        },
    )
    max_turns: int = field(
        default=0,
        metadata={
            "help": "Cap on replies per episode (0 = the env's own limit); episodes it cuts are counted and reported."
        },
    )
    context: str = field(default="obs", metadata={"help": CONTEXT_HELP})
    opponent: str = field(
        default="",
        metadata={
            "help": "Multi-seat envs without selfplay: the agent in the other seats (a bot, ckpt:<run>, ...; default bot:random). The learner's seat alternates between groups."
        },
    )
    tokenizer_vocab: int = field(
        default=512,
        metadata={
            "help": "model=tiny: fit a byte-level BPE vocabulary of this size on the warm-start episodes and build the model on it (0 = one token per byte)."
        },
    )
    max_new_tokens: int = field(default=6, metadata={"help": "Longest reply in tokens."})
    max_model_len: int = field(
        default=4096, metadata={"help": "Longest conversation in tokens the vllm sampler holds."}
    )
    temperature: float = field(
        default=1.0, metadata={"help": "Sampling temperature during training rollouts."}
    )
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling mass."})
    seed: int = field(
        default=0, metadata={"help": "Seed of everything (model init, sampling, shuffling, seeds)."}
    )
    name: str = field(
        default="",
        metadata={"help": "Run name; the run goes to <out>/<name> (default: <env>-<time>)."},
    )
    out: str = field(default="runs", metadata={"help": "Folder that holds runs."})
    resume: str = field(
        default="", metadata={"help": "Run folder to continue from its newest checkpoint."}
    )
    save_every: int = field(
        default=5, metadata={"help": "Checkpoint every N steps (and at the end)."}
    )
    keep_checkpoints: int = field(default=2, metadata={"help": "Step checkpoints kept on disk."})
    save_trajectories: bool = field(
        default=True, metadata={"help": "Append training rollouts to trajectories.jsonl."}
    )
    concurrency: int = field(default=128, metadata={"help": "Episodes in flight at once."})
    device: str = field(default="auto", metadata={"help": "auto, cpu or cuda."})
    dtype: str = field(
        default="auto", metadata={"help": "auto (bf16 on CUDA, fp32 on CPU), float32 or bfloat16."}
    )
    threads: int = field(
        default=1,
        metadata={
            "help": "torch CPU threads; 1 avoids thread oversubscription on small or shared CPU machines (0 = torch's default)."
        },
    )
    progress: bool = field(default=True, metadata={"help": "Show Rich progress bars."})
    learner: LearnerConfig = field(
        default_factory=LearnerConfig,
        metadata={"help": "Update settings (learner.algo follows algo=)."},
    )
    lora: LoraConfig = field(
        default_factory=LoraConfig, metadata={"help": "LoRA adapters (lora.r > 0 enables them)."}
    )
    sft: WarmStartConfig = field(
        default_factory=WarmStartConfig, metadata={"help": "Warm start before RL."}
    )
    eval: EvalConfig = field(default_factory=EvalConfig, metadata={"help": "Evaluation."})
    sampler: SamplerConfig = field(
        default_factory=SamplerConfig,
        metadata={"help": "A served sampler in another process (sampler.base_url)."},
    )
    offline: DataConfig = field(
        default_factory=DataConfig, metadata={"help": "algo=sft|dpo settings."}
    )
    selfplay: bool = field(
        default=False,
        metadata={
            "help": "Multi-seat envs: the learner plays every seat (and league opponents); trains on every seat it plays."
        },
    )
    selfplay_advantage: str = field(
        default="rae",
        metadata={
            "help": "Self-play advantages: rae (a running baseline per role) or group (algo= within each seed and role)."
        },
    )
    rae_decay: float = field(
        default=0.9, metadata={"help": "Decay of the per-role baselines of RAE."}
    )
    league: LeagueConfig = field(
        default_factory=LeagueConfig,
        metadata={"help": "Self-play opponents: frozen snapshots and bots."},
    )

    def resolve_env(self, registry: Any) -> Any:
        """Check ``env`` names a registered env and apply its training preset; return its spec.

        The preset (the spec's ``train_preset``) applies when ``preset`` is on and neither
        ``env_kwargs`` nor a bracketed variant says otherwise.
        """
        if not self.env:
            raise ValueError(
                "env= is required: name the env to train on, e.g. env=<id>; `gymnpt envs` "
                "lists the registered envs"
            )
        spec = registry.env_spec(self.env)
        if self.preset and not self.env_kwargs and "[" not in self.env and spec.train_preset:
            self.env_kwargs = dict(spec.train_preset)
        return spec

    def __post_init__(self) -> None:
        if self.algo not in (*ALGOS, "sft", "dpo"):
            raise ValueError(f"algo must be one of {(*ALGOS, 'sft', 'dpo')}, got {self.algo!r}")
        if self.algo in ("sft", "dpo") and not self.data:
            raise ValueError(
                f"algo={self.algo} trains on recorded episodes: give data=runs/<run>/trajectories.jsonl"
            )
        if self.algo in ALGOS:
            self.learner.algo = self.algo
        if self.policy not in ("hf", "vllm"):
            raise ValueError(f"policy must be hf or vllm, got {self.policy!r}")
        if (
            self.steps < 0
            or self.seeds_per_step < 1
            or self.group_size < 1
            or self.refill_rounds < 0
        ):
            raise ValueError(
                "steps >= 0, seeds_per_step >= 1, group_size >= 1 and refill_rounds >= 0 are required"
            )
        if self.algo in ALGOS and self.group_size < 2:
            raise ValueError(
                f"{self.algo} compares episodes within a group: group_size must be >= 2"
            )
        if (self.steps + 1) * self.seeds_per_step * (
            self.refill_rounds + 1
        ) + self.seed * 10_000 >= EVAL_SEED_FLOOR:
            raise ValueError(
                "too many training seeds: they would reach the held-out evaluation seeds"
            )
        parse_context(self.context)
        if self.tokenizer_vocab and self.tokenizer_vocab < 259:
            raise ValueError("tokenizer_vocab must be 0 or >= 259 (bytes and special tokens)")
        if self.max_turns < 0 or self.max_new_tokens < 1 or self.temperature < 0:
            raise ValueError(
                "max_turns >= 0, max_new_tokens >= 1 and temperature >= 0 are required"
            )
        if self.save_every < 1 or self.keep_checkpoints < 1:
            raise ValueError("save_every and keep_checkpoints must be >= 1")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ValueError(
                f"dtype must be auto, float32, bfloat16 or float16, got {self.dtype!r}"
            )
        if self.temperature > 0:
            self.learner.temperature = self.temperature
        if self.selfplay_advantage not in ("rae", "group"):
            raise ValueError(
                f"selfplay_advantage must be rae or group, got {self.selfplay_advantage!r}"
            )
        if self.league.snapshot_every and not self.selfplay:
            raise ValueError("league.snapshot_every needs selfplay=true")


#: Settings for pretrained models (every model but the built-in ``tiny``), applied by
#: :func:`apply_model_defaults` to each key the user left at its default: LoRA adapters and a
#: small learning rate instead of full-parameter updates at the tiny model's rate, no warm
#: start unless asked (``sft.steps=N``), replies long enough for a chat model, and a final
#: table that a CPU finishes.
PRETRAINED_DEFAULTS: dict[str, Any] = {
    "lora.r": 16,
    "learner.lr": 1e-5,
    "sft.steps": 0,
    "max_new_tokens": 64,
    "eval.episodes": 40,
    "eval.periodic_episodes": 10,
}


def is_pretrained(model: str) -> bool:
    """Whether ``model`` names a pretrained model rather than the built-in tiny one."""
    name = str(model).strip()
    return not (name == "tiny" or name.startswith("tiny:"))


def apply_model_defaults(cfg: Config, registry: Any = None) -> list[str]:
    """Switch ``cfg`` to :data:`PRETRAINED_DEFAULTS` where it still holds the tiny model's.

    ``max_new_tokens`` takes the env's reply length (its spec's ``max_new_tokens``) when the
    env sets one, else the value in :data:`PRETRAINED_DEFAULTS`.

    Args:
        cfg: the config, changed in place.
        registry: the registry to look the env up in (default: the process-wide one).

    Returns:
        The ``key=value`` settings changed (empty for the tiny model).
    """
    if not cfg.model_defaults or not is_pretrained(cfg.model):
        return []
    targets = dict(PRETRAINED_DEFAULTS)
    if cfg.env:
        if registry is None:
            from gymnpt.core.registry import default_registry

            registry = default_registry()
        try:
            spec = registry.env_spec(cfg.env)
        except (KeyError, ValueError):  # an unknown env is reported where the env is made
            spec = None
        if spec is not None:
            targets["max_new_tokens"] = spec.reply_tokens(0, targets["max_new_tokens"])
    defaults = Config()
    changed = []
    for key, value in targets.items():
        *path, leaf = key.split(".")
        obj, ref = cfg, defaults
        for part in path:
            obj, ref = getattr(obj, part), getattr(ref, part)
        if getattr(obj, leaf) == getattr(ref, leaf) != value:
            setattr(obj, leaf, value)
            changed.append(f"{key}={value}")
    return changed
