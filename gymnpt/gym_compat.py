"""``gymnasium.make("gymnpt/<id>")`` for every single-agent gymnpt env.

Gymnasium calls :func:`register_gymnasium_envs` through its ``gymnasium.envs`` entry point
when it is imported; env specs are looked up lazily through the gymnpt registry.
"""

from __future__ import annotations

from typing import Any

NAMESPACE = "gymnpt"


def _make(env_id: str, **kwargs: Any) -> Any:
    from gymnpt.registry import default_registry

    env = default_registry().make(env_id, **kwargs)
    return env.env if hasattr(env, "env") and env.__class__.__name__ == "OrderEnforcing" else env


def register_gymnasium_envs() -> None:
    """Register every single-agent env of the default registry under ``gymnpt/``."""
    import gymnasium

    from gymnpt.registry import default_registry

    try:
        reg = default_registry()
    except Exception:  # never break `import gymnasium` because of a plugin
        return
    for spec in reg.envs.values():
        if not spec.single_agent or spec.unavailable:
            continue
        gid = f"{NAMESPACE}/{spec.id}"
        if gid in gymnasium.registry:
            continue
        gymnasium.register(id=gid, entry_point=_make, kwargs={"env_id": spec.id})
