"""``web/miniwob/<task>``: the MiniWoB++ tasks of the ``miniwob`` package in headless Chromium.

The observation is the task's instruction (its utterance) and a compact list of the page's
visible elements, one per line, each with a ref number, like an accessibility tree::

    Task: Click on the "previous" button.
    Elements:
    [4] div "in fusce libero"
    [7] input_text value=""
    [9] button "previous"

The reply is one action (the last one in the reply counts):

* ``click(9)`` -- click element 9;
* ``type(7, "hello")`` -- click element 7 and type the text;
* ``press("Enter")`` or ``press(7, "Enter")`` -- press a key (Enter, Tab, Backspace, Delete,
  Escape, Space, ArrowUp/Down/Left/Right, Home, End, PageUp, PageDown), on element 7 if given.

The task ends itself (success or failure) or runs out of ``max_steps`` replies. Its time
limit is raised to ``time_limit`` seconds (300 by default) so that slow models are not timed
out, and the reward is the task's raw reward (1 for success, -1 for failure, partial credit
for some tasks), not decayed by elapsed time unless ``time_decay=True``. The outcome is
``success`` for a positive reward, else ``failure``.

Browsers come from the process-wide pool (:mod:`gymnpt.envs.web.browser`): an env borrows one
on its first reset and keeps it across episodes until ``close``. A browser that dies ends the
episode with outcome ``error``; the next reset takes another one.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from gymnpt import InvalidAction, Outcome, TextEnv

__all__ = [
    "MiniWoBEnv",
    "miniwob_html_dir",
    "miniwob_tasks",
    "parse_miniwob_action",
    "UNSUPPORTED",
    "KEYS",
]

#: Tasks that need mouse drags, free-form coordinates, text selection or real-time reflexes,
#: which the click/type/press action set cannot express; they are listed as unavailable.
UNSUPPORTED: dict[str, str] = {
    **{
        t: "needs mouse drags, which the click/type/press action set cannot express"
        for t in (
            "drag-box",
            "drag-circle",
            "drag-cube",
            "drag-items",
            "drag-items-grid",
            "drag-shapes",
            "drag-shapes-2",
            "drag-single-shape",
            "drag-sort-numbers",
            "draw-circle",
            "draw-line",
            "use-slider",
            "use-slider-2",
            "resize-textarea",
            "use-colorwheel",
            "use-colorwheel-2",
            "highlight-text",
            "highlight-text-2",
        )
    },
    **{
        t: "needs clicks at free-form coordinates on a canvas or SVG, not on elements"
        for t in ("bisect-angle", "circle-center", "right-angle", "click-pie", "click-pie-nodelay")
    },
    **{
        t: "needs real-time reflexes (moving targets), which a turn-based text agent lacks"
        for t in ("chase-circle", "moving-items", "simon-says")
    },
}

#: Key names a reply may press.
KEYS = (
    "Enter",
    "Tab",
    "Backspace",
    "Delete",
    "Escape",
    "Space",
    "ArrowUp",
    "ArrowDown",
    "ArrowLeft",
    "ArrowRight",
    "Home",
    "End",
    "PageUp",
    "PageDown",
)
_KEY_LOWER = {k.lower(): k for k in KEYS}

_CLICK = r"click\s*\(\s*\[?\s*(?P<cref>-?\d{1,9})\s*\]?\s*\)"
_TYPE = (
    r"type\s*\(\s*\[?\s*(?P<tref>-?\d{1,9})\s*\]?\s*,\s*"
    r"(?P<text>\"(?:[^\"\\\n]|\\.){0,2000}\"|'(?:[^'\\\n]|\\.){0,2000}')\s*\)"
)
_PRESS = (
    r"press\s*\(\s*(?:\[?\s*(?P<pref>-?\d{1,9})\s*\]?\s*,\s*)?"
    r"[\"']?(?P<key>[A-Za-z]{1,12})[\"']?\s*\)"
)
_ACTION_RE = re.compile(f"{_CLICK}|{_TYPE}|{_PRESS}", re.IGNORECASE)
_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ue000-\uf8ff]")
_INTERACTIVE = {"button", "a", "select", "option", "textarea", "label", "svg", "li", "span"}

_STATE_JS = """
var u = core.getUtterance();
return {utterance: (typeof u === 'object' && u !== null) ? u.utterance : u,
        dom: core.getDOMInfo(), done: WOB_DONE_GLOBAL, reward: WOB_REWARD_GLOBAL,
        raw: WOB_RAW_REWARD_GLOBAL, reason: WOB_REWARD_REASON};
