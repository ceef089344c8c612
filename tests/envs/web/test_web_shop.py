"""The shop in text mode: catalogue, search, reward, pages, the env, bots and the server."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading

import httpx
import pytest

from gymnpt import InvalidAction
from gymnpt.core.registry import default_registry
from gymnpt.core.testing import check_env
from gymnpt.envs.web.bots import RandomBot, ReferenceBot, shop_action
from gymnpt.envs.web.catalog import Goal, catalog, purchase_reward
from gymnpt.envs.web.page import html_to_page
from gymnpt.envs.web.server import ShopServer, shared_server
from gymnpt.envs.web.shop import ShopEnv, parse_shop_action
from gymnpt.rollout.policy import Request


@pytest.fixture(scope="module")
def env():
    e = ShopEnv()
    yield e
    e.close()


def _play(env: ShopEnv, seed: int, bot=shop_action, limit: int = 30):
    obs, _ = env.reset(seed=seed)
    for _ in range(limit):
        obs, reward, term, trunc, info = env.step(bot(env))
        if term or trunc:
            return reward, info
    raise AssertionError("episode did not end")


def test_catalogue_is_deterministic_and_varied():
    cat = catalog()
    assert len(cat) >= 300
    assert len({p.product_type for p in cat.products}) >= 15
    assert len({p.id for p in cat.products}) == len(cat)
    from gymnpt.envs.web.catalog import CATALOG_SEED, _generate

    again = _generate(CATALOG_SEED)
    assert [p.title for p in again] == [p.title for p in cat.products]
    assert all(p.price > 0 and "color" in p.options for p in cat.products)


def test_search_ranks_the_asked_type_first():
    cat = catalog()
    for ptype in ("hiking boots", "coffee mug", "wireless earbuds"):
        top = cat.search(f"waterproof {ptype}")[:5]
        assert top and all(p.product_type == ptype for p in top), [p.title for p in top]
    assert cat.search("") == [] and cat.search("!!!") == []


def test_reward_follows_webshop():
    cat = catalog()
    goal = cat.sample_goal(random.Random(7))
    target = cat.by_id[goal.product_id]
    assert purchase_reward(target, goal.options, goal) == 1.0
    n = len(goal.attributes) + len(goal.options) + 1
    # Right product, no options chosen: attributes and price only.
    assert purchase_reward(target, {}, goal) == pytest.approx((len(goal.attributes) + 1) / n)
    other_cat = next(p for p in cat.products if p.category != goal.category)
    r = purchase_reward(other_cat, {}, goal)
    assert r <= 0.1 + 1e-9
    same_cat = next(
        p
        for p in cat.products
        if p.category == goal.category and p.product_type != goal.product_type
    )
    assert purchase_reward(same_cat, {}, goal) <= 0.5


def test_parse_actions():
    assert parse_shop_action("search[red mug]") == ("search", "red mug")
    assert parse_shop_action("I think click[Buy Now] then CLICK[ Next > ]") == ("click", "Next >")
    for bad in ["", "buy it", "click[]", "search[   ]"]:
        with pytest.raises(InvalidAction):
            parse_shop_action(bad)
    # Control characters and selenium's private-use key codes never reach a page.
    assert parse_shop_action("search[a\ue007b\x00c]") == ("search", "a b c")


def test_reference_bot_solves_most_instructions(env):
    rewards = [_play(env, seed)[0] for seed in range(30)]
    assert sum(r == 1.0 for r in rewards) >= 27, rewards


def test_random_bot_rarely_succeeds(env):
    bot = RandomBot(seed=1)
    wins = 0
    for seed in range(10):
        reward, info = _play(env, seed, bot=lambda e: bot.act(Request(messages=[], env=e)))
        wins += reward == 1.0
    assert wins <= 2


def test_bot_through_registry_and_request():
    reg = default_registry()
    bot = reg.make_agent("bot:reference", "web/shop")
    assert isinstance(bot, ReferenceBot)
    e = reg.make("web/shop")
    try:
        e.reset(seed=3)
        obs, *_ = e.step(bot.act(Request(messages=[], env=e)))
        assert "results" in obs and "[Next >]" in obs
    finally:
        e.close()


def test_pages_text_and_invalid_moves(env):
    obs, _ = env.reset(seed=11)
    assert "Instruction: " + env.goal.instruction in obs and "[Search]" in obs
    obs, r, term, trunc, info = env.step("click[P9999]")
    assert info["invalid_move"] and not term and "no [P9999]" in obs
    obs, r, term, trunc, info = env.step("let me think")
    assert info.get("penalized") and term and info["outcome"] == {"player": "failure"}


def test_truncates_at_max_steps():
    e = ShopEnv(max_steps=3)
    try:
        e.reset(seed=1)
        for _ in range(3):
            obs, r, term, trunc, info = e.step("search[mug]")
        assert trunc and not term and info["outcome"] == {"player": "aborted"}
    finally:
        e.close()


def test_injection_is_escaped_and_cannot_add_clickables(env):
    env.reset(seed=2)
    evil = '<a data-label="Buy Now" href="/x">x</a><script>alert(1)</script>'
    obs, *_ = env.step(f"search[{evil}]")
    # The query comes back as visible text, never as an element of the page.
    assert evil in obs and "Buy Now" not in env.page.links
    assert set(env.page.links) <= {"Back to Search", "Search", "Next >"} | set(catalog().by_id)
    html = env._http.get(env.url).text
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)" in html
    # An instruction with markup is shown as text.
    g = catalog().sample_goal(random.Random(1))
    bad = Goal(**{**g.__dict__, "instruction": 'Buy <a data-label="Free">free</a> things'})
    obs, _ = env.reset(seed=1, options={"goal": bad})
    assert "[Free]" not in obs and "Buy free things" not in obs
    assert '<a data-label="Free">free</a>' in obs


def test_html_to_page_marks_selected_and_drops_scripts():
    page = html_to_page(
        "<html><head><title>T</title><style>x{}</style></head><body><p>Hi <b>there</b></p>"
        "<a href='/a' data-label='M' data-selected='1'>M</a><script>evil()</script></body></html>"
    )
    assert page.title == "T" and page.links == {"M": "/a"}
    assert page.text == "Hi there\n[M] (selected)"


def test_concurrent_episodes_share_one_server():
    results: list[float] = []
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        e = ShopEnv()
        try:
            for s in (seed, seed + 100):
                results.append(_play(e, s)[0])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            e.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 16
    assert sum(r == 1.0 for r in results) >= 14


def test_server_listens_on_loopback_only():
    server = ShopServer().start()
    try:
        sock = server._server.servers[0].sockets[0]
        assert sock.getsockname()[0] == "127.0.0.1"
        addrs = {
            a[4][0]
            for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
            if not a[4][0].startswith("127.")
        }
        for addr in addrs:
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://{addr}:{server.port}/", timeout=2, trust_env=False)
        r = httpx.get(f"{server.url}/api/sessions/nope", trust_env=False)
        assert r.status_code == 404
        r = httpx.post(f"{server.url}/api/sessions", content=b"{not json", trust_env=False)
        assert r.status_code == 400
    finally:
        server.stop()


def test_dead_server_ends_the_episode_as_error_and_the_next_reset_recovers():
    a, b = ShopEnv(), ShopEnv()
    try:
        a.reset(seed=1)
        b.reset(seed=2)
        shared_server().stop()  # the shared server dies under both episodes
        from gymnpt.envs.web.server import release_shared_server

        release_shared_server()
        obs, r, term, trunc, info = a.step("search[mug]")
        assert term and info["outcome"] == {"player": "error"} and "failed" in obs
        obs, _ = b.reset(seed=2)  # another episode goes on with a new server
        assert "Instruction:" in obs
        assert _play(b, 4)[0] == 1.0
    finally:
        a.close()
        b.close()


def test_conformance():
    report = check_env("web/shop", seeds=(0, 1))
    assert report.episodes == 2


def test_cli_eval_and_serve(tmp_path):
    env = {**os.environ, "GYMNPT_NO_PROGRESS": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "gymnpt.cli.main", "eval", "env=web/shop", "agent=bot:reference"]
        + ["episodes=10"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "shop/full_match_rate" in out.stdout
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gymnpt.envs.web", "serve", "shop", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"127.0.0.1:{port}" in line
        with httpx.Client(trust_env=False, follow_redirects=True) as c:
            r = c.get(f"http://127.0.0.1:{port}/")
            assert r.status_code == 200 and "gymnpt shop" in r.text
            assert "Instruction:" in html_to_page(r.text).text
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
