"""Command line of the web envs.

``python -m gymnpt.envs.web serve shop --port 3000`` serves the shop on 127.0.0.1:3000;
open http://127.0.0.1:3000/ in a browser: each visit starts a session with a new instruction.

``python -m gymnpt.envs.web screenshot shop out.png`` saves a headless-Chromium screenshot of
a product page; ``python -m gymnpt.envs.web tasks`` lists the MiniWoB++ tasks and which of
them are unavailable here, and why.
"""

from __future__ import annotations

import argparse
import sys
import time

__all__ = ["main"]


def _serve(port: int) -> int:
    from gymnpt.envs.web.server import ShopServer

    server = ShopServer(port=port).start()
    print(f"gymnpt shop on {server.url}/  (Ctrl-C stops it)", flush=True)
    try:
        while server.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _screenshot(path: str, seed: int) -> int:
    from gymnpt.envs.web.bots import shop_action
    from gymnpt.envs.web.shop import ShopEnv

    env = ShopEnv(mode="browser")
    try:
        env.reset(seed=seed)
        while env.page_kind != "item":
            env.step(shop_action(env))
        action = shop_action(env)
        if action != "click[Buy Now]":
            env.step(action)
        env.screenshot(path)
        print(env.page.text)
        print(f"saved {path}")
    finally:
        env.close()
    return 0


def _tasks() -> int:
    from gymnpt.envs.web.browser import browser_unavailable
    from gymnpt.envs.web.miniwob_env import UNSUPPORTED, miniwob_tasks

    why = browser_unavailable()
    tasks = miniwob_tasks()
    for t in tasks:
        reason = why or UNSUPPORTED.get(t)
        print(f"web/miniwob/{t:32s} {'unavailable: ' + reason if reason else 'available'}")
    print(f"{len(tasks)} tasks, {sum(1 for t in tasks if t not in UNSUPPORTED)} supported")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line."""
    ap = argparse.ArgumentParser(prog="python -m gymnpt.envs.web", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="serve a web env for people to look at")
    s.add_argument("what", choices=["shop"])
    s.add_argument("--port", type=int, default=3000)
    sc = sub.add_parser("screenshot", help="save a screenshot of a shop product page")
    sc.add_argument("what", choices=["shop"])
    sc.add_argument("path")
    sc.add_argument("--seed", type=int, default=0)
    sub.add_parser("tasks", help="list the MiniWoB++ tasks")
    args = ap.parse_args(argv)
    if args.cmd == "serve":
        return _serve(args.port)
    if args.cmd == "screenshot":
        return _screenshot(args.path, args.seed)
    return _tasks()


if __name__ == "__main__":
    sys.exit(main())
