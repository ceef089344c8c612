"""First-party policies and bots, registered through the ``gymnpt_register_agents`` hook."""

from __future__ import annotations

from typing import Any

from gymnpt.core.hookspecs import hookimpl


@hookimpl
def gymnpt_register_agents(registry: Any) -> None:
    from gymnpt.agents import bots, lm

    bots.register(registry)
    lm.register(registry)
