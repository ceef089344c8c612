"""The attack suite: hostile programs are contained, with the right status, on every backend.

Each attack checks: the status, that the host process is fine, that no process of the run is
left, and (where it matters) that nothing leaks into a later run.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

import pytest

from gymnpt.sandboxes import Status


def _py(sandbox, code: str, **kw):
    return sandbox.run([sandbox.python, "-c", code], **kw)


def _no_strays(result, pool_processes) -> None:
    uid = result.extra.get("uid")
    if uid is None:
        return  # not running as root: the backend has no uid of its own to check
    left = [p for p in pool_processes() if p[1] == uid]
    deadline = time.monotonic() + 2.0
    while left and time.monotonic() < deadline:  # killed processes may take a moment to go
        time.sleep(0.05)
        left = [p for p in pool_processes() if p[1] == uid]
    assert not left, f"stray processes of uid {uid}: {left}"


FORK_BOMB = """
import os, time
children = 0
while True:
    try:
        if os.fork() == 0:
            children = 0
        else:
            children += 1
    except OSError:
        time.sleep(0.01)
"""


def test_fork_bomb_is_contained_and_others_unaffected(sandbox, pool_processes):
    results = {}

    def bomb():
        results["bomb"] = _py(sandbox, FORK_BOMB, wall_time=2.0, processes=32)

    t = threading.Thread(target=bomb)
    t.start()
    time.sleep(0.5)
    # Another episode runs normally while the bomb is going off.
    other = _py(sandbox, "import os; print(os.fork() >= 0 and 'fine')", wall_time=5.0)
    t.join()
    assert results["bomb"].status is Status.TIMEOUT
    assert other.status is Status.OK and other.stdout.startswith("fine"), other
    _no_strays(results["bomb"], pool_processes)


def test_memory_bomb(sandbox):
    res = _py(
        sandbox, "x = []\nwhile True:\n    x.append(bytearray(50 * 1024 * 1024))", memory_mb=256
    )
    assert res.status is Status.MEMORY, res


def test_infinite_loop(sandbox):
    start = time.monotonic()
    res = _py(sandbox, "while True:\n    pass", wall_time=1.0)
    assert res.status is Status.TIMEOUT, res
    assert time.monotonic() - start < 10


def test_cpu_limit(sandbox):
    res = _py(sandbox, "while True:\n    pass", wall_time=8.0, cpu_time=1.0)
    assert res.status is Status.TIMEOUT, res
    assert "CPU" in res.detail or "wall" in res.detail


def test_sleeping_grandchildren_are_killed(sandbox, pool_processes):
    code = (
        "import os, subprocess, sys\n"
        "for _ in range(3):\n"
        "    subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        import time; time.sleep(60)\n"
        "    os._exit(0)\n"
        "print('parent done')\n"
    )
    start = time.monotonic()
    res = _py(sandbox, code, wall_time=5.0)
    assert res.status is Status.OK and "parent done" in res.stdout, res
    assert time.monotonic() - start < 4.5  # did not wait for the sleepers
    _no_strays(res, pool_processes)


def test_hundred_megabytes_of_output(sandbox):
    start = time.monotonic()
    code = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(100):\n    sys.stdout.write(chunk)"
    res = _py(sandbox, code, output_bytes=100_000)
    assert res.status is Status.OUTPUT_LIMIT, res
    assert len(res.stdout) == 100_000 and res.truncated
    assert time.monotonic() - start < 10


def test_socket_to_host_loopback_fails(sandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.3)
    port = server.getsockname()[1]
    try:
        code = (
            "import socket\ns = socket.socket()\ns.settimeout(2)\n"
            f"print(s.connect_ex(('127.0.0.1', {port})))\n"
        )
        res = _py(sandbox, code)
        assert res.status is Status.OK, res
        assert res.stdout.strip() != "0", "the sandbox reached the host's loopback"
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        server.close()


def test_socket_to_outside_fails_at_once(sandbox):
    # 192.0.2.1 is TEST-NET-1: unroutable by definition. An empty network namespace has no
    # route at all, so connect fails immediately and nothing leaves the machine.
    code = (
        "import socket, time\ns = socket.socket()\ns.settimeout(3)\nt = time.monotonic()\n"
        "rc = s.connect_ex(('192.0.2.1', 80))\nprint(rc, round(time.monotonic() - t, 2))\n"
    )
    res = _py(sandbox, code)
    assert res.status is Status.OK, res
    rc, took = res.stdout.split()
    assert int(rc) != 0 and float(took) < 1.0, res.stdout


def test_writing_outside_the_work_dir(sandbox, tmp_path):
    marker = f"gymnpt-escape-{uuid.uuid4().hex}"
    host_dir = str(tmp_path)
    os.chmod(host_dir, 0o777)  # even a world-writable host dir must stay out of reach
    targets = [
        f"/tmp/{marker}",
        f"/etc/{marker}",
        f"/usr/{marker}",
        f"{host_dir}/{marker}",
        f"/root/{marker}",
        f"/var/tmp/{marker}",
    ]
    code = (
        "import json\nok = []\n"
        f"for p in {targets!r}:\n"
        "    try:\n        open(p, 'w').write('x')\n        ok.append(p)\n    except OSError:\n        pass\n"
        "print(json.dumps(ok))\n"
    )
    res = _py(sandbox, code)
    assert res.status is Status.OK, res
    for p in targets:
        assert not os.path.exists(p), f"the sandbox wrote {p} on the host"
    for p in (f"/etc/{marker}", f"/usr/{marker}", f"/root/{marker}", f"{host_dir}/{marker}"):
        assert p not in res.stdout, f"the sandbox could write {p}"


def test_parent_environment_is_not_visible(sandbox, monkeypatch):
    secret = f"s3cret-{uuid.uuid4().hex}"
    monkeypatch.setenv("GYMNPT_TEST_SECRET", secret)
    code = (
        "import os, glob\nfound = [k for k, v in os.environ.items() if 'GYMNPT_TEST_SECRET' in k]\n"
        "for p in glob.glob('/proc/[0-9]*/environ'):\n"
        "    try:\n        data = open(p, 'rb').read()\n    except OSError:\n        continue\n"
        f"    if b'{secret}' in data:\n        found.append(p)\n"
        f"try:\n    data = open('/proc/{os.getpid()}/environ', 'rb').read()\n"
        f"    if b'{secret}' in data:\n        found.append('host')\nexcept OSError:\n    pass\n"
        "print(found)\n"
    )
    res = _py(sandbox, code)
    assert res.status is Status.OK, res
    assert res.stdout.strip() == "[]", res.stdout
    assert secret not in res.stdout + res.stderr


def test_signalling_the_parent_fails(sandbox):
    host = os.getpid()
    code = (
        "import os, signal\nout = []\n"
        f"for pid in ({host}, os.getppid(), 1):\n"
        "    try:\n        os.kill(pid, signal.SIGKILL)\n        out.append(pid)\n    except OSError:\n        pass\n"
        "try:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\nprint(out)\n"
    )
    res = _py(sandbox, code)
    # kill(-1) may take the program itself down; either way the host lives.
    assert res.status in (Status.OK, Status.NONZERO_EXIT), res
    assert str(host) not in res.stdout
    assert os.getpid() == host  # still here


def test_filling_the_disk(sandbox):
    big_file = "with open('big', 'wb') as f:\n    while True:\n        f.write(b'x' * (1 << 20))"
    res = _py(sandbox, big_file, file_size_mb=8)
    assert res.status is Status.OUTPUT_LIMIT, res
    many_files = "i = 0\nwhile True:\n    with open(f'f{i}', 'wb') as f:\n        f.write(b'x' * (4 << 20))\n    i += 1"
    res = _py(sandbox, many_files, file_size_mb=8, disk_mb=32, wall_time=10.0)
    assert res.status is Status.OUTPUT_LIMIT, res
    tmp_fill = (
        "with open('/tmp/big', 'wb') as f:\n    while True:\n        f.write(b'x' * (1 << 20))"
    )
    res = _py(sandbox, tmp_fill, file_size_mb=1024, disk_mb=16)
    assert res.status in (Status.OUTPUT_LIMIT, Status.NONZERO_EXIT), res  # ENOSPC or a limit


def test_nothing_leaks_into_later_runs(sandbox, pool_processes):
    marker = uuid.uuid4().hex
    first = _py(
        sandbox,
        "import subprocess\n"
        f"open('/tmp/{marker}', 'w').write('x')\nopen('{marker}', 'w').write('x')\n"
        "subprocess.Popen(['sleep', '60'], start_new_session=True)\nprint('ok')",
    )
    assert first.status is Status.OK, first
    _no_strays(first, pool_processes)
    second = _py(
        sandbox,
        f"import os\nprint(os.path.exists('/tmp/{marker}'), os.path.exists('{marker}'), sorted(os.listdir('.')))",
    )
    assert second.status is Status.OK, second
    assert second.stdout.strip() == "False False []", second.stdout
