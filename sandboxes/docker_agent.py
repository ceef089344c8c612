"""PID 1 of every docker sandbox container: runs commands on request (standard library only).

The host sends one JSON request per line on the container's stdin (``docker attach``) and
reads one JSON reply per line on its stdout. The agent runs as root in the container with
only ``SETUID``, ``SETGID`` and ``KILL`` capabilities; each command runs as user 65534 with
no capabilities, ``no_new_privs`` and rlimits. After each command the agent kills every
other process of the container (``kill(-1)`` from PID 1) and reaps them; at the start of a
session it also empties the writable mounts and removes SysV IPC objects, and checks that
nothing is left.

This file is sent as the container's command (``python3 -I -S -c <source>``); it imports
nothing from gymnpt.
"""

from __future__ import annotations

import base64
import ctypes
import io
import json
import os
import resource
import selectors
import shutil
import signal
import sys
import tarfile
import time
from typing import Any

UID = 65534
WORKDIR = "/sandbox"
CLEAN_DIRS = ("/sandbox", "/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue")
_PR_SET_NO_NEW_PRIVS = 38
_IPC_RMID = 0

_libc: ctypes.CDLL | None
try:
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # pragma: no cover - every glibc image has it
    _libc = None


def _reap() -> None:
    """Reap every exited child (orphans are re-parented to PID 1)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _kill_all(wait: float = 2.0) -> bool:
    """Kill every process but this one, reap them; True when none is left."""
    deadline = time.monotonic() + wait
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _reap()
        left = [p for p in os.listdir("/proc") if p.isdigit() and p != "1"]
        if not left:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)


def _drop() -> None:
    """In the child: become user 65534 with no way back."""
    os.setgroups([])
    os.setgid(UID)
    os.setuid(UID)
    if _libc is not None:
        _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def _sysv_ids() -> list[tuple[str, int]]:
    out = []
    for kind in ("shm", "msg", "sem"):
        with open(f"/proc/sysvipc/{kind}") as f:
            for line in list(f)[1:]:
                out.append((kind, int(line.split()[1])))
    return out


def _as_user(fn, *args) -> str | None:  # type: ignore[no-untyped-def]
    """Run ``fn(*args)`` as user 65534 in a child; None on success, else its error."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(r)
        try:
            _drop()
            why = fn(*args)
        except BaseException as exc:  # noqa: BLE001
            why = f"{type(exc).__name__}: {exc}"
        os.write(w, (why or "").encode()[:4000])
        os._exit(0)
    os.close(w)
    return _drain(r, pid).decode(errors="replace") or None


def _drain(r: int, pid: int) -> bytes:
    """Everything a forked child writes to the pipe ``r`` until it closes; then reap the child."""
    chunks = []
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    return b"".join(chunks)


def _rm_contents(d: str) -> None:
    def fix(func, path, _exc):  # type: ignore[no-untyped-def]
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
        func(path)

    for name in os.listdir(d):
        path = os.path.join(d, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, onerror=fix)
        else:
            os.unlink(path)


def _empty() -> str | None:
    """As user 65534: remove SysV IPC objects and every file in the writable mounts."""
    for kind, ident in _sysv_ids():
        if _libc is not None:
            if kind == "sem":
                _libc.semctl(ident, 0, _IPC_RMID)
            else:
                getattr(_libc, f"{kind}ctl")(ident, _IPC_RMID, None)
    if _sysv_ids():
        return "SysV IPC objects remain"
    for d in CLEAN_DIRS:
        if os.path.isdir(d):
            _rm_contents(d)
            if os.listdir(d):
                return f"files remain in {d}"
    return None


def _sweep() -> str | None:
    """Empty the container; None when clean, else what is left."""
    if not _kill_all():
        return "processes survive SIGKILL"
    return _as_user(_empty)


def _unpack(data: bytes) -> None:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        try:
            tar.extractall(WORKDIR, filter="data")
        except TypeError:  # a Python without extraction filters; names were checked
            tar.extractall(WORKDIR)


def _extract(data: bytes) -> str | None:
    """Unpack a tar archive into the work dir as user 65534."""
    why = _as_user(_unpack, data)
    return f"the files could not be unpacked: {why}" if why else None


def _read(name: str, max_bytes: int) -> bytes | None:
    """Read a work-dir file as user 65534 (None when missing, a link or not a file)."""
    path = os.path.join(WORKDIR, os.path.normpath(name))
    if not path.startswith(WORKDIR + "/"):
        return None
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(r)
        try:
            _drop()
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            if not os.path.isfile(f"/proc/self/fd/{fd}"):
                os._exit(1)
            os.write(w, b"+" + os.read(fd, max_bytes))
        except BaseException:  # noqa: BLE001
            pass
        os._exit(0)
    os.close(w)
    data = _drain(r, pid)
    return data[1:] if data.startswith(b"+") else None


