"""The ``docker`` backend: warm, locked-down containers with an agent as PID 1.

A container starts once per *shape* (memory, processes, disk, network) and then serves one
session at a time, again and again. Its PID 1 is a small agent (``docker_agent.py``, standard
library only) that takes JSON requests over ``docker attach``: unpack files, run a command,
read a file. A command therefore costs a fork and an exec inside the container, not a
``docker exec`` (tens of milliseconds of daemon work) nor a fresh container (seconds).
Containers run from a local image built from Debian packages (``scripts/ci_docker.sh``; no
registry needed) with:

* no network (``network_mode=none``), a read-only root file system, their own PID, IPC, UTS
  and mount namespaces, ``no-new-privileges``;
* all capabilities dropped except ``SETUID``, ``SETGID`` and ``KILL`` for the agent, which
  runs each command as user 65534 with no capabilities, ``no_new_privs`` and rlimits
  (address space, CPU time, file size, open files, no core files);
* cgroup memory (memory+swap), pids (processes and threads) and CPU (one core) limits;
* size-limited ``nosuid`` tmpfs mounts on ``/sandbox`` (the work dir), ``/tmp``,
  ``/var/tmp`` and ``/dev/shm``: the only writable places; nothing of the host is mounted.

When a command ends, the agent kills every other process in the container. When a session
starts, the agent also empties the writable mounts and removes SysV IPC objects, and checks
that nothing is left; a container that does not come back clean is removed, never reused.

``sandbox=auto`` considers this backend only when a daemon answers, the image exists and a
canary program has run in it. :meth:`DockerSandbox.missing` says which tools the image lacks.
"""

from __future__ import annotations

import atexit
import base64
import collections
import contextlib
import functools
import io
import json
import math
import os
import socket
import struct
import tarfile
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

__all__ = ["DockerSandbox", "DockerSession", "docker_available", "container_config", "IMAGE"]

#: The image: built locally by ``scripts/ci_docker.sh`` (override with GYMNPT_DOCKER_IMAGE).
IMAGE = os.environ.get("GYMNPT_DOCKER_IMAGE", "gymnpt-sandbox:bookworm")
#: The unprivileged user commands run as.
USER = "65534:65534"
#: The writable mounts of every container: size-limited ``nosuid`` tmpfs.
WRITABLE_DIRS = (WORKDIR, "/tmp", "/var/tmp", "/dev/shm")
#: Containers per shape at most (busy and idle); sessions beyond it wait for a free one.
MAX_CONTAINERS = int(
    os.environ.get("GYMNPT_DOCKER_CONTAINERS", str(max(4, 2 * (os.cpu_count() or 2))))
)
_LABEL = "io.gymnpt.sandbox"

_AGENT_SOURCE: str | None = None


def agent_command() -> list[str]:
    """The container's command: the agent (``docker_agent.py``) as PID 1."""
    global _AGENT_SOURCE
    if _AGENT_SOURCE is None:
        from importlib import resources

        _AGENT_SOURCE = (
            resources.files("gymnpt.sandboxes").joinpath("docker_agent.py").read_text("utf-8")
        )
    return ["python3", "-I", "-S", "-u", "-c", _AGENT_SOURCE]


@dataclass(frozen=True)
class Shape:
    """What a container is created with; commands may ask for less but not more."""

    memory_mb: int
    processes: int
    disk_mb: int
    network: bool

    @classmethod
    def of(cls, limits: Limits) -> Shape:
        """The shape that serves commands under ``limits``."""
        return cls(limits.memory_mb, limits.processes, limits.disk_mb, limits.network)


def container_config(image: str, shape: Shape) -> dict[str, Any]:
    """The keyword arguments for ``client.containers.run`` of one warm container."""
    mib = 1024 * 1024
    # The cgroup bounds the whole container: the command's own allowance plus a little for
    # the agent (PID 1).
    memory = (shape.memory_mb + 64) * mib
    tmpfs_opts = f"rw,exec,nosuid,nodev,size={shape.disk_mb}m"
    uid, gid = USER.split(":")
    return {
        "image": image,
        "command": agent_command(),
        # The agent runs as root with three capabilities only: to become user 65534 for each
        # command (SETUID, SETGID) and to kill what it leaves (KILL).
        "user": "0:0",
        "cap_drop": ["ALL"],
        "cap_add": ["SETUID", "SETGID", "KILL"],
        "security_opt": ["no-new-privileges"],
        "stdin_open": True,
        "working_dir": WORKDIR,
        "environment": {"PATH": SANDBOX_PATH},
        "network_disabled": not shape.network,
        "network_mode": "bridge" if shape.network else "none",
        "mem_limit": memory,
        "memswap_limit": memory,
        "pids_limit": shape.processes + 1,
        "nano_cpus": 1_000_000_000,
        "read_only": True,
        "ipc_mode": "private",
        "tmpfs": {
            d: f"{tmpfs_opts},mode=0700,uid={uid},gid={gid}"
            if d == WORKDIR
            else f"{tmpfs_opts},mode=1777"
            for d in WRITABLE_DIRS
        },
        "hostname": "sandbox",
        "labels": {_LABEL: "1", f"{_LABEL}.pid": str(os.getpid())},
        "log_config": {"type": "none", "config": {}},
        "detach": True,
    }


