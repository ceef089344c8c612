"""Every registered env passes the public conformance check.

TextArena's catalogue (hundreds of ids) is checked on a representative subset in
tests/plugins/test_textarena.py; every other env is checked here.
"""

from __future__ import annotations

import pytest

from gymnpt.core.registry import default_registry
from gymnpt.core.testing import check_env

_REG = default_registry()
_IDS = sorted(s.id for s in _REG.envs.values() if not s.unavailable and s.family != "textarena")


def test_first_party_envs_are_registered():
    assert {
        "snake",
        "tictactoe",
        "connect_four",
        "guess_the_number",
        "wordle",
        "kuhn_poker",
    } <= set(_IDS)


def test_plugins_load_cleanly():
    assert not _REG.plugin_manager.failures


@pytest.mark.parametrize("env_id", _IDS)
def test_check_env(env_id):
    report = check_env(env_id, seeds=(0, 1), registry=_REG)
    assert report.episodes == 2
