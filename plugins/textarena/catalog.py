"""A static catalog of TextArena's games: ids, player counts and what keeps a game from running.

Nothing here imports TextArena or any of its game modules: the catalog is read from
TextArena's registration file (``textarena/envs/__init__.py``) with :mod:`ast`, and each
game's availability is decided from its source files and the local file system:

* a game module whose source does not compile on this Python (TextArena 0.7.4 has several
  modules written with Python 3.12 f-string syntax) is unavailable on older Pythons;
* a game that calls ``nltk.download`` needs NLTK data; it is available only when that data
  is already on disk (gymnpt never downloads it: see :mod:`gymnpt.plugins.textarena.offline`);
* a game that imports a package that is not installed, or names a module that does not
  exist, is unavailable;
* a game that asks an OpenRouter-hosted model to judge needs ``OPENROUTER_API_KEY``;
* a few games of TextArena 0.7.4 read data files that its wheel does not ship.

Compiling every game module takes about a second, so syntax results are cached per file
(keyed by Python version, path, size and modification time) under the user cache folder, and
the finished catalog is cached too (see :func:`catalog`).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import sys
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "TextArenaGame",
    "catalog",
    "textarena_root",
    "textarena_version",
    "player_range",
    "nltk_data_missing",
]

#: Player counts of TextArena's multi-player games: folder -> (min, max, default).
#: Single- and two-player games are read from the state class their source uses.
PLAYER_COUNTS: dict[str, tuple[int, int, int]] = {
    "Briscola": (2, 4, 2),
    "CharacterConclave": (3, 15, 3),
    "Codenames": (4, 4, 4),
    "Golf": (2, 4, 2),
    "LiarsDice": (2, 15, 2),
    "MarketEntryGame": (2, 15, 4),
    "Poker": (2, 15, 2),
    "PublicGoodsGame": (2, 15, 3),
    "Santorini": (2, 3, 2),
    "SecretMafia": (6, 15, 6),
    "SettlersOfCatan": (4, 4, 4),
    "Snake": (2, 15, 2),
    "Surround": (2, 15, 2),
    "Taboo": (4, 8, 4),
    "ThreePlayerGOPS": (3, 3, 3),
    "ThreePlayerIPD": (3, 3, 3),
    "ThreePlayerTicTacToe": (3, 3, 3),
}

#: Games of TextArena 0.7.4 that fail at run time for reasons no static check sees.
KNOWN_BROKEN_074: dict[str, str] = {
    "ScorableGames": "its game descriptions folder is not shipped in the textarena 0.7.4 wheel",
    "UsedCarNegotiation": "its data file is not shipped in the textarena 0.7.4 wheel",
    "SpiteAndMalice": "its reset fails in textarena 0.7.4 (it reads State.logs before setting it)",
    "CharacterConclave": (
        "every reply raises TypeError inside textarena 0.7.4 (it calls State.add_observation "
        "without observation_type)"
    ),
}

_RANGE_RE = re.compile(r"\b(\d+)\s*<=\s*num_players\s*<=\s*(\d+)")
_EXACT_RE = re.compile(r"\bnum_players\s*==\s*(\d+)")
_NP_RANDOM_RE = re.compile(r"\b(?:np|numpy)\.random\.(?!default_rng)")
_NLTK_DOWNLOAD_RE = re.compile(r"nltk\.download\(\s*(\[[^\]]*\]|['\"][^'\"]+['\"])")
_IMPORT_RE = re.compile(
    r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+(?:\s*,\s*[\w.]+)*))", re.M
)
#: Where NLTK keeps each resource TextArena asks for, relative to an nltk_data folder.
_NLTK_PATHS = {
    "words": ("corpora/words", "corpora/words.zip"),
    "averaged_perceptron_tagger_eng": (
        "taggers/averaged_perceptron_tagger_eng",
        "taggers/averaged_perceptron_tagger_eng.zip",
    ),
}


@dataclass
class TextArenaGame:
    """One TextArena id as gymnpt registers it."""

    #: TextArena's id, e.g. ``"TicTacToe-v0"`` (gymnpt's id is ``"textarena/TicTacToe-v0"``).
    ta_id: str
    #: ``"textarena.envs.TicTacToe.env:TicTacToeEnv"``.
    entry_point: str
    #: The game's folder name under ``textarena/envs``.
    folder: str
    #: ``(min, max, default)`` player counts.
    players: tuple[int, int, int]
    #: TextArena's keyword arguments for this id (literal values only).
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: Why the game cannot run here, or None.
    unavailable: str | None = None
    #: Whether the game's source uses numpy's global RNG (then it is isolated too).
    uses_numpy_random: bool = False


def textarena_root() -> Path | None:
    """The folder of the installed ``textarena`` package, found without importing it."""
    try:
        spec = importlib.util.find_spec("textarena")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def textarena_version() -> str | None:
    """The installed TextArena version, from package metadata."""
    import importlib.metadata

    try:
        return importlib.metadata.version("textarena")
    except importlib.metadata.PackageNotFoundError:
        return None


def _nltk_data_dirs() -> list[Path]:
    """NLTK's data search path, computed the way NLTK does, without importing NLTK."""
    dirs: list[str] = []
    env = os.environ.get("NLTK_DATA")
    if env:
        dirs += [d for d in env.split(os.pathsep) if d]
    dirs += [
        os.path.expanduser("~/nltk_data"),
        os.path.join(sys.prefix, "nltk_data"),
        os.path.join(sys.prefix, "share", "nltk_data"),
        os.path.join(sys.prefix, "lib", "nltk_data"),
        "/usr/share/nltk_data",
        "/usr/local/share/nltk_data",
        "/usr/lib/nltk_data",
        "/usr/local/lib/nltk_data",
    ]
    return [Path(d) for d in dirs]


