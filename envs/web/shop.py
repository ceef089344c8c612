"""``web/shop``: find and buy the product an instruction asks for, in a local web shop.

Each episode draws an instruction from the catalogue ("I need a red t-shirt that is cotton,
size M, and price lower than 30.00 dollars"), opens a session on the shared shop server
(:mod:`gymnpt.envs.web.server`) and shows its search page. The observation is the page as
text with its clickable elements in brackets; the reply is one action:

* ``search[red cotton t-shirt]`` -- search the catalogue (from any page);
* ``click[label]`` -- click a bracketed element: a product id in the results, ``Next >``,
  ``< Prev``, an option such as ``M`` or ``red``, ``Buy Now``, ``< Back to results``,
  ``Back to Search``.

Buying ends the episode with WebShop's reward (see :mod:`gymnpt.envs.web.catalog`); the
outcome is ``success`` when it is 1.0, else ``failure``. A reply with no action, or a click on
a label that is not on the page, is an invalid move. Reaching ``max_steps`` truncates.

``mode="browser"`` drives the same pages through headless Chromium (typing in the search box
and clicking the elements); the observation is the same text, read from the browser's DOM.
A server or browser that fails ends the episode with outcome ``error``.
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import numpy as np

from gymnpt import InvalidAction, Outcome, TextEnv
from gymnpt.envs.web.catalog import Goal, catalog
from gymnpt.envs.web.page import TextPage, html_to_page
from gymnpt.envs.web.server import MAX_QUERY, release_shared_server, shared_server

__all__ = ["ShopEnv", "parse_shop_action", "episode_metrics"]

_ACTION_RE = re.compile(r"\b(search|click)\s*\[([^\[\]\n]{0,300})\]", re.IGNORECASE)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\ue000-\uf8ff]")
#: Reads the page in one round trip: [path?query, html].
_PAGE_JS = "return [location.pathname + location.search, document.documentElement.outerHTML];"


def parse_shop_action(text: str) -> tuple[str, str]:
    """Read ``search[query]`` or ``click[label]``: the last one in the reply.

    Raises:
        InvalidAction: when the reply holds neither.
    """
    hint = "Reply with one action: search[your query] or click[label of a bracketed element]."
    if not text or not text.strip():
        raise InvalidAction(f"empty reply. {hint}")
    matches = list(_ACTION_RE.finditer(text[-20_000:]))
    if not matches:
        raise InvalidAction(f"no search[...] or click[...] action found. {hint}")
    kind, arg = matches[-1].group(1).lower(), matches[-1].group(2)
    arg = " ".join(_UNSAFE.sub(" ", arg).split())
    if not arg:
        raise InvalidAction(f"{kind}[] is empty. {hint}")
    if kind == "search":
        arg = arg[:MAX_QUERY]
    return kind, arg


class ShopEnv(TextEnv):
    """Shop for the product an instruction describes (WebShop-style).

    Args:
        mode: ``"text"`` (HTTP requests) or ``"browser"`` (headless Chromium).
        max_steps: actions per episode before truncation.
        render_mode: ``"ansi"`` or None.

    ``reset(options={"goal": Goal})`` fixes the goal.
    """

    def __init__(self, mode: str = "text", max_steps: int = 15, render_mode: str | None = None):
        super().__init__(render_mode=render_mode)
        if mode not in ("text", "browser"):
            raise ValueError(f"mode must be 'text' or 'browser', got {mode!r}")
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
        self.mode = mode
        self.max_turns = max_steps
        self.catalog = catalog()
        self._server: Any = None
        self._http: Any = None
        self._browser: Any = None
        self._lock = threading.Lock()
        self.sid: str | None = None
        self.goal: Goal | None = None
        self.page = TextPage(text="")
        self.url = ""
        self.reward_value: float | None = None
        self.purchase: dict[str, Any] | None = None

    @property
    def instructions(self) -> str:  # type: ignore[override]
        return (
            "You are shopping in a web shop. Find and buy the product the instruction asks "
            "for, with the right options and within the price. Each message shows the current "
            "page; clickable elements are in square brackets.\n"
            "Reply with exactly one action:\n"
            "  search[query]   search the shop, e.g. search[red cotton t-shirt]\n"
            "  click[label]    click a bracketed element, e.g. click[P0042], click[M], "
            "click[Next >], click[Buy Now]\n"
            "Buying ends the episode. The reward counts the matching attributes, options and "
            "price, and is 1.0 only for a full match."
        )

    # ---- plumbing ---------------------------------------------------------------------------
    def _ensure_server(self) -> None:
        import httpx

        if self._server is not None and self._server.running:
            return
        if self._server is not None:
            self._drop_server()
        self._server = shared_server()
        self._http = httpx.Client(base_url=self._server.url, timeout=15.0, trust_env=False)

    def _drop_server(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._server is not None:
            self._server = None
            release_shared_server()

    def _get(self, path: str) -> TextPage:
        if self.mode == "browser":
            return self._browser_get(path)
        r = self._http.get(path)
        r.raise_for_status()
        self.url = path
        return html_to_page(r.text)

    def _browser_get(self, path: str) -> TextPage:
        assert self._browser is not None
        d = self._browser.driver
        d.get(self._server.url + path)
        return self._browser_page()

    def _browser_page(self, state: list[str] | None = None) -> TextPage:
        if state is None:
            state = self._browser.driver.execute_script(_PAGE_JS)
        assert state is not None
        self.url, html = state
        return html_to_page(html)

    def _browser_navigate(self, start: str, *args: Any) -> TextPage:
        """Run ``start`` (a script that starts a navigation), then read the new page."""
        from selenium.webdriver.support.wait import WebDriverWait

        d = self._browser.driver
        if d.execute_script("window.__gymnptOld = true;" + start, *args) is False:
            raise RuntimeError(f"the browser page has no element labelled {args[0]!r}")
        state = WebDriverWait(d, 15, poll_frequency=0.01).until(
            lambda drv: drv.execute_script(
                "if (window.__gymnptOld || document.readyState !== 'complete') return null;"
                + _PAGE_JS
            )
        )
        return self._browser_page(state)

    def _browser_click(self, label: str) -> TextPage:
        return self._browser_navigate(
            "var el = Array.from(document.querySelectorAll('[data-label]'))"
            ".find(e => e.dataset.label.split(/\\s+/).join(' ') === arguments[0]);"
            "if (!el) return false; el.click(); return true;",
            label,
        )

    def _browser_search(self, query: str) -> TextPage:
        from selenium.webdriver.common.by import By

        d = self._browser.driver
        box = d.find_element(By.NAME, "q")
        box.clear()
        box.send_keys(query)
        return self._browser_navigate(
            "document.querySelector(\"button[data-label='Search']\").click(); return true;"
        )

    # ---- game hooks ---------------------------------------------------------------------------
    def _new_game(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        goal = options.get("goal")
        if goal is None:
            goal = self.catalog.sample_goal(self.py_rng)
        elif not isinstance(goal, Goal):
            raise ValueError(f"options['goal'] must be a Goal, got {type(goal).__name__}")
        self.goal = goal
        self.reward_value = None
        self.purchase = None
        self.error: str | None = None
        with self._lock:
            self._ensure_server()
            if self.sid is not None:
                self._forget_session()
            r = self._http.post("/api/sessions", json={"goal": goal.to_dict()})
            r.raise_for_status()
            self.sid = str(r.json()["sid"])
            if self.mode == "browser" and self._browser is None:
                from gymnpt.envs.web.browser import default_pool

                self._browser = default_pool().acquire()
            self.page = self._get(f"/s/{self.sid}/")

    def _forget_session(self) -> None:
        try:
            self._http.delete(f"/api/sessions/{self.sid}")
        except Exception:  # noqa: BLE001 - the server may be gone; the session goes with it
            pass
        self.sid = None

    def _to_act(self) -> list[str]:
        return ["player"]

    def _observe(self, seat: str) -> str:
        if self.error:
            return f"The shop failed: {self.error}. The episode ended."
        return self.page.text

    def _parse(self, seat: str, text: str) -> tuple[str, str]:
        kind, arg = parse_shop_action(text)
        if kind == "click":
            label = self._match_label(arg)
            if label is None:
                shown = ", ".join(f"[{k}]" for k in list(self.page.links)[:20])
                raise InvalidAction(f"there is no [{arg[:60]}] on this page. Clickable: {shown}.")
            if label == "Search":
                raise InvalidAction("to search, reply search[your query].")
            arg = label
        return kind, arg

    def _match_label(self, arg: str) -> str | None:
        if arg in self.page.links:
            return arg
        low = arg.lower()
        for label in self.page.links:
            if label.lower() == low:
                return label
        return None

    def _apply(self, moves: dict[str, Any]) -> dict[str, float]:
        kind, arg = moves["player"]
        try:
            with self._lock:
                if kind == "search":
                    if self.mode == "browser":
                        self.page = self._browser_search(arg)
                    else:
                        self.page = self._get(
                            f"/s/{self.sid}/search?" + urlencode({"q": arg, "page": 1})
                        )
                elif self.mode == "browser":
                    self.page = self._browser_click(arg)
                else:
                    self.page = self._get(self.page.links[arg])
                if "/buy/" in self.url:
                    state = self._http.get(f"/api/sessions/{self.sid}").json()
                    if state.get("done"):
                        return self._bought(state)
        except Exception as exc:  # noqa: BLE001 - a failing server or browser ends the episode
            self.error = (
                f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            )
            self._finish({"player": Outcome.ERROR}, reason=f"shop error: {self.error}")
            if self._browser is not None:
                from gymnpt.envs.web.browser import default_pool

                default_pool().release(self._browser, broken=True)
                self._browser = None
        return {"player": 0.0}

    def _bought(self, state: dict[str, Any]) -> dict[str, float]:
        reward = float(state["reward"])
        self.reward_value = reward
        self.purchase = state["purchase"]
        if self._browser is not None:
            from gymnpt.envs.web.browser import default_pool

            default_pool().release(self._browser)
            self._browser = None
        ok = reward >= 1.0 - 1e-9
        self._finish(
            {"player": Outcome.SUCCESS if ok else Outcome.FAILURE},
            reason=f"bought {self.purchase['product_id']} (reward {reward:.3f})",
        )
        return {"player": reward}

    # ---- introspection ------------------------------------------------------------------------
    @property
    def page_kind(self) -> str:
        """``home``, ``results``, ``item`` or ``done``: which page is shown."""
        path = urlsplit(self.url).path
        for kind in ("search", "item", "buy"):
            if f"/{kind}" in path:
                return {"search": "results", "item": "item", "buy": "done"}[kind]
        return "home"

    @property
    def selected_options(self) -> dict[str, str]:
        """Options selected on the product page now (from its URL)."""
        q = parse_qs(urlsplit(self.url).query)
        return {k: v[0] for k, v in q.items() if k not in ("q", "page")}

    @property
    def product_id(self) -> str | None:
        """The product shown on a product page."""
        m = re.search(r"/item/([^/?]+)", self.url)
        return m.group(1) if m else None

    def legal_actions(self, seat: str) -> list[str] | None:
        """Every click on the page, and a search for the goal's product type."""
        if self._done or self.goal is None:
            return []
        acts = [f"click[{label}]" for label in self.page.links if label != "Search"]
        return [*acts, f"search[{self.goal.product_type}]"]

    def screenshot(self, path: str) -> None:
        """Save a PNG of the page shown now (browser mode, during an episode).

        Raises:
            RuntimeError: in text mode or between episodes.
        """
        if self._browser is None:
            raise RuntimeError("screenshots need mode='browser' and an episode in progress")
        self._browser.driver.save_screenshot(path)

    def render_text(self) -> str:
        goal = self.goal.instruction if self.goal else ""
        return f"goal: {goal}\nurl: {self.url}\n{self.page.text}"

    def __del__(self) -> None:
        # An env dropped without close() still gives its browser and server back.
        try:
            browser = self.__dict__.get("_browser")
            if browser is not None:
                from gymnpt.envs.web.browser import default_pool

                self._browser = None
                default_pool().release(browser)
            if self.__dict__.get("_server") is not None:
                self._server = None
                release_shared_server()
        except Exception:  # noqa: BLE001 - at interpreter exit the pool may be gone
            pass

    def close(self) -> None:
        """End the session, give the browser back and release the server."""
        with self._lock:
            if self._http is not None and self.sid is not None:
                self._forget_session()
            if self._browser is not None:
                from gymnpt.envs.web.browser import default_pool

                default_pool().release(self._browser)
                self._browser = None
            self._drop_server()
        super().close()


def episode_metrics(trajectories: list[Any]) -> dict[str, float]:
    """Shop episode metrics: purchase rate, full-match rate and mean score."""
    n = len(trajectories)
    if not n:
        return {}
    bought = sum(1 for t in trajectories if str(t.reason or "").startswith("bought"))
    full = sum(1 for t in trajectories if t.outcome == "success")
    return {
        "shop/purchase_rate": bought / n,
        "shop/full_match_rate": full / n,
        "shop/mean_score": sum(float(t.return_) for t in trajectories) / n,
    }
