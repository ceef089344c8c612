from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from toy_envs import CountTo, HighCard

from gymnpt import hookimpl
from gymnpt.core.plugins import PluginManager, make_plugin_manager
from gymnpt.core.registry import Registry, UnknownNameError, parse_id

ROOT = Path(__file__).resolve().parents[2]


class ToyPlugin:
    @hookimpl
    def gymnpt_register_envs(self, registry):
        registry.register_env(id="count", entry_point=CountTo, description="count up")
        registry.register_env(id="highcard", entry_point=HighCard, seats=("a", "b"))

    @hookimpl
    def gymnpt_register_agents(self, registry):
        registry.register_agent(
            name="bot:first", factory=lambda env_id=None, **kw: ("first", kw), envs=("count",)
        )


class BrokenHook:
    @hookimpl
    def gymnpt_register_envs(self, registry):
        raise RuntimeError("boom in hook")


@pytest.fixture
def reg():
    pm = make_plugin_manager(autoload=False, plugins=[ToyPlugin(), BrokenHook()])
    return Registry().load_plugins(pm)


def test_plugins_register_envs_and_broken_hook_is_reported(reg):
    assert set(reg.envs) == {"count", "highcard"}
    assert "boom in hook" in next(iter(reg.plugin_manager.failures.values()))
    env = reg.make("count")
    obs, _ = env.reset(seed=1)
    assert isinstance(obs, str)


def test_variant_kwargs_in_id(reg):
    assert parse_id("snake[size=8, apples=2, name=x]") == (
        "snake",
        {"size": 8, "apples": 2, "name": "x"},
    )
    env = reg.make("count[target=2]")
    assert env.unwrapped.target == 2
    with pytest.raises(ValueError):
        parse_id("snake[size]")


def test_unknown_env_suggests_closest(reg):
    with pytest.raises(UnknownNameError) as ei:
        reg.make("cuont")
    assert "count" in str(ei.value) and "gymnpt envs" in str(ei.value)


def test_unknown_kwarg_is_clear(reg):
    with pytest.raises(TypeError, match="cannot make env 'count'"):
        reg.make("count", colour="red")


def test_agent_level_suffix_and_env_filter(reg):
    name, kw = reg.make_agent("bot:first-3", "count")
    assert kw == {"level": 3}
    with pytest.raises(UnknownNameError, match="does not play"):
        reg.make_agent("bot:first", "highcard")


def test_broken_entry_point_is_named_and_others_load(tmp_path, monkeypatch):
    dist = tmp_path / "brokenpkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenpkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[gymnpt]\nbrokenplugin = brokenpkg_mod\n")
    (tmp_path / "brokenpkg_mod.py").write_text("raise ImportError('missing dependency xyz')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    pm = PluginManager()
    loaded = pm.load_entrypoints()
    assert "brokenplugin" in pm.failures and "xyz" in pm.failures["brokenplugin"]
    assert "games" in loaded  # first-party plugins still load
    sys.modules.pop("brokenpkg_mod", None)


def test_autoload_can_be_disabled(monkeypatch):
    monkeypatch.setenv("GYMNPT_DISABLE_PLUGIN_AUTOLOAD", "1")
    pm = make_plugin_manager()
    assert pm.list_name_plugin() == []


def test_first_party_plugins_come_through_entry_points():
    from gymnpt.core.registry import default_registry

    reg = default_registry()
    assert reg.env_spec("snake").plugin == "games"


def test_gymnasium_make_single_agent():
    import gymnasium

    import gymnpt  # noqa: F401  (registers the gymnpt/ namespace)

    env = gymnasium.make("gymnpt/snake")
    obs, info = env.reset(seed=0)
    assert isinstance(obs, str)


def test_example_plugin_installs_and_passes_check_env(tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--target",
            str(target),
            str(ROOT / "docs" / "example_plugin"),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    code = (
        "from gymnpt.core.registry import default_registry\n"
        "from gymnpt.core.testing import check_env\n"
        "reg = default_registry()\n"
        "spec = reg.env_spec('coinflip')\n"
        "assert spec.plugin == 'coinflip', spec.plugin\n"
        "check_env('coinflip')\n"
        "print('ok', spec.plugin)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "ok coinflip" in out.stdout
    listing = subprocess.run(
        [sys.executable, "-m", "gymnpt.cli.main", "envs"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "coinflip" in listing.stdout


def test_module_plugin_object(reg):
    mod = types.ModuleType("modplugin")

    @hookimpl
    def gymnpt_register_envs(registry):
        registry.register_env(id="count2", entry_point=CountTo)

    mod.gymnpt_register_envs = gymnpt_register_envs
    pm = make_plugin_manager(autoload=False, plugins=[mod])
    r = Registry().load_plugins(pm)
    assert "count2" in r.envs and r.envs["count2"].plugin
