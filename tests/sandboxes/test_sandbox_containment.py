"""Containment of hostile programs on every backend offered for untrusted code.

``sandbox=auto`` picks only among these backends (``bwrap``, ``docker``); ``local`` is for
trusted code and is checked by ``test_sandbox_attacks.py`` only. Each attack here checks the
host afterwards, and (where it matters) that nothing reaches a later run.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid

import pytest

from gymnpt.sandboxes import Status, auto_choice
from gymnpt.sandboxes.base import WORKDIR


def _py(sandbox, code: str, **kw):
    return sandbox.run([sandbox.python, "-c", code], **kw)


def _host_processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains ``marker`` (the host sees every container)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError):
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(name))
    return found


def _wait_gone(marker: str, seconds: float = 3.0) -> list[int]:
    deadline = time.monotonic() + seconds
    left = _host_processes_with(marker)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = _host_processes_with(marker)
    return left


def test_sigterm_immune_grandchildren_are_killed(untrusted_sandbox):
    marker = f"gymnpt-immune-{uuid.uuid4().hex}"
    code = (
        "import os, signal, subprocess, sys, time\n"
        "immune = 'import signal, time\\n"
        "for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):\\n"
        "    signal.signal(s, signal.SIG_IGN)\\n"
        "time.sleep(120)\\n'\n"
        "for _ in range(2):\n"
        f"    subprocess.Popen([sys.executable, '-c', immune, '{marker}'], start_new_session=True,"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv(sys.executable, [sys.executable, '-c', immune, '{marker}'])\n"
        "    os._exit(0)\n"
        "time.sleep(0.5)\n"
        "print('started')\n"
    )
    res = _py(untrusted_sandbox, code, wall_time=10.0)
    assert res.status is Status.OK and "started" in res.stdout, res
    assert not _wait_gone(marker), "SIGTERM-immune grandchildren outlived the run"
    later = _py(
        untrusted_sandbox,
        # The marker is split so that this program's own command line does not hold it.
        f"import glob\nm = ({marker[:9]!r} + {marker[9:]!r}).encode()\nhits = 0\n"
        "for p in glob.glob('/proc/[0-9]*/cmdline'):\n"
        "    try:\n        data = open(p, 'rb').read()\n    except OSError:\n        continue\n"
        "    hits += m in data\nprint(hits)\n",
    )
    assert later.ok and later.stdout.strip() == "0", later


def test_writes_to_world_writable_host_dirs_stay_inside(untrusted_sandbox, tmp_path):
    marker = f"gymnpt-escape-{uuid.uuid4().hex}"
    host_dir = str(tmp_path)
    os.chmod(host_dir, 0o777)
    dirs = ["/run/lock", "/var/lock", "/var/tmp", "/dev/shm", "/tmp", "/dev/mqueue", host_dir]
    code = (
        "import json, os\nwrote = []\n"
        f"for d in {dirs!r}:\n"
        f"    p = os.path.join(d, '{marker}')\n"
        "    try:\n        open(p, 'w').write('x')\n        wrote.append(d)\n"
        "    except OSError:\n        pass\n"
        "print(json.dumps(wrote))\n"
    )
    res = _py(untrusted_sandbox, code)
    assert res.status is Status.OK, res
    for d in dirs:
        assert not os.path.exists(os.path.join(d, marker)), f"the sandbox wrote into host {d}"
    later = _py(
        untrusted_sandbox,
        f"import os\nprint([d for d in {dirs!r} if os.path.exists(os.path.join(d, '{marker}'))])",
    )
    assert later.ok and later.stdout.strip() == "[]", later


def test_setuid_files_are_powerless(untrusted_sandbox):
    # A set-uid copy of the shell in every writable place: every such place must be mounted
    # nosuid (or the bit refused), and the program itself may not gain privileges.
    code = (
        "import json, os, shutil, stat\nout = {}\n"
        f"for d in ('{WORKDIR}', '/tmp', '/var/tmp', '/dev/shm'):\n"
        "    p = os.path.join(d, 'suid-sh')\n"
        "    try:\n"
        "        shutil.copy('/bin/sh', p)\n"
        "        os.chmod(p, 0o4755)\n"
        "    except OSError:\n"
        "        out[d] = 'refused'\n"
        "        continue\n"
        "    nosuid = bool(os.statvfs(d).f_flag & os.ST_NOSUID)\n"
        "    setuid = bool(os.stat(p).st_mode & stat.S_ISUID)\n"
        "    out[d] = 'nosuid' if nosuid or not setuid else 'SETUID-EFFECTIVE'\n"
        "nnp = [l for l in open('/proc/self/status') if l.startswith('NoNewPrivs')]\n"
        "out['no_new_privs'] = nnp[0].split()[1] if nnp else '?'\n"
        "out['euid'] = os.geteuid()\n"
        "print(json.dumps(out))\n"
    )
    res = _py(untrusted_sandbox, code)
    assert res.status is Status.OK, res
    out = json.loads(res.stdout)
    assert "SETUID-EFFECTIVE" not in out.values(), out
    assert out["no_new_privs"] == "1" and out["euid"] != 0, out


@pytest.fixture
def host_unix_sockets(tmp_path):
    """A world-writable Unix socket on the host, one in /run/lock, and an abstract one."""
    os.chmod(tmp_path, 0o777)
    paths = [str(tmp_path / "host.sock"), f"/run/lock/gymnpt-test-{uuid.uuid4().hex[:8]}.sock"]
    abstract = f"\0gymnpt-test-{uuid.uuid4().hex}"
    servers = []
    for addr in [*paths, abstract]:
        s = socket.socket(socket.AF_UNIX)
        s.bind(addr)
        if not addr.startswith("\0"):
            os.chmod(addr, 0o777)
        s.listen(5)
        s.settimeout(0.2)
        servers.append(s)
    yield [*paths, abstract], servers
    for s in servers:
        s.close()
    for p in paths:
        with contextlib.suppress(OSError):
            os.unlink(p)


def test_host_unix_sockets_are_out_of_reach(untrusted_sandbox, host_unix_sockets):
    addrs, servers = host_unix_sockets
    code = (
        "import json, socket\nreached = []\n"
        f"for a in {addrs!r}:\n"
        "    s = socket.socket(socket.AF_UNIX)\n    s.settimeout(2)\n"
        "    try:\n        s.connect(a)\n        reached.append(a)\n    except OSError:\n        pass\n"
        "print(json.dumps(reached))\n"
    )
    res = _py(untrusted_sandbox, code)
    assert res.status is Status.OK, res
    assert json.loads(res.stdout) == [], f"the sandbox reached host sockets: {res.stdout}"
    for s in servers:
        with pytest.raises(TimeoutError):
            s.accept()


def test_no_network_interface_but_loopback(untrusted_sandbox):
    code = (
        "import json, socket\nnames = [n for _, n in socket.if_nameindex()]\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "try:\n    s.connect(('1.1.1.1', 53))\n    route = True\nexcept OSError:\n    route = False\n"
        "print(json.dumps({'ifaces': names, 'route': route}))\n"
    )
    res = _py(untrusted_sandbox, code)
    assert res.status is Status.OK, res
    out = json.loads(res.stdout)
    assert set(out["ifaces"]) <= {"lo"} and out["route"] is False, out


def _host_ipc_keys() -> set[str]:
    keys = set()
    for kind in ("shm", "msg", "sem"):
        with open(f"/proc/sysvipc/{kind}") as f:
            for line in list(f)[1:]:
                keys.add(line.split()[0])
    return keys


def test_sysv_ipc_is_not_left_behind(untrusted_sandbox):
    key = 0x6A000000 + (uuid.uuid4().int & 0xFFFFF)
    code = (
        "import ctypes, ctypes.util\n"
        "libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)\n"
        f"shm = libc.shmget({key}, 1 << 16, 0o1666)\n"
        f"msg = libc.msgget({key}, 0o1666)\n"
        f"sem = libc.semget({key}, 1, 0o1666)\n"
        "print(shm >= 0, msg >= 0, sem >= 0)\n"
    )
    res = _py(untrusted_sandbox, code)
    assert res.status is Status.OK, res
    assert str(key) not in _host_ipc_keys(), "the sandbox left SysV IPC objects on the host"
    later = _py(
        untrusted_sandbox,
        "keys = []\nfor kind in ('shm', 'msg', 'sem'):\n"
        "    keys += [l.split()[0] for l in list(open(f'/proc/sysvipc/{kind}'))[1:]]\n"
        f"print('{key}' in keys)\n",
    )
    assert later.ok and later.stdout.strip() == "False", later


def test_host_processes_are_invisible(untrusted_sandbox):
    me = os.getpid()
    code = (
        "import glob, json, os\npids = [int(p.split('/')[2]) for p in glob.glob('/proc/[0-9]*')]\n"
        "cmds = []\nfor p in pids:\n"
        "    try:\n        cmds.append(open(f'/proc/{p}/cmdline', 'rb').read().decode(errors='replace'))\n"
        "    except OSError:\n        pass\n"
        "print(json.dumps({'pids': pids, 'cmds': cmds}))\n"
    )
    res = _py(untrusted_sandbox, code)
    assert res.status is Status.OK, res
    out = json.loads(res.stdout)
    assert len(out["pids"]) <= 6, f"the sandbox sees {len(out['pids'])} processes"
    assert me not in out["pids"] or "pytest" not in " ".join(out["cmds"])
    assert not any("pytest" in c for c in out["cmds"]), out["cmds"]


def test_host_files_are_unreadable(untrusted_sandbox, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    os.chmod(tmp_path, 0o755)
    os.chmod(secret, 0o644)
    project_file = os.path.abspath(__file__)
    targets = [project_file, str(secret), "/root/.bashrc", "/etc/shadow"]
    code = (
        "import json\nread = []\n"
        f"for p in {targets!r}:\n"
        "    try:\n        open(p, 'rb').read(1)\n        read.append(p)\n"
        "    except OSError:\n        pass\n"
        "print(json.dumps(read))\n"
    )
    res = _py(untrusted_sandbox, code)
    assert res.status is Status.OK, res
    assert json.loads(res.stdout) == [], f"the sandbox read host files: {res.stdout}"


def test_file_descriptor_exhaustion_is_bounded(untrusted_sandbox):
    code = (
        "import os, resource\nfds = []\n"
        "try:\n    resource.setrlimit(resource.RLIMIT_NOFILE, (1 << 20, 1 << 20))\n"
        "except (OSError, ValueError):\n    pass\n"
        "try:\n    while True:\n        fds.append(os.open('/dev/null', os.O_RDONLY))\n"
        "except OSError:\n    pass\nprint(len(fds))\n"
    )
    res = _py(untrusted_sandbox, code, open_files=128)
    assert res.status is Status.OK, res
    assert int(res.stdout) < 128, res.stdout


def test_thread_exhaustion_is_bounded(untrusted_sandbox):
    code = (
        "import threading, time\nn = 0\nstop = threading.Event()\n"
        "try:\n    while n < 5000:\n"
        "        threading.Thread(target=stop.wait, daemon=True).start()\n        n += 1\n"
        "except RuntimeError:\n    pass\nprint(n)\nstop.set()\n"
    )
    res = _py(untrusted_sandbox, code, processes=32)
    assert res.status in (Status.OK, Status.NONZERO_EXIT), res
    assert res.stdout.strip() and int(res.stdout) <= 32, res
    other = _py(untrusted_sandbox, "print('fine')")
    assert other.ok and other.stdout == "fine\n", other


def test_auto_never_picks_a_trusted_only_backend():
    picked, _skipped = auto_choice()
    assert picked in {"docker", "bwrap", None}
