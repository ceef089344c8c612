"""Helpers shared by the ``gymnpt`` commands: key checks, help texts, output and policies."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from gymnpt.core.config import ConfigError

# ---- shared keys and help texts ---------------------------------------------------------

#: Largest ``episodes`` one command accepts: counts are checked before anything is allocated.
MAX_EPISODES = 1_000_000
#: Per-batch model-call limit for policies behind a network endpoint (``call_timeout=0``).
REMOTE_CALL_TIMEOUT = 600.0

_MAX_TURNS_HELP = (
    "cap on replies per episode, then it ends 'truncated' (0 = the env's own limit, else "
    "the engine default of 1000)"
)
_MAX_NEW_TOKENS_HELP = (
    "longest reply in tokens (0 = the env's reply length, its spec's max_new_tokens, else 64)"
)
_CALL_TIMEOUT_HELP = (
    "seconds allowed per batched model call; 0 = auto: no limit for local models and bots, "
    f"{REMOTE_CALL_TIMEOUT:g}s for agents behind an endpoint (openai)"
)
_STEP_TIMEOUT_HELP = (
    "deadline in seconds for each env reset/step; 0 = the env's own, else the engine default"
)


def _check_run_keys(cfg: Any) -> None:
    """Validate the keys shared by the commands that play episodes (fails fast)."""
    if not 1 <= cfg.episodes <= MAX_EPISODES:
        raise ValueError(
            f"episodes must be between 1 and {MAX_EPISODES:,}, got {cfg.episodes:,}; "
            "split a larger run into several"
        )
    if cfg.concurrency < 1:
        raise ValueError(f"concurrency must be >= 1 (episodes in flight), got {cfg.concurrency}")
    if cfg.max_turns < 0:
        raise ValueError(f"max_turns must be >= 0 (0 = the env's limit), got {cfg.max_turns}")
    for key in ("call_timeout", "step_timeout"):
        value = getattr(cfg, key, 0.0)
        if not value >= 0:  # also rejects NaN
            raise ValueError(f"{key} must be a number of seconds >= 0, got {value}")
    if cfg.max_new_tokens < 0:
        raise ValueError(
            f"max_new_tokens must be >= 0 (0 = the env's reply length), got {cfg.max_new_tokens}"
        )
    if not cfg.temperature >= 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {cfg.temperature}")
    if not 0 < cfg.top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {cfg.top_p}")
    if getattr(cfg, "threads", 0) < 0:
        raise ValueError(f"threads must be >= 0 (0 = automatic), got {cfg.threads}")
    if getattr(cfg, "env_workers", 1) < 1:
        raise ValueError(f"env_workers must be >= 1, got {cfg.env_workers}")


_BACKEND_HELP = (
    "where envs step: local (threads of this process) or a registered backend such as ray "
    "(env-worker actors; the policies stay here)"
)
_ENV_WORKERS_HELP = "backend=ray: env-worker actors"
_RAY_ADDRESS_HELP = "backend=ray: cluster address (empty = RAY_ADDRESS, else a local instance)"
_ENV_HELP = "env id, with variants in brackets (id[key=value]); required; `gymnpt envs` lists them"


_FORMAT_HELP = (
    "table, tsv (one row per line, tab-separated, no header) or json; default: table on a "
    "terminal, tsv when the output is piped"
)


_THREADS_HELP = (
    "CPU threads of local models (hf, ckpt:); 0 = automatic: 1 for tiny models, else the "
    "cores not busy with other work"
)


# ---- helpers ---------------------------------------------------------------------------------


def _console() -> Any:
    from rich.console import Console

    return Console()


def _registry() -> Any:
    from gymnpt.core.registry import default_registry

    return default_registry()


def _env_spec(reg: Any, env: str) -> Any:
    """The spec of ``env``; a clear error when no env was named."""
    if not env:
        raise ConfigError(
            "env= is required: name the env to use, e.g. env=<id>; `gymnpt envs` lists the "
            "registered envs"
        )
    return reg.env_spec(env)


def _report_plugin_failures(console: Any, fmt: str = "table") -> None:
    pm = _registry().plugin_manager
    for name, err in (pm.failures if pm else {}).items():
        if fmt == "table":
            console.print(f"[yellow]plugin {name!r} failed to load: {err}[/yellow]")
        else:
            print(f"plugin {name!r} failed to load: {err}", file=sys.stderr)


def _env_pool(reg: Any, cfg: Any, env_kwargs: dict[str, Any]) -> Any:
    """Env workers of ``cfg.backend`` (None for ``local``)."""
    if cfg.backend == "local":
        return None
    backend = reg.make_backend(cfg.backend, address=cfg.ray_address or None)
    make_pool = getattr(backend, "env_pool", None)
    if make_pool is None:
        raise ValueError(f"backend={cfg.backend} cannot hold env workers (no env_pool)")
    return make_pool(cfg.env, env_kwargs, workers=cfg.env_workers)


def _make_policy(
    name: str,
    env_id: str,
    *,
    model: str = "",
    base_url: str = "",
    api_key: str = "",
    mode: str = "",
    tokenizer: str = "",
    threads: int = 0,
) -> Any:
    from gymnpt.rollout.policies import build_policy

    extra: dict[str, Any] = {}
    kind = name.split(":", 1)[0]
    if kind == "openai":
        if mode:
            extra["mode"] = mode
        if tokenizer:
            extra["tokenizer"] = tokenizer
    if kind in ("hf", "ckpt") and threads > 0:
        extra["num_threads"] = threads
    return build_policy(
        name,
        env_id,
        model=model or None,
        base_url=base_url or None,
        api_key=api_key or os.environ.get("OPENAI_API_KEY") or None,
        **extra,
    )


def _check_agent_names(reg: Any, env: str, *names: str) -> None:
    """Fail on an unknown agent name before any model is loaded (suggesting agents of ``env``)."""
    for name in names:
        kind = name.split(":", 1)[0]
        if kind not in ("hf", "vllm", "openai", "ckpt"):
            reg.agent_spec(name, env)


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _check_env(reg: Any, env: str, env_kwargs: dict[str, Any]) -> None:
    """Make the env once with the given settings, so that bad settings fail before the run."""
    try:
        made = reg.make_multiagent(env, **env_kwargs)
    except Exception as exc:  # noqa: BLE001 - any failure here is a settings error
        shown = f" with env_kwargs {env_kwargs}" if env_kwargs else ""
        raise ConfigError(f"cannot make env {env}{shown}: {type(exc).__name__}: {exc}") from exc
    close = getattr(made, "close", None)
    if callable(close):
        try:
            close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass


def _out_dir(path: str | Path, key: str = "out") -> Path:
    """Create the output folder ``path``; one clear error when it cannot be used."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{key}={out} is an existing file; {key}= names a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".gymnpt-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"cannot write to {key}={out}: {exc.strerror or exc}") from None
    return out


