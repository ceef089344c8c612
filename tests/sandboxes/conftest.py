"""Fixtures for the sandbox tests: every backend available here, and a stray-process probe."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from gymnpt.sandboxes import available_sandboxes, get_sandbox

BACKENDS = ["local", "bwrap", "docker"]


@pytest.fixture(params=BACKENDS)
def sandbox(request: pytest.FixtureRequest):
    """Each backend that is available on this machine (others are skipped, saying why)."""
    why = available_sandboxes().get(request.param, "not registered")
    if why:
        pytest.skip(f"{request.param}: {why}")
    return get_sandbox(request.param, wall_time=5.0)


#: Backends offered for untrusted code: ``sandbox=auto`` picks only among these.
UNTRUSTED_BACKENDS = ["bwrap", "docker"]


@pytest.fixture(params=UNTRUSTED_BACKENDS)
def untrusted_sandbox(request: pytest.FixtureRequest):
    """Each backend offered for untrusted code that is available here (others skip, saying why)."""
    why = available_sandboxes().get(request.param, "not registered")
    if why:
        pytest.skip(f"{request.param}: {why}")
    return get_sandbox(request.param, wall_time=5.0)


def _pool_processes() -> list[tuple[int, int, str]]:
    base = int(os.environ.get("GYMNPT_SANDBOX_UID_BASE", "1900000"))
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                text = f.read()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        uid = int(fields.get("Uid", "0").split()[0])
        state = fields.get("State", "").strip()[:1]
        if base <= uid < base + 512 and state != "Z":
            out.append((int(name), uid, state))
    return out


@pytest.fixture
def pool_processes() -> Callable[[], list[tuple[int, int, str]]]:
    """A function listing live (non-zombie) processes that run as a sandbox pool uid."""
    return _pool_processes
