"""The shop's HTTP server: a Starlette app served by uvicorn on a loopback port.

One server serves many episodes at once; each episode is a session with its own id, goal
and purchase, and every page lives under ``/s/<session id>/``:

===============================  ===============================================
``/s/<sid>/``                    search page (the instruction and a search box)
``/s/<sid>/search?q=..&page=N``  results, 10 per page, ranked by BM25
``/s/<sid>/item/<id>?...``       product page; option links select size, colour ...
``/s/<sid>/buy/<id>?...``        buys the product with the selected options
``POST /api/sessions``           new session: ``{"goal": {...}}`` -> ``{"sid": ...}``
``GET /api/sessions/<sid>``      ``{"done", "reward", "purchase"}``
``DELETE /api/sessions/<sid>``   forget a session
``/``                            a new session with a random goal (for people)
===============================  ===============================================

Every clickable element carries a ``data-label`` attribute: the text-mode env and the
browser-mode env both click by that label. All page text is HTML-escaped, so a query or a
product text cannot add elements or scripts to a page. The server binds 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import html
import math
import random
import secrets
import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import urlencode

from gymnpt.envs.web.catalog import Catalog, Goal, Product, catalog, purchase_reward

__all__ = ["ShopServer", "build_app", "shared_server", "release_shared_server", "PAGE_SIZE"]

PAGE_SIZE = 10
MAX_SESSIONS = 20_000
MAX_QUERY = 200

_CSS = """
body{margin:0;font-family:Helvetica,Arial,sans-serif;background:#eaeded;color:#0f1111}
header{background:#131921;color:#fff;padding:10px 20px;display:flex;align-items:center;gap:24px}
header .logo{font-size:22px;font-weight:bold;color:#febd69;text-decoration:none}
header form{flex:1;display:flex}
header input{flex:1;padding:8px;font-size:15px;border:0;border-radius:4px 0 0 4px}
header button{background:#febd69;border:0;padding:8px 16px;border-radius:0 4px 4px 0;font-size:15px}
.instr{background:#232f3e;color:#fff;padding:8px 20px;font-size:14px}
main{max-width:960px;margin:16px auto;background:#fff;padding:16px 24px;border-radius:6px}
.result{display:flex;gap:16px;border-bottom:1px solid #ddd;padding:10px 0}
.thumb{width:72px;height:72px;border-radius:6px;flex:none}
.price{color:#b12704;font-weight:bold;font-size:17px}
.rating{color:#de7921}
.opts a{display:inline-block;border:1px solid #aaa;border-radius:4px;padding:4px 10px;
margin:2px;color:#0f1111;text-decoration:none}
.opts a.sel{border:2px solid #e77600;background:#fef8f2}
.buy{display:inline-block;background:#ffd814;border-radius:20px;padding:10px 28px;
color:#0f1111;text-decoration:none;font-weight:bold;margin-top:12px}
.nav a{margin-right:14px}
.attrs li{margin:2px 0}
"""

_SWATCH = {
    "black": "#222",
    "white": "#f4f4f4",
    "red": "#c0392b",
    "blue": "#2e86de",
    "navy": "#1b2a49",
    "green": "#27ae60",
    "grey": "#95a5a6",
    "beige": "#d9c6a5",
    "pink": "#f5a6c0",
    "yellow": "#f1c40f",
    "brown": "#7b4b2a",
    "purple": "#8e44ad",
}


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _link(label: str, href: str, cls: str = "", selected: bool = False) -> str:
    extra = f' class="{cls}"' if cls else ""
    sel = ' data-selected="1"' if selected else ""
    return f'<a href="{_e(href)}" data-label="{_e(label)}"{extra}{sel}>{_e(label)}</a>'


class _Sessions:
    """Session id -> state, bounded (oldest sessions are forgotten first)."""

    def __init__(self) -> None:
        self._data: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def new(self, goal: Goal) -> str:
        sid = secrets.token_hex(8)
        with self._lock:
            self._data[sid] = {"goal": goal, "purchase": None, "reward": None}
            while len(self._data) > MAX_SESSIONS:
                self._data.popitem(last=False)
        return sid

    def get(self, sid: str) -> dict[str, Any] | None:
        with self._lock:
            return self._data.get(sid)

    def drop(self, sid: str) -> None:
        with self._lock:
            self._data.pop(sid, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


def _page(sid: str, goal: Goal, title: str, body: str, query: str = "") -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{_e(title)} - gymnpt shop</title><style>{_CSS}</style></head><body>"
        f"<header><a class='logo' href='/s/{sid}/' data-label='Back to Search'>gymnpt shop</a>"
        f"<form action='/s/{sid}/search' method='get'><input name='q' value='{_e(query)}' "
        "placeholder='Search products' aria-label='search box'>"
        "<button type='submit' data-label='Search'>Search</button></form></header>"
        f"<div class='instr' id='instruction'>Instruction: {_e(goal.instruction)}</div>"
        f"<main>{body}</main></body></html>"
    )


def _thumb(p: Product, color_name: str | None = None) -> str:
    color = _SWATCH.get(color_name or p.options.get("color", ("grey",))[0], "#999")
    return f"<div class='thumb' style='background:{color}'></div>"


def _stars(r: float) -> str:
    return f"<span class='rating'>{'★' * round(r)}{'☆' * (5 - round(r))} {r:.1f}</span>"


def _search_page(sid: str, goal: Goal) -> str:
    body = (
        "<h1>Welcome to the gymnpt shop</h1>"
        "<p>Type what you are looking for in the search box and press Search.</p>"
    )
    return _page(sid, goal, "Search", body)


def _results_page(sid: str, goal: Goal, cat: Catalog, query: str, page: int) -> str:
    found = cat.search(query)
    pages = max(1, math.ceil(len(found) / PAGE_SIZE))
    page = min(max(1, page), pages)
    shown = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    nav = [_link("Back to Search", f"/s/{sid}/")]
    if page > 1:
        nav.append(_link("< Prev", f"/s/{sid}/search?" + urlencode({"q": query, "page": page - 1})))
    if page < pages:
        nav.append(_link("Next >", f"/s/{sid}/search?" + urlencode({"q": query, "page": page + 1})))
    rows = []
    for p in shown:
        href = f"/s/{sid}/item/{p.id}?" + urlencode({"q": query, "page": page})
        rows.append(
            f"<div class='result'>{_thumb(p)}<div><div>{_link(p.id, href)}</div>"
            f"<div class='title'>{_e(p.title)}</div>"
            f"<div class='price'>${p.price:.2f}</div>{_stars(p.rating)}</div></div>"
        )
    if not rows:
        rows.append("<p>No products match your search.</p>")
    body = (
        f"<div class='nav'>{' '.join(nav)}</div>"
        f"<h2>Page {page} of {pages} ({len(found)} results) for &quot;{_e(query)}&quot;</h2>"
        + "".join(rows)
    )
    return _page(sid, goal, f"Results for {query}", body, query)


def _item_page(
    sid: str, goal: Goal, p: Product, query: str, page: int, chosen: dict[str, str]
) -> str:
    base = {"q": query, "page": page}
    opts_html = []
    for name, values in p.options.items():
        links = []
        for v in values:
            sel = {**chosen, name: v}
            href = f"/s/{sid}/item/{p.id}?" + urlencode({**base, **sel})
            is_sel = chosen.get(name) == v
            links.append(_link(v, href, "sel" if is_sel else "", selected=is_sel))
        opts_html.append(f"<div class='opts'><b>{_e(name)}:</b> {' '.join(links)}</div>")
    back = f"/s/{sid}/search?" + urlencode(base)
    buy = f"/s/{sid}/buy/{p.id}?" + urlencode(chosen)
    body = (
        f"<div class='nav'>{_link('< Back to results', back)}</div>"
        f"<div class='result'>{_thumb(p, chosen.get('color'))}<div><h2>{_e(p.title)}</h2>"
        f"<div class='price'>Price: ${p.price:.2f}</div>{_stars(p.rating)}</div></div>"
        + "".join(opts_html)
        + "<h3>Features</h3><ul class='attrs'>"
        + "".join(f"<li>{_e(a)}</li>" for a in p.attributes)
        + f"</ul><p>{_e(p.description)}</p>"
        + _link("Buy Now", buy, "buy")
    )
    return _page(sid, goal, p.title, body, query)


def _done_page(sid: str, goal: Goal, p: Product, chosen: dict[str, str], reward: float) -> str:
    opts = ", ".join(f"{k}: {v}" for k, v in chosen.items()) or "none"
    body = (
        "<h1>Thank you for shopping with us!</h1>"
        f"<p>You bought {_e(p.title)} ({_e(p.id)}) for ${p.price:.2f}; options: {_e(opts)}.</p>"
        f"<p>Your score: {reward:.3f}</p>"
    )
    return _page(sid, goal, "Thank you", body)


def build_app(cat: Catalog | None = None) -> Any:
    """The Starlette app of the shop."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
    from starlette.routing import Route

    cat = cat or catalog()
    sessions = _Sessions()

    def not_found(what: str) -> HTMLResponse:
        return HTMLResponse(f"<html><body><h1>Not found</h1><p>{_e(what)}</p></body></html>", 404)

    def session_of(request: Request) -> tuple[str, dict[str, Any] | None]:
        sid = str(request.path_params.get("sid", ""))
        return sid, sessions.get(sid)

    def options_of(request: Request, p: Product) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, values in p.options.items():
            v = request.query_params.get(name)
            if v is not None and v in values:
                out[name] = v
        return out

    def page_of(request: Request) -> int:
        try:
            return max(1, min(int(request.query_params.get("page", "1")), 10_000))
        except ValueError:
            return 1

    async def index(request: Request) -> Response:
        goal = cat.sample_goal(random.Random(secrets.randbits(64)))
        sid = sessions.new(goal)
        return RedirectResponse(f"/s/{sid}/", status_code=303)

    async def home(request: Request) -> Response:
        sid, st = session_of(request)
        if st is None:
            return not_found("unknown session")
        return HTMLResponse(_search_page(sid, st["goal"]))

    async def search(request: Request) -> Response:
        sid, st = session_of(request)
        if st is None:
            return not_found("unknown session")
        query = request.query_params.get("q", "")[:MAX_QUERY]
        return HTMLResponse(_results_page(sid, st["goal"], cat, query, page_of(request)))

    async def item(request: Request) -> Response:
        sid, st = session_of(request)
        p = cat.by_id.get(str(request.path_params["pid"]))
        if st is None or p is None:
            return not_found("unknown session or product")
        query = request.query_params.get("q", "")[:MAX_QUERY]
        return HTMLResponse(
            _item_page(sid, st["goal"], p, query, page_of(request), options_of(request, p))
        )

    async def buy(request: Request) -> Response:
        sid, st = session_of(request)
        p = cat.by_id.get(str(request.path_params["pid"]))
        if st is None or p is None:
            return not_found("unknown session or product")
        chosen = options_of(request, p)
        if st["purchase"] is None:
            st["purchase"] = {"product_id": p.id, "options": chosen}
            st["reward"] = purchase_reward(p, chosen, st["goal"])
        return HTMLResponse(_done_page(sid, st["goal"], p, chosen, float(st["reward"])))

    async def new_session(request: Request) -> Response:
        try:
            data = await request.json()
            goal = Goal.from_dict(data["goal"])
        except Exception as exc:  # noqa: BLE001 - any malformed body is a 400
            return JSONResponse({"error": f"expected {{'goal': {{...}}}}: {exc}"}, 400)
        return JSONResponse({"sid": sessions.new(goal)})

    async def session_state(request: Request) -> Response:
        sid, st = session_of(request)
        if st is None:
            return JSONResponse({"error": "unknown session"}, 404)
        if request.method == "DELETE":
            sessions.drop(sid)
            return JSONResponse({"deleted": sid})
        return JSONResponse(
            {"done": st["purchase"] is not None, "reward": st["reward"], "purchase": st["purchase"]}
        )

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/s/{sid}/", home),
            Route("/s/{sid}/search", search),
            Route("/s/{sid}/item/{pid}", item),
            Route("/s/{sid}/buy/{pid}", buy),
            Route("/api/sessions", new_session, methods=["POST"]),
            Route("/api/sessions/{sid}", session_state, methods=["GET", "DELETE"]),
        ]
    )
    app.state.sessions = sessions
    return app


class ShopServer:
    """The shop app under uvicorn in a background thread, on 127.0.0.1.

    Args:
        port: TCP port; 0 picks a free one.
    """

    def __init__(self, port: int = 0) -> None:
        self.requested_port = port
        self.port = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.app: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ShopServer:
        """Start serving; returns when the socket is bound.

        Raises:
            RuntimeError: when the server does not come up within ``timeout`` seconds.
        """
        import uvicorn

        self.app = build_app()
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.requested_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve(ready))
            finally:
                loop.close()
                ready.set()

        self._thread = threading.Thread(target=run, name="gymnpt-shop-server", daemon=True)
        self._thread.start()
        ready.wait(timeout)
        if not self._server.started:
            self.stop()
            raise RuntimeError(f"the shop server did not start on port {self.requested_port}")
        self.port = int(self._server.servers[0].sockets[0].getsockname()[1])
        return self

    async def _serve(self, ready: threading.Event) -> None:
        task = asyncio.ensure_future(self._server.serve())
        while not self._server.started and not task.done():
            await asyncio.sleep(0.01)
        ready.set()
        await task

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


_shared: ShopServer | None = None
_users = 0
_shared_lock = threading.Lock()


def shared_server() -> ShopServer:
    """The process-wide shop server, started by its first user (pair with a release)."""
    global _shared, _users
    with _shared_lock:
        if _shared is None or not _shared.running:
            _shared = ShopServer().start()
        _users += 1
        return _shared


def release_shared_server() -> None:
    """One user fewer; the server stops when the last user has gone."""
    global _shared, _users
    with _shared_lock:
        _users = max(0, _users - 1)
        if _users == 0 and _shared is not None:
            _shared.stop()
            _shared = None
