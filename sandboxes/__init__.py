"""Code-execution sandboxes behind one contract (the ``sandboxes`` plugin).

Backends, strongest first: ``docker`` (30), ``bwrap`` (20), ``local`` (10). ``auto`` picks
the strongest backend that contains untrusted code and whose canary program ran here
(``docker``, then ``bwrap``), and says which one it picked and why it skipped the others.
``local`` is for trusted code only and is never picked automatically::

    from gymnpt.sandboxes import get_sandbox

    sb = get_sandbox("auto", wall_time=5)
    result = sb.run(["python3", "main.py"], files={"main.py": "print(1)"})
    print(result.status, result.stdout)

See :mod:`gymnpt.sandboxes.base` for the contract (:class:`Limits`, :class:`ExecResult`,
:class:`Status`) and ``docs/sandboxes.md`` for what each backend contains and costs.
"""

from __future__ import annotations

import sys
import threading
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
    "auto_choice",
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
            description="warm locked-down containers, one per session, docker exec per command",
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
            description="trusted code only: a child process with rlimits and a private uid",
            strength=10,
            available=_local_available,
            untrusted=False,
        )
    )


def get_sandbox(name: str = "auto", **limits: Any) -> Any:
    """Create a sandbox backend by name (``auto``, ``local``, ``bwrap``, ``docker``).

    Keyword arguments are default :class:`Limits` fields (``wall_time=5``) or backend options.
    ``auto`` takes ``docker`` or ``bwrap`` (never ``local``, which is for trusted code only)
    and prints its choice and the reasons for the skipped backends on stderr, once per
    process.

    Raises:
        RuntimeError: when the named backend is not available here (the message says why).
    """
    from gymnpt.core.registry import default_registry

    if name == "auto":
        _say_auto_choice()
    return default_registry().make_sandbox(name, **limits)


_said: list[str] = []
_said_lock = threading.Lock()


def auto_choice() -> tuple[str | None, dict[str, str]]:
    """The backend ``auto`` picks here (None: none) and why each other backend is skipped."""
    from gymnpt.core.registry import default_registry

    skipped: dict[str, str] = {}
    for spec in sorted(default_registry().sandboxes.values(), key=lambda s: -s.strength):
        why = None if spec.untrusted else "trusted code only"
        why = why or (spec.available() if spec.available else None)
        if why is None:
            return spec.name, skipped
        skipped[spec.name] = why
    return None, skipped


def _say_auto_choice() -> None:
    """Tell (once per process, on stderr) which backend ``auto`` picks and why."""
    with _said_lock:
        if _said:
            return
        picked, skipped = auto_choice()
        reasons = "; ".join(f"{k}: {v}" for k, v in skipped.items())
        text = f"sandbox=auto: {picked or 'no backend'}" + (
            f" (skipped {reasons})" if reasons else ""
        )
        _said.append(text)
    print(text, file=sys.stderr)


def available_sandboxes() -> dict[str, str | None]:
    """Each registered backend mapped to None (available) or the reason it is not."""
    from gymnpt.core.registry import default_registry

    out: dict[str, str | None] = {}
    for spec in sorted(default_registry().sandboxes.values(), key=lambda s: -s.strength):
        out[spec.name] = spec.available() if spec.available else None
    return out
