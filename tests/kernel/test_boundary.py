"""The kernel boundary: ``gymnpt/`` imports no edge package and names no first-party env id,
and its layers import one way (core -> models -> rollout -> arena -> training / serving -> cli).

The checks read the source with :mod:`ast`, so lazy imports inside functions count too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import gymnpt
from gymnpt.core.registry import default_registry

KERNEL = Path(gymnpt.__file__).resolve().parent
EDGE_PACKAGES = ("envs", "agents", "sandboxes", "plugins")
#: Layer -> the kernel layers it may import (besides itself). The top-level facade modules
#: (``gymnpt/__init__.py``, ``gymnpt/testing.py``, ``gymnpt/__main__.py``) sit outside layers.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "models": {"core"},
    "rollout": {"core", "models"},
    "arena": {"core", "models", "rollout"},
    "training": {"core", "models", "rollout", "arena"},
    "serving": {"core", "models", "rollout"},
    "cli": {"core", "models", "rollout", "arena", "training", "serving"},
}
_EDGE_RE = re.compile(r"^gymnpt\.(" + "|".join(EDGE_PACKAGES) + r")(\.|$|:)")


def kernel_files() -> list[Path]:
    return sorted(p for p in KERNEL.rglob("*.py") if "__pycache__" not in p.parts)


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, module) of every import, with ``from gymnpt import x`` read as ``gymnpt.x``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            if node.module == "gymnpt":
                for alias in node.names:
                    yield node.lineno, f"gymnpt.{alias.name}"


def strings(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, text) of every string constant that is not a docstring."""
    docs = _docstring_nodes(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node.lineno, node.value


def boundary_violations(source: str, name: str, env_ids: set[str]) -> list[str]:
    """Everything in ``source`` (a kernel module) that crosses the kernel boundary."""
    tree = ast.parse(source)
    out = []
    for line, mod in imported_modules(tree):
        if _EDGE_RE.match(mod):
            out.append(f"{name}:{line} imports the edge package {mod}")
    patterns = [
        (env_id, re.compile(r"(?<![\w/.-])" + re.escape(env_id) + r"(?![\w/-])"))
        for env_id in env_ids
    ]
    for line, text in strings(tree):
        if _EDGE_RE.match(text):
            out.append(f"{name}:{line} names the edge module {text!r}")
        for env_id, pat in patterns:
            if pat.search(text):
                out.append(f"{name}:{line} names the first-party env id {env_id!r}: {text!r}")
    return out


def layer_violations(source: str, name: str, layer: str | None) -> list[str]:
    """Imports of a kernel layer that ``layer`` may not import."""
    if layer is None:
        return []
    out = []
    for line, mod in imported_modules(ast.parse(source)):
        parts = mod.split(".")
        if parts[0] != "gymnpt" or len(parts) < 2 or parts[1] not in ALLOWED:
            continue
        if parts[1] != layer and parts[1] not in ALLOWED[layer]:
            out.append(f"{name}:{line} ({layer}) imports {mod} (layer {parts[1]})")
    return out


def first_party_env_ids() -> set[str]:
    """Ids of the envs that the first-party plugins (modules under ``gymnpt.``) register."""
    first_party = {ep.name for ep in entry_points(group="gymnpt") if ep.value.startswith("gymnpt.")}
    reg = default_registry()
    ids = {spec.id for spec in reg.envs.values() if spec.plugin in first_party}
    assert ids, "no first-party env registered: the check would prove nothing"
    return ids


def _layer(path: Path) -> str | None:
    rel = path.relative_to(KERNEL).parts
    return rel[0] if len(rel) > 1 else None


def test_kernel_imports_no_edge_package_and_names_no_first_party_env() -> None:
    env_ids = first_party_env_ids()
    problems = []
    for path in kernel_files():
        name = str(path.relative_to(KERNEL.parent))
        problems += boundary_violations(path.read_text(), name, env_ids)
    assert not problems, "\n".join(problems)


def test_layers_import_one_way() -> None:
    assert set(ALLOWED) == {p.name for p in KERNEL.iterdir() if (p / "__init__.py").exists()}
    problems = []
    for path in kernel_files():
        name = str(path.relative_to(KERNEL.parent))
        problems += layer_violations(path.read_text(), name, _layer(path))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "source",
    [
        "from gymnpt.agents.hf import HFPolicy\n",
        "def f():\n    import gymnpt.plugins.ray_backend\n",
        "from gymnpt import envs\n",
        "X = 'gymnpt.envs.games:thing'\n",
        "def f(env='snake'):\n    return env\n",
        "def f(spec):\n    return spec.id == 'kuhn_poker'\n",
        "HELP = 'env id, e.g. snake or tictactoe'\n",
    ],
)
def test_the_checker_catches_each_kind_of_crossing(source: str) -> None:
    assert boundary_violations(source, "m.py", {"snake", "kuhn_poker", "tictactoe"})


def test_the_checker_leaves_docstrings_and_other_words_alone() -> None:
    source = (
        '"""Play ``snake`` or ``kuhn_poker``."""\n'
        "def f():\n"
        '    """e.g. make("snake[size=8]")."""\n'
        "    return ['snakes', 'runs/snake-1x', 'gymnpt.core.env', 'my_kuhn_poker']\n"
    )
    assert boundary_violations(source, "m.py", {"snake", "kuhn_poker"}) == []


def test_the_layer_check_catches_an_upward_import() -> None:
    src = "def f():\n    from gymnpt.training.learner import Learner\n"
    assert layer_violations(src, "gymnpt/rollout/x.py", "rollout")
    assert not layer_violations(src, "gymnpt/cli/x.py", "cli")
    assert layer_violations("from gymnpt.arena import ratings\n", "x.py", "serving")