def nltk_data_missing(resources: list[str]) -> list[str]:
    """The NLTK resources among ``resources`` that are not on disk."""
    dirs = tuple(_nltk_data_dirs())
    return [res for res in resources if not _nltk_on_disk(res, dirs)]


@lru_cache(maxsize=64)
def _nltk_on_disk(resource: str, dirs: tuple[Path, ...]) -> bool:
    rels = _NLTK_PATHS.get(resource, (resource,))
    return any((d / rel).exists() for d in dirs for rel in rels)


def _nltk_resources(source: str) -> list[str]:
    found: list[str] = []
    for m in _NLTK_DOWNLOAD_RE.finditer(source):
        arg = m.group(1)
        try:
            val = ast.literal_eval(arg)
        except (ValueError, SyntaxError):
            continue
        for name in [val] if isinstance(val, str) else list(val):
            if isinstance(name, str) and name not in found:
                found.append(name)
    return found


class _SyntaxCache:
    """Remembers which files compile on this Python, keyed by size and mtime."""

    def __init__(self) -> None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
        tag = f"py{sys.version_info[0]}{sys.version_info[1]}"
        self.path = Path(base) / "gymnpt" / f"textarena-syntax-{tag}.json"
        self.data: dict[str, list[Any]] = {}
        self.dirty = False
        try:
            self.data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def error(self, path: Path, source: str) -> str | None:
        """None when ``path`` compiles here, else the SyntaxError text."""
        try:
            st = path.stat()
        except OSError:
            return None
        key = str(path)
        stamp = [st.st_size, st.st_mtime_ns]
        hit = self.data.get(key)
        if hit is not None and hit[:2] == stamp:
            return hit[2]
        try:
            compile(source, key, "exec", dont_inherit=True)
            err = None
        except SyntaxError as exc:
            err = f"{exc.msg} ({path.name}, line {exc.lineno})"
        except (ValueError, OverflowError) as exc:
            err = str(exc)
        self.data[key] = [*stamp, err]
        self.dirty = True
        return err

    def save(self) -> None:
        if not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data))
            tmp.replace(self.path)
        except OSError:
            pass


def player_range(folder: str, source: str) -> tuple[int, int, int]:
    """``(min, max, default)`` players of a game, from the table or the state class it uses."""
    if folder in PLAYER_COUNTS:
        return PLAYER_COUNTS[folder]
    if "SinglePlayerState" in source:
        return (1, 1, 1)
    m = _RANGE_RE.search(source)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        return (lo, hi, lo)
    m = _EXACT_RE.search(source)
    if m:
        n = int(m.group(1))
        return (n, n, n)
    return (2, 2, 2)


def _module_file(root: Path, module: str) -> Path | None:
    """The file of ``textarena.x.y`` under ``root`` (the textarena folder), if present."""
    parts = module.split(".")[1:]
    base = root.joinpath(*parts) if parts else root
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


