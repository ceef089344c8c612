"""The sandbox contract on every available backend, plus selection and the docker backend."""

from __future__ import annotations

import threading

import pytest

from gymnpt.core.registry import Registry, SandboxSpec
from gymnpt.sandboxes import (
    Limits,
    SandboxError,
    Status,
    auto_choice,
    available_sandboxes,
    get_sandbox,
)
from gymnpt.sandboxes.base import classify, normalize_files


def test_ok_stdout_stderr_exit_code_and_wall_time(sandbox):
    res = sandbox.run(
        [sandbox.python, "main.py"],
        files={
            "main.py": "import sys\nprint(sys.stdin.read().upper())\nprint('err', file=sys.stderr)"
        },
        stdin="hello",
    )
    assert res.status is Status.OK and res.ok
    assert res.exit_code == 0
    assert res.stdout == "HELLO\n" and res.stderr == "err\n"
    assert res.wall_time > 0 and res.backend == sandbox.name


def test_nonzero_exit_and_signal(sandbox):
    res = sandbox.run([sandbox.python, "-c", "raise SystemExit(3)"])
    assert res.status is Status.NONZERO_EXIT and res.exit_code == 3
    res = sandbox.run(
        [sandbox.python, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
    )
    assert res.status is Status.NONZERO_EXIT and res.exit_code == -11
    assert "SIGSEGV" in res.detail


def test_missing_command_is_a_sandbox_error(sandbox):
    res = sandbox.run(["no-such-program-here"])
    assert res.status is Status.SANDBOX_ERROR


def test_session_keeps_files_between_commands(sandbox):
    with sandbox.session({"a.txt": "41"}) as s:
        first = s.run(
            [sandbox.python, "-c", "open('b.txt', 'w').write(str(int(open('a.txt').read()) + 1))"]
        )
        assert first.ok, first
        second = s.run([sandbox.python, "-c", "print(open('b.txt').read())"])
        assert second.stdout.strip() == "42"


def test_large_stdin_is_fed_fully(sandbox):
    data = "y" * 3_000_000
    res = sandbox.run(
        [sandbox.python, "-c", "import sys; print(len(sys.stdin.read()))"], stdin=data
    )
    assert res.ok and res.stdout.strip() == "3000000"


def test_work_dir_is_reported_as_sandbox(sandbox):
    res = sandbox.run(
        [sandbox.python, "main.py"],
        files={"main.py": "import os\nprint(os.getcwd())\nraise ValueError('x')"},
    )
    assert res.stdout.strip() == "/sandbox"
    assert 'File "/sandbox/main.py"' in res.stderr


def test_concurrent_runs_are_independent(sandbox):
    results: dict[int, str] = {}

    def work(i: int) -> None:
        res = sandbox.run([sandbox.python, "-c", f"import time; time.sleep(0.2); print({i} * 2)"])
        results[i] = res.stdout.strip()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: str(i * 2) for i in range(8)}


def test_bad_file_names_and_limits_are_rejected():
    with pytest.raises(SandboxError):
        list(normalize_files({"../escape": "x"}))
    with pytest.raises(SandboxError):
        list(normalize_files({"/etc/passwd": "x"}))
    with pytest.raises(ValueError):
        Limits(wall_time=0)
    with pytest.raises(ValueError):
        Limits(memory_mb=-1)
    with pytest.raises(TypeError, match="unknown limit"):
        Limits().merged(walltime=3)


def test_bad_input_gives_a_sandbox_error_result_not_an_exception(sandbox):
    assert sandbox.run([]).status is Status.SANDBOX_ERROR
    assert sandbox.run(["echo"], files={"../x": "y"}).status is Status.SANDBOX_ERROR
    assert sandbox.run(["echo", "a\x00b"]).status is Status.SANDBOX_ERROR
    assert sandbox.run(["echo"], walltime=3).status is Status.SANDBOX_ERROR


def test_classify():
    assert classify(exit_code=0, stderr="")[0] is Status.OK
    assert classify(exit_code=1, stderr="MemoryError")[0] is Status.MEMORY
    assert classify(exit_code=-24, stderr="")[0] is Status.TIMEOUT
    assert classify(exit_code=-25, stderr="")[0] is Status.OUTPUT_LIMIT
    assert classify(exit_code=None, stderr="")[0] is Status.SANDBOX_ERROR
    assert classify(exit_code=0, stderr="", timed_out=True)[0] is Status.TIMEOUT
    assert classify(exit_code=137, stderr="", oom_killed=True)[0] is Status.MEMORY


def test_auto_picks_the_strongest_backend_for_untrusted_code():
    avail = available_sandboxes()
    assert avail["local"] is None  # available, but for trusted code only
    expected = next((name for name in ("docker", "bwrap") if avail.get(name) is None), None)
    if expected is None:
        with pytest.raises(RuntimeError, match="trusted code only"):
            get_sandbox("auto")
    else:
        assert get_sandbox("auto").name == expected
    picked, skipped = auto_choice()
    assert picked == expected
    for name in ("docker", "bwrap"):
        if name != expected and avail.get(name):
            assert skipped[name] == avail[name]


