"""``gymnasium.make("gymnpt/<id>")`` for every single-agent gymnpt env.

Gymnasium 1.x no longer loads plugins through entry points, so gymnpt has to be imported
for its ids to exist in Gymnasium's registry; ``import gymnpt`` itself stays cheap (it does
not import Gymnasium):

* when Gymnasium is already imported, ``import gymnpt`` registers the ids at once;
* otherwise it registers them right after Gymnasium's own import finishes (a one-shot
  import hook), whichever of the two is imported first;
* ``gymnasium.make("gymnpt:gymnpt/snake")`` imports gymnpt itself (Gymnasium's
  ``module:id`` form), so it works in a fresh interpreter with nothing imported.

Gymnasium's id grammar allows no ``/`` in a name, so a ``/`` of a gymnpt id becomes ``-``:
``code/humaneval`` is ``gymnpt/code-humaneval`` (:func:`gymnasium_id`). Ids with other
characters Gymnasium rejects are left out.

The list of ids is cached (:func:`gymnpt.core.plugins.read_cache`), so registering costs
no plugin import; the cache is rewritten whenever the default registry is built and is
invalidated when installed distributions or plugin modules change. With no valid cache,
the plugins are loaded once to build it, except while another module is half-imported
(loading plugins then could see it half-made); the ids then appear when the registry is
first built (any ``gymnpt.make``).
"""

from __future__ import annotations

import re
import sys
from typing import Any

NAMESPACE = "gymnpt"
CACHE_NAME = "gymnasium-ids"
_NAME_RE = re.compile(r"^[\w:.-]+$")
_registered: set[str] = set()


def gymnasium_id(env_id: str) -> str:
    """The Gymnasium id of a gymnpt env id: ``"code/humaneval"`` -> ``"gymnpt/code-humaneval"``."""
    return f"{NAMESPACE}/{env_id.replace('/', '-')}"


def make_env(env_id: str, **kwargs: Any) -> Any:
    """Gymnasium's entry point for every ``gymnpt/<id>``: the env without gymnpt's wrapper."""
    from gymnpt.core.registry import default_registry

    env = default_registry().make(env_id, **kwargs)
    return env.env if hasattr(env, "env") and env.__class__.__name__ == "OrderEnforcing" else env


def single_agent_ids(registry: Any) -> list[str]:
    """Ids of the available single-agent envs of ``registry`` that Gymnasium can name."""
    return sorted(
        spec.id
        for spec in registry.envs.values()
        if spec.single_agent
        and not spec.unavailable
        and _NAME_RE.match(gymnasium_id(spec.id).partition("/")[2])
    )


def _register_ids(ids: list[str]) -> int:
    import gymnasium

    done = 0
    for env_id in ids:
        gid = gymnasium_id(env_id)
        if gid in gymnasium.registry:
            continue
        try:
            gymnasium.register(
                id=gid,
                entry_point="gymnpt.core.gym_compat:make_env",
                kwargs={"env_id": env_id},
            )
        except gymnasium.error.Error:  # an id that clashes with one Gymnasium has
            continue
        _registered.add(gid)
        done += 1
    return done


def sync_registry(registry: Any, *, autoloaded: bool) -> None:
    """Called when the default registry is built: cache its ids and register them.

    Args:
        registry: the freshly built default registry.
        autoloaded: whether it came from the installed entry points (only then is it cached).
    """
    from gymnpt.core.plugins import plugin_files, read_cache, write_cache

    ids = single_agent_ids(registry)
    if autoloaded and registry.plugin_manager is not None and read_cache(CACHE_NAME) != ids:
        write_cache(CACHE_NAME, ids, plugin_files(registry.plugin_manager))
    if "gymnasium.envs.registration" in sys.modules:
        _register_ids(ids)


def _import_in_progress() -> bool:
    """True while a module other than gymnpt's package or Gymnasium is half-imported."""
    for name, module in list(sys.modules.items()):
        if name == "gymnpt" or name.startswith("gymnasium"):
            continue
        spec = getattr(module, "__spec__", None)
        if spec is not None and getattr(spec, "_initializing", False):
            return True
    return False


def register_gymnasium_envs() -> int:
    """Register every single-agent env under ``gymnpt/``; returns how many were added.

    Uses the cached id list; without one, builds the default registry (which registers the
    ids) unless an import is in progress. Never raises: a broken plugin must not break
    ``import gymnasium``.
    """
    from gymnpt.core.plugins import autoload_enabled, read_cache

    try:
        ids = read_cache(CACHE_NAME) if autoload_enabled() else None
        if isinstance(ids, list):
            return _register_ids([str(i) for i in ids])
        if _import_in_progress():
            return 0
        from gymnpt.core.registry import default_registry

        before = len(_registered)
        default_registry()  # registers through sync_registry
        return len(_registered) - before
    except Exception:  # noqa: BLE001 - never break the importer
        return 0


class _AfterGymnasiumImport:
    """A one-shot ``sys.meta_path`` finder: registers gymnpt's ids once Gymnasium is imported."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != "gymnasium":
            return None
        import importlib.util

        uninstall_import_hook()
        spec = importlib.util.find_spec(fullname)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original = loader.exec_module

        def exec_module(module: Any) -> None:
            original(module)
            loader.exec_module = original  # type: ignore[union-attr]
            register_gymnasium_envs()

        loader.exec_module = exec_module  # type: ignore[union-attr]
        return spec


def install_import_hook() -> None:
    """Register the ids now if Gymnasium is imported, else right after it is."""
    if "gymnasium.envs.registration" in sys.modules:
        register_gymnasium_envs()
    elif not any(isinstance(f, _AfterGymnasiumImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterGymnasiumImport())


def uninstall_import_hook() -> None:
    """Remove the import hook (it removes itself once Gymnasium is imported)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _AfterGymnasiumImport)]
