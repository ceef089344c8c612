"""Properties every first-party game keeps: registry metadata, prompts, legal moves, rendering."""

from __future__ import annotations

import copy
import random

import pytest

from gymnpt import default_registry
from gymnpt.core.env import GameCore
from gymnpt.envs.games import GAME_VARIANTS

REG = default_registry()
IDS = [i for ids in GAME_VARIANTS.values() for i in ids]


def test_every_variant_is_registered_by_the_games_plugin():
    for env_id in IDS:
        spec = REG.env_spec(env_id)
        assert spec.plugin == "games" and spec.family == "games" and spec.description and spec.bots
        env = REG.make(env_id)
        assert list(getattr(env, "possible_agents", ["player"])) == list(spec.seats)


@pytest.mark.parametrize("env_id", IDS)
def test_prompts_state_the_reply_format(env_id):
    env = REG.make_multiagent(env_id)
    env.reset(seed=0)
    for seat in env.possible_agents:
        prompt = env.seat_instructions(seat)
        assert "Reply with" in prompt and len(prompt) < 2000
    assert isinstance(env.render(), str) and env.render()


@pytest.mark.parametrize("env_id", IDS)
def test_every_listed_legal_action_is_accepted(env_id):
    env = REG.make_multiagent(env_id)
    rng = random.Random(0)
    for seed in range(3):
        env.reset(seed=seed)
        steps = 0
        while not env.done and steps < 60:
            seat = env.agent_selection
            legal = env.legal_actions(seat)
            if legal is None:  # wordle: open-ended
                break
            assert legal and all(isinstance(a, str) for a in legal)
            game = env.unwrapped if hasattr(env, "unwrapped") else env
            assert isinstance(game, GameCore)
            for action in rng.sample(legal, min(len(legal), 4)):
                probe = copy.deepcopy(env)
                probe.step(action)
                assert not probe.infos[seat]["invalid_move"], (env_id, action, probe.infos[seat])
            for other in env.possible_agents:
                if other not in game._to_act():  # not to move this turn (or dead)
                    assert env.legal_actions(other) == []
            env.step(legal[rng.randrange(len(legal))])
            steps += 1
