"""Typed configs and ``key=value`` overrides (OmegaConf structured configs).

Every command has a dataclass config whose fields carry ``metadata={"help": ...}``.
:func:`parse_overrides` merges ``key=value`` strings into it; OmegaConf checks the types, and
an unknown key is reported with the nearest valid keys.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any, TypeVar

# OmegaConf is imported where it is used, so that `gymnpt --help` stays fast.

__all__ = ["ConfigError", "parse_overrides", "config_keys", "to_dict", "help_rows", "field_help"]

T = TypeVar("T")


class ConfigError(ValueError):
    """A bad override: unknown key, wrong type, or a failed validation."""


def field_help(text: str, **kw: Any) -> Any:
    """Shorthand for ``dataclasses.field(metadata={"help": text}, ...)``."""
    return dataclasses.field(metadata={"help": text}, **kw)


def config_keys(cls: Any, prefix: str = "") -> dict[str, str]:
    """All dotted keys of a dataclass config with their help text."""
    out: dict[str, str] = {}
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        ftype = f.type
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default  # type: ignore[misc]
        if dataclasses.is_dataclass(default):
            out.update(config_keys(type(default), prefix=key + "."))
        else:
            out[key] = f.metadata.get("help", "") if f.metadata else ""
        del ftype
    return out


def _open_dict_keys(cls: Any, prefix: str = "") -> set[str]:
    """Dotted keys of dict-typed fields (any sub-key is allowed under them)."""
    out: set[str] = set()
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default  # type: ignore[misc]
        if dataclasses.is_dataclass(default):
            out |= _open_dict_keys(type(default), prefix=f"{prefix}{f.name}.")
        elif isinstance(default, dict):
            out.add(f"{prefix}{f.name}")
    return out


def _check_key(cls: Any, key: str) -> None:
    keys = config_keys(cls)
    if key in keys:
        return
    for open_key in _open_dict_keys(cls):
        if key.startswith(open_key + "."):
            return
    close = difflib.get_close_matches(key, list(keys), n=3, cutoff=0.6)
    if not close:
        leaf = key.rsplit(".", 1)[-1]
        close = [k for k in keys if k.rsplit(".", 1)[-1] == leaf or leaf in k][:3]
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ConfigError(f"unknown config key {key!r}.{hint} Valid keys: {', '.join(sorted(keys))}")


def parse_overrides(cls: type[T], overrides: list[str], base: dict[str, Any] | None = None) -> T:
    """Build a ``cls`` instance from defaults, an optional ``base`` dict, and ``key=value`` strings."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"expected key=value, got {item!r}")
        key = item.split("=", 1)[0].strip().lstrip("+")
        _check_key(cls, key)
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        schema = OmegaConf.structured(cls)
        parts: list[Any] = [schema]
        if base:
            parts.append(OmegaConf.create(base))
        parts.append(OmegaConf.from_dotlist([o.lstrip("+") for o in overrides]))
        merged = OmegaConf.merge(*parts)
        obj = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        msg = str(exc).split("\n")[0]
        bad_key = getattr(exc, "full_key", None)
        where = f" for {bad_key}" if bad_key else ""
        raise ConfigError(f"bad config value{where}: {msg}") from exc
    except (ValueError, TypeError) as exc:  # __post_init__ validation
        raise ConfigError(str(exc)) from exc
    return obj  # type: ignore[return-value]


def to_dict(cfg: Any) -> dict[str, Any]:
    """A plain dict of a dataclass config."""
    from omegaconf import OmegaConf

    c = OmegaConf.structured(cfg)
    out = OmegaConf.to_container(c, resolve=True)
    assert isinstance(out, dict)
    return out  # type: ignore[return-value]


def to_yaml(cfg: Any) -> str:
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def load_yaml(path: str) -> dict[str, Any]:
    from omegaconf import DictConfig, OmegaConf

    c = OmegaConf.load(path)
    if not isinstance(c, DictConfig):
        raise ConfigError(f"{path} does not hold a mapping")
    out = OmegaConf.to_container(c, resolve=True)
    return out  # type: ignore[return-value]


def help_rows(cls: Any) -> list[tuple[str, str, str]]:
    """(key, default, help) rows for ``gymnpt <command> --help``."""
    from omegaconf import DictConfig, OmegaConf

    inst = OmegaConf.structured(cls)
    rows = []
    for key, text in config_keys(cls).items():
        try:
            default = OmegaConf.select(inst, key)
            default_s = (
                OmegaConf.to_yaml(default).strip()
                if isinstance(default, (DictConfig,))
                else repr(
                    OmegaConf.to_container(default) if hasattr(default, "_content") else default
                )
            )
        except Exception:  # noqa: BLE001
            default_s = "?"
        rows.append((key, default_s, text))
    return rows
