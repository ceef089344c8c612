"""Scripted bots for the web envs: ``bot:reference`` and ``bot:random``.

``bot:reference`` plays ``web/shop`` like a careful shopper: it searches for the words of the
instruction, opens the first result that meets every requirement (paging through up to five
result pages), selects the asked options and buys. On MiniWoB++ it solves the tasks in
:data:`MINIWOB_SOLVERS` from the element list and the utterance.

``bot:random`` replies with a uniformly random legal action (a click on a listed element).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from typing import Any

from gymnpt import BasePolicy, Request

__all__ = ["ReferenceBot", "RandomBot", "MINIWOB_SOLVERS", "web_env_of"]

_RESULT_PAGES = 5


def web_env_of(request: Request) -> Any:
    """The live web env behind ``request.env`` (through adapters and wrappers)."""
    from gymnpt.envs.web.miniwob_env import MiniWoBEnv
    from gymnpt.envs.web.shop import ShopEnv

    env = request.env
    for _ in range(8):
        if isinstance(env, (ShopEnv, MiniWoBEnv)):
            return env
        base = getattr(env, "unwrapped", None)
        if isinstance(base, (ShopEnv, MiniWoBEnv)):
            return base
        env = getattr(env, "env", None)
        if env is None:
            break
    raise TypeError("this bot plays the web envs only (request.env is not a web env)")


# ---- the shop ----------------------------------------------------------------------------------
def shop_action(env: Any) -> str:
    """The reference shopper's next action on a :class:`ShopEnv`."""
    from gymnpt.envs.web.catalog import purchase_reward

    goal, cat, kind = env.goal, env.catalog, env.page_kind
    if kind == "home":
        return f"search[{' '.join(goal.query_words)}]"
    if kind == "results":
        shown = [cat.by_id[label] for label in env.page.links if label in cat.by_id]
        for p in shown:
            if cat.matches(p, goal):
                return f"click[{p.id}]"
        m = re.search(r"Page (\d+) of (\d+)", env.page.text)
        page = int(m.group(1)) if m else 1
        if "Next >" in env.page.links and page < _RESULT_PAGES:
            return "click[Next >]"
        if shown:
            best = max(
                shown,
                key=lambda p: purchase_reward(
                    p, {k: v for k, v in goal.options.items() if v in p.options.get(k, ())}, goal
                ),
            )
            return f"click[{best.id}]"
        return f"search[{goal.product_type}]"
    if kind == "item":
        p = cat.by_id.get(env.product_id or "")
        chosen = env.selected_options
        if p is not None:
            for name, value in goal.options.items():
                if value in p.options.get(name, ()) and chosen.get(name) != value:
                    return f"click[{value}]"
        return "click[Buy Now]"
    return "click[Back to Search]"


# ---- MiniWoB++ ---------------------------------------------------------------------------------
def _nodes(env: Any) -> list[dict[str, Any]]:
    return list(env.elements_by_ref().values())


def _by_text(env: Any, text: str, tags: tuple[str, ...] = ()) -> dict[str, Any] | None:
    for n in _nodes(env):
        if str(n.get("text", "")).strip() == text and (
            not tags or str(n.get("tag", "")).lower() in tags
        ):
            return n
    return None


def _quoted(utterance: str) -> list[str]:
    return re.findall(r'"([^"]*)"', utterance)


def _inputs(env: Any) -> list[dict[str, Any]]:
    return [n for n in _nodes(env) if str(n.get("tag", "")).upper().startswith("INPUT_")]


def _click_test(env: Any) -> str:
    n = _by_text(env, "Click Me!", ("button",))
    return f"click({n['ref']})" if n else "click(4)"


def _click_test_2(env: Any) -> str:
    word = env.utterance.rstrip(".").split()[-1]
    n = _by_text(env, word, ("button",))
    return f"click({n['ref']})" if n else "click(4)"


def _click_named(tags: tuple[str, ...]) -> Callable[[Any], str]:
    def solve(env: Any) -> str:
        q = _quoted(env.utterance)
        n = _by_text(env, q[0], tags) if q else None
        return f"click({n['ref']})" if n else "click(4)"

    return solve


def _focus_text(env: Any) -> str:
    inputs = _inputs(env)
    m = re.search(r"(\d+)(st|nd|rd|th)", env.utterance)
    i = int(m.group(1)) - 1 if m else 0
    return f"click({inputs[min(i, len(inputs) - 1)]['ref']})"