class _Scanner:
    """Reads game sources once and decides availability."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.syntax = _SyntaxCache()
        self.sources: dict[Path, str] = {}
        self.verdicts: dict[str, tuple[str | None, bool, tuple[int, int, int]]] = {}
        self.check_074 = textarena_version() == "0.7.4"

    def source(self, path: Path) -> str:
        if path not in self.sources:
            try:
                self.sources[path] = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                self.sources[path] = ""
        return self.sources[path]

    def _reachable(self, start: Path, folder: str) -> list[Path]:
        """``start`` and the game-folder modules it imports (transitively)."""
        game_dir = self.root / "envs" / folder
        seen: list[Path] = []
        todo = [start]
        while todo:
            path = todo.pop()
            if path in seen:
                continue
            seen.append(path)
            for m in _IMPORT_RE.finditer(self.source(path)):
                for name in (m.group(1) or m.group(2) or "").split(","):
                    name = name.strip().split(" ")[0]
                    if name.startswith(f"textarena.envs.{folder}."):
                        f = _module_file(self.root, name)
                        if f is not None and f.parent.is_relative_to(game_dir):
                            todo.append(f)
            for rel in re.findall(r"^\s*from\s+\.(\w+)\s+import", self.source(path), re.M):
                f = path.parent / f"{rel}.py"
                if f.is_file():
                    todo.append(f)
        return seen

    def verdict(self, module: str, folder: str) -> tuple[str | None, bool, tuple[int, int, int]]:
        """(why unavailable or None, uses numpy's global RNG, player counts)."""
        if module in self.verdicts:
            return self.verdicts[module]
        path = _module_file(self.root, module)
        if path is None:
            out: tuple[str | None, bool, tuple[int, int, int]] = (
                f"its module {module} is not part of the installed textarena",
                False,
                player_range(folder, ""),
            )
            self.verdicts[module] = out
            return out
        files = self._reachable(path, folder)
        text = "\n".join(self.source(f) for f in files)
        why = None
        for f in files:
            err = self.syntax.error(f, self.source(f))
            if err:
                why = (
                    f"its source uses syntax this Python {sys.version_info[0]}.{sys.version_info[1]} "
                    f"cannot parse ({err}); it needs Python 3.12 or newer"
                )
                break
        if why is None and self.check_074 and folder in KNOWN_BROKEN_074:
            why = KNOWN_BROKEN_074[folder]
        if why is None:
            missing = sorted({n for n in self._third_party(text) if not _installed(n)})
            if missing:
                why = f"it imports packages that are not installed: {', '.join(missing)}"
        if why is None:
            nltk = _nltk_resources(text)
            if "EnglishDictionary" in text and "words" not in nltk:
                nltk.append("words")
            lacking = nltk_data_missing(nltk)
            if lacking:
                why = (
                    f"it needs the NLTK data {', '.join(lacking)}, which NLTK does not find on disk (gymnpt never "
                    "downloads it); install it where NLTK looks, e.g. `python -m nltk.downloader "
                    f"{' '.join(lacking)}` on a machine with internet access"
                )
        if why is None and "OpenRouter" in text and not os.environ.get("OPENROUTER_API_KEY"):
            why = "it asks models on OpenRouter to judge or answer; set OPENROUTER_API_KEY (needs internet)"
        uses_np = bool(_NP_RANDOM_RE.search(text))
        out = (why, uses_np, player_range(folder, self.source(path)))
        self.verdicts[module] = out
        return out

    @staticmethod
    def _third_party(text: str) -> set[str]:
        names = set()
        for m in _IMPORT_RE.finditer(text):
            for name in (m.group(1) or m.group(2) or "").split(","):
                top = name.strip().split(" ")[0].split(".")[0]
                if top and top != "textarena" and top not in sys.stdlib_module_names:
                    names.add(top)
        return names


@cache
def _installed(top: str) -> bool:
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def _literal_kwargs(call: ast.Call, skip: set[str]) -> tuple[dict[str, Any], list[str]]:
    kwargs: dict[str, Any] = {}
    symbolic: list[str] = []
    for kw in call.keywords:
        if kw.arg is None or kw.arg in skip:
            continue
        try:
            kwargs[kw.arg] = ast.literal_eval(kw.value)
        except (ValueError, SyntaxError, TypeError):
            symbolic.append(kw.arg)
    return kwargs, symbolic


def _registrations(init_source: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(ta_id, entry_point, kwargs) for every id TextArena's registration file registers."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    tree = ast.parse(init_source)
    for stmt in tree.body:
        node = stmt.value if isinstance(stmt, ast.Expr) else None
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        fn = node.func.id
        if fn not in ("register", "register_with_versions"):
            continue
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        try:
            base_id = ast.literal_eval(kw["id"])
            entry = ast.literal_eval(kw["entry_point"])
        except (KeyError, ValueError, SyntaxError):
            continue
        if not isinstance(base_id, str) or not isinstance(entry, str):
            continue
        kwargs, _ = _literal_kwargs(node, {"id", "entry_point", "wrappers", "default_wrappers"})
        ids = [base_id]
        if fn == "register_with_versions":
            wrappers = kw.get("wrappers")
            keys = [
                k.value
                for k in (wrappers.keys if isinstance(wrappers, ast.Dict) else [])
                if isinstance(k, ast.Constant) and isinstance(k.value, str) and k.value != "default"
            ]
            ids += [f"{base_id}{k}" for k in [*keys, "-raw"]]
        out += [(i, entry, kwargs) for i in ids]
    return out


_CACHE_NAME = "textarena-catalog"


def _cache_context(root: Path) -> tuple[dict[str, Any], list[str]]:
    """What the catalog depends on besides installed packages, and the paths to watch."""
    nltk_dirs = [str(d) for d in _nltk_data_dirs()]
    watched = [__file__, str(root / "envs" / "__init__.py"), *nltk_dirs]
    for d in nltk_dirs:  # NLTK data lands in subfolders (corpora, tokenizers, ...)
        try:
            watched += sorted(str(p) for p in Path(d).iterdir() if p.is_dir())
        except OSError:
            pass
    context = {
        "root": str(root),
        "nltk_dirs": nltk_dirs,
        "openrouter": bool(os.environ.get("OPENROUTER_API_KEY")),
    }
    return context, watched


def _from_cache(root: Path) -> tuple[TextArenaGame, ...] | None:
    from gymnpt.core.plugins import read_cache

    data = read_cache(_CACHE_NAME)
    if not isinstance(data, dict) or data.get("context") != _cache_context(root)[0]:
        return None
    try:
        return tuple(
            TextArenaGame(
                ta_id=g["ta_id"],
                entry_point=g["entry_point"],
                folder=g["folder"],
                players=(int(g["players"][0]), int(g["players"][1]), int(g["players"][2])),
                kwargs=ast.literal_eval(g["kwargs"]),
                unavailable=g["unavailable"],
                uses_numpy_random=bool(g["uses_numpy_random"]),
            )
            for g in data["games"]
        )
    except (KeyError, TypeError, ValueError, SyntaxError, IndexError):
        return None


def _to_cache(root: Path, games: tuple[TextArenaGame, ...]) -> None:
    from gymnpt.core.plugins import write_cache

    context, watched = _cache_context(root)
    rows = [
        {
            "ta_id": g.ta_id,
            "entry_point": g.entry_point,
            "folder": g.folder,
            "players": list(g.players),
            "kwargs": repr(g.kwargs),
            "unavailable": g.unavailable,
            "uses_numpy_random": g.uses_numpy_random,
        }
        for g in games
    ]
    write_cache(_CACHE_NAME, {"context": context, "games": rows}, watched)


@lru_cache(maxsize=1)
def catalog() -> tuple[TextArenaGame, ...]:
    """Every TextArena id with its player counts and availability (empty without textarena).

    The scan is cached (:func:`gymnpt.core.plugins.read_cache`): the cache is rebuilt when an
    installed distribution changes, when NLTK data appears or goes, when
    ``OPENROUTER_API_KEY`` is set or unset, or when this module changes.
    """
    root = textarena_root()
    if root is None:
        return ()
    cached = _from_cache(root)
    if cached is not None:
        return cached
    games = scan(root)
    _to_cache(root, games)
    return games


def scan(root: Path) -> tuple[TextArenaGame, ...]:
    """Read the catalog from the TextArena installed at ``root`` (no cache)."""
    try:
        init_source = (root / "envs" / "__init__.py").read_text(encoding="utf-8")
        regs = _registrations(init_source)
    except (OSError, SyntaxError):
        return ()
    scanner = _Scanner(root)
    games = []
    seen: set[str] = set()
    for ta_id, entry, kwargs in regs:
        if ta_id in seen:
            continue
        seen.add(ta_id)
        module = entry.partition(":")[0]
        parts = module.split(".")
        folder = parts[2] if len(parts) > 2 and parts[:2] == ["textarena", "envs"] else parts[-1]
        why, uses_np, (lo, hi, default) = scanner.verdict(module, folder)
        default = int(kwargs.get("num_players", kwargs.get("default_num_players", default)))
        default = min(max(default, lo), hi)
        games.append(
            TextArenaGame(
                ta_id=ta_id,
                entry_point=entry,
                folder=folder,
                players=(lo, hi, default),
                kwargs=kwargs,
                unavailable=why,
                uses_numpy_random=uses_np,
            )
        )
    scanner.syntax.save()
    return tuple(games)
