"""A two-seat plugin written from docs/writing-an-env.md, with each trap a new author falls
into: every trap gets a clear error that names what is wrong."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import pytest

from gymnpt import InvalidAction, MultiAgentEnv, Outcome, TextEnv, hookimpl
from gymnpt.core.env import text_space
from gymnpt.core.plugins import make_plugin_manager
from gymnpt.core.registry import DuplicateNameError, EnvSpec, Registry
from gymnpt.testing import EnvCheckError, check_env


class Nim(MultiAgentEnv):
    """Two seats take 1-3 stones in turn from a pile of 7-9; who takes the last stone wins."""

    seats = ("first", "second")
    instructions = "Take 1, 2 or 3 stones. Whoever takes the last stone wins. Reply with a number."

    def _new_game(self, rng, options):
        self.stones = int(rng.integers(7, 10))
        self.to_move = "first"

    def _to_act(self):
        return [self.to_move]

    def _observe(self, seat):
        return f"{self.stones} stones left; you are {seat}; {self.to_move} to move."

    def _parse(self, seat, text):
        digits = [c for c in text if c in "123"]
        if not digits or int(digits[-1]) > self.stones:
            raise InvalidAction(f"take 1, 2 or 3 stones (at most {self.stones})")
        return int(digits[-1])

    def _apply(self, moves):
        seat = self.to_move
        self.stones -= moves[seat]
        other = "second" if seat == "first" else "first"
        if self.stones == 0:
            self._finish({seat: Outcome.WIN, other: Outcome.LOSS})
            return {seat: 1.0, other: -1.0}
        self.to_move = other
        return {}

    def legal_actions(self, seat):
        return [str(n) for n in (1, 2, 3) if n <= self.stones]


def _registry(*plugins: Any) -> Registry:
    return Registry().load_plugins(make_plugin_manager(autoload=False, plugins=list(plugins)))


def test_the_correct_plugin_passes_check_env():
    class Plugin:
        @hookimpl
        def gymnpt_register_envs(self, registry):
            registry.register_env(id="nim", entry_point=Nim, description="Nim")

    reg = _registry(Plugin())
    assert reg.env_spec("nim").seats == ("first", "second")
    assert reg.env_spec("nim").single_agent is False
    report = check_env("nim", registry=reg, seeds=(0, 1))
    assert report.seats == ["first", "second"]


# ---- trap 1: the base class's turn counter -------------------------------------------------


def test_setting_turn_names_the_attribute():
    class NimWithTurn(Nim):
        def _new_game(self, rng, options):
            super()._new_game(rng, options)
            self.turn = "first"  # the author's own "whose turn" - clashes with GameCore

    with pytest.raises(AttributeError, match=r"`turn` is GameCore's count.*to_move"):
        NimWithTurn().reset(seed=0)
    with pytest.raises(AttributeError, match="turn"):
        check_env(NimWithTurn)


def test_defining_turn_in_the_class_is_refused_at_class_creation():
    with pytest.raises(TypeError, match=r"defines turn, which GameCore uses"):

        class NimTurnAttr(Nim):
            turn = "first"


def test_replacing_core_state_in_new_game_names_the_attribute():
    class NimPending(Nim):
        def _new_game(self, rng, options):
            super()._new_game(rng, options)
            self._pending = []  # the author's own queue of moves

    with pytest.raises(RuntimeError, match=r"_new_game replaced _pending"):
        NimPending().reset(seed=0)


def test_turn_still_counts_moves():
    env = Nim()
    env.reset(seed=3)
    env.step("1")
    env.step("2")
    assert env.turn == 2


# ---- trap 2: seats come from the env --------------------------------------------------------


def test_seats_are_taken_from_the_class_when_omitted():
    reg = Registry()
    spec = reg.register_env(id="nim", entry_point=Nim)
    assert spec.seats == ("first", "second") and not spec.seats_given


def test_multi_seat_env_registered_without_seats_by_path_is_an_error_on_make():
    class Plugin:
        @hookimpl
        def gymnpt_register_envs(self, registry):
            registry.register_env(id="nim", entry_point=f"{__name__}:Nim")

    reg = _registry(Plugin())
    with pytest.raises(
        ValueError, match=r"plugin .*has seats \('first', 'second'\).*without seats="
    ):
        reg.make("nim")
    with pytest.raises(ValueError, match="without seats="):
        check_env("nim", registry=reg)


def test_contradicting_seats_is_an_error_on_make():
    reg = Registry()
    reg.register_env(id="nim", entry_point=Nim, seats=("a", "b"))
    with pytest.raises(ValueError, match=r"registered with \('a', 'b'\)"):
        reg.make("nim")


def test_kwargs_that_change_the_seat_count_are_allowed():
    class Piles(Nim):
        def __init__(self, players: int = 2):
            type(self).seats = tuple(f"p{i}" for i in range(players))
            super().__init__()

    reg = Registry()
    reg.register_env(id="piles", entry_point=Piles, seats=("p0", "p1"))
    assert reg.make("piles[players=3]").possible_agents == ["p0", "p1", "p2"]


# ---- trap 3: the same id twice ----------------------------------------------------------------


def test_duplicate_id_names_both_plugins():
    class First:
        @hookimpl
        def gymnpt_register_envs(self, registry):
            registry.register_env(id="nim", entry_point=Nim)

    class Second:
        @hookimpl
        def gymnpt_register_envs(self, registry):
            registry.register_env(id="nim", entry_point=Nim, description="mine")

    pm = make_plugin_manager(autoload=False)
    pm.register(First(), name="first-plugin")
    pm.register(Second(), name="second-plugin")
    reg = Registry().load_plugins(pm)
    (failed, failure) = next(iter(pm.failures.items()))
    kept = reg.env_spec("nim").plugin
    assert {failed, kept} == {"first-plugin", "second-plugin"}  # the first registration stays
    assert "first-plugin" in failure and "second-plugin" in failure and "replace=True" in failure


def test_duplicate_id_direct_and_replace():
    reg = Registry()
    reg.register_env(id="nim", entry_point=Nim)
    with pytest.raises(DuplicateNameError, match="registered twice"):
        reg.register_env(EnvSpec(id="nim", entry_point=Nim))
    reg.register_env(id="nim", entry_point=Nim, description="again", replace=True)
    assert reg.env_spec("nim").description == "again"


# ---- trap 4: observations that are not strings ---------------------------------------------


class DictObs(gym.Env):
    """A Gymnasium env with text spaces whose observations are dicts."""

    instructions = "anything"

    def __init__(self) -> None:
        self.observation_space = text_space()
        self.action_space = text_space()

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return {"board": "..."}, {}

    def step(self, action):
        return {"board": "x.."}, 0.0, True, False, {}


class IntObsAfterStep(DictObs):
    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return "ready", {}

    def step(self, action):
        return 7, 0.0, True, False, {}


class IntObserve(Nim):
    def _observe(self, seat):
        return self.stones  # an int, not a message


@pytest.mark.parametrize(
    ("env", "pattern"),
    [
        (DictObs, r"reset\(seed=0\) returned an observation of type dict \(\{'board'"),
        (IntObsAfterStep, r"step\(''\) returned an observation of type int \(7\)"),
        (IntObserve, r"observe\('first'\) returned int \d"),
    ],
)
def test_check_env_requires_string_observations(env, pattern):
    with pytest.raises(EnvCheckError, match=pattern):
        check_env(env)


def test_text_env_subclass_returns_strings():
    class Echo(TextEnv):
        instructions = "Say anything."

        def _new_game(self, rng, options):
            self.n = 0

        def _to_act(self):
            return ["player"]

        def _observe(self, seat):
            return f"message {self.n}"

        def _parse(self, seat, text):
            return text

        def _apply(self, moves):
            self.n += 1
            if self.n == 3:
                self._finish({"player": Outcome.SUCCESS})
            return {"player": 0.0}

    check_env(Echo, seeds=(0,))
