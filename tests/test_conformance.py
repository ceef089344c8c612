"""Every registered env passes the public conformance check.

TextArena's catalogue (hundreds of ids) is checked on a representative subset in
tests/plugins/test_textarena.py. Envs tagged ``conformance:sampled`` are checked by their
plugin's tests instead: the MiniWoB++ tasks (over a hundred ids, each a page in headless
Chromium) on a sample, and the shop's browser mode page for page against its text mode
(tests/envs/web/). Every other env is checked here.
"""

from __future__ import annotations

import pytest

from gymnpt.core.registry import default_registry
from gymnpt.core.testing import check_env

_REG = default_registry()
_IDS = sorted(
    s.id
    for s in _REG.envs.values()
    if not s.unavailable and s.family != "textarena" and "conformance:sampled" not in s.tags
)


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