def _child(argv: list[str], env: dict[str, str], limits: dict[str, int], r0: int) -> None:
    # pragma: no cover - runs in the forked child
    try:
        os.setsid()
        os.dup2(r0, 0)
        # The program gets the highest OOM score, so that the cgroup's OOM killer takes the
        # program, never the agent.
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
        for res, value in limits.items():
            lim = getattr(resource, res)
            resource.setrlimit(lim, (value, value if res != "RLIMIT_CPU" else value + 1))
        _drop()
        os.chdir(WORKDIR)
        os.execvpe(argv[0], argv, env)
    except FileNotFoundError:
        os.write(2, f"sandbox: {argv[0]}: command not found\n".encode())
        os._exit(127)
    except PermissionError as exc:
        os.write(2, f"sandbox: {argv[0]}: {exc.strerror}\n".encode())
        os._exit(126)
    except BaseException as exc:  # noqa: BLE001
        os.write(2, f"sandbox: could not start {argv[0]}: {exc}\n".encode())
        os._exit(125)


def _run(req: dict) -> dict:
    argv = [str(a) for a in req["argv"]]
    data = base64.b64decode(req.get("stdin", ""))
    cap = int(req["output_bytes"])
    wall = float(req["wall_time"])
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(in_w)
        os.close(out_r)
        os.close(err_r)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        _child(argv, dict(req["env"]), dict(req["rlimits"]), in_r)
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    bufs = {out_r: bytearray(), err_r: bytearray()}
    sizes = dict.fromkeys(bufs, 0)
    sel = selectors.DefaultSelector()
    for fd in bufs:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    view, offset = memoryview(data), 0
    if data:
        os.set_blocking(in_w, False)
        sel.register(in_w, selectors.EVENT_WRITE)
    else:
        os.close(in_w)
    deadline = start + wall
    timed_out = exceeded = False
    status: int | None = None
    usage: Any = None
    while True:
        now = time.monotonic()
        if now >= deadline:
            timed_out = True
            break
        if status is None:
            wpid, st, ru = os.wait4(pid, os.WNOHANG)
            if wpid == pid:
                status, usage = st, ru
                try:  # the program is done; so is everything it started
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if status is not None and not sel.get_map():
            break
        for key, _ in sel.select(min(0.02, max(0.0, deadline - now))):
            fd = key.fd
            if fd == in_w:
                try:
                    offset += os.write(fd, view[offset : offset + 65536])
                except BlockingIOError:
                    continue
                except OSError:
                    offset = len(view)
                if offset >= len(view):
                    sel.unregister(fd)
                    os.close(fd)
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
                exceeded = True
        if exceeded:
            break
    killed_ok = _kill_all()
    if status is None:
        try:
            _, status, usage = os.wait4(pid, 0)
        except ChildProcessError:
            status = None
    for key in list(sel.get_map().values()):
        sel.unregister(key.fd)
        os.close(key.fd)
    sel.close()
    exit_code: int | None
    if status is not None and os.WIFSIGNALED(status):
        exit_code = -os.WTERMSIG(status)
    elif status is not None and os.WIFEXITED(status):
        exit_code = os.WEXITSTATUS(status)
    else:  # reaped with the rest after a timeout or an output flood: it was killed
        exit_code = -signal.SIGKILL if timed_out or exceeded else None
    return {
        "exit_code": exit_code,
        "stdout": base64.b64encode(bytes(bufs[out_r])).decode(),
        "stderr": base64.b64encode(bytes(bufs[err_r])).decode(),
        "wall_time": time.monotonic() - start,
        "cpu_time": (usage.ru_utime + usage.ru_stime) if usage is not None else None,
        "max_rss_kb": usage.ru_maxrss if usage is not None else None,
        "timed_out": timed_out,
        "output_exceeded": exceeded,
        "truncated": any(sizes[fd] > len(bufs[fd]) for fd in bufs),
        "clean": killed_ok,
    }


def _handle(req: dict) -> dict:
    op = req.get("op")
    if op == "start":
        why = _sweep()
        if why:
            return {"ok": False, "error": why}
        why = _extract(base64.b64decode(req.get("files", ""))) if req.get("files") else None
        return {"ok": why is None, "error": why}
    if op == "files":
        why = _extract(base64.b64decode(req["files"]))
        return {"ok": why is None, "error": why}
    if op == "run":
        return {"ok": True, **_run(req)}
    if op == "read":
        data = _read(str(req["name"]), int(req["max_bytes"]))
        return {"ok": True, "data": None if data is None else base64.b64encode(data).decode()}
    if op == "ping":
        return {"ok": True}
    return {"ok": False, "error": f"unknown op {op!r}"}


def main() -> None:
    """Serve requests until stdin closes."""
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE, signal.SIGQUIT):
        signal.signal(s, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "w")
    devnull = os.open("/dev/null", os.O_RDWR)
    os.dup2(devnull, 2)
    for line in sys.stdin:
        try:
            reply = _handle(json.loads(line))
        except Exception as exc:  # noqa: BLE001 - a bad request gets an error reply
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        _reap()
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