def _client(timeout: float = 30.0) -> Any:
    import docker

    return docker.from_env(timeout=timeout)


# ---- the channel to the agent ----------------------------------------------------------------
def _raw_socket(sock: Any) -> socket.socket:
    raw = getattr(sock, "_sock", sock)
    if not isinstance(raw, socket.socket):
        raise SandboxError(f"unexpected docker attach stream {type(sock).__name__}")
    return raw


class _Channel:
    """JSON lines to the agent's stdin, JSON lines back from its stdout (``docker attach``)."""

    def __init__(self, api: Any, container_id: str) -> None:
        self._stream = api.attach_socket(
            container_id, params={"stdin": 1, "stdout": 1, "stderr": 0, "stream": 1}
        )
        self._sock = _raw_socket(self._stream)
        self._sock.setblocking(True)
        self._frames = bytearray()
        self._lines = bytearray()

    def request(self, req: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request and wait up to ``timeout`` seconds for its reply."""
        deadline = time.monotonic() + timeout
        self._sock.settimeout(timeout)
        self._sock.sendall(json.dumps(req).encode() + b"\n")
        while b"\n" not in self._lines:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SandboxError("the container's agent did not answer in time")
            self._sock.settimeout(left)
            chunk = self._sock.recv(1 << 20)
            if not chunk:
                raise SandboxError("the container's agent is gone")
            self._frames += chunk
            # Frames: 1 byte stream, 3 bytes padding, 4 bytes big-endian length.
            while len(self._frames) >= 8:
                size = struct.unpack(">I", self._frames[4:8])[0]
                if len(self._frames) < 8 + size:
                    break
                if self._frames[0] == 1:
                    self._lines += self._frames[8 : 8 + size]
                del self._frames[: 8 + size]
        line, _, rest = bytes(self._lines).partition(b"\n")
        self._lines = bytearray(rest)
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> None:
        """Hang up (the agent keeps running)."""
        with contextlib.suppress(Exception):
            self._sock.close()
        with contextlib.suppress(Exception):
            self._stream.close()


# ---- warm containers -------------------------------------------------------------------------
class _Container:
    """A started container and the limits it has now."""

    def __init__(self, obj: Any, shape: Shape, channel: _Channel) -> None:
        self.obj = obj
        self.id: str = obj.id
        self.shape = shape
        self.memory_mb = shape.memory_mb
        self.channel = channel
        self.uses = 0


class _Pool:
    """Warm containers per (image, shape), shared by every DockerSandbox of a process.

    At most :data:`MAX_CONTAINERS` per shape; sessions beyond it wait in line (first come,
    first served) for the next container given back.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, Shape], list[_Container]] = {}
        self._live: dict[tuple[str, Shape], int] = {}
        self._waiters: collections.deque[tuple[tuple[str, Shape], threading.Event, list[Any]]]
        self._waiters = collections.deque()
        self._all: set[str] = set()
        self._client: Any = None
        self._reaped = False

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = _client()
            return self._client

    def _remove_stale(self) -> None:
        """Remove containers that a process of this host which is gone left behind."""
        if self._reaped:
            return
        self._reaped = True
        with contextlib.suppress(Exception):
            for c in self.client.containers.list(all=True, filters={"label": _LABEL}):
                pid = int(c.labels.get(f"{_LABEL}.pid", "0") or 0)
                if pid and pid != os.getpid() and not os.path.exists(f"/proc/{pid}"):
                    c.remove(force=True)

    def _first_waiter(self, key: tuple[str, Shape]) -> tuple[threading.Event, list[Any]] | None:
        for item in self._waiters:
            if item[0] == key:
                self._waiters.remove(item)
                return item[1], item[2]
        return None

    def acquire(self, image: str, shape: Shape, timeout: float = 300.0) -> _Container:
        """An idle container of this shape, a new one, or (at the cap) the next one freed."""
        key = (image, shape)
        with self._lock:
            queued = any(w[0] == key for w in self._waiters)
            idle = self._idle.get(key)
            if idle and not queued:
                return idle.pop()
            if not queued and self._live.get(key, 0) < MAX_CONTAINERS:
                self._live[key] = self._live.get(key, 0) + 1
                got: list[Any] = ["create"]
            else:
                event, got = threading.Event(), []
                self._waiters.append((key, event, got))
        if not got:
            if not event.wait(timeout):
                with self._lock:
                    if (key, event, got) in self._waiters:
                        self._waiters.remove((key, event, got))
                if not got:
                    raise SandboxError(f"no docker container was free within {timeout:.0f} s")
        if isinstance(got[0], _Container):
            return got[0]
        return self._create(image, shape)

    def _create(self, image: str, shape: Shape) -> _Container:
        self._remove_stale()
        obj = None
        try:
            obj = self.client.containers.run(**container_config(image, shape))
            channel = _Channel(self.client.api, obj.id)
            if not channel.request({"op": "ping"}, timeout=30.0).get("ok"):
                raise SandboxError("the agent did not start")
        except Exception as exc:  # noqa: BLE001 - the daemon's errors vary
            if obj is not None:
                with contextlib.suppress(Exception):
                    obj.remove(force=True)
            self._gone((image, shape))
            raise SandboxError(f"docker could not start a container from {image!r}: {exc}") from exc
        with self._lock:
            self._all.add(obj.id)
        return _Container(obj, shape, channel)

    def _gone(self, key: tuple[str, Shape]) -> None:
        """A container of ``key`` is gone: the first waiter may start a new one."""
        with self._lock:
            waiter = self._first_waiter(key)
            if waiter is None:
                self._live[key] = max(0, self._live.get(key, 0) - 1)
                return
        waiter[1].append("create")
        waiter[0].set()

    def release(self, image: str, c: _Container, reuse: bool) -> None:
        """Keep ``c`` for a later session (which sweeps it first), or remove it."""
        if not reuse:
            self.remove(image, c)
            return
        key = (image, c.shape)
        with self._lock:
            waiter = self._first_waiter(key)
            if waiter is None:
                self._idle.setdefault(key, []).append(c)
                return
        waiter[1].append(c)
        waiter[0].set()

    def remove(self, image: str, c: _Container) -> None:
        """Remove a container for good."""
        c.channel.close()
        with contextlib.suppress(Exception):
            c.obj.remove(force=True)
        with self._lock:
            self._all.discard(c.id)
        self._gone((image, c.shape))

    def close_all(self) -> None:
        """Remove every container this process started."""
        with self._lock:
            ids, self._all = list(self._all), set()
            self._idle.clear()
            self._live.clear()
            client = self._client
        if client is None:
            return
        for cid in ids:
            with contextlib.suppress(Exception):
                client.api.remove_container(cid, force=True)