def test_auto_never_picks_trusted_only_backends_and_says_why():
    reg = Registry()
    reg.register_sandbox(
        SandboxSpec(name="fast", factory=lambda **kw: "fast", strength=99, untrusted=False)
    )
    with pytest.raises(RuntimeError, match="fast: trusted code only"):
        reg.make_sandbox("auto")
    assert reg.make_sandbox("fast") == "fast"  # named explicitly, it is still usable
    reg.register_sandbox(SandboxSpec(name="jail", factory=lambda **kw: "jail", strength=1))
    assert reg.make_sandbox("auto") == "jail"


def test_auto_skips_unavailable_and_explicit_names_fail_clearly():
    reg = Registry()
    reg.register_sandbox(
        SandboxSpec(
            name="strong", factory=lambda **kw: "strong", strength=99, available=lambda: "no daemon"
        )
    )
    reg.register_sandbox(SandboxSpec(name="weak", factory=lambda **kw: "weak", strength=1))
    assert reg.make_sandbox("auto") == "weak"
    with pytest.raises(RuntimeError, match="no daemon"):
        reg.make_sandbox("strong")


def test_explicit_docker_without_a_daemon_fails_with_a_clear_message():
    why = available_sandboxes()["docker"]
    if why is None:
        pytest.skip("a Docker daemon answers here")
    with pytest.raises(RuntimeError, match="docker"):
        get_sandbox("docker")


def test_docker_container_config_is_locked_down():
    from gymnpt.sandboxes.docker import Shape, container_config

    cfg = container_config(
        "gymnpt-sandbox:bookworm", Shape(memory_mb=256, processes=16, disk_mb=32, network=False)
    )
    assert cfg["network_mode"] == "none" and cfg["network_disabled"] is True
    assert cfg["read_only"] is True and cfg["cap_drop"] == ["ALL"]
    # Only the agent (PID 1) holds these, to become user 65534 and to kill what it leaves.
    assert sorted(cfg["cap_add"]) == ["KILL", "SETGID", "SETUID"]
    assert cfg["mem_limit"] == cfg["memswap_limit"] >= 256 * 1024 * 1024
    assert cfg["pids_limit"] == 16 + 1
    assert "no-new-privileges" in cfg["security_opt"] and cfg["ipc_mode"] == "private"
    for d in ("/sandbox", "/tmp", "/var/tmp", "/dev/shm"):
        assert "nosuid" in cfg["tmpfs"][d] and "size=32m" in cfg["tmpfs"][d]
    assert "volumes" not in cfg  # nothing of the host is mounted in


def test_docker_warm_container_is_reused_and_swept():
    why = available_sandboxes()["docker"]
    if why:
        pytest.skip(f"docker: {why}")
    sb = get_sandbox("docker", wall_time=10.0)
    probe = "cat /proc/1/cgroup | md5sum; ls /sandbox /tmp /var/tmp /dev/shm"
    first = sb.run(["/bin/sh", "-c", f"echo x > /tmp/left; echo y > /dev/shm/left; {probe}"])
    seen = {first.stdout.splitlines()[0]}
    for _ in range(6):  # the pool holds a few containers; one of them serves again
        again = sb.run(["/bin/sh", "-c", probe], files={"a.txt": "1"})
        assert again.ok, again
        assert "left" not in again.stdout and again.stdout.count("a.txt") == 1, again.stdout
        if again.stdout.splitlines()[0] in seen:
            break
        seen.add(again.stdout.splitlines()[0])
    else:
        pytest.fail("no container was reused")
    assert first.ok, first


def test_docker_reports_languages_missing_from_the_image():
    why = available_sandboxes()["docker"]
    if why:
        pytest.skip(f"docker: {why}")
    sb = get_sandbox("docker", wall_time=10.0)
    assert sb.missing(["sh"]) is None
    assert "not installed in the image" in (sb.missing(["no-such-compiler"]) or "")
    res = sb.run(["no-such-compiler", "x.c"])
    assert res.status is Status.SANDBOX_ERROR and "cannot run in the image" in res.detail


def test_docker_without_its_image_is_skipped_with_the_reason():
    pytest.importorskip("docker")
    from gymnpt.sandboxes.docker import docker_available

    why = docker_available("gymnpt-no-such-image:0")
    assert why  # never available: either no daemon answers or the image is missing
    if available_sandboxes()["docker"] is None:
        assert "gymnpt-no-such-image:0" in why and "missing" in why


def test_docker_bounds_memory_across_processes_and_the_agent_survives():
    why = available_sandboxes()["docker"]
    if why:
        pytest.skip(f"docker: {why}")
    sb = get_sandbox("docker", wall_time=20.0)
    # Four children of 200 MiB each: every one fits the address-space limit, all together
    # pass the container's cgroup limit.
    code = (
        "import os, time\n"
        "for i in range(4):\n"
        "    if os.fork() == 0:\n"
        "        x = bytearray(200 << 20)\n"
        "        for j in range(0, len(x), 4096):\n            x[j] = 1\n"
        "        time.sleep(3)\n        os._exit(0)\n"
        "print(sorted(os.wait()[1] for _ in range(4)))\n"
    )
    with sb.session() as s:
        res = s.run([sb.python, "-c", code], memory_mb=256)
        assert "9" in res.stdout, res  # some child was killed by the cgroup
        after = s.run([sb.python, "-c", "print('alive')"])
        assert after.ok and after.stdout == "alive\n", after
