"""The ``bwrap`` backend: bubblewrap (Debian package ``bubblewrap``).

Each command runs inside ``bwrap`` with every namespace unshared (user, mount, PID, network,
IPC, UTS, cgroup), a read-only view of the system (``/usr``, ``/etc``, ``/opt`` and the
interpreter's prefix), fresh ``/proc`` and ``/dev``, a size-limited tmpfs on ``/tmp``, the
work dir bound at ``/sandbox``, all capabilities dropped and no further user namespaces.
bwrap itself runs as a pool uid under the command's rlimits, so ``RLIMIT_NPROC`` binds.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys

from gymnpt.sandboxes.base import WORKDIR, Limits, SandboxError
from gymnpt.sandboxes.process import ChildPlan, ProcessSandbox, _nproc_for, _rlimits

__all__ = ["BwrapSandbox", "bwrap_available"]

_SYSTEM_DIRS = ("/usr", "/etc", "/opt")
_ROOT_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


@functools.lru_cache(maxsize=1)
def _bwrap_path() -> str | None:
    return shutil.which("bwrap") or shutil.which("bwrap", path="/usr/bin:/usr/local/bin")


@functools.lru_cache(maxsize=1)
def _bwrap_help() -> str:
    path = _bwrap_path()
    if not path:
        return ""
    try:
        return subprocess.run([path, "--help"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


class BwrapSandbox(ProcessSandbox):
    """Run commands inside bubblewrap (see the module docs).

    Args:
        limits: Default limits (keyword overrides such as ``wall_time=2`` also work).
        ro_paths: Extra host paths to show read-only at the same place (toolchains).
        drop_privileges: Run bwrap as a pool uid; default: when running as root.
        python: The interpreter for ``{python}`` in code-env configs.
    """

    name = "bwrap"
    _signal_exit_codes = True
    _sweep = False  # the PID namespace dies with the program

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        ro_paths: tuple[str, ...] | list[str] = (),
        drop_privileges: bool | None = None,
        python: str | None = None,
        **limit_overrides: object,
    ) -> None:
        super().__init__(limits, drop_privileges=drop_privileges, python=python, **limit_overrides)
        path = _bwrap_path()
        if path is None:
            raise SandboxError("bwrap is not installed (apt-get install bubblewrap)")
        self.bwrap = path
        self.ro_paths = tuple(ro_paths)
        self._fixed = self._fixed_args()

    def _fixed_args(self) -> list[str]:
        helptext = _bwrap_help()
        args = [self.bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session"]
        if "--disable-userns" in helptext:
            args.append("--disable-userns")
        args += ["--cap-drop", "ALL", "--hostname", "sandbox"]
        shown: list[str] = []
        for d in _SYSTEM_DIRS:
            if os.path.isdir(d):
                args += ["--ro-bind", d, d]
                shown.append(d)
        for link in _ROOT_LINKS:
            if os.path.islink(link):
                args += ["--symlink", os.readlink(link), link]
            elif os.path.isdir(link):
                args += ["--ro-bind", link, link]
                shown.append(link)
        # The interpreter's prefix (when it lives outside /usr) and any extra toolchains.
        extra = [os.path.dirname(os.path.dirname(os.path.realpath(self.python))), *self.ro_paths]
        for p in extra:
            p = os.path.realpath(p)
            if os.path.exists(p) and not any(p == s or p.startswith(s + "/") for s in shown):
                args += ["--ro-bind", p, p]
                shown.append(p)
        args += ["--proc", "/proc", "--dev", "/dev"]
        return args

    def _inner_workdir(self, workdir: str) -> str:
        return WORKDIR

    def _wrap(
        self, argv: list[str], workdir: str, limits: Limits, env: dict[str, str]
    ) -> list[str]:
        args = list(self._fixed)
        if limits.network:
            args.append("--share-net")
        args += ["--size", str(limits.disk_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        args += ["--bind", workdir, WORKDIR, "--chdir", WORKDIR]
        args += ["--uid", "65534", "--gid", "65534", "--"]
        return args + argv

    def _plan(self, limits: Limits, uid: int | None) -> ChildPlan:
        # bwrap and its helper process count towards RLIMIT_NPROC too.
        nproc = _nproc_for(limits, uid)
        return ChildPlan(rlimits=_rlimits(limits, None if nproc is None else nproc + 2), uid=uid)

    def _sandbox_failed(self, exit_code: int | None, stderr: str) -> str | None:
        if exit_code == 1 and stderr.startswith("bwrap: "):
            return "bubblewrap failed: " + stderr.splitlines()[0][len("bwrap: ") :]
        return None


@functools.lru_cache(maxsize=1)
def bwrap_available() -> str | None:
    """None when bubblewrap is installed and can create its namespaces here; else why not."""
    if not sys.platform.startswith("linux"):
        return "bubblewrap needs Linux"
    if _bwrap_path() is None:
        return "bwrap is not installed (apt-get install bubblewrap)"
    # The canary: a program must run inside and come back with its output.
    try:
        sb = BwrapSandbox(wall_time=10)
        result = sb.run([sb.python, "-I", "-c", "print(6 * 7)"])
    except (SandboxError, OSError) as exc:
        return str(exc)
    if not (result.ok and result.stdout == "42\n"):
        return (
            f"bwrap cannot create a sandbox here: {result.summary()} {result.stderr.strip()[:200]}"
        )
    return None
