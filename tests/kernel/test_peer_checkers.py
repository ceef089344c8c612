"""Gymnasium's and PettingZoo's own conformance checkers accept gymnpt envs, and a
PettingZoo AEC env with text observations registers as a gymnpt env."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from typing import Any

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from pettingzoo import AECEnv
from pettingzoo.test import api_test, seed_test

from gymnpt import hookimpl
from gymnpt.core.env import UnicodeText
from gymnpt.core.gym_compat import gymnasium_id, single_agent_ids
from gymnpt.core.pettingzoo import PettingZooEnv, pettingzoo_factory, to_pettingzoo
from gymnpt.core.plugins import make_plugin_manager
from gymnpt.core.registry import Registry, default_registry
from gymnpt.rollout.engine import RolloutEngine
from gymnpt.testing import check_env

_REG = default_registry()
_SINGLE = single_agent_ids(_REG)
_MULTI = sorted(s.id for s in _REG.envs.values() if not s.single_agent and not s.unavailable)
# TextArena (hundreds of ids behind one adapter) and MiniWoB (a hundred tasks behind one env
# class, each check ~2 s of browser time) are checked on representatives here; a full sweep
# of every id is a command in docs/writing-an-env.md.
_TEXTARENA_SINGLE = ["Blackjack-v0", "Sudoku-v0", "TowerOfHanoi-v0", "Crosswords-v0"]
_TEXTARENA_MULTI = ["TicTacToe-v0", "Poker-v0", "SpellingBee-v0"]


def _sample(ids: list[str], family: str, names: list[str], per_entry_point: int = 0) -> list[str]:
    chosen = [i for i in ids if _REG.envs[i].family != family]
    fam = [i for i in ids if _REG.envs[i].family == family]
    chosen += [i for i in fam if i.split("/", 1)[-1] in names]
    if per_entry_point:
        seen: dict[str, int] = {}
        for i in fam:
            ep = str(_REG.envs[i].entry_point)
            if seen.get(ep, 0) < per_entry_point and i not in chosen:
                seen[ep] = seen.get(ep, 0) + 1
                chosen.append(i)
    return sorted(set(chosen))


_GYM_IDS = _sample(_sample(_SINGLE, "textarena", _TEXTARENA_SINGLE), "web", [], per_entry_point=1)
_PZ_IDS = _sample(_MULTI, "textarena", _TEXTARENA_MULTI)


@pytest.mark.parametrize("env_id", _GYM_IDS)
def test_gymnasium_checker_passes(env_id):
    env = gymnasium.make(gymnasium_id(env_id))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # passive-checker hints, e.g. on Text spaces
            gymnasium_check_env(env.unwrapped, skip_render_check=True)
    finally:
        env.close()


def test_gymnasium_ids_are_mapped():
    assert gymnasium_id("code/humaneval") == "gymnpt/code-humaneval"
    registered = {k for k in gymnasium.registry if k.startswith("gymnpt/")}
    assert {gymnasium_id(i) for i in _SINGLE} <= registered
    assert _SINGLE and all(_REG.envs[i].single_agent for i in _SINGLE)


@pytest.mark.parametrize("env_id", _PZ_IDS)
def test_pettingzoo_api_and_seed_tests_pass(env_id, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PettingZoo's hints for non-array observations
        api_test(to_pettingzoo(env_id), num_cycles=50)
        seed_test(lambda: to_pettingzoo(env_id), num_cycles=50)
    assert "Passed API test" in capsys.readouterr().out


def test_pettingzoo_view_plays_a_whole_game_with_legal_moves():
    env = to_pettingzoo("tictactoe")
    assert isinstance(env, AECEnv)
    env.reset(seed=4)
    returns = dict.fromkeys(env.possible_agents, 0.0)
    for agent in env.agent_iter():
        obs, _, terminated, truncated, _ = env.last()
        assert isinstance(obs, str)
        if terminated or truncated:
            env.step(None)
            continue
        env.step(env.unwrapped.env.legal_actions(agent)[0])
        for a, r in env.rewards.items():
            returns[a] += r
    assert env.agents == []
    assert sorted(returns.values()) in ([-1.0, 1.0], [0.0, 0.0])


def test_pettingzoo_view_without_pettingzoo_says_how_to_install():
    code = (
        "import sys; sys.modules['pettingzoo'] = None\n"
        "from gymnpt.core.pettingzoo import to_pettingzoo\n"
        "try:\n    to_pettingzoo(object())\n"
        "except ImportError as e:\n    print('ERR', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "ERR" in out and "pip install pettingzoo" in out


# ---- a PettingZoo AEC env with text observations as a gymnpt env -----------------------------


class Echoes(AECEnv):
    """Two agents each say a word three times; repeating the other's last word scores 1.

    Written against PettingZoo's AEC API only, with text observations and actions.
    """

    metadata = {"name": "echoes_v0", "render_modes": []}  # noqa: RUF012

    def __init__(self, rounds: int = 3) -> None:
        super().__init__()
        self.rounds = rounds
        self.possible_agents = ["speaker_0", "speaker_1"]
        # One space per agent and env: PettingZoo's seed test seeds each one.
        self.observation_spaces = {a: UnicodeText(max_length=200) for a in self.possible_agents}
        self.action_spaces = {a: UnicodeText(max_length=20) for a in self.possible_agents}

    def observation_space(self, agent):
        return self.observation_spaces[agent]

    def action_space(self, agent):
        return self.action_spaces[agent]

    def reset(self, seed=None, options=None):
        self.agents = list(self.possible_agents)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {a: {} for a in self.agents}
        self.words = {a: "" for a in self.agents}
        self.moves = 0
        self.agent_selection = self.agents[0]

    def observe(self, agent):
        other = [a for a in self.possible_agents if a != agent][0]
        return f"The other speaker said {self.words[other]!r}. Say a word."

    def step(self, action):
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._cumulative_rewards[agent] = 0.0
        other = [a for a in self.possible_agents if a != agent][0]
        word = (str(action).split() or [""])[0][:20]
        self.rewards = dict.fromkeys(self.agents, 0.0)
        if word and word == self.words[other]:
            self.rewards[agent] = 1.0
        self.words[agent] = word
        self.moves += 1
        if self.moves >= 2 * self.rounds:
            self.terminations = dict.fromkeys(self.agents, True)
        self.agent_selection = other
        self._accumulate_rewards()


def _echoes_registry() -> Registry:
    class Plugin:
        @hookimpl
        def gymnpt_register_envs(self, registry):
            registry.register_env(
                id="echoes",
                entry_point=pettingzoo_factory(Echoes, instructions="Repeat the other's word."),
                seats=("speaker_0", "speaker_1"),
            )

    return Registry().load_plugins(make_plugin_manager(autoload=False, plugins=[Plugin()]))


def test_the_pettingzoo_env_itself_passes_pettingzoo_checks():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seed_test(Echoes, num_cycles=20)


def test_pettingzoo_env_registers_and_passes_check_env():
    reg = _echoes_registry()
    env = reg.make("echoes")
    assert isinstance(env, PettingZooEnv)
    assert env.seat_instructions("speaker_1") == "Repeat the other's word."
    report = check_env("echoes", registry=reg, seeds=(0, 1))
    assert report.seats == ["speaker_0", "speaker_1"]


def test_pettingzoo_env_rewards_and_outcomes():
    env = _echoes_registry().make("echoes[rounds=2]")
    env.reset(seed=0)
    for word in ["sun", "sun", "moon", "moon"]:
        assert env.agent_selection
        env.step(word)
    assert env.done and env.agent_selection == ""
    assert env.outcome("speaker_1") == "win" and env.outcome("speaker_0") == "loss"
    assert env.infos["speaker_0"]["outcome"] == "loss"


def test_engine_plays_the_pettingzoo_env():
    from gymnpt.rollout.policy import BasePolicy, Completion, Request

    class Parrot(BasePolicy):
        name = "parrot"

        def act(self, request: Request) -> Completion | str:
            heard = request.messages[-1]["content"].split("'")[1]
            return heard or "hello"

    reg = _echoes_registry()
    engine = RolloutEngine(lambda: reg.make("echoes"), registry=reg)
    trajs = engine.run([0, 1], {"speaker_0": Parrot(), "speaker_1": Parrot()})
    by_seat: dict[str, Any] = {t.role: t for t in trajs if t.seed == 0}
    assert by_seat["speaker_1"].return_ == 3.0  # repeats every word the other said
    assert by_seat["speaker_1"].outcome == "win"


def test_fresh_interpreter_gymnasium_make_with_module_prefix(tmp_path):
    env = dict(os.environ, GYMNPT_CACHE_DIR=str(tmp_path))
    code = (
        "import sys, gymnasium\n"
        "assert 'gymnpt' not in sys.modules\n"
        f"e = gymnasium.make('gymnpt:{gymnasium_id(_SINGLE[0])}')\n"
        "print(type(e.unwrapped).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