"""
_START_JS = """
if (core.EP_TIMER !== null) { core.endEpisode(0); }
Math.seedrandom(arguments[0]);
core.setDataMode('train');
core.EPISODE_MAX_TIME = arguments[1];
core.startEpisodeReal();
// Refs and focus start afresh every episode, so that an episode depends on its seed only.
document.querySelectorAll('[data-wob_ref]').forEach(function (e) {
  delete e.dataset.wob_ref; delete e.dataset.wob_eps; });
core.resetRefCode();
if (document.activeElement && document.activeElement.blur) { document.activeElement.blur(); }
window.getSelection().removeAllRanges();
return true;
"""


def miniwob_html_dir() -> Path | None:
    """The folder of the ``miniwob`` package's task pages (None when it is not installed)."""
    spec = importlib.util.find_spec("miniwob")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "html" / "miniwob"
    return path if path.is_dir() else None


def miniwob_tasks() -> list[str]:
    """Names of every task page the ``miniwob`` package ships (sorted)."""
    d = miniwob_html_dir()
    return sorted(p.stem for p in d.glob("*.html")) if d else []


def parse_miniwob_action(text: str) -> tuple[str, int | None, str]:
    """Read the last ``click(ref)``, ``type(ref, "text")`` or ``press([ref,] "Key")``.

    Returns:
        ``(kind, ref, argument)``: kind is ``click``, ``type`` or ``press``.

    Raises:
        InvalidAction: when the reply holds no such action, or names an unknown key.
    """
    hint = 'Reply with one action: click(ref), type(ref, "text") or press("Enter").'
    if not text or not text.strip():
        raise InvalidAction(f"empty reply. {hint}")
    matches = list(_ACTION_RE.finditer(text[-20_000:]))
    if not matches:
        raise InvalidAction(f"no click(...), type(...) or press(...) action found. {hint}")
    m = matches[-1]
    if m.group("cref") is not None:
        return "click", int(m.group("cref")), ""
    if m.group("tref") is not None:
        raw = m.group("text")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw[1:-1]
        value = _CTRL.sub("", str(value))
        return "type", int(m.group("tref")), value
    key = _KEY_LOWER.get(m.group("key").lower())
    if key is None:
        raise InvalidAction(f"unknown key {m.group('key')!r}; keys: {', '.join(KEYS)}.")
    ref = m.group("pref")
    return "press", int(ref) if ref is not None else None, key


