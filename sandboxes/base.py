"""The sandbox contract: run a command with files, stdin and limits; get a clear result.

Every backend (``local``, ``bwrap``, ``docker``) implements :class:`Sandbox`::

    result = sandbox.run(["python3", "main.py"], files={"main.py": "print(1)"},
                         stdin="", wall_time=5, memory_mb=256)
    result.status        # Status.OK, NONZERO_EXIT, TIMEOUT, MEMORY, OUTPUT_LIMIT, SANDBOX_ERROR
    result.exit_code, result.stdout, result.stderr, result.wall_time

Several commands can share one work dir (compile once, run many tests) through a session::

    with sandbox.session({"main.c": src}) as s:
        s.run(["gcc", "main.c", "-o", "main"])
        s.run(["./main"], stdin="1 2\\n")

Sandboxes are synchronous and thread-safe: many threads may run commands at once.
"""

from __future__ import annotations

import enum
import os
import signal
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Status",
    "Limits",
    "ExecResult",
    "Sandbox",
    "Session",
    "SandboxError",
    "normalize_command",
    "normalize_files",
    "sandbox_env",
    "classify",
    "SANDBOX_PATH",
    "WORKDIR",
]

#: The work dir as the sandboxed program sees it (and as results report it).
WORKDIR = "/sandbox"
#: PATH inside every sandbox.
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"


class SandboxError(RuntimeError):
    """A sandbox could not be set up or used (not a failure of the sandboxed program)."""


