"""Build a policy from a short agent string, as used on the command line and in tournaments.

=====================  ==========================================================
``bot:<name>[-N]``     a scripted bot from the agent registry (``-N`` is its level)
``hf`` / ``hf:<m>``    a transformers model (``model=`` or ``<m>``: ``tiny``, a path, an id)
``vllm`` / ``vllm:<m>``  the vLLM engine in process
``openai:<url>``       any OpenAI-compatible server (``model=`` names the served model)
``ckpt:<run dir>``     the newest checkpoint of a training run, through ``hf``
``human``              a person at the terminal
=====================  ==========================================================
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["build_policy", "latest_checkpoint"]

_MODEL_BACKENDS = ("hf", "vllm", "openai")


_MODEL_FILES = ("config.json", "adapter_config.json")


def latest_checkpoint(path: str | Path) -> Path:
    """The newest model directory at or under ``path``.

    A model directory holds ``config.json`` (full weights) or ``adapter_config.json`` (a LoRA
    adapter, loaded onto the base model it names).
    """
    p = Path(path)
    if any((p / f).exists() for f in _MODEL_FILES):
        return p
    if not p.exists():
        raise FileNotFoundError(f"no checkpoint at {p}: the path does not exist")
    cands = sorted(
        {
            c.parent
            for f in _MODEL_FILES
            for c in p.rglob(f)
            if "optimizer" not in c.parts and not c.parent.name.startswith(".")
        }
    )
    if not cands:
        raise FileNotFoundError(
            f"no checkpoint under {p}: no folder with a config.json or adapter_config.json"
        )

    def key(d: Path) -> tuple[int, float]:
        nums = [int(x) for x in re.findall(r"\d+", d.name)]
        return (nums[-1] if nums else -1, d.stat().st_mtime)

    return max(cands, key=key)


def build_policy(
    spec: str,
    env_id: str | None = None,
    *,
    registry: Any = None,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    **kwargs: Any,
) -> Any:
    """Create the policy that ``spec`` names for ``env_id`` (see the module docstring)."""
    if registry is None:
        from gymnpt.core.registry import default_registry

        registry = default_registry()
    spec = spec.strip()
    kind, _, arg = spec.partition(":")
    opts: dict[str, Any] = {k: v for k, v in kwargs.items() if v is not None}
    if kind == "ckpt":
        if not arg:
            raise ValueError("ckpt: needs a run or checkpoint directory, e.g. ckpt:runs/snake-1")
        path = latest_checkpoint(arg)
        pol = registry.make_agent("hf", env_id, model=str(path), **opts)
        pol.name = spec
        return pol
    if kind in _MODEL_BACKENDS:
        if kind == "openai":
            url = arg if arg.startswith("http") else base_url
            if arg and not arg.startswith("http"):
                model = model or arg
            if not url:
                raise ValueError(
                    "the openai policy needs base_url=http://host:port/v1 (or openai:<url>)"
                )
            opts["base_url"] = url
            if api_key:
                opts["api_key"] = api_key
        elif arg:
            model = arg
        if model is not None:
            opts["model"] = model
        return registry.make_agent(kind, env_id, **opts)
    return registry.make_agent(spec, env_id, **opts)
