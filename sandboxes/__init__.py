"""Code-execution sandboxes behind one contract (the ``sandboxes`` plugin).

Backends, strongest first: ``docker`` (30), ``bwrap`` (20), ``local`` (10). ``auto`` picks
the strongest one available here::

    from gymnpt.sandboxes import get_sandbox

    sb = get_sandbox("auto", wall_time=5)
    result = sb.run(["python3", "main.py"], files={"main.py": "print(1)"})
    print(result.status, result.stdout)

See :mod:`gymnpt.sandboxes.base` for the contract (:class:`Limits`, :class:`ExecResult`,
:class:`Status`).
"""

from __future__ import annotations

from typing import Any

from gymnpt.core.hookspecs import hookimpl
from gymnpt.sandboxes.base import ExecResult, Limits, Sandbox, SandboxError, Session, Status

__all__ = [
    "ExecResult",
    "Limits",
    "Sandbox",
    "SandboxError",
    "Session",
    "Status",
    "get_sandbox",
    "available_sandboxes",
    "gymnpt_register_sandboxes",
]


def _local_available() -> str | None:
    from gymnpt.sandboxes.local import local_available

    return local_available()


def _bwrap_available() -> str | None:
    from gymnpt.sandboxes.bwrap import bwrap_available

    return bwrap_available()


def _docker_available() -> str | None:
    from gymnpt.sandboxes.docker import docker_available

    return docker_available()


@hookimpl
def gymnpt_register_sandboxes(registry: Any) -> None:
    """Register the ``local``, ``bwrap`` and ``docker`` backends."""
    from gymnpt.core.registry import SandboxSpec

    registry.register_sandbox(
        SandboxSpec(
            name="docker",
            factory="gymnpt.sandboxes.docker:DockerSandbox",
            description="a locked-down container per command (needs a Docker daemon)",
            strength=30,
            available=_docker_available,
        )
    )
    registry.register_sandbox(
        SandboxSpec(
            name="bwrap",
            factory="gymnpt.sandboxes.bwrap:BwrapSandbox",
            description="bubblewrap: all namespaces unshared, read-only system, no network",
            strength=20,
            available=_bwrap_available,
        )
    )
    registry.register_sandbox(
        SandboxSpec(
            name="local",
            factory="gymnpt.sandboxes.local:LocalSandbox",
            description="a child process with rlimits, a private uid and namespaces when root",
            strength=10,
            available=_local_available,
        )
    )


def get_sandbox(name: str = "auto", **limits: Any) -> Any:
    """Create a sandbox backend by name (``auto``, ``local``, ``bwrap``, ``docker``).

    Keyword arguments are default :class:`Limits` fields (``wall_time=5``) or backend options.

    Raises:
        RuntimeError: when the named backend is not available here (the message says why).
    """
    from gymnpt.core.registry import default_registry

    return default_registry().make_sandbox(name, **limits)


def available_sandboxes() -> dict[str, str | None]:
    """Each registered backend mapped to None (available) or the reason it is not."""
    from gymnpt.core.registry import default_registry

    out: dict[str, str | None] = {}
    for spec in sorted(default_registry().sandboxes.values(), key=lambda s: -s.strength):
        out[spec.name] = spec.available() if spec.available else None
    return out