_pool = _Pool()
atexit.register(_pool.close_all)


# ---- availability --------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _cached_available(image: str) -> str | None:
    try:
        import docker  # noqa: F401
    except ImportError:
        return "the docker SDK is not installed (pip install 'gymnpt[docker]')"
    host = os.environ.get("DOCKER_HOST", "")
    if not host and not os.path.exists("/var/run/docker.sock"):
        return "no Docker daemon: /var/run/docker.sock does not exist and DOCKER_HOST is unset"
    try:
        client = _client(timeout=5.0)
        try:
            client.ping()
            client.images.get(image)
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        name = type(exc).__name__
        if name == "ImageNotFound":
            return f"the image {image!r} is missing (build it with: bash scripts/ci_docker.sh)"
        return f"no Docker daemon answers ({name}: {str(exc)[:200]})"
    # The canary: a program must run in a container and come back with its output.
    try:
        res = DockerSandbox(image=image, wall_time=30.0, _checked=True).run(
            ["python3", "-I", "-c", "print(6 * 7)"]
        )
    except SandboxError as exc:
        return f"the canary program could not run: {exc}"
    if not (res.ok and res.stdout == "42\n"):
        return f"the canary program failed in {image!r}: {res.summary()} {res.stderr[:200]}"
    return None


def docker_available(image: str | None = None) -> str | None:
    """None when a daemon answers, the image exists and a canary ran in it; else why not."""
    return _cached_available(image or IMAGE)


