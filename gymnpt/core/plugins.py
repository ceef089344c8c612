"""The plugin manager: loads ``gymnpt`` entry points and calls their hooks.

A plugin that fails to import, or whose hook raises, is recorded by name with its error
(:attr:`PluginManager.failures`) and reported; the other plugins still load.
``GYMNPT_DISABLE_PLUGIN_AUTOLOAD=1`` turns entry-point autoloading off.

Facts that are slow to compute and change only when packages are installed (which single-agent
envs exist, for ``gymnasium.make``; which TextArena games can run here) are kept in a small
JSON cache (:func:`read_cache` / :func:`write_cache`) under ``$GYMNPT_CACHE_DIR`` (default
``$XDG_CACHE_HOME/gymnpt`` or ``~/.cache/gymnpt``). An entry is valid while the installed
distributions (the ``*.dist-info`` folders on ``sys.path``, with their modification times) and
the files it names are unchanged. ``GYMNPT_NO_CACHE=1`` turns the cache off.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pluggy

from gymnpt.core import hookspecs

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "gymnpt"
DISABLE_ENV = "GYMNPT_DISABLE_PLUGIN_AUTOLOAD"
CACHE_DIR_ENV = "GYMNPT_CACHE_DIR"
NO_CACHE_ENV = "GYMNPT_NO_CACHE"
_CACHE_VERSION = 1


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
    """False when ``GYMNPT_DISABLE_PLUGIN_AUTOLOAD`` is set to 1/true/yes/on."""
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


# ---- the cache of facts derived from the installed packages ----------------------------------


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def cache_dir() -> Path:
    """The folder of gymnpt's cache files."""
    explicit = os.environ.get(CACHE_DIR_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gymnpt"


def installed_fingerprint() -> str:
    """A digest of the distributions installed in the package folders on ``sys.path``.

    Installing, upgrading, removing or reinstalling a package (editable ones included) changes
    it; it costs one directory listing per ``sys.path`` entry, and imports nothing.
    """
    h = hashlib.sha256(f"{sys.version_info[:2]}|{sys.prefix}".encode())
    # Only package folders: the script's folder or the working directory at the front of
    # sys.path differs between processes and must not change the digest.
    for entry in sorted({p for p in sys.path if p.endswith(("site-packages", "dist-packages"))}):
        try:
            with os.scandir(entry) as it:
                found = sorted(
                    (e.name, e.stat().st_mtime_ns)
                    for e in it
                    if e.name.endswith((".dist-info", ".egg-info", ".egg-link", ".pth"))
                )
        except OSError:
            continue
        h.update(f"{entry}\0".encode())
        for name, mtime in found:
            h.update(f"{name}:{mtime}\0".encode())
    return h.hexdigest()


def _stamp(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def read_cache(name: str) -> Any:
    """The value stored under ``name``, or None when absent, stale, or caching is off."""
    if _flag(NO_CACHE_ENV):
        return None
    try:
        data = json.loads((cache_dir() / f"{name}.json").read_text(encoding="utf-8"))
        if data.get("version") != _CACHE_VERSION:
            return None
        if data.get("installed") != installed_fingerprint():
            return None
        if any(_stamp(p) != m for p, m in data.get("files", {}).items()):
            return None
        return data.get("value")
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def write_cache(name: str, value: Any, files: Iterable[str] = ()) -> None:
    """Store a JSON-serialisable ``value`` under ``name``, valid while nothing changes.

    Args:
        name: the cache entry (a file name without suffix).
        value: what to store.
        files: paths (files or folders) whose modification also invalidates the entry.
    """
    if _flag(NO_CACHE_ENV):
        return
    data = {
        "version": _CACHE_VERSION,
        "installed": installed_fingerprint(),
        "files": {str(p): _stamp(str(p)) for p in files},
        "value": value,
    }
    path = cache_dir() / f"{name}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:  # a read-only home only costs speed
        log.debug("cannot write the gymnpt cache %s: %s", path, exc)


def plugin_files(pm: Any) -> list[str]:
    """Source files of the plugins registered in ``pm`` (editing one invalidates caches)."""
    files = []
    for _, plugin in pm.list_name_plugin():
        f = getattr(plugin, "__file__", None) or getattr(
            sys.modules.get(getattr(plugin, "__module__", "") or ""), "__file__", None
        )
        if f:
            files.append(str(f))
    return sorted(set(files))