class Status(str, enum.Enum):
    """How a sandboxed command ended."""

    #: Exited with code 0 within all limits.
    OK = "ok"
    #: Exited with a nonzero code or was killed by a signal it caused (segfault, abort).
    NONZERO_EXIT = "nonzero_exit"
    #: Ran past the wall-time or CPU-time limit and was killed.
    TIMEOUT = "timeout"
    #: Ran out of its memory allowance.
    MEMORY = "memory"
    #: Wrote more than the output, file-size or disk allowance.
    OUTPUT_LIMIT = "output_limit"
    #: The sandbox itself failed (command not found, backend error); not the program's fault.
    SANDBOX_ERROR = "sandbox_error"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Limits:
    """Resource limits for one command. Every backend enforces all of them.

    Attributes:
        wall_time: Seconds of real time before the whole process tree is killed.
        cpu_time: Seconds of CPU time per process (``None``: same as ``wall_time``).
        memory_mb: Address-space (local, bwrap) or cgroup (docker) memory, in MiB.
        output_bytes: Bytes kept per stream (stdout, stderr); more output kills the run.
        processes: Processes and threads the sandbox may run at once.
        file_size_mb: Largest file the program may write, in MiB.
        disk_mb: Total size of the work dir and of the private ``/tmp``, in MiB.
        open_files: File descriptors each process may hold open at once.
        network: Whether the program may use the network (off by default).
    """

    wall_time: float = 10.0
    cpu_time: float | None = None
    memory_mb: int = 512
    output_bytes: int = 1_000_000
    processes: int = 64
    file_size_mb: int = 16
    disk_mb: int = 64
    open_files: int = 256
    network: bool = False

    def __post_init__(self) -> None:
        if not self.wall_time > 0:
            raise ValueError(f"wall_time must be > 0, got {self.wall_time}")
        if self.cpu_time is not None and not self.cpu_time > 0:
            raise ValueError(f"cpu_time must be > 0 or None, got {self.cpu_time}")
        for name in (
            "memory_mb",
            "output_bytes",
            "processes",
            "file_size_mb",
            "disk_mb",
            "open_files",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")

    @property
    def cpu_seconds(self) -> float:
        """The CPU-time limit in effect."""
        return self.cpu_time if self.cpu_time is not None else self.wall_time

    def merged(self, **overrides: Any) -> Limits:
        """A copy with ``overrides`` applied (``None`` values are ignored); unknown keys raise."""
        known = {f.name for f in fields(self)}
        bad = sorted(set(overrides) - known)
        if bad:
            raise TypeError(f"unknown limit(s) {bad}; known limits: {sorted(known)}")
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


@dataclass
class ExecResult:
    """What happened to one command."""

    status: Status
    #: Exit code; negative for a signal (``-9`` = SIGKILL); ``None`` when it never ran.
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    #: Seconds of real time from start to exit.
    wall_time: float = 0.0
    #: Seconds of CPU time (user + system) when the backend measures it.
    cpu_time: float | None = None
    #: Whether stdout or stderr was cut at ``output_bytes``.
    truncated: bool = False
    #: A short human-readable note on why the status is what it is.
    detail: str = ""
    #: Backend name that produced this result.
    backend: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the command exited 0 within its limits."""
        return self.status is Status.OK

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        d = asdict(self)
        d["status"] = self.status.value
        return d

    def summary(self) -> str:
        """One line: status, exit code and detail."""
        text = f"{self.status.value} (exit code {self.exit_code})"
        return f"{text}: {self.detail}" if self.detail else text


@runtime_checkable
class Session(Protocol):
    """A work dir that several commands share; close it to remove it."""

    def run(
        self,
        command: Sequence[str] | str,
        *,
        stdin: str | bytes | None = None,
        limits: Limits | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> ExecResult:
        """Run ``command`` in the session's work dir."""
        ...

    def write_files(self, files: Mapping[str, str | bytes]) -> None:
        """Add or replace files in the work dir (paths relative to it)."""
        ...

    def close(self) -> None:
        """Kill anything left running and delete the work dir."""
        ...


@runtime_checkable
class Sandbox(Protocol):
    """A code-execution backend."""

    #: Backend name: ``local``, ``bwrap`` or ``docker``.
    name: str
    #: Default limits for commands that give none.
    limits: Limits

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
        ...

    def session(
        self, files: Mapping[str, str | bytes] | None = None
    ) -> AbstractContextManager[Any]:
        """A context manager yielding a :class:`Session` whose work dir holds ``files``."""
        ...

    @property
    def python(self) -> str:
        """The path of a Python interpreter that runs inside this sandbox."""
        ...


def normalize_command(command: Sequence[str] | str) -> list[str]:
    """A command as argv: a string runs through ``/bin/sh -c``."""
    if isinstance(command, str):
        return ["/bin/sh", "-c", command]
    argv = [str(a) for a in command]
    if not argv or not argv[0]:
        raise SandboxError("empty command")
    for arg in argv:
        if "\x00" in arg:
            raise SandboxError("command arguments may not contain NUL bytes")
    return argv


def normalize_files(files: Mapping[str, str | bytes] | None) -> Iterator[tuple[str, bytes]]:
    """Yield (safe relative path, content) pairs; paths that escape the work dir raise."""
    for name, content in (files or {}).items():
        rel = os.path.normpath(str(name))
        if (
            not name
            or os.path.isabs(str(name))
            or rel == "."
            or rel.startswith("..")
            or "\x00" in rel
        ):
            raise SandboxError(f"file name {name!r} must be a relative path inside the work dir")
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        yield rel, data


def sandbox_env(home: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a sandboxed command starts with: a fixed base plus checked ``extra``.

    Args:
        home: ``HOME`` inside the sandbox (its work dir).
        extra: variables the caller adds; a NUL byte or a ``=`` in a name raises.
    """
    env = {
        "PATH": SANDBOX_PATH,
        "HOME": home,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONHASHSEED": "0",
    }
    for k, v in (extra or {}).items():
        if "\x00" in str(k) or "\x00" in str(v) or "=" in str(k):
            raise SandboxError(f"bad environment variable {k!r}")
        env[str(k)] = str(v)
    return env


def decode(data: bytes) -> str:
    """Decode program output leniently."""
    return data.decode("utf-8", errors="replace")


#: stderr fragments that mean a program ran out of memory, per runtime.
MEMORY_MARKERS = (
    "MemoryError",
    "std::bad_alloc",
    "java.lang.OutOfMemoryError",
    "JavaScript heap out of memory",
    "Cannot allocate memory",
    "out of memory",
    "memory allocation of",
    "failed to map segment",
    "Could not reserve enough space",
)


#: stderr fragments that mean a write hit the file-size limit or a full disk.
DISK_MARKERS = ("File too large", "No space left on device", "Disk quota exceeded")


def classify(
    *,
    exit_code: int | None,
    stderr: str,
    timed_out: bool = False,
    output_exceeded: bool = False,
    disk_exceeded: bool = False,
    cpu_time: float | None = None,
    limits: Limits | None = None,
    oom_killed: bool = False,
) -> tuple[Status, str]:
    """The status of a finished command, with a short reason."""
    if timed_out:
        return Status.TIMEOUT, "wall-time limit exceeded"
    if output_exceeded:
        return Status.OUTPUT_LIMIT, "output limit exceeded"
    if disk_exceeded:
        return Status.OUTPUT_LIMIT, "disk limit exceeded"
    if oom_killed:
        return Status.MEMORY, "memory limit exceeded (killed)"
    if exit_code is None:
        return Status.SANDBOX_ERROR, "the command did not run"
    if exit_code < 0:
        sig = -exit_code
        if sig == signal.SIGXCPU:
            return Status.TIMEOUT, "CPU-time limit exceeded"
        if sig == signal.SIGXFSZ:
            return Status.OUTPUT_LIMIT, "file-size limit exceeded"
        if (
            sig == signal.SIGKILL
            and limits is not None
            and cpu_time is not None
            and cpu_time >= limits.cpu_seconds - 0.05
        ):
            return Status.TIMEOUT, "CPU-time limit exceeded"
    if exit_code != 0:
        tail = stderr[-4000:]
        if any(marker in tail for marker in MEMORY_MARKERS):
            return Status.MEMORY, "memory limit exceeded"
        if any(marker in tail for marker in DISK_MARKERS):
            return Status.OUTPUT_LIMIT, "file-size or disk limit exceeded"
        if exit_code < 0:
            try:
                name = signal.Signals(-exit_code).name
            except ValueError:
                name = f"signal {-exit_code}"
            return Status.NONZERO_EXIT, f"killed by {name}"
        return Status.NONZERO_EXIT, f"exit code {exit_code}"
    return Status.OK, ""