def _clean(text: Any, limit: int = 120) -> str:
    s = " ".join(_CTRL.sub(" ", str(text)).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def flatten_dom(root: dict[str, Any] | None, max_elements: int) -> tuple[list[str], set[int]]:
    """Lines of the element list and the refs that actions may name."""
    lines: list[str] = []
    refs: set[int] = set()
    skipped = 0

    def visit(node: dict[str, Any], depth: int) -> None:
        nonlocal skipped
        tag = str(node.get("tag", "")).lower()
        ref = node.get("ref")
        text = node.get("text")
        children = node.get("children") or []
        has_text = isinstance(text, str) and text.strip() != ""
        show = (
            depth > 0
            and (
                has_text
                or not children
                or tag.split("_")[0] in ("input", *_INTERACTIVE)
                or bool(node.get("id"))
            )
            and tag != "t"
        )
        indent = "  " * max(0, depth - 1)
        if tag == "t" and has_text:
            if len(lines) < max_elements:
                lines.append(f'{indent}"{_clean(text)}"')
            else:
                skipped += 1
        elif show and isinstance(ref, int):
            if len(lines) < max_elements:
                desc = tag
                if node.get("id"):
                    desc += f"#{_clean(node['id'], 40)}"
                classes = str(node.get("classes") or "").split()
                if classes:
                    desc += "." + ".".join(_clean(c, 30) for c in classes[:2])
                if has_text:
                    desc += f' "{_clean(text)}"'
                if "value" in node:
                    v = node["value"]
                    if isinstance(v, bool):
                        desc += " checked" if v else " unchecked"
                    else:
                        desc += f' value="{_clean(v, 80)}"'
                if node.get("focused"):
                    desc += " focused"
                lines.append(f"{indent}[{ref}] {desc}")
                refs.add(ref)
            else:
                skipped += 1
        elif isinstance(ref, int) and ref > 0:
            refs.add(ref)
        for child in children:
            if isinstance(child, dict):
                visit(child, depth + 1)

    if root:
        visit(root, 0)
    if skipped:
        lines.append(f"... {skipped} more elements not shown")
    return lines, refs


class MiniWoBEnv(TextEnv):
    """One MiniWoB++ task in headless Chromium, as a text env.

    Args:
        task: the task name, e.g. ``"click-button"``.
        time_limit: the task's own time limit in seconds.
        time_decay: scale a positive reward by the time left (MiniWoB's original reward).
        max_steps: replies per episode before truncation.
        max_elements: element lines shown at most.
        render_mode: ``"ansi"`` or None.
        pool: where browsers come from (``acquire()`` / ``release(browser, broken=)``);
            the process-wide :func:`~gymnpt.envs.web.browser.default_pool` when None.
    """

    def __init__(
        self,
        task: str = "click-test",
        time_limit: float = 300.0,
        time_decay: bool = False,
        max_steps: int = 20,
        max_elements: int = 200,
        render_mode: str | None = None,
        pool: Any = None,
    ) -> None:
        super().__init__(render_mode=render_mode)
        html_dir = miniwob_html_dir()
        if html_dir is None:
            raise RuntimeError("the miniwob package is not installed; pip install 'gymnpt[web]'")
        if not (html_dir / f"{task}.html").is_file():
            raise ValueError(f"unknown MiniWoB task {task!r}")
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
        if not time_limit or float(time_limit) <= 0:
            raise ValueError(f"time_limit must be positive, got {time_limit!r}")
        self.task = task
        self.url = (html_dir / f"{task}.html").as_uri()
        self.time_limit = float(time_limit)
        self.time_decay = bool(time_decay)
        self.max_turns = max_steps
        self.max_elements = max_elements
        self._browser: Any = None
        self._custom_pool = pool
        self._lock = threading.Lock()
        self.utterance = ""
        self.elements: list[str] = []
        self.refs: set[int] = set()
        self.dom: dict[str, Any] | None = None
        self.note = ""
        self.error: str | None = None

    @property
    def instructions(self) -> str:  # type: ignore[override]
        return (
            "You operate a web page to complete a task. Each message gives the task and the "
            "page's visible elements, each with a ref number in brackets.\n"
            "Reply with exactly one action:\n"
            "  click(ref)            click an element, e.g. click(9)\n"
            '  type(ref, "text")     click an input and type text, e.g. type(7, "hello")\n'
            '  press("Enter")        press a key (optionally press(7, "Enter") on an element)\n'
            "The task ends when it is done; a positive reward means success."
        )

    # ---- browser plumbing -----------------------------------------------------------------------
    def _pool(self) -> Any:
        if self._custom_pool is not None:
            return self._custom_pool
        from gymnpt.envs.web.browser import default_pool

        return default_pool()

    def _drop_browser(self, broken: bool) -> None:
        if self._browser is not None:
            self._pool().release(self._browser, broken=broken)
            self._browser = None

    def _load(self) -> Any:
        from selenium.webdriver.support.wait import WebDriverWait

        if self._browser is not None and not self._browser.alive():
            self._drop_browser(broken=True)
        if self._browser is None:
            self._browser = self._pool().acquire()
        b = self._browser
        d = b.driver
        if getattr(b, "page_url", None) != self.url:
            b.page_url = None
            d.get(self.url)
            WebDriverWait(d, 15, poll_frequency=0.02).until(
                lambda drv: drv.execute_script(
                    "return typeof core !== 'undefined' && core.cover_div !== null "
                    "&& document.readyState === 'complete';"
                )
            )
            b.page_url = self.url
        return d

    def _read_state(self) -> dict[str, Any]:
        d = self._browser.driver
        state = d.execute_script(_STATE_JS)
        self.utterance = _clean(state.get("utterance") or "", 1000)
        self.dom = state.get("dom")
        self.elements, self.refs = flatten_dom(self.dom, self.max_elements)
        return state

    # ---- game hooks -----------------------------------------------------------------------------
    def _new_game(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        self.note = ""
        self.error = None
        self.final_reason: str | None = None
        seed = str(int(rng.integers(0, 2**31 - 1)))
        with self._lock:
            d = self._load()
            d.execute_script(_START_JS, seed, int(self.time_limit * 1000))
            for _ in range(100):
                if d.execute_script("return WOB_TASK_READY;"):
                    break
                time.sleep(0.05)
            self._read_state()
            self._browser.episodes += 1

    def _to_act(self) -> list[str]:
        return ["player"]

    def _observe(self, seat: str) -> str:
        if self.error:
            return f"The browser failed: {self.error}. The episode ended."
        head = f"Task: {self.utterance}"
        if self._done:
            return f"{head}\nThe task is over: {self.final_reason or 'ended'}."
        note = f"{self.note}\n" if self.note else ""
        return f"{note}{head}\nElements:\n" + "\n".join(self.elements)

    def _parse(self, seat: str, text: str) -> tuple[str, int | None, str]:
        kind, ref, arg = parse_miniwob_action(text)
        if ref is not None and ref not in self.refs:
            raise InvalidAction(f"there is no element [{ref}] on the page now.")
        return kind, ref, arg

    def _apply(self, moves: dict[str, Any]) -> dict[str, float]:
        from selenium.common.exceptions import WebDriverException

        kind, ref, arg = moves["player"]
        self.note = ""
        with self._lock:
            try:
                self._perform(kind, ref, arg)
            except WebDriverException as exc:
                if self._browser is not None and self._browser.alive():
                    self.note = f"That action had no effect ({_clean(exc.msg or exc, 160)})."
                else:
                    return self._fail(exc)
            try:
                state = self._read_state()
            except WebDriverException as exc:
                return self._fail(exc)
        if state.get("done"):
            raw = float(state.get("raw") or 0.0)
            reward = float(state.get("reward") or 0.0) if self.time_decay else raw
            self.final_reason = f"{'success' if raw > 0 else 'failure'} (reward {reward:.3f}" + (
                f", {_clean(state.get('reason'), 80)})" if state.get("reason") else ")"
            )
            self._finish(
                {"player": Outcome.SUCCESS if raw > 0 else Outcome.FAILURE},
                reason=self.final_reason,
            )
            # The episode is over: the browser goes back to the pool for other episodes.
            with self._lock:
                self._drop_browser(broken=False)
            return {"player": reward}
        return {"player": 0.0}

    def _fail(self, exc: BaseException) -> dict[str, float]:
        self.error = (
            f"{type(exc).__name__}: {_clean(str(exc).splitlines()[0] if str(exc) else '', 160)}"
        )
        self._finish({"player": Outcome.ERROR}, reason=f"browser error: {self.error}")
        self._drop_browser(broken=True)
        return {"player": 0.0}

    def _perform(self, kind: str, ref: int | None, arg: str) -> None:
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        d = self._browser.driver
        if ref is not None:
            res = d.execute_script("return core.elementClick(arguments[0]);", ref)
            if res is not True:
                self.note = f"Clicking [{ref}] failed: {_clean(res, 120)}."
                return
        if kind == "type" and arg:
            el = d.switch_to.active_element
            el.send_keys(arg)
        elif kind == "press":
            key = " " if arg == "Space" else getattr(Keys, _SELENIUM_KEYS[arg])
            ActionChains(d).send_keys(key).perform()

    # ---- introspection ------------------------------------------------------------------------
    def elements_by_ref(self) -> dict[int, dict[str, Any]]:
        """Every element node of the current page by ref (for scripted bots)."""
        out: dict[int, dict[str, Any]] = {}

        def visit(node: dict[str, Any]) -> None:
            ref = node.get("ref")
            if isinstance(ref, int) and ref > 0:
                out[ref] = node
            for c in node.get("children") or []:
                if isinstance(c, dict):
                    visit(c)

        if self.dom:
            visit(self.dom)
        return out

    def legal_actions(self, seat: str) -> list[str] | None:
        """A click on every listed element."""
        if self._done:
            return []
        return [f"click({r})" for r in sorted(self.refs)]

    def render_text(self) -> str:
        return f"task: {self.task}\n{self._observe('player')}"

    def close(self) -> None:
        """Give the browser back to the pool."""
        with self._lock:
            self._drop_browser(broken=False)
        super().close()

    def __del__(self) -> None:
        # An env dropped without close() still gives its browser back.
        browser = self.__dict__.get("_browser")
        if browser is not None:
            self._browser = None
            try:
                self._pool().release(browser)
            except Exception:  # noqa: BLE001 - at interpreter exit the pool may be gone
                pass


_SELENIUM_KEYS = {
    "Enter": "ENTER",
    "Tab": "TAB",
    "Backspace": "BACKSPACE",
    "Delete": "DELETE",
    "Escape": "ESCAPE",
    "ArrowUp": "ARROW_UP",
    "ArrowDown": "ARROW_DOWN",
    "ArrowLeft": "ARROW_LEFT",
    "ArrowRight": "ARROW_RIGHT",
    "Home": "HOME",
    "End": "END",
    "PageUp": "PAGE_UP",
    "PageDown": "PAGE_DOWN",
}
