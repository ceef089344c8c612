"""The ``docker`` backend: one short-lived container per command (docker SDK).

Containers run with no network, memory / memory+swap / pids / CPU limits, a read-only root
file system, all capabilities dropped, ``no-new-privileges``, an unprivileged user, a
size-limited tmpfs on ``/tmp`` and the work dir bound at ``/sandbox``. The cgroup kills the
whole container on timeout and reports out-of-memory kills exactly.

When no Docker daemon answers, ``sandbox=auto`` skips this backend and an explicit
``sandbox=docker`` fails with a clear message.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from gymnpt.sandboxes.base import (
    WORKDIR,
    ExecResult,
    Limits,
    SandboxError,
    Status,
    classify,
    decode,
    normalize_command,
)
from gymnpt.sandboxes.process import ProcessSession

__all__ = ["DockerSandbox", "docker_available", "container_config"]

DEFAULT_IMAGE = "python:3.11-slim"
_STDIN_FILE = ".stdin"


def container_config(
    image: str,
    argv: list[str],
    workdir: str,
    limits: Limits,
    env: Mapping[str, str],
    user: str = "65534:65534",
) -> dict[str, Any]:
    """The keyword arguments for ``client.containers.create`` for one command."""
    from docker.types import Ulimit

    mib = 1024 * 1024
    cpu = max(1, int(limits.cpu_seconds + 0.999))
    # stdin comes from a file in the work dir, so that no attach stream is needed.
    shell = ["/bin/sh", "-c", f'exec "$@" < {WORKDIR}/{_STDIN_FILE}', "sh", *argv]
    return {
        "image": image,
        "command": shell,
        "user": user,
        "working_dir": WORKDIR,
        "environment": dict(env),
        "network_disabled": not limits.network,
        "network_mode": None if limits.network else "none",
        "mem_limit": limits.memory_mb * mib,
        "memswap_limit": limits.memory_mb * mib,
        "pids_limit": limits.processes,
        "nano_cpus": 1_000_000_000,
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "tmpfs": {"/tmp": f"size={limits.disk_mb}m,mode=1777"},
        "volumes": {workdir: {"bind": WORKDIR, "mode": "rw"}},
        "ulimits": [
            Ulimit(name="cpu", soft=cpu, hard=cpu + 1),
            Ulimit(name="fsize", soft=limits.file_size_mb * mib, hard=limits.file_size_mb * mib),
            Ulimit(name="core", soft=0, hard=0),
        ],
        "log_config": {
            "type": "json-file",
            "config": {"max-size": str(2 * limits.output_bytes + 4096)},
        },
        "detach": True,
    }


def _client(timeout: float = 2.0) -> Any:
    import docker

    return docker.from_env(timeout=timeout)


@functools.lru_cache(maxsize=1)
def _cached_available() -> str | None:
    try:
        import docker  # noqa: F401
    except ImportError:
        return "the docker SDK is not installed (pip install 'gymnpt[docker]')"
    host = os.environ.get("DOCKER_HOST", "")
    if not host and not os.path.exists("/var/run/docker.sock"):
        return "no Docker daemon: /var/run/docker.sock does not exist and DOCKER_HOST is unset"
    try:
        client = _client(timeout=2.0)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"no Docker daemon answers ({type(exc).__name__}: {str(exc)[:200]})"
    return None


def docker_available() -> str | None:
    """None when a Docker daemon answers quickly; else why not (cached per process)."""
    return _cached_available()


class DockerSandbox:
    """Run each command in a fresh, locked-down container (see the module docs).

    Args:
        limits: Default limits (keyword overrides such as ``wall_time=2`` also work).
        image: The image; it must have ``/bin/sh`` and the tools the commands use.
        python: The interpreter path inside the image for ``{python}``.
        user: ``uid:gid`` the command runs as.
    """

    name = "docker"

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        image: str = DEFAULT_IMAGE,
        python: str = "python3",
        user: str = "65534:65534",
        **limit_overrides: Any,
    ) -> None:
        why = docker_available()
        if why:
            raise SandboxError(f"sandbox 'docker' is not available: {why}")
        self.limits = (limits or Limits()).merged(**limit_overrides)
        self.image = image
        self.user = user
        self._python = python
        self.client = _client(timeout=30.0)
        self.drop_privileges = False

    @property
    def python(self) -> str:
        """The interpreter inside the image."""
        return self._python

    def session(self, files: Mapping[str, str | bytes] | None = None) -> DockerSession:
        """A work dir (bound into each container) that several commands share."""
        return DockerSession(self, files)

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
        """Run one command in a fresh container whose work dir holds ``files``."""
        with self.session(files) as s:
            return s.run(command, stdin=stdin, limits=limits, env=env, **overrides)

    # ProcessSession calls these.
    def _inner_workdir(self, workdir: str) -> str:
        return WORKDIR


class DockerSession(ProcessSession):
    """A host work dir bound into each command's container."""

    def __init__(
        self, sandbox: DockerSandbox, files: Mapping[str, str | bytes] | None = None
    ) -> None:
        super().__init__(sandbox, files)  # type: ignore[arg-type]
        os.chmod(self.workdir, 0o777)

    def run(
        self,
        command: Sequence[str] | str,
        *,
        stdin: str | bytes | None = None,
        limits: Limits | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> ExecResult:
        """Run ``command`` in a new container sharing this work dir."""
        sb: DockerSandbox = self.sandbox  # type: ignore[assignment]
        try:
            lim = (limits or sb.limits).merged(**overrides)
            argv = normalize_command(command)
            self.write_files({_STDIN_FILE: stdin or b""})
            config = container_config(sb.image, argv, self.workdir, lim, self._env(env), sb.user)
        except (SandboxError, TypeError, ValueError) as exc:
            return ExecResult(Status.SANDBOX_ERROR, detail=str(exc), backend="docker")
        start = time.monotonic()
        try:
            container = sb.client.containers.create(**config)
        except Exception as exc:  # noqa: BLE001 - the daemon's errors vary
            return ExecResult(
                Status.SANDBOX_ERROR, detail=f"docker create failed: {exc}", backend="docker"
            )
        timed_out = False
        try:
            container.start()
            try:
                state = container.wait(timeout=lim.wall_time)
                exit_code: int | None = int(state.get("StatusCode", -1))
            except Exception:  # noqa: BLE001 - requests' timeout types vary by version
                timed_out = True
                with contextlib.suppress(Exception):
                    container.kill()
                exit_code = -9
            wall = time.monotonic() - start
            container.reload()
            oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
            out = container.logs(stdout=True, stderr=False)[: lim.output_bytes + 1]
            err = container.logs(stdout=False, stderr=True)[: lim.output_bytes + 1]
        except Exception as exc:  # noqa: BLE001
            return ExecResult(
                Status.SANDBOX_ERROR, detail=f"docker run failed: {exc}", backend="docker"
            )
        finally:
            with contextlib.suppress(Exception):
                container.remove(force=True)
        if exit_code is not None and 128 < exit_code < 160:
            exit_code = 128 - exit_code
        exceeded = len(out) > lim.output_bytes or len(err) > lim.output_bytes
        stdout, stderr = decode(out[: lim.output_bytes]), decode(err[: lim.output_bytes])
        status, detail = classify(
            exit_code=exit_code,
            stderr=stderr,
            timed_out=timed_out,
            output_exceeded=exceeded,
            limits=lim,
            oom_killed=oom,
        )
        return ExecResult(status, exit_code, stdout, stderr, wall, None, exceeded, detail, "docker")
