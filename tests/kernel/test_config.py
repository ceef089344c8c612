from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from gymnpt.cli.main import EvalConfig, RolloutConfig
from gymnpt.core.config import ConfigError, parse_overrides


@dataclass
class Inner:
    lr: float = 1e-3


@dataclass
class Outer:
    opt: Inner = field(default_factory=Inner)
    steps: int = 1


def test_overrides_typed_and_nested():
    cfg = parse_overrides(
        EvalConfig,
        [
            "env=tictactoe",
            "episodes=20",
            "temperature=0.5",
            "env_kwargs.size=8",
            "agent=bot:minimax-3",
        ],
    )
    assert cfg.env == "tictactoe" and cfg.episodes == 20 and cfg.temperature == 0.5
    assert cfg.env_kwargs == {"size": 8} and cfg.agent == "bot:minimax-3"
    nested = parse_overrides(Outer, ["opt.lr=0.5", "steps=3"])
    assert nested.opt.lr == 0.5 and nested.steps == 3
    with pytest.raises(ConfigError, match="opt.lr"):
        parse_overrides(Outer, ["opt.rl=1"])


def test_unknown_key_names_nearest():
    with pytest.raises(ConfigError, match="'episodes'"):
        parse_overrides(EvalConfig, ["epsiodes=3"])
    with pytest.raises(ConfigError, match="'temperature'"):
        parse_overrides(EvalConfig, ["temprature=1"])


def test_wrong_type_is_clear():
    with pytest.raises(ConfigError, match="bad config value for episodes"):
        parse_overrides(EvalConfig, ["episodes=many"])
    with pytest.raises(ConfigError, match="for temperature: .*'abc'"):
        parse_overrides(EvalConfig, ["temperature=abc"])


def test_validation_runs():
    with pytest.raises(ConfigError, match="episodes"):
        parse_overrides(RolloutConfig, ["episodes=0"])


def test_not_key_value():
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(EvalConfig, ["tictactoe"])


def test_urls_and_lists_parse():
    from dataclasses import dataclass, field

    @dataclass
    class C:
        agents: list[str] = field(default_factory=list)
        base_url: str = ""

    cfg = parse_overrides(
        C, ["agents=[bot:random,bot:minimax-3]", "base_url=http://127.0.0.1:8000/v1"]
    )
    assert cfg.agents == ["bot:random", "bot:minimax-3"] and cfg.base_url.endswith(":8000/v1")
