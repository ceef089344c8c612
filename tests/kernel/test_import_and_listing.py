"""A cheap ``import gymnpt``, Gymnasium ids without plugin imports, the install cache, and
CLI listings that pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gymnpt.cli.main import main
from gymnpt.core import plugins
from gymnpt.core.gym_compat import gymnasium_id, single_agent_ids
from gymnpt.core.registry import default_registry

ROOT = Path(__file__).resolve().parents[2]
GYMNPT = str(Path(sys.executable).with_name("gymnpt"))


def _python(code: str, cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "GYMNPT_CACHE_DIR": str(cache), **env}
    full_env.pop("GYMNPT_NO_CACHE", None)
    return subprocess.run(
        [sys.executable, "-c", code],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_import_gymnpt_loads_no_gymnasium_torch_or_plugin(tmp_path):
    out = _python(
        "import sys, gymnpt\n"
        "heavy = [m for m in ('gymnasium', 'torch', 'omegaconf', 'pluggy', 'numpy', 'rich')\n"
        "         if m in sys.modules]\n"
        "plugins = [m for m in sys.modules if m.startswith(('gymnpt.envs', 'gymnpt.plugins'))]\n"
        "print(heavy, plugins)\n",
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[] []"


def test_cli_help_imports_nothing_heavy(tmp_path):
    out = _python(
        "import sys\nfrom gymnpt.cli.main import main\nmain(['--help'])\n"
        "print([m for m in ('gymnasium', 'torch', 'omegaconf', 'rich', 'numpy') "
        "if m in sys.modules])\n",
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "usage: gymnpt" in out.stdout and out.stdout.strip().endswith("[]")


def test_gymnasium_ids_after_import_in_either_order(tmp_path):
    env_id = gymnasium_id(single_agent_ids(default_registry())[0])
    code = (
        "import sys\n{first}\n{second}\n"
        f"env = gymnasium.make({env_id!r})\n"
        "print('made', sorted(m for m in sys.modules if m.startswith('gymnpt.envs'))[:1])\n"
    )
    orders = [("import gymnpt", "import gymnasium"), ("import gymnasium", "import gymnpt")]
    for first, second in orders:
        cold = _python(code.format(first=first, second=second), tmp_path / first[7:])
        assert cold.returncode == 0, cold.stderr[-2000:]
        assert "made" in cold.stdout
        assert (tmp_path / first[7:] / "gymnasium-ids.json").exists()
    # With the cache warm, registering the ids imports no plugin module.
    warm = _python(
        "import sys, gymnpt, gymnasium\n"
        f"assert {env_id!r} in gymnasium.registry\n"
        "print(sorted(m for m in sys.modules if m.startswith(('gymnpt.envs', 'gymnpt.plugins'))))\n",
        tmp_path / "gymnpt",
    )
    assert warm.returncode == 0, warm.stderr[-2000:]
    assert warm.stdout.strip() == "[]"


def test_cache_is_invalidated_by_files_and_installs(tmp_path, monkeypatch):
    monkeypatch.setenv("GYMNPT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GYMNPT_NO_CACHE", raising=False)
    watched = tmp_path / "plugin.py"
    watched.write_text("x = 1\n")
    plugins.write_cache("probe", {"a": [1, 2]}, [str(watched)])
    assert plugins.read_cache("probe") == {"a": [1, 2]}

    os.utime(watched, ns=(1, 1))  # the plugin module changed
    assert plugins.read_cache("probe") is None

    plugins.write_cache("probe", ["again"], [str(watched)])
    site = tmp_path / "lib" / "site-packages"
    site.mkdir(parents=True)
    monkeypatch.syspath_prepend(str(site))
    assert plugins.read_cache("probe") is None  # a new package folder on sys.path
    plugins.write_cache("probe", ["again"], [str(watched)])
    assert plugins.read_cache("probe") == ["again"]
    (site / "newpkg-1.0.dist-info").mkdir()  # a package was installed
    assert plugins.read_cache("probe") is None

    plugins.write_cache("probe", ["off"])
    monkeypatch.setenv("GYMNPT_NO_CACHE", "1")
    assert plugins.read_cache("probe") is None


def test_unwritable_cache_folder_is_harmless(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("GYMNPT_CACHE_DIR", str(blocker / "sub"))
    monkeypatch.delenv("GYMNPT_NO_CACHE", raising=False)
    plugins.write_cache("probe", [1])
    assert plugins.read_cache("probe") is None


# ---- listings ---------------------------------------------------------------------------------


def _gymnpt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GYMNPT, *args], capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_piped_env_listing_is_one_untruncated_row_per_line():
    out = _gymnpt("envs")
    assert out.returncode == 0, out.stderr
    rows = [line.split("\t") for line in out.stdout.splitlines()]
    reg = default_registry()
    available = {s.id for s in reg.envs.values() if not s.unavailable}
    assert {r[0] for r in rows} == available
    assert all(len(r) == 5 for r in rows)
    longest = max(available, key=len)
    assert any(r[0] == longest for r in rows)  # ids are never cut or wrapped
    if len(available) < len(reg.envs):  # remarks go to stderr, rows to stdout
        assert "unavailable here" in out.stderr and "unavailable here" not in out.stdout


def test_listing_formats():
    envs = json.loads(_gymnpt("envs", "all=true", "format=json").stdout)
    assert len(envs) == len(default_registry().envs)
    assert {"id", "family", "seats", "plugin", "description", "unavailable"} <= set(envs[0])
    agents = _gymnpt("agents", "format=tsv").stdout.splitlines()
    assert agents and all(len(line.split("\t")) == 4 for line in agents)
    plugins_out = _gymnpt("plugins", "format=json")
    assert {p["status"] for p in json.loads(plugins_out.stdout)} <= {"loaded", "failed"}
    bad = _gymnpt("envs", "format=xml")
    assert bad.returncode == 2 and "table, tsv or json" in bad.stderr


@pytest.mark.parametrize("args", [["--help"], ["envs", "all=true"]])
def test_closed_pipe_is_quiet(args):
    out = subprocess.run(
        f"{GYMNPT} {' '.join(args)} | head -c 10 > /dev/null",
        shell=True,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    for word in ("Traceback", "BrokenPipe", "Broken pipe"):
        assert word not in out.stderr, out.stderr


def test_main_returns_on_a_closed_pipe(monkeypatch):
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    saved = os.dup(1)
    try:
        with open(write_fd, "w") as pipe:
            monkeypatch.setattr(sys, "stdout", pipe)
            os.dup2(write_fd, 1)
            assert main(["--help"]) == 141
    finally:
        os.dup2(saved, 1)
        os.close(saved)
