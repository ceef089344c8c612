"""Process machinery shared by the ``local`` and ``bwrap`` backends.

A command runs as a child process that, before ``exec``:

* starts a new session (its own process group),
* when running as root: enters a new mount namespace with a private ``/tmp`` and an empty
  network namespace where the kernel allows them, then drops to an unprivileged uid taken from a pool, one uid per concurrent command so
  that ``RLIMIT_NPROC`` bounds each command on its own,
* sets rlimits (address space, CPU time, file size, processes, no core files).

The parent feeds stdin, reads stdout and stderr with a cap while the program runs, watches
the wall clock and the work dir's size, and kills the process group at the end, and then
every process of the pool uid (descendants that started their own session too).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import math
import os
import random
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gymnpt.sandboxes.base import (
    SANDBOX_PATH,
    WORKDIR,
    ExecResult,
    Limits,
    SandboxError,
    Status,
    classify,
    decode,
    normalize_command,
    normalize_files,
    sandbox_env,
)

__all__ = ["ProcessSandbox", "ProcessSession", "namespaces_available", "sandbox_python", "is_root"]

_CLONE_NEWNS = 0x00020000
_CLONE_NEWNET = 0x40000000
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18
_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38

_libc: Any = None
with contextlib.suppress(OSError):
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)

#: Directories that get a private, size-limited tmpfs in the local backend.
PRIVATE_TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")


def is_root() -> bool:
    """Whether this process runs as root (uid 0)."""
    return os.geteuid() == 0


def _world_usable(path: str) -> bool:
    """Whether an unprivileged user can traverse to and execute ``path``."""
    path = os.path.realpath(path)
    try:
        if not os.stat(path).st_mode & 0o001:
            return False
        parent = os.path.dirname(path)
        while True:
            if not os.stat(parent).st_mode & 0o001:
                return False
            if parent == os.path.dirname(parent):
                return True
            parent = os.path.dirname(parent)
    except OSError:
        return False


def sandbox_python() -> str:
    """A Python interpreter that an unprivileged sandboxed program can run.

    ``GYMNPT_SANDBOX_PYTHON`` wins; then this interpreter when every user can reach it;
    then ``python3`` on the sandbox PATH.
    """
    env = os.environ.get("GYMNPT_SANDBOX_PYTHON")
    if env:
        return env
    if _world_usable(sys.executable):
        return sys.executable
    found = shutil.which("python3", path=SANDBOX_PATH)
    return found or sys.executable


def _base_dir() -> str:
    env = os.environ.get("GYMNPT_SANDBOX_DIR")
    if env:
        base = env
    elif is_root():
        base = "/run/gymnpt-sandbox"
    else:
        base = os.path.join(tempfile.gettempdir(), f"gymnpt-sandbox-{os.getuid()}")
    os.makedirs(base, mode=0o711, exist_ok=True)
    return base


# ---- namespace probe ----------------------------------------------------------------------
_ns_lock = threading.Lock()
_ns_cache: dict[str, str | None] = {}


def _probe_child() -> None:  # pragma: no cover - runs in a forked child
    if _libc.unshare(_CLONE_NEWNS | _CLONE_NEWNET) != 0:
        os._exit(11)
    if _libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        os._exit(12)
    if _libc.mount(b"tmpfs", b"/tmp", b"tmpfs", _MS_NOSUID | _MS_NODEV, b"size=1m") != 0:
        os._exit(13)


def namespaces_available() -> str | None:
    """None when new mount and network namespaces can be made here; else why not."""
    with _ns_lock:
        if "ns" not in _ns_cache:
            reason: str | None = None
            if sys.platform != "linux":
                reason = "namespaces need Linux"
            elif _libc is None:
                reason = "libc is not loadable"
            elif not is_root():
                reason = "namespaces need root for the local backend (use bwrap)"
            else:
                try:
                    rc = subprocess.run(
                        ["/bin/true"], preexec_fn=_probe_child, timeout=10, check=False
                    ).returncode
                    if rc != 0:
                        reason = f"the kernel refused new namespaces (probe exit {rc})"
                except (OSError, subprocess.SubprocessError) as exc:
                    reason = f"the kernel refused new namespaces ({exc})"
            _ns_cache["ns"] = reason
        return _ns_cache["ns"]


_netns_fd = -1


def _hold_netns_child() -> None:  # pragma: no cover - runs in a forked child
    if _libc.unshare(_CLONE_NEWNET) != 0:
        os._exit(11)


def empty_netns_fd() -> int:
    """A descriptor of an empty network namespace (loopback down), made once per process.

    Entering it (``setns``) costs microseconds where making a new namespace per command costs
    milliseconds. The namespace lives as long as the descriptor: the helper process that
    made it is gone at once.
    """
    global _netns_fd
    with _ns_lock:
        if _netns_fd < 0:
            helper = subprocess.Popen(
                ["/bin/sleep", "60"], preexec_fn=_hold_netns_child, stdin=subprocess.DEVNULL
            )
            try:
                for _ in range(200):  # wait until the helper runs in its namespace
                    if os.readlink(f"/proc/{helper.pid}/ns/net") != os.readlink(
                        "/proc/self/ns/net"
                    ):
                        break
                    time.sleep(0.005)
                fd = os.open(f"/proc/{helper.pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
                if os.readlink(f"/proc/{helper.pid}/ns/net") == os.readlink("/proc/self/ns/net"):
                    os.close(fd)
                    raise SandboxError("could not make an empty network namespace")
                _netns_fd = fd
            finally:
                helper.kill()
                helper.wait()
        return _netns_fd


# ---- uid pool -------------------------------------------------------------------------------
class UidPool:
    """Unprivileged uids, one per running command, claimed across processes with file locks."""

    def __init__(self, base: int | None = None, size: int = 512) -> None:
        self.base = (
            base if base is not None else int(os.environ.get("GYMNPT_SANDBOX_UID_BASE", "1900000"))
        )
        self.size = size
        self._lock = threading.Lock()
        self._held: set[int] = set()
        self._dir = os.path.join(_base_dir(), "uids")
        os.makedirs(self._dir, mode=0o700, exist_ok=True)

    def acquire(self) -> tuple[int, int]:
        """Claim a uid; returns (uid, lock fd)."""
        start = random.randrange(self.size)
        for i in range(self.size):
            uid = self.base + (start + i) % self.size
            with self._lock:
                if uid in self._held:
                    continue
                fd = os.open(
                    os.path.join(self._dir, str(uid)), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600
                )
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    continue
                self._held.add(uid)
                return uid, fd
        raise SandboxError(f"all {self.size} sandbox uids are in use")

    def release(self, uid: int, fd: int) -> None:
        """Give a uid back."""
        with self._lock:
            self._held.discard(uid)
            os.close(fd)


_pool: UidPool | None = None
_pool_lock = threading.Lock()


def _uid_pool() -> UidPool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = UidPool()
        return _pool


def _user_process_count(uid: int) -> int:
    n = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    n += 1
    return n


# ---- the child's setup before exec ----------------------------------------------------------
@dataclass(frozen=True)
class ChildPlan:
    """What the child does between fork and exec (computed in the parent)."""

    rlimits: tuple[tuple[int, int, int], ...]
    uid: int | None = None
    unshare_flags: int = 0
    tmpfs_size: int = 0
    #: An open descriptor of an empty network namespace to enter (-1: stay in the host's).
    netns_fd: int = -1

    def __post_init__(self) -> None:
        if self.tmpfs_size and not self.unshare_flags & _CLONE_NEWNS:
            raise SandboxError("private tmpfs mounts need a new mount namespace")

    def __call__(self) -> None:  # pragma: no cover - runs in the forked child
        if self.unshare_flags:
            _check(_libc.unshare(self.unshare_flags), "unshare")
            # Mounts only ever happen in a mount namespace of our own, never the host's.
            if self.unshare_flags & _CLONE_NEWNS and self.tmpfs_size > 0:
                _check(_libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "make / private")
                opts = f"size={self.tmpfs_size},mode=1777".encode()
                for d in PRIVATE_TMP_DIRS:
                    if os.path.isdir(d):
                        _check(
                            _libc.mount(
                                b"tmpfs", d.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, opts
                            ),
                            f"mount {d}",
                        )
        if self.netns_fd >= 0:
            _check(_libc.setns(self.netns_fd, _CLONE_NEWNET), "enter the empty network namespace")
        for res, soft, hard in self.rlimits:
            resource.setrlimit(res, (soft, hard))
        if self.uid is not None:
            os.setgroups([])
            os.setgid(self.uid)
            os.setuid(self.uid)
        if _libc is not None:
            _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _check(rc: int, what: str) -> None:  # pragma: no cover - runs in the forked child
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


# ---- the sandbox ------------------------------------------------------------------------------
class ProcessSandbox:
    """Shared base of the process backends. Subclasses set ``name`` and may wrap argv."""

    name = "process"

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        drop_privileges: bool | None = None,
        python: str | None = None,
        **limit_overrides: Any,
    ) -> None:
        self.limits = (limits or Limits()).merged(**limit_overrides)
        self.drop_privileges = is_root() if drop_privileges is None else drop_privileges
        if self.drop_privileges and not is_root():
            raise SandboxError("drop_privileges needs root")
        self._python = python

    @property
    def python(self) -> str:
        """The Python interpreter used for ``{python}`` in code-env language configs."""
        return self._python or sandbox_python()

    # -- hooks for subclasses --
    def _wrap(
        self, argv: list[str], workdir: str, limits: Limits, env: dict[str, str]
    ) -> list[str]:
        return argv

    def _plan(self, limits: Limits, uid: int | None) -> ChildPlan:
        raise NotImplementedError

    def _inner_workdir(self, workdir: str) -> str:
        return workdir

    def _sandbox_failed(self, exit_code: int | None, stderr: str) -> str | None:
        return None

    #: Whether to kill every process of the pool uid after each command.
    _sweep = True
    #: Whether exit codes above 128 mean "killed by signal code-128" (bwrap reports so).
    _signal_exit_codes = False

    # -- public API --
    def run(
        self,
        command: Sequence[str] | str,
        *,
        files: Mapping[str, str | bytes] | None = None,
        stdin: str | bytes | None = None,
        limits: Limits | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> ExecResult:
        """Run one command in a fresh work dir holding ``files``."""
        try:
            session = ProcessSession(self, files)
        except (SandboxError, OSError) as exc:
            return ExecResult(Status.SANDBOX_ERROR, detail=str(exc), backend=self.name)
        with session:
            return session.run(command, stdin=stdin, limits=limits, env=env, **overrides)

    def session(self, files: Mapping[str, str | bytes] | None = None) -> ProcessSession:
        """A work dir that several commands share (use as a context manager)."""
        return ProcessSession(self, files)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.limits})"


def _rlimits(limits: Limits, nproc: int | None) -> tuple[tuple[int, int, int], ...]:
    mib = 1024 * 1024
    cpu = max(1, math.ceil(limits.cpu_seconds))
    out = [
        (resource.RLIMIT_AS, limits.memory_mb * mib, limits.memory_mb * mib),
        (resource.RLIMIT_CPU, cpu, cpu + 1),
        (resource.RLIMIT_FSIZE, limits.file_size_mb * mib, limits.file_size_mb * mib),
        (resource.RLIMIT_CORE, 0, 0),
        (resource.RLIMIT_NOFILE, limits.open_files, limits.open_files),
    ]
    if nproc is not None:
        out.append((resource.RLIMIT_NPROC, nproc, nproc))
    return tuple(out)


def _dir_size(path: str, cap_entries: int = 20000) -> int:
    total = 0
    stack = [path]
    seen = 0
    while stack:
        try:
            it = os.scandir(stack.pop())
        except OSError:
            continue
        with it:
            for entry in it:
                seen += 1
                if seen > cap_entries:
                    return total
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
                except OSError:
                    continue
    return total


class ProcessSession:
    """A work dir owned by a pool uid (when root); commands run in it one after another."""

    def __init__(
        self, sandbox: ProcessSandbox, files: Mapping[str, str | bytes] | None = None
    ) -> None:
        self.sandbox = sandbox
        self.uid: int | None = None
        self._uid_fd: int | None = None
        self._lock = threading.Lock()
        self.closed = False
        if sandbox.drop_privileges:
            self.uid, self._uid_fd = _uid_pool().acquire()
        try:
            self.workdir = tempfile.mkdtemp(prefix="run-", dir=_base_dir())
            if self.uid is not None:
                os.chown(self.workdir, self.uid, self.uid)
            os.chmod(self.workdir, 0o700)
            self.write_files(files or {})
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> ProcessSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write_files(self, files: Mapping[str, str | bytes]) -> None:
        """Add or replace files in the work dir."""
        for rel, data in normalize_files(files):
            path = os.path.join(self.workdir, rel)
            parent = os.path.dirname(path)
            if not os.path.realpath(path).startswith(os.path.realpath(self.workdir) + os.sep):
                raise SandboxError(f"file name {rel!r} escapes the work dir")
            os.makedirs(parent, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # never write through a link the program left behind
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            if self.uid is not None:
                d = parent
                while d != self.workdir and d.startswith(self.workdir):
                    os.chown(d, self.uid, self.uid)
                    d = os.path.dirname(d)
                os.chown(path, self.uid, self.uid)

    def read_file(self, name: str, max_bytes: int = 1 << 20) -> bytes | None:
        """Read a file the program left in the work dir (None when missing or not a file)."""
        path = os.path.join(self.workdir, os.path.normpath(name))
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as f:
            if not os.path.isfile(path):
                return None
            return f.read(max_bytes)

    def close(self) -> None:
        """Delete the work dir and give the uid back."""
        if self.closed:
            return
        self.closed = True
        if getattr(self, "workdir", None):
            shutil.rmtree(self.workdir, ignore_errors=True)
        if self.uid is not None and self._uid_fd is not None:
            _uid_pool().release(self.uid, self._uid_fd)

    def _env(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        inner = self.sandbox._inner_workdir(self.workdir)
        return sandbox_env(inner, extra)

    def run(
        self,
        command: Sequence[str] | str,
        *,
        stdin: str | bytes | None = None,
        limits: Limits | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> ExecResult:
        """Run ``command`` in the work dir under ``limits`` (default: the sandbox's)."""
        backend = self.sandbox.name
        try:
            lim = (limits or self.sandbox.limits).merged(**overrides)
            argv = normalize_command(command)
            child_env = self._env(env)
            argv = self.sandbox._wrap(argv, self.workdir, lim, child_env)
            plan = self.sandbox._plan(lim, self.uid)
        except (SandboxError, TypeError, ValueError) as exc:
            return ExecResult(Status.SANDBOX_ERROR, detail=str(exc), backend=backend)
        if self.closed:
            return ExecResult(Status.SANDBOX_ERROR, detail="session is closed", backend=backend)
        data = stdin.encode("utf-8") if isinstance(stdin, str) else (stdin or b"")
        with self._lock:
            result = _execute(
                argv, child_env, self.workdir, plan, data, lim, self.sandbox._signal_exit_codes
            )
            if self.uid is not None and self.sandbox._sweep:
                sweep_uid(self.uid)
        result.backend = backend
        if self.uid is not None:
            result.extra["uid"] = self.uid
        if result.status is not Status.SANDBOX_ERROR:
            why = self.sandbox._sandbox_failed(result.exit_code, result.stderr)
            if why:
                result.status, result.detail = Status.SANDBOX_ERROR, why
        if self.sandbox._inner_workdir(self.workdir) == self.workdir:
            # Report the work dir under one fixed name so that outputs are reproducible.
            real = os.path.realpath(self.workdir)
            result.stdout = result.stdout.replace(real, WORKDIR)
            result.stderr = result.stderr.replace(real, WORKDIR)
        return result


_SWEEPER_CODE = r"""
import os, signal, sys
for line in sys.stdin:
    uid = int(line)
    if uid <= 0:
        sys.stdout.write("bad\n"); sys.stdout.flush(); continue
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([]); os.setgid(uid); os.setuid(uid)
            if os.getuid() == uid and os.geteuid() == uid and uid != 0:
                os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        os._exit(0)
    os.waitpid(pid, 0)
    sys.stdout.write("ok\n"); sys.stdout.flush()
"""


class _Sweeper:
    """A small root helper that kills every process of a uid on request.

    Killing "by uid" means a process *with that uid* calling ``kill(-1, SIGKILL)``. Forking
    this tiny helper for it is much cheaper than forking the (large) host process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        python = sys.executable if is_root() else sandbox_python()
        return subprocess.Popen(
            [python, "-I", "-S", "-c", _SWEEPER_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            env={"PATH": SANDBOX_PATH},
        )

    def sweep(self, uid: int) -> None:
        if uid <= 0:
            raise SandboxError(f"refusing to sweep uid {uid}")
        with self._lock:
            for _ in range(2):
                if self._proc is None or self._proc.poll() is not None:
                    self._proc = self._start()
                assert self._proc.stdin is not None and self._proc.stdout is not None
                try:
                    self._proc.stdin.write(f"{uid}\n".encode())
                    self._proc.stdin.flush()
                    if self._proc.stdout.readline() == b"ok\n":
                        return
                except OSError:
                    pass
                self._proc.kill()
                self._proc.wait()
                self._proc = None
        raise SandboxError("the process sweeper failed")


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


_sweeper = _Sweeper()


def sweep_uid(uid: int) -> None:
    """Kill every process of pool uid ``uid`` (also those that left the process group)."""
    _sweeper.sweep(uid)


def _exited(pid: int) -> bool:
    """Whether child ``pid`` has exited, without reaping it (its pgid stays reserved)."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None and info.si_pid != 0


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _execute(
    argv: list[str],
    env: dict[str, str],
    workdir: str,
    plan: ChildPlan,
    data: bytes,
    lim: Limits,
    signal_exit_codes: bool = False,
) -> ExecResult:
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=workdir,
            env=env,
            start_new_session=True,
            preexec_fn=plan,
            close_fds=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return ExecResult(Status.SANDBOX_ERROR, detail=f"could not start {argv[0]!r}: {exc}")
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    cap = lim.output_bytes
    bufs: dict[int, bytearray] = {
        proc.stdout.fileno(): bytearray(),
        proc.stderr.fileno(): bytearray(),
    }
    sizes = dict.fromkeys(bufs, 0)
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    sel = selectors.DefaultSelector()
    for f in (proc.stdout, proc.stderr):
        os.set_blocking(f.fileno(), False)
        sel.register(f.fileno(), selectors.EVENT_READ)
    view = memoryview(data)
    offset = 0
    in_fd = proc.stdin.fileno()
    if data:
        os.set_blocking(in_fd, False)
        sel.register(in_fd, selectors.EVENT_WRITE)
    else:
        proc.stdin.close()
    deadline = start + lim.wall_time
    disk_cap = lim.disk_mb * 1024 * 1024
    next_disk = start + 0.1
    timed_out = output_exceeded = disk_exceeded = False
    exited_at: float | None = None
    killed = False
    try:
        while sel.get_map():
            now = time.monotonic()
            if exited_at is None and now >= deadline:
                timed_out = True
                break
            if exited_at is not None and now - exited_at > 1.0:
                break  # the program is gone; whatever still holds the pipes was killed
            for key, _ in sel.select(max(0.0, min(0.05, deadline - now))):
                fd = key.fd
                if fd == in_fd:
                    try:
                        offset += os.write(fd, view[offset : offset + 65536])
                    except BlockingIOError:
                        continue
                    except OSError:
                        offset = len(view)
                    if offset >= len(view):
                        sel.unregister(fd)
                        proc.stdin.close()
                    continue
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    sel.unregister(fd)
                    continue
                room = cap - len(bufs[fd])
                if room > 0:
                    bufs[fd] += chunk[:room]
                sizes[fd] += len(chunk)
                if sizes[fd] > cap:
                    output_exceeded = True
            if output_exceeded:
                break
            if exited_at is None and _exited(proc.pid):
                exited_at = time.monotonic()
                _kill_group(proc.pid)  # the program is done; so is everything it started
                killed = True
            if time.monotonic() >= next_disk:
                next_disk = time.monotonic() + 0.1
                if _dir_size(workdir) > disk_cap:
                    disk_exceeded = True
                    break
        if exited_at is None and not (timed_out or output_exceeded or disk_exceeded):
            # The pipes closed but the program may still run: wait for it until the deadline.
            delay = 0.0005
            while not _exited(proc.pid):
                if time.monotonic() >= deadline:
                    timed_out = True
                    break
                time.sleep(delay)
                delay = min(delay * 2, 0.02)
    finally:
        if not killed or timed_out or output_exceeded or disk_exceeded:
            _kill_group(proc.pid)
        sel.close()
    # Reap with resource usage.
    while True:
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            status, usage = 0, None
            break
    wall = time.monotonic() - start
    proc.returncode = 0  # reaped by wait4 above
    for f in (proc.stdin, proc.stdout, proc.stderr):
        with contextlib.suppress(OSError):
            f.close()
    if os.WIFSIGNALED(status):
        exit_code: int | None = -os.WTERMSIG(status)
    elif os.WIFEXITED(status):
        exit_code = os.WEXITSTATUS(status)
    else:
        exit_code = None
    if signal_exit_codes and exit_code is not None and 128 < exit_code < 128 + signal.NSIG:
        exit_code = 128 - exit_code
    if (
        not timed_out
        and exited_at is None
        and exit_code == -signal.SIGKILL
        and wall >= lim.wall_time
    ):
        timed_out = True
    cpu = (usage.ru_utime + usage.ru_stime) if usage is not None else None
    stdout, stderr = decode(bytes(bufs[out_fd])), decode(bytes(bufs[err_fd]))
    status_, detail = classify(
        exit_code=exit_code,
        stderr=stderr,
        timed_out=timed_out,
        output_exceeded=output_exceeded,
        disk_exceeded=disk_exceeded,
        cpu_time=cpu,
        limits=lim,
    )
    return ExecResult(
        status=status_,
        exit_code=exit_code,
        stdout=stdout,
        stderr=stderr,
        wall_time=wall,
        cpu_time=cpu,
        truncated=any(sizes[fd] > len(bufs[fd]) for fd in bufs),
        detail=detail,
        extra={"max_rss_kb": usage.ru_maxrss if usage is not None else None},
    )


def _nproc_for(limits: Limits, uid: int | None) -> int | None:
    if uid is not None:
        return limits.processes
    if os.getuid() == 0:
        return None  # RLIMIT_NPROC does not bind root
    # Unprivileged: RLIMIT_NPROC counts all of this user's processes, so leave room for them.
    return _user_process_count(os.getuid()) + limits.processes
