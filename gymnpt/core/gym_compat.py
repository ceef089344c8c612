"""``gymnasium.make("gymnpt/<id>")`` for every single-agent gymnpt env.

``import gymnpt`` calls :func:`register_gymnasium_envs`, which registers every available
single-agent env of the default registry under the ``gymnpt/`` namespace (with
``GYMNPT_DISABLE_PLUGIN_AUTOLOAD=1`` only the plugins registered by hand are seen).
"""

from __future__ import annotations

from typing import Any

NAMESPACE = "gymnpt"


def _make(env_id: str, **kwargs: Any) -> Any:
    from gymnpt.core.registry import default_registry

    env = default_registry().make(env_id, **kwargs)
    return env.env if hasattr(env, "env") and env.__class__.__name__ == "OrderEnforcing" else env


def register_gymnasium_envs() -> None:
    """Register every single-agent env of the default registry under ``gymnpt/``.

    A ``/`` inside a gymnpt id becomes ``-`` (``code/humaneval`` is ``gymnpt/code-humaneval``).
    """
    import gymnasium

    from gymnpt.core.registry import default_registry

    try:
        reg = default_registry()
    except Exception:  # never break `import gymnasium` because of a plugin
        return
    for spec in reg.envs.values():
        if not spec.single_agent or spec.unavailable:
            continue
        gid = f"{NAMESPACE}/{spec.id.replace('/', '-')}"
        if gid in gymnasium.registry:
            continue
        try:
            gymnasium.register(id=gid, entry_point=_make, kwargs={"env_id": spec.id})  # type: ignore[arg-type]
        except gymnasium.error.Error:  # an id gymnasium's grammar does not accept
            continue
