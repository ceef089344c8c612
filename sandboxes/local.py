"""The ``local`` backend: a child process with rlimits, a private uid and namespaces.

It needs nothing beyond Linux and Python. Running as root it is fairly strong: each command
gets its own unprivileged uid (so that ``RLIMIT_NPROC`` binds it alone, and every process
it leaves behind is killed by uid), a new mount namespace with a private ``/tmp``, an empty
network namespace, and rlimits. Running as an ordinary user it has rlimits, a
cleared environment and process-group kills only; prefer ``bwrap`` there.
"""

from __future__ import annotations

from gymnpt.sandboxes.base import Limits
from gymnpt.sandboxes.process import (
    _CLONE_NEWNS,
    ChildPlan,
    ProcessSandbox,
    _nproc_for,
    _rlimits,
    empty_netns_fd,
    namespaces_available,
)

__all__ = ["LocalSandbox", "local_available"]


class LocalSandbox(ProcessSandbox):
    """Run commands as plain child processes under rlimits (see the module docs).

    Args:
        limits: Default limits (keyword overrides such as ``wall_time=2`` also work).
        drop_privileges: Run as a pool uid; default: when running as root.
        namespaces: Use a mount namespace and an empty network namespace; default: when the kernel allows.
        python: The interpreter for ``{python}`` in code-env configs.
    """

    name = "local"

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        drop_privileges: bool | None = None,
        namespaces: bool | None = None,
        python: str | None = None,
        **limit_overrides: object,
    ) -> None:
        super().__init__(limits, drop_privileges=drop_privileges, python=python, **limit_overrides)
        ns_ok = self.drop_privileges and namespaces_available() is None
        self.namespaces = ns_ok if namespaces is None else bool(namespaces) and ns_ok

    def _plan(self, limits: Limits, uid: int | None) -> ChildPlan:
        if not self.namespaces:
            return ChildPlan(rlimits=_rlimits(limits, _nproc_for(limits, uid)), uid=uid)
        return ChildPlan(
            rlimits=_rlimits(limits, _nproc_for(limits, uid)),
            uid=uid,
            unshare_flags=_CLONE_NEWNS,
            tmpfs_size=limits.disk_mb * 1024 * 1024,
            netns_fd=-1 if limits.network else empty_netns_fd(),
        )


def local_available() -> str | None:
    """None: the local backend works wherever Linux and Python do."""
    import sys

    return None if sys.platform.startswith("linux") else "the local sandbox needs Linux"
