"""Per-language configs: how to compile and run a program. A new language is a config entry.

``languages.json`` (shipped with the package) maps a language name to::

    display        name shown to the model
    file           the source file name (e.g. "Main.java")
    compile        argv to build it, or null for interpreted languages
    run            argv to run it; "{python}" is the sandbox's Python interpreter
    fences         code-fence tags that name the language (first one is used in prompts)
    requires       programs that must be on the sandbox PATH (/usr/local/bin:/usr/bin:/bin)
    limits         optional Limits overrides for runs (e.g. more memory for the JVM)
    compile_limits optional Limits overrides for the compile step
    env            optional environment variables for both steps
    wrong          a program that compiles and prints a wrong answer (for bot:wrong)
    must_contain   optional words a program must contain (else the reply is an invalid
                   move and nothing is compiled), e.g. ["class", "main"] for Java

Extra languages can be added without code: put a JSON file of the same shape in the
directory named by ``GYMNPT_CODE_LANGUAGES`` (or pass ``language_config=`` to the env).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from gymnpt.sandboxes.base import SANDBOX_PATH

__all__ = ["Language", "load_languages", "language_unavailable"]


@dataclass(frozen=True)
class Language:
    """How to build and run programs in one language."""

    name: str
    display: str
    file: str
    run: tuple[str, ...]
    compile: tuple[str, ...] | None = None
    fences: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    limits: dict[str, Any] = field(default_factory=dict)
    compile_limits: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    wrong: str = ""
    must_contain: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> Language:
        """Build from a config entry; missing required keys raise ValueError."""
        missing = [k for k in ("file", "run") if k not in d]
        if missing:
            raise ValueError(f"language {name!r} config lacks {missing}")
        return cls(
            name=name,
            display=str(d.get("display", name)),
            file=str(d["file"]),
            run=tuple(d["run"]),
            compile=tuple(d["compile"]) if d.get("compile") else None,
            fences=tuple(d.get("fences", (name,))),
            requires=tuple(d.get("requires", ())),
            limits=dict(d.get("limits", {})),
            compile_limits=dict(d.get("compile_limits", {})),
            env={str(k): str(v) for k, v in d.get("env", {}).items()},
            wrong=str(d.get("wrong", "")),
            must_contain=tuple(d.get("must_contain", ())),
        )

    @property
    def fence(self) -> str:
        """The fence tag used in prompts."""
        return self.fences[0] if self.fences else self.name

    def argv(self, template: tuple[str, ...], python: str) -> list[str]:
        """Fill ``{python}`` in a command template."""
        return [python if a == "{python}" else a for a in template]


@functools.lru_cache(maxsize=1)
def load_languages() -> dict[str, Language]:
    """All configured languages: the shipped ones plus ``$GYMNPT_CODE_LANGUAGES/*.json``."""
    raw = json.loads(resources.files("gymnpt.envs.code").joinpath("languages.json").read_text())
    extra_dir = os.environ.get("GYMNPT_CODE_LANGUAGES")
    if extra_dir and os.path.isdir(extra_dir):
        for fn in sorted(os.listdir(extra_dir)):
            if fn.endswith(".json"):
                with open(os.path.join(extra_dir, fn), encoding="utf-8") as f:
                    raw.update(json.load(f))
    return {name: Language.from_dict(name, d) for name, d in raw.items()}


def language_unavailable(lang: Language) -> str | None:
    """None when every program the language needs is on the sandbox PATH; else why not."""
    for prog in lang.requires:
        if shutil.which(prog, path=SANDBOX_PATH) is None:
            return f"{prog!r} is not installed on the sandbox PATH ({SANDBOX_PATH})"
    return None