def _fresh_file(path: Path, key: str = "out") -> Path:
    """Refuse to append a new run to a file that already holds records of another run."""
    if path.exists() and path.stat().st_size > 0:
        raise ConfigError(
            f"{path} already exists: {key}={path.parent} holds an earlier run. Pick a new "
            f"{key}= folder (or delete the file) so that runs never mix"
        )
    return path


def _call_timeout(value: float, *policy_names: str) -> float | None:
    """The per-batch model-call limit: ``value`` when set, else none for local policies and
    :data:`REMOTE_CALL_TIMEOUT` when a policy is behind an endpoint."""
    if value > 0:
        return float(value)
    remote = any(n.split(":", 1)[0] == "openai" for n in policy_names)
    return REMOTE_CALL_TIMEOUT if remote else None


def _all_failed(console: Any, trajs: Any, what: str) -> bool:
    """Print the error kinds of ``trajs``; True when every episode failed."""
    from gymnpt.rollout.summary import print_errors

    errors = print_errors(trajs, console=console)
    episodes = len({t.episode_id for t in trajs})
    if episodes and errors >= episodes:
        console.print(f"[red bold]every {what} episode failed[/red bold]")
        return True
    return False


# ---- commands --------------------------------------------------------------------------------


def _list_format(fmt: str) -> str:
    fmt = (fmt or ("table" if sys.stdout.isatty() else "tsv")).lower()
    if fmt not in {"table", "tsv", "json"}:
        raise ConfigError(f"format must be table, tsv or json, got {fmt!r}")
    return fmt


def _print_rows(
    fmt: str, title: str, columns: list[str], rows: list[dict[str, Any]], console: Any
) -> None:
    """Print a listing as a Rich table, tab-separated lines, or a JSON list of objects.

    Cells may be lists (joined with ", " in a table and in tsv); nothing is truncated.
    """
    if fmt == "json":
        print(json.dumps(rows, indent=1))
        return

    def cell(value: Any) -> str:
        text = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        return text if fmt == "table" else " ".join(text.split())

    if fmt == "tsv":
        for row in rows:
            print("\t".join(cell(row.get(c, "")) for c in columns))
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*(escape(cell(row.get(c, ""))) for c in columns))
    console.print(table)


def _note(fmt: str, console: Any, text: str, style: str = "") -> None:
    """A remark next to a listing: on stderr unless the listing is a table, so pipes get rows only."""
    if fmt == "table":
        console.print(f"[{style}]{text}[/{style}]" if style else text)
    else:
        print(text, file=sys.stderr)