# ---- the sandbox -------------------------------------------------------------------------------
class DockerSandbox:
    """Run commands in warm, locked-down containers (see the module docs).

    Args:
        limits: Default limits (keyword overrides such as ``wall_time=2`` also work).
        image: The image; it needs ``python3`` on its PATH (the agent runs on it).
        python: The interpreter path inside the image for ``{python}``.
        reuse: Keep containers warm between sessions (``False``: a fresh container per
            session, removed after it; for measurements).
    """

    name = "docker"

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        image: str | None = None,
        python: str = "python3",
        reuse: bool = True,
        _checked: bool = False,
        **limit_overrides: Any,
    ) -> None:
        self.image = image or IMAGE
        if not _checked:
            why = docker_available(self.image)
            if why:
                raise SandboxError(f"sandbox 'docker' is not available: {why}")
        self.limits = (limits or Limits()).merged(**limit_overrides)
        self.reuse = reuse
        self._python = python
        self._missing: dict[str, str | None] = {}

    @property
    def python(self) -> str:
        """The interpreter inside the image."""
        return self._python

    def session(
        self, files: Mapping[str, str | bytes] | None = None, *, limits: Limits | None = None
    ) -> DockerSession:
        """A warm container of its own that several commands share (a context manager)."""
        return DockerSession(self, files, limits=limits)

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
        """Run one command in a clean container whose work dir holds ``files``."""
        try:
            lim = (limits or self.limits).merged(**overrides)
            session = DockerSession(self, files, limits=lim)
        except (SandboxError, TypeError, ValueError) as exc:
            return ExecResult(Status.SANDBOX_ERROR, detail=str(exc), backend=self.name)
        with session:
            return session.run(command, stdin=stdin, limits=lim, env=env)

    def missing(self, programs: Sequence[str]) -> str | None:
        """None when every program is on the image's PATH; else which one is not."""
        for prog in programs:
            if prog not in self._missing:
                res = self.run(["/bin/sh", "-c", 'command -v "$1"', "sh", prog], wall_time=30.0)
                self._missing[prog] = (
                    None if res.ok else f"{prog!r} is not installed in the image {self.image!r}"
                )
            if self._missing[prog]:
                return self._missing[prog]
        return None

    def __repr__(self) -> str:
        return f"DockerSandbox(image={self.image!r}, {self.limits})"


def _rlimits(lim: Limits) -> dict[str, int]:
    mib = 1024 * 1024
    return {
        "RLIMIT_AS": lim.memory_mb * mib,
        "RLIMIT_CPU": max(1, math.ceil(lim.cpu_seconds)),
        "RLIMIT_FSIZE": lim.file_size_mb * mib,
        "RLIMIT_NOFILE": lim.open_files,
        "RLIMIT_CORE": 0,
    }


