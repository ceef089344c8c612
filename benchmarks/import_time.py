"""Start-up cost of gymnpt: ``import gymnpt``, ``gymnpt --help``, Gymnasium ids, the registry.

Each case runs in fresh interpreters (the median of ``--repeats`` runs) and reports the CPU
time of the child process (user + system, from ``os.wait4``) and the cumulative import time
of its top-level modules (``python -X importtime``). Side by side in one run:

* ``python -c pass`` -- the interpreter alone, the floor every process pays;
* ``import gymnpt`` -- target: under 0.25 s of CPU;
* ``gymnpt --help`` -- the console script's code path (``main(["--help"])``), same target;
* ``import gymnasium`` -- what ``import gymnpt`` used to pay on top of loading every plugin;
* ``import gymnpt, gymnasium`` with the id cache warm, and with ``GYMNPT_NO_CACHE=1`` (every
  plugin is loaded to find the single-agent ids);
* ``default_registry()`` with the TextArena catalog cache warm, and with it off.

Usage: ``python benchmarks/import_time.py [--repeats R]``. The cache goes to a temporary
folder, so the user's own cache is left alone.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

CASES: list[tuple[str, str, dict[str, str]]] = [
    ("python -c pass", "pass", {}),
    ("import gymnpt", "import gymnpt", {}),
    ("gymnpt --help", "from gymnpt.cli.main import main; main(['--help'])", {}),
    ("import gymnasium", "import gymnasium", {}),
    ("import gymnpt, gymnasium (id cache warm)", "import gymnpt, gymnasium", {}),
    (
        "import gymnpt, gymnasium (no cache)",
        "import gymnpt, gymnasium",
        {"GYMNPT_NO_CACHE": "1"},
    ),
    (
        "default_registry() (caches warm)",
        "from gymnpt.core.registry import default_registry; default_registry()",
        {},
    ),
    (
        "default_registry() (no cache)",
        "from gymnpt.core.registry import default_registry; default_registry()",
        {"GYMNPT_NO_CACHE": "1"},
    ),
]

_IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)")


def run_once(code: str, env: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds of the child, seconds of top-level imports per -X importtime)."""
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-c", code],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{code!r} failed:\n{err[-2000:]}")
    top = 0
    for line in err.splitlines():
        m = _IMPORT_LINE.match(line)
        if m and m.group(2) == " ":  # a top-level import (one space of indent)
            top += int(m.group(1))
    return usage.ru_utime + usage.ru_stime, top / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        base = {**os.environ, "GYMNPT_CACHE_DIR": cache}
        base.pop("GYMNPT_NO_CACHE", None)
        # Fill the caches once, as the first command after an install does.
        run_once("from gymnpt.core.registry import default_registry; default_registry()", base)
        rows = []
        for label, code, extra in CASES:
            runs = [run_once(code, {**base, **extra}) for _ in range(args.repeats)]
            cpu = statistics.median(r[0] for r in runs)
            imp = statistics.median(r[1] for r in runs)
            rows.append((label, cpu, imp))
    floor = rows[0][1]
    print(f"median of {args.repeats} fresh interpreters each")
    print(f"{'case':<42} {'CPU s':>7} {'minus python':>13} {'imports s':>10}")
    for label, cpu, imp in rows:
        print(f"{label:<42} {cpu:>7.3f} {cpu - floor:>13.3f} {imp:>10.3f}")
    by = {label: cpu for label, cpu, _ in rows}
    warm = by["import gymnpt, gymnasium (id cache warm)"]
    cold = by["import gymnpt, gymnasium (no cache)"]
    reg_warm = by["default_registry() (caches warm)"]
    reg_cold = by["default_registry() (no cache)"]
    print(f"Gymnasium ids, no cache / warm cache: {cold / warm:.2f}x")
    print(f"registry build, no cache / warm cache: {reg_cold / reg_warm:.2f}x")


if __name__ == "__main__":
    main()
