"""The plugin manager: loads ``gymnpt`` entry points and calls their hooks.

A plugin that fails to import, or whose hook raises, is recorded by name with its error
(:attr:`PluginManager.failures`) and reported; the other plugins still load.
``GYMNPT_DISABLE_PLUGIN_AUTOLOAD=1`` turns entry-point autoloading off.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import traceback
from typing import Any

import pluggy

from gymnpt.core import hookspecs

log = logging.getLogger("gymnpt.plugins")

ENTRY_POINT_GROUP = "gymnpt"
DISABLE_ENV = "GYMNPT_DISABLE_PLUGIN_AUTOLOAD"


class PluginManager(pluggy.PluginManager):
    """A :class:`pluggy.PluginManager` that tolerates broken plugins."""

    def __init__(self) -> None:
        super().__init__("gymnpt")
        self.add_hookspecs(hookspecs)
        #: plugin name -> error text, for plugins that failed to import or register.
        self.failures: dict[str, str] = {}

    def load_entrypoints(self, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Import and register every entry point of ``group``; returns the names loaded."""
        loaded = []
        for ep in sorted(importlib.metadata.entry_points(group=group), key=lambda e: e.name):
            if self.has_plugin(ep.name) or self.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
            except BaseException as exc:  # noqa: BLE001 - a plugin's import may raise anything
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self._fail(ep.name, exc)
                continue
            try:
                self.register(plugin, name=ep.name)
            except Exception as exc:
                self._fail(ep.name, exc)
                continue
            loaded.append(ep.name)
        return loaded

    def _fail(self, name: str, exc: BaseException) -> None:
        msg = f"{type(exc).__name__}: {exc}"
        self.failures[name] = msg
        log.warning("gymnpt plugin %r failed to load: %s", name, msg)
        log.debug("%s", "".join(traceback.format_exception(exc)))

    def call_each(self, hook_name: str, **kwargs: Any) -> None:
        """Call every implementation of ``hook_name`` separately, isolating failures."""
        hook = getattr(self.hook, hook_name)
        for impl in reversed(hook.get_hookimpls()):
            try:
                impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:
                self._fail(impl.plugin_name, exc)

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call an observer hook; an observer that raises is reported, never fatal."""
        self.call_each(hook_name, **kwargs)


def autoload_enabled() -> bool:
    return os.environ.get(DISABLE_ENV, "").strip().lower() not in {"1", "true", "yes", "on"}


def make_plugin_manager(
    *, autoload: bool | None = None, plugins: list[Any] | None = None
) -> PluginManager:
    """Build a plugin manager with entry points (unless disabled) and explicit ``plugins``."""
    pm = PluginManager()
    if autoload if autoload is not None else autoload_enabled():
        pm.load_entrypoints()
    for p in plugins or []:
        pm.register(p)
    return pm