def _fill_then_submit(env: Any, values: list[str]) -> str:
    for node, value in zip(_inputs(env), values):
        if str(node.get("value", "")) != value:
            if node.get("value"):
                return _retype(node)
            return f"type({node['ref']}, {json.dumps(value)})"
    sub = next(
        (n for n in _nodes(env) if str(n.get("tag", "")).lower() == "button"),
        None,
    )
    return f"click({sub['ref']})" if sub else 'press("Enter")'


def _retype(node: dict[str, Any]) -> str:
    # A field holding wrong text is cleared with Backspace, one press per reply.
    return f'press({node["ref"]}, "Backspace")'


def _enter_text(env: Any) -> str:
    q = _quoted(env.utterance)
    return _fill_then_submit(env, q[:1])


def _enter_password(env: Any) -> str:
    q = _quoted(env.utterance)
    return _fill_then_submit(env, [q[0], q[0]] if q else [])


def _login_user(env: Any) -> str:
    return _fill_then_submit(env, _quoted(env.utterance)[:2])


def _label_inputs(env: Any) -> list[tuple[str, dict[str, Any]]]:
    """(label text, input node) for every ``<label><input> text</label>`` on the page."""
    out = []
    for n in _nodes(env):
        if str(n.get("tag", "")).lower() != "label":
            continue
        kids = n.get("children") or []
        box = next((k for k in kids if str(k.get("tag", "")).upper().startswith("INPUT_")), None)
        text = " ".join(str(k.get("text", "")) for k in kids if k.get("tag") == "t").strip()
        if box is not None:
            out.append((text, box))
    return out


def _submit(env: Any) -> str:
    n = _by_text(env, "Submit", ("button",))
    return f"click({n['ref']})" if n else 'press("Enter")'


def _click_checkboxes(env: Any) -> str:
    m = re.match(r"Select (.*) and click Submit", env.utterance)
    wanted: set[str] = set()
    if m and m.group(1) != "nothing":
        wanted = {w.strip() for w in re.split(r",\s*|\s+and\s+", m.group(1)) if w.strip()}
    for text, box in _label_inputs(env):
        if bool(box.get("value")) != (text in wanted):
            return f"click({box['ref']})"
    return _submit(env)


def _click_dialog(env: Any) -> str:
    for n in _nodes(env):
        if str(n.get("tag", "")).lower() == "button" and "ui-button" in str(n.get("classes", "")):
            return f"click({n['ref']})"
    return "click(4)"


#: Task name -> function(env) -> the next action.
MINIWOB_SOLVERS: dict[str, Callable[[Any], str]] = {
    "click-test": _click_test,
    "click-test-2": _click_test_2,
    "click-button": _click_named(("button",)),
    "click-link": _click_named(("span", "a")),
    "focus-text": _focus_text,
    "focus-text-2": _focus_text,
    "enter-text": _enter_text,
    "enter-password": _enter_password,
    "login-user": _login_user,
    "click-checkboxes": _click_checkboxes,
    "click-option": _click_checkboxes,
    "click-dialog": _click_dialog,
}


class ReferenceBot(BasePolicy):
    """Solves ``web/shop`` and the MiniWoB++ tasks in :data:`MINIWOB_SOLVERS`."""

    name = "bot:reference"

    def __init__(self, env_id: str | None = None, **_: Any) -> None:
        self.env_id = env_id

    def act(self, request: Request) -> str:
        """The next action."""
        from gymnpt.envs.web.miniwob_env import MiniWoBEnv

        env = web_env_of(request)
        if isinstance(env, MiniWoBEnv):
            solver = MINIWOB_SOLVERS.get(env.task)
            if solver is None:
                raise ValueError(f"bot:reference has no solver for MiniWoB task {env.task!r}")
            return solver(env)
        return shop_action(env)


class RandomBot(BasePolicy):
    """A uniformly random legal action.

    Args:
        seed: seed of the bot's own random generator.
    """

    name = "bot:random"

    def __init__(self, env_id: str | None = None, seed: int = 0, **_: Any) -> None:
        self.env_id = env_id
        self.rng = random.Random(seed)

    def act(self, request: Request) -> str:
        """A random click among the listed elements (or a search on the shop's home page)."""
        env = web_env_of(request)
        legal = env.legal_actions("player") or []
        return self.rng.choice(legal) if legal else "click(1)"
