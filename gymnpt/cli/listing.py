"""Listing commands: ``gymnpt envs``, ``gymnpt agents`` and ``gymnpt plugins``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gymnpt.cli.common import (
    _FORMAT_HELP,
    _console,
    _list_format,
    _note,
    _print_rows,
    _registry,
    _report_plugin_failures,
)
from gymnpt.core.config import field_help


@dataclass
class EnvsConfig:
    family: str = field_help("only envs of this family (games, code, textarena, ...)", default="")
    all: bool = field_help(
        "also list envs that are unavailable here, with the reason", default=False
    )
    format: str = field_help(_FORMAT_HELP, default="")


@dataclass
class AgentsConfig:
    env: str = field_help("only agents that play this env", default="")
    format: str = field_help(_FORMAT_HELP, default="")


def cmd_envs(cfg: EnvsConfig) -> int:
    fmt = _list_format(cfg.format)
    console = _console()
    reg = _registry()
    specs = [s for s in reg.envs.values() if not cfg.family or s.family == cfg.family]
    shown = [s for s in specs if cfg.all or not s.unavailable]
    rows = []
    for s in sorted(shown, key=lambda s: (s.family, s.id)):
        seats: Any = list(s.seats)
        if fmt == "table" and len(s.seats) > 4:
            seats = f"{len(s.seats)} seats"
        rows.append(
            {
                "id": s.id,
                "family": s.family,
                "seats": seats,
                "plugin": s.plugin,
                "description": s.description
                + (f" (unavailable: {s.unavailable})" if s.unavailable and fmt != "json" else ""),
                **({"unavailable": s.unavailable} if fmt == "json" else {}),
            }
        )
    columns = ["id", "family", "seats", "plugin", "description"]
    _print_rows(fmt, f"gymnpt envs ({len(shown)})", columns, rows, console)
    hidden = len(specs) - len(shown)
    if hidden:
        _note(
            fmt,
            console,
            f"{hidden} more are unavailable here; `gymnpt envs all=true` lists them with the reason.",
        )
    if cfg.family and not specs:
        fams = sorted({s.family for s in reg.envs.values()})
        _note(
            fmt, console, f"no env of family {cfg.family!r}; families: {', '.join(fams)}", "yellow"
        )
    _report_plugin_failures(console, fmt)
    return 0


def cmd_agents(cfg: AgentsConfig) -> int:
    fmt = _list_format(cfg.format)
    console = _console()
    reg = _registry()
    rows = []
    for name in sorted(reg.agents):
        for spec in reg.agents[name]:
            if cfg.env and not spec.supports(
                cfg.env, reg.envs[cfg.env].family if cfg.env in reg.envs else None
            ):
                continue
            plays: Any = list(spec.envs) if spec.envs or fmt == "json" else "any env"
            rows.append(
                {
                    "name": name,
                    "plays": plays,
                    "plugin": spec.plugin,
                    "description": spec.description,
                }
            )
    _print_rows(fmt, "gymnpt agents", ["name", "plays", "plugin", "description"], rows, console)
    _report_plugin_failures(console, fmt)
    return 0


def cmd_plugins(cfg: AgentsConfig) -> int:
    fmt = _list_format(cfg.format)
    console = _console()
    reg = _registry()
    pm = reg.plugin_manager
    rows = [
        {"name": name, "status": "loaded", "detail": str(getattr(plugin, "__name__", plugin))}
        for name, plugin in sorted(pm.list_name_plugin())
    ]
    rows += [{"name": n, "status": "failed", "detail": err} for n, err in pm.failures.items()]
    _print_rows(fmt, "gymnpt plugins", ["name", "status", "detail"], rows, console)
    return 0
