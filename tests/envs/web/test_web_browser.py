"""Headless Chromium: the shop in browser mode, the browser pool, and no orphan processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from gymnpt.envs.web.bots import shop_action
from gymnpt.envs.web.browser import browser_unavailable, default_pool
from gymnpt.envs.web.shop import ShopEnv

_WHY = browser_unavailable()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=f"no headless Chromium here: {_WHY}")


def _episode(env: ShopEnv, seed: int, actions: list[str]) -> tuple[list[str], list[str], float]:
    """Play ``actions``, then the reference shopper to the end: (observations, actions, reward)."""
    obs, _ = env.reset(seed=seed)
    seen, used, reward = [obs], [], 0.0
    todo = list(actions)
    while not env.unwrapped._done:
        a = todo.pop(0) if todo else shop_action(env)
        obs, reward, *_ = env.step(a)
        seen.append(obs)
        used.append(a)
    return seen, used, reward


def test_browser_mode_shows_the_same_pages_as_text_mode():
    text, browser = ShopEnv(mode="text"), ShopEnv(mode="browser")
    detour = [
        "search[mug]",
        "click[Next >]",
        "click[< Prev]",
        "click[nope]",
        "click[Back to Search]",
    ]
    try:
        for seed in (0, 5):
            t_obs, used, t_reward = _episode(text, seed, detour)
            b_obs, _, b_reward = _episode(browser, seed, used)
            assert b_obs == t_obs
            assert t_reward == b_reward == 1.0 and "Thank you" in b_obs[-1]
    finally:
        text.close()
        browser.close()


def test_screenshot_looks_like_a_shop(tmp_path: Path):
    from PIL import Image

    env = ShopEnv(mode="browser")
    try:
        env.reset(seed=3)
        while env.page_kind != "item":
            env.step(shop_action(env))
        path = tmp_path / "shop.png"
        env.screenshot(str(path))
    finally:
        env.close()
    img = Image.open(path).convert("RGB")
    assert img.width >= 800 and img.height >= 500
    assert img.getpixel((5, 5)) == (0x13, 0x19, 0x21)  # the dark header bar
    colors = img.getcolors(maxcolors=1 << 20)
    assert colors is not None and len(colors) > 50  # text, buttons, swatches: not a blank page
    with pytest.raises(RuntimeError):
        env.screenshot(str(tmp_path / "none.png"))


def test_pool_reuses_browsers():
    pool = default_pool()
    env = ShopEnv(mode="browser")
    env.reset(seed=1)
    env.close()
    before = pool.launched
    for seed in range(3):
        e = ShopEnv(mode="browser")
        e.reset(seed=seed)
        e.step(shop_action(e))
        e.close()
    assert pool.launched == before
    assert pool.idle_count >= 1


def test_dead_browser_ends_that_episode_as_error_only():
    a, b = ShopEnv(mode="browser"), ShopEnv(mode="browser")
    try:
        a.reset(seed=1)
        b.reset(seed=2)
        assert a._browser is not b._browser
        os.killpg(a._browser.pgid, signal.SIGKILL)
        obs, r, term, trunc, info = a.step("search[mug]")
        assert term and info["outcome"] == {"player": "error"}
        obs, r, term, trunc, info = b.step(shop_action(b))  # the other episode goes on
        assert not info.get("invalid_move") and "results" in obs
        obs, _ = a.reset(seed=1)  # and the broken env gets a new browser
        assert "Instruction:" in obs
    finally:
        a.close()
        b.close()


_CHILD = textwrap.dedent(
    """
    import os, sys, time
    from gymnpt.envs.web.miniwob_env import MiniWoBEnv
    env = MiniWoBEnv("click-test")
    env.reset(seed=0)
    print("ready", flush=True)
    mode = sys.argv[1]
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "wait":
        time.sleep(600)
    """
)


def _marked(mark: str) -> list[int]:
    """Pids of live processes whose environment holds ``mark``."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            env = (d / "environ").read_bytes()
            state = (d / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if mark.encode() in env and state != "Z":
            pids.append(int(d.name))
    return pids


@pytest.mark.parametrize("how", ["exit", "raise", "ctrl-c", "kill"])
def test_no_orphan_browsers(how: str):
    mark = f"GYMNPT_ORPHAN_TEST={uuid.uuid4().hex}"
    key, value = mark.split("=")
    env = {**os.environ, key: value}
    mode = {"exit": "exit", "raise": "raise"}.get(how, "wait")
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    running = _marked(mark)
    # the child, its watchdog, chromedriver and Chromium's processes
    assert len(running) >= 4, running
    if how == "ctrl-c":
        proc.send_signal(signal.SIGINT)
    elif how == "kill":
        proc.kill()
    proc.wait(timeout=60)
    left = _marked(mark)
    for _ in range(200):  # Chromium takes a moment to go
        if not left:
            break
        time.sleep(0.1)
        left = _marked(mark)
    assert left == [], f"orphans after {how}: {left}"
