"""MiniWoB++ tasks in headless Chromium: listing, actions, reference bots, time limits."""

from __future__ import annotations

import time

import pytest

from gymnpt import InvalidAction
from gymnpt.core.registry import default_registry
from gymnpt.core.testing import check_env
from gymnpt.envs.web.bots import MINIWOB_SOLVERS, RandomBot, ReferenceBot
from gymnpt.envs.web.browser import browser_unavailable
from gymnpt.envs.web.miniwob_env import (
    UNSUPPORTED,
    MiniWoBEnv,
    miniwob_html_dir,
    miniwob_tasks,
    parse_miniwob_action,
)
from gymnpt.rollout.policy import Request

_WHY = browser_unavailable()
needs_browser = pytest.mark.skipif(_WHY is not None, reason=f"no headless Chromium here: {_WHY}")


def test_every_shipped_task_is_registered_with_its_status():
    html = miniwob_html_dir()
    assert html is not None
    tasks = miniwob_tasks()
    assert tasks == sorted(p.stem for p in html.glob("*.html")) and len(tasks) >= 100
    reg = default_registry()
    for task in tasks:
        spec = reg.env_spec(f"web/miniwob/{task}")
        assert spec.family == "web" and spec.blocking and "conformance:sampled" in spec.tags
        if task in UNSUPPORTED:
            assert spec.unavailable == (_WHY or UNSUPPORTED[task])
        elif _WHY:
            assert spec.unavailable == _WHY and "apt-get install" in _WHY
        else:
            assert spec.unavailable is None
    assert set(UNSUPPORTED) <= set(tasks)
    assert len(MINIWOB_SOLVERS) >= 5 and set(MINIWOB_SOLVERS) <= set(tasks)


def test_parse_actions():
    assert parse_miniwob_action("click(12)") == ("click", 12, "")
    assert parse_miniwob_action("I will click([3]) now") == ("click", 3, "")
    assert parse_miniwob_action('type(5, "a \\"q\\" b")') == ("type", 5, 'a "q" b')
    assert parse_miniwob_action("type(5, 'x')") == ("type", 5, "x")
    assert parse_miniwob_action('press("enter")') == ("press", None, "Enter")
    assert parse_miniwob_action("press(4, Tab)") == ("press", 4, "Tab")
    assert parse_miniwob_action("click(1) then click(2)") == ("click", 2, "")
    # selenium's private-use key codes and control characters are dropped from typed text
    assert parse_miniwob_action('type(5, "a\ue007b\x01")') == ("type", 5, "ab")
    for bad in ["", "click", "click(x)", 'press("F13")', "tap(3)", "🐍" * 50]:
        with pytest.raises(InvalidAction):
            parse_miniwob_action(bad)


@pytest.fixture(scope="module")
def envs():
    made: dict[str, MiniWoBEnv] = {}

    def get(task: str, **kw) -> MiniWoBEnv:
        key = f"{task}{sorted(kw.items())}"
        if key not in made:
            made[key] = MiniWoBEnv(task, **kw)
        return made[key]

    yield get
    for e in made.values():
        e.close()


def _solve(env: MiniWoBEnv, seed: int, bot) -> tuple[float, dict]:
    env.reset(seed=seed)
    for _ in range(20):
        obs, r, term, trunc, info = env.step(bot.act(Request(messages=[], env=env)))
        if term or trunc:
            return r, info
    raise AssertionError("episode did not end")


@needs_browser
@pytest.mark.parametrize("task", sorted(MINIWOB_SOLVERS))
def test_reference_bot_solves(envs, task):
    bot = ReferenceBot()
    rewards = [_solve(envs(task), seed, bot)[0] for seed in range(3)]
    assert rewards == [1.0, 1.0, 1.0]


@needs_browser
def test_random_bot_mostly_fails(envs):
    bot = RandomBot(seed=3)
    # Clicking alone never fills the field, so random play cannot solve enter-text.
    rewards = [_solve(envs("enter-text"), seed, bot)[0] for seed in range(4)]
    assert all(r <= 0 for r in rewards) and any(r == -1.0 for r in rewards)


@needs_browser
def test_observation_and_invalid_moves(envs):
    env = envs("enter-text")
    obs, _ = env.reset(seed=4)
    assert obs.startswith('Task: Enter "') and "Elements:" in obs and "input_text" in obs
    obs, r, term, trunc, info = env.step("click(999)")
    assert info["invalid_move"] and "no element [999]" in obs and not term
    obs, r, term, trunc, info = env.step("nonsense")
    assert info["penalized"] and term and info["outcome"] == {"player": "failure"}


@needs_browser
def test_typed_text_stays_text(envs):
    env = envs("enter-text")
    env.reset(seed=1)
    utterance = env.utterance
    field = next(n for n in env.elements_by_ref().values() if n["tag"] == "INPUT_text")
    evil = '"); core.endEpisode(1, false); (" </script><b>x</b>'
    obs, r, term, *_ = env.step(f"type({field['ref']}, {evil!r})")
    assert not term and r == 0.0  # the task did not end: nothing ran
    assert env.elements_by_ref()[field["ref"]]["value"] == evil
    assert env.utterance == utterance


@needs_browser
def test_time_limit_is_raised_and_reward_is_not_decayed(envs):
    env = envs("click-test")
    env.reset(seed=0)
    limit = env._browser.driver.execute_script("return core.EPISODE_MAX_TIME;")
    assert limit == 300_000
    time.sleep(0.3)
    obs, r, term, *_ = env.step("click(4)")
    assert term and r == 1.0
    decayed = envs("click-test", time_decay=True, time_limit=2.0)
    decayed.reset(seed=0)
    time.sleep(0.3)
    obs, r, term, *_ = decayed.step("click(4)")
    assert term and 0.0 < r < 1.0


@needs_browser
def test_task_time_limit_ends_the_episode(envs):
    env = envs("click-test-2", time_limit=0.2)
    env.reset(seed=0)
    time.sleep(0.5)
    obs, r, term, trunc, info = env.step("click(4)")
    assert term and r == -1.0 and info["outcome"] == {"player": "failure"}
    assert "timed out" in obs


@needs_browser
@pytest.mark.parametrize("task", ["click-button", "enter-text", "click-checkboxes", "login-user"])
def test_conformance_sample(task):
    report = check_env(f"web/miniwob/{task}", seeds=(0, 1))
    assert report.episodes == 2


@needs_browser
def test_cli_eval(tmp_path):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "gymnpt.cli.main", "eval", "env=web/miniwob/click-button"]
        + ["agent=bot:reference", "episodes=6"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "100.0%" in out.stdout