def _tar(files: Mapping[str, str | bytes]) -> bytes:
    """A tar archive of ``files`` (paths checked to stay inside the work dir)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, data in normalize_files(files):
            info = tarfile.TarInfo(rel)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class DockerSession:
    """One warm container, held by one session."""

    def __init__(
        self,
        sandbox: DockerSandbox,
        files: Mapping[str, str | bytes] | None = None,
        *,
        limits: Limits | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.shape = Shape.of(limits or sandbox.limits)
        self.closed = False
        self._lock = threading.Lock()
        archive = _b64(_tar(files or {})) if files else ""
        why = "no container"
        for _attempt in range(3):
            self.container = _pool.acquire(sandbox.image, self.shape)
            try:
                reply = self.container.channel.request(
                    {"op": "start", "files": archive}, timeout=60.0
                )
            except (OSError, SandboxError, ValueError) as exc:
                reply = {"ok": False, "error": f"the agent failed: {exc}"}
            if reply.get("ok"):
                return
            # Not clean, or the files did not unpack: never reuse this container.
            why = str(reply.get("error"))
            _pool.remove(sandbox.image, self.container)
            if "unpacked" in why:
                break
        self.closed = True
        raise SandboxError(f"docker session could not start: {why}")

    def __enter__(self) -> DockerSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, req: dict[str, Any], timeout: float) -> dict[str, Any]:
        try:
            return self.container.channel.request(req, timeout)
        except (OSError, SandboxError, ValueError) as exc:
            # The container is in an unknown state: it is never reused.
            _pool.remove(self.sandbox.image, self.container)
            self.closed = True
            raise SandboxError(f"the container's agent failed: {exc}") from exc

    def write_files(self, files: Mapping[str, str | bytes]) -> None:
        """Add or replace files in the work dir (unpacked by user 65534)."""
        if not files:
            return
        if self.closed:
            raise SandboxError("session is closed")
        reply = self._request({"op": "files", "files": _b64(_tar(files))}, timeout=60.0)
        if not reply.get("ok"):
            raise SandboxError(str(reply.get("error")))

    def _env(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        return sandbox_env(WORKDIR, extra)

    def _oom_kills(self) -> int | None:
        """The container's cgroup OOM-kill counter, when the cgroup is readable here."""
        cid = self.container.id
        for path in (
            f"/sys/fs/cgroup/memory/docker/{cid}/memory.oom_control",
            f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.events",
            f"/sys/fs/cgroup/docker/{cid}/memory.events",
        ):
            with contextlib.suppress(OSError, ValueError):
                with open(path) as f:
                    for line in f:
                        name, _, value = line.partition(" ")
                        if name == "oom_kill":
                            return int(value)
        return None

    def run(
        self,
        command: Sequence[str] | str,
        *,
        stdin: str | bytes | None = None,
        limits: Limits | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> ExecResult:
        """Run ``command`` in this session's container under ``limits``."""
        sb = self.sandbox
        try:
            lim = (limits or sb.limits).merged(**overrides)
            argv = normalize_command(command)
            req = {
                "op": "run",
                "argv": argv,
                "env": self._env(env),
                "stdin": _b64(stdin.encode("utf-8") if isinstance(stdin, str) else stdin or b""),
                "rlimits": _rlimits(lim),
                "wall_time": lim.wall_time,
                "output_bytes": lim.output_bytes,
            }
            if lim.network and not self.shape.network:
                raise SandboxError("network=True must be set when the session starts")
        except (SandboxError, TypeError, ValueError) as exc:
            return ExecResult(Status.SANDBOX_ERROR, detail=str(exc), backend=sb.name)
        with self._lock:
            if self.closed:
                return ExecResult(Status.SANDBOX_ERROR, detail="session is closed", backend=sb.name)
            c = self.container
            try:
                if lim.memory_mb > c.memory_mb:  # the cgroup grows for bigger commands
                    mem = (lim.memory_mb + 64) * 1024 * 1024
                    c.obj.update(mem_limit=mem, memswap_limit=mem)
                    c.memory_mb = lim.memory_mb
                oom_before = self._oom_kills()
                out = self._request(req, timeout=lim.wall_time + 30.0)
                oom_after = self._oom_kills()
            except Exception as exc:  # noqa: BLE001 - the daemon's errors vary
                return ExecResult(
                    Status.SANDBOX_ERROR, detail=f"docker run failed: {exc}", backend=sb.name
                )
            c.uses += 1
        if not out.get("ok"):
            return ExecResult(Status.SANDBOX_ERROR, detail=str(out.get("error")), backend=sb.name)
        exit_code = out["exit_code"]
        stdout = decode(base64.b64decode(out["stdout"]))
        stderr = decode(base64.b64decode(out["stderr"]))
        wall = float(out["wall_time"])
        if exit_code in (126, 127) and stderr.startswith(f"sandbox: {argv[0]}:"):
            return ExecResult(
                Status.SANDBOX_ERROR,
                exit_code,
                stdout,
                stderr,
                wall,
                detail=f"{argv[0]!r} cannot run in the image {sb.image!r}: {stderr.strip()[:200]}",
                backend=sb.name,
            )
        oom = oom_before is not None and oom_after is not None and oom_after > oom_before
        status, detail = classify(
            exit_code=exit_code,
            stderr=stderr,
            timed_out=bool(out["timed_out"]),
            output_exceeded=bool(out["output_exceeded"]),
            cpu_time=out.get("cpu_time"),
            limits=lim,
            oom_killed=oom,
        )
        return ExecResult(
            status,
            exit_code,
            stdout,
            stderr,
            wall,
            out.get("cpu_time"),
            bool(out["truncated"]),
            detail,
            sb.name,
            extra={"max_rss_kb": out.get("max_rss_kb")},
        )

    def read_file(self, name: str, max_bytes: int = 1 << 20) -> bytes | None:
        """Read a file the program left in the work dir (None when missing or not a file)."""
        rel = next(iter(normalize_files({name: b""})))[0]
        reply = self._request({"op": "read", "name": rel, "max_bytes": max_bytes}, timeout=30.0)
        data = reply.get("data")
        return None if data is None else base64.b64decode(data)

    def close(self) -> None:
        """Give the container back for a later session (which sweeps it first)."""
        if self.closed:
            return
        self.closed = True
        _pool.release(self.sandbox.image, self.container, self.sandbox.reuse)
