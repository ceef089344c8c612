"""Web tasks (the ``web`` plugin): a local shop on a real HTTP server, and MiniWoB++.

==========================  ===================================================================
id                          env
==========================  ===================================================================
``web/shop``                find and buy the product an instruction describes (text mode)
``web/shop-browser``        the same shop driven through headless Chromium
``web/miniwob/<task>``      every MiniWoB++ task the ``miniwob`` package ships, in Chromium
==========================  ===================================================================

Envs that need Chromium are listed as unavailable, with the install command, where it is
missing; MiniWoB++ tasks that need drags, canvas coordinates or real-time reflexes are listed
as unavailable with that reason. ``bot:reference`` solves the shop and the MiniWoB++ tasks in
:data:`gymnpt.envs.web.bots.MINIWOB_SOLVERS`; ``bot:random`` clicks at random.
``python -m gymnpt.envs.web serve shop --port 3000`` opens the shop for people.

The browser envs carry the tag ``conformance:sampled``: the project's conformance suite leaves
them to tests/envs/web, which runs ``check_env`` on a sample of MiniWoB++ tasks (one browser
page each, over a hundred ids) and compares the shop's browser mode with its text mode page
for page. docs/web-tasks.md has the details.
"""

from __future__ import annotations

from typing import Any

from gymnpt import hookimpl

__all__ = ["gymnpt_register_envs", "gymnpt_register_agents"]

_P = "gymnpt.envs.web."
_MINIWOB_SOLVED = (
    "click-test",
    "click-test-2",
    "click-button",
    "click-link",
    "focus-text",
    "focus-text-2",
    "enter-text",
    "enter-password",
    "login-user",
    "click-checkboxes",
    "click-option",
    "click-dialog",
)


@hookimpl
def gymnpt_register_envs(registry: Any) -> None:
    """Register the shop and every MiniWoB++ task."""
    from gymnpt import EnvSpec
    from gymnpt.envs.web.browser import browser_unavailable
    from gymnpt.envs.web.miniwob_env import UNSUPPORTED, miniwob_tasks

    no_browser = browser_unavailable()
    bots = ("bot:reference", "bot:random")
    registry.register_env(
        EnvSpec(
            id="web/shop",
            entry_point=_P + "shop:ShopEnv",
            family="web",
            kwargs={"mode": "text", "max_steps": 15},
            description="WebShop-style shop on a local HTTP server: search, pick options, buy",
            bots=bots,
            tags=("web", "shop", "multi-turn"),
            max_turns=15,
            max_new_tokens=48,
            step_timeout=30.0,
            blocking=True,
            metrics=_P + "shop:episode_metrics",
        )
    )
    registry.register_env(
        EnvSpec(
            id="web/shop-browser",
            entry_point=_P + "shop:ShopEnv",
            family="web",
            kwargs={"mode": "browser", "max_steps": 15},
            description="the shop driven through headless Chromium (same pages and actions)",
            bots=bots,
            unavailable=no_browser,
            tags=("web", "shop", "browser", "multi-turn", "conformance:sampled"),
            max_turns=15,
            max_new_tokens=48,
            step_timeout=120.0,
            blocking=True,
            metrics=_P + "shop:episode_metrics",
        )
    )
    for task in miniwob_tasks():
        registry.register_env(
            EnvSpec(
                id=f"web/miniwob/{task}",
                entry_point=_P + "miniwob_env:MiniWoBEnv",
                family="web",
                kwargs={"task": task, "max_steps": 20},
                description=f"MiniWoB++ task {task} in headless Chromium",
                bots=("bot:reference", "bot:random")
                if task in _MINIWOB_SOLVED
                else ("bot:random",),
                unavailable=no_browser or UNSUPPORTED.get(task),
                tags=("web", "miniwob", "browser", "multi-turn", "conformance:sampled"),
                max_turns=20,
                max_new_tokens=48,
                step_timeout=120.0,
                blocking=True,
            )
        )


@hookimpl
def gymnpt_register_agents(registry: Any) -> None:
    """Register the web bots for the web envs."""
    from gymnpt import AgentSpec

    ids = ("web/shop", "web/shop-browser", *(f"web/miniwob/{t}" for t in _MINIWOB_SOLVED))
    registry.register_agent(
        AgentSpec(
            name="bot:reference",
            factory=_P + "bots:ReferenceBot",
            description="scripted solver: shops by the instruction; solves 12 MiniWoB++ tasks",
            envs=ids,
        )
    )
    registry.register_agent(
        AgentSpec(
            name="bot:random",
            factory=_P + "bots:RandomBot",
            description="clicks a random listed element",
            envs=("family:web",),
        )
    )
