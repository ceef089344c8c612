"""The ``gymnpt`` command line: ``gymnpt <command> key=value ...``.

Each command has a typed config (a dataclass); ``gymnpt <command> --help`` lists its keys.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from gymnpt.cli.episodes import (
    EvalConfig,
    PlayConfig,
    RolloutConfig,
    _make_policy,
    cmd_eval,
    cmd_play,
    cmd_rollout,
)
from gymnpt.cli.listing import AgentsConfig, EnvsConfig, cmd_agents, cmd_envs, cmd_plugins
from gymnpt.core.config import ConfigError, help_rows, parse_overrides

__all__ = ["COMMANDS", "EvalConfig", "PlayConfig", "RolloutConfig", "_make_policy", "main"]

# ---- dispatch ----------------------------------------------------------------------------------

#: command -> (config class or "module:Config", runner or "module:run", one-line help)
COMMANDS: dict[str, tuple[Any, Any, str]] = {
    "envs": (EnvsConfig, cmd_envs, "list registered envs"),
    "agents": (AgentsConfig, cmd_agents, "list registered agents (policies and bots)"),
    "plugins": (AgentsConfig, cmd_plugins, "list loaded plugins and those that failed"),
    "play": (PlayConfig, cmd_play, "play an env in the terminal"),
    "eval": (EvalConfig, cmd_eval, "evaluate an agent with 95% CIs"),
    "rollout": (RolloutConfig, cmd_rollout, "record trajectories with a policy"),
    "train": (
        "gymnpt.training.config:Config",
        "gymnpt.training.run:run",
        "train a policy (SFT warm start + GRPO, RLOO, SFT, DPO)",
    ),
    "tournament": (
        "gymnpt.arena.tournament:Config",
        "gymnpt.arena.tournament:run",
        "round robin with ratings",
    ),
    "serve": (
        "gymnpt.serving.server:Config",
        "gymnpt.serving.server:run",
        "OpenAI-compatible server for a model",
    ),
}


def _resolve(obj: Any) -> Any:
    if isinstance(obj, str):
        mod, _, attr = obj.partition(":")
        return getattr(importlib.import_module(mod), attr)
    return obj


def _usage() -> str:
    lines = [
        "usage: gymnpt <command> [key=value ...]   (gymnpt <command> --help lists the keys)",
        "",
        "commands:",
    ]
    for name, (_, _, text) in COMMANDS.items():
        lines.append(f"  {name:<11} {text}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gymnpt`` console script."""
    try:
        code = _main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`gymnpt envs | head`): stop quietly, like other Unix tools.
        # Point stdout at /dev/null so that the flush at exit does not complain again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the pipe
    return code


def _main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0
    if argv[0] in {"--version", "version"}:
        from gymnpt import __version__

        print(__version__)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(name, list(COMMANDS), n=2)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        print(f"gymnpt: unknown command {name!r}.{hint}\n\n{_usage()}", file=sys.stderr)
        return 2
    cfg_ref, run_ref, _ = COMMANDS[name]
    try:
        cfg_cls = _resolve(cfg_ref)
        runner = _resolve(run_ref)
    except (ImportError, AttributeError) as exc:
        print(f"gymnpt {name}: this command is not available: {exc}", file=sys.stderr)
        return 2
    if any(a in {"-h", "--help"} for a in rest):
        print(f"usage: gymnpt {name} [key=value ...]\n")
        for key, default, text in help_rows(cfg_cls):
            print(f"  {key:<28} {text} (default: {default})")
        return 0
    try:
        cfg = parse_overrides(cfg_cls, rest)
        code = runner(cfg)
    except ConfigError as exc:
        print(f"gymnpt {name}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ngymnpt {name}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # handled by main()
    except (KeyError, ValueError, OSError, RuntimeError, TypeError, ImportError) as exc:
        from gymnpt.core.registry import UnknownNameError

        # A missing optional package (vLLM, Ray, ...) raises ImportError with the install hint.
        if isinstance(
            exc, (UnknownNameError, ValueError, OSError, RuntimeError, ImportError)
        ) and not os.environ.get("GYMNPT_DEBUG"):
            print(f"gymnpt {name}: {exc}", file=sys.stderr)
            return 1
        raise
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
