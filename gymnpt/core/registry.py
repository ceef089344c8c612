"""The registry of envs, agents (policies and bots) and sandboxes.

Plugins fill it through the hooks in :mod:`gymnpt.core.hookspecs`. :func:`default_registry`
builds the process-wide one from the installed entry points on first use.

Env ids may carry keyword variants in brackets: ``make("snake[size=8,apples=2]")`` is
``make("snake", size=8, apples=2)``.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from gymnpt.core.env import as_multiagent

__all__ = [
    "EnvSpec",
    "AgentSpec",
    "SandboxSpec",
    "ModelSpec",
    "BackendSpec",
    "Registry",
    "UnknownNameError",
    "DuplicateNameError",
    "default_registry",
    "make",
    "parse_id",
    "load_entry_point",
]

_log = logging.getLogger(__name__)


class DuplicateNameError(ValueError):
    """A name (an env id) registered twice without ``replace=True``."""


class UnknownNameError(KeyError):
    """An env, agent or sandbox name that nothing registered. The message suggests names."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly.
        return str(self.args[0]) if self.args else ""


def load_entry_point(target: str | Callable[..., Any]) -> Callable[..., Any]:
    """Resolve ``"package.module:attr"`` (or return a callable unchanged)."""
    if callable(target):
        return target
    mod, _, attr = target.partition(":")
    obj: Any = importlib.import_module(mod)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


#: Reply length in tokens when neither the user nor the env spec sets one.
DEFAULT_MAX_NEW_TOKENS = 64


@dataclass
class EnvSpec:
    """What a plugin says about one env."""

    id: str
    entry_point: str | Callable[..., Any]
    family: str = "games"
    #: Seat names. Omitted (empty), they come from the env class's ``seats`` when the entry
    #: point is a class, else ``("player",)``; the env made from this spec must have these
    #: seats (:meth:`Registry.make` checks it and names the plugin when it does not).
    seats: tuple[str, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    #: Bots that play this env well (the first is the strong one), e.g. ("bot:minimax",).
    bots: tuple[str, ...] = ()
    #: Set by the registry to the name of the plugin that registered the spec.
    plugin: str = ""
    #: Single-agent envs are Gymnasium envs; others follow the multi-agent API.
    single_agent: bool | None = None
    #: When set, the env cannot be made here; the text says why (e.g. a missing download).
    unavailable: str | None = None
    tags: tuple[str, ...] = ()
    #: The env's own limit on replies per episode; commands cap episodes there by default.
    max_turns: int | None = None
    #: Tokens one reply needs in this env's format (e.g. 8 for a move, 512 for a program);
    #: commands sample that many when the user sets no ``max_new_tokens`` (see
    #: :meth:`reply_tokens`). None takes the command's default.
    max_new_tokens: int | None = None
    #: Deadline in seconds for one ``reset`` or ``step`` call; None takes the command's default.
    step_timeout: float | None = None
    #: True when steps block for real time (sandboxes, browsers, servers): the engine runs
    #: them in worker threads so they never block the event loop.
    blocking: bool = False
    #: Env settings of the default CPU training run (``gymnpt train preset=true``); every user
    #: can pick them by hand too, e.g. ``{"size": 5, "apples": 2}``.
    train_preset: dict[str, Any] = field(default_factory=dict)
    #: Episode metrics of this env: ``fn(trajectories) -> {name: value}`` (or
    #: ``"module:attr"``), printed by ``gymnpt eval`` and tournaments next to the generic ones.
    metrics: str | Callable[..., dict[str, Any]] | None = None
    #: Policy evaluators: name -> ``fn(policy, *, registry, sampling) -> dict`` (or
    #: ``"module:attr"``), e.g. exact exploitability for a solved game; ``gymnpt eval`` prints them.
    evaluators: dict[str, str | Callable[..., dict[str, Any]]] = field(default_factory=dict)
    #: True when the seats play as one team and share its score (cooperative dialogue
    #: games): tournaments then play every ordered seat assignment, self-pairs included, and
    #: report a table of seat assignments with the env's metrics instead of win/loss ratings.
    cooperative: bool = False

    def __post_init__(self) -> None:
        self.seats = tuple(self.seats)
        #: Whether ``seats`` was given at registration (False: taken from the class or default).
        self.seats_given = bool(self.seats)
        cls = self.entry_point if isinstance(self.entry_point, type) else None
        if not self.seats:
            declared = getattr(cls, "seats", None)
            ok = isinstance(declared, (tuple, list)) and all(isinstance(x, str) for x in declared)
            self.seats = tuple(declared) if ok and declared else ("player",)
        if self.single_agent is None:
            self.single_agent = issubclass(cls, gym.Env) if cls else len(self.seats) == 1

    @property
    def num_seats(self) -> int:
        return len(self.seats)

    def reply_tokens(self, requested: int = 0, default: int = DEFAULT_MAX_NEW_TOKENS) -> int:
        """The reply length a command samples with in this env.

        Args:
            requested: what the user asked for; 0 (not set) takes the env's own length.
            default: the length when neither the user nor the env sets one.

        Returns:
            ``requested`` when it is positive, else :attr:`max_new_tokens` when the env sets
            it, else ``default``.
        """
        if requested > 0:
            return requested
        return self.max_new_tokens if self.max_new_tokens else default


@dataclass
class AgentSpec:
    """A named policy or bot. ``factory(env_id=..., **kwargs)`` returns a Policy."""

    name: str
    factory: str | Callable[..., Any]
    description: str = ""
    #: Env ids (or family names prefixed with ``family:``) it plays; empty means any env.
    envs: tuple[str, ...] = ()
    plugin: str = ""

    def supports(self, env_id: str | None, family: str | None = None) -> bool:
        if not self.envs or env_id is None:
            return True
        return env_id in self.envs or (family is not None and f"family:{family}" in self.envs)


@dataclass
class SandboxSpec:
    """A code-execution backend. ``available()`` returns None when usable, else why not."""

    name: str
    factory: str | Callable[..., Any]
    description: str = ""
    #: Higher is stronger isolation; ``sandbox=auto`` takes the strongest available.
    strength: int = 0
    available: Callable[[], str | None] | None = None
    plugin: str = ""
    #: Whether it contains hostile programs; ``sandbox=auto`` never picks one that does not.
    untrusted: bool = True


@dataclass
class ModelSpec:
    """A short model name (``model=<name>``) that a plugin knows how to fetch or build.

    ``resolve()`` returns a local path or a Hugging Face id that the model loaders accept.
    """

    name: str
    resolve: str | Callable[[], str]
    description: str = ""
    plugin: str = ""


@dataclass
class BackendSpec:
    """A place to run batches of games (e.g. a Ray cluster): ``factory(**settings)``.

    The object it returns has ``play(games, settings, on_row, *, on_trajectory)``, as the
    tournament's own local backend does. ``available()`` returns None when usable, else why not.
    """

    name: str
    factory: str | Callable[..., Any]
    description: str = ""
    available: Callable[[], str | None] | None = None
    plugin: str = ""


_ID_RE = re.compile(r"^(?P<base>[^\[\]]+?)(?:\[(?P<args>.*)\])?$")


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        lowered = text.lower()
        if lowered in {"true", "false"}:
            return lowered == "true"
        if lowered in {"none", "null"}:
            return None
        return text


def parse_id(env_id: str) -> tuple[str, dict[str, Any]]:
    """Split ``"snake[size=8,apples=2]"`` into ``("snake", {"size": 8, "apples": 2})``."""
    m = _ID_RE.match(env_id.strip())
    if not m:
        raise ValueError(f"malformed env id {env_id!r}; expected e.g. 'name' or 'name[key=value]'")
    kwargs: dict[str, Any] = {}
    args = m.group("args")
    if args:
        for part in filter(None, (p.strip() for p in args.split(","))):
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"malformed variant {part!r} in {env_id!r}; expected key=value")
            kwargs[key.strip()] = _literal(value.strip())
    return m.group("base").strip(), kwargs


def suggest(name: str, choices: list[str], n: int = 3) -> list[str]:
    """The closest names to ``name`` among ``choices``."""
    close = difflib.get_close_matches(name, choices, n=n, cutoff=0.5)
    if not close:
        low = name.lower()
        close = [c for c in choices if low in c.lower() or c.lower() in low][:n]
    return close


class Registry:
    """Env, agent and sandbox specs, keyed by name."""

    def __init__(self) -> None:
        self.envs: dict[str, EnvSpec] = {}
        self.agents: dict[str, list[AgentSpec]] = {}
        self.sandboxes: dict[str, SandboxSpec] = {}
        self.models: dict[str, ModelSpec] = {}
        self.backends: dict[str, BackendSpec] = {}
        #: Name of the plugin whose hook is running (set by :meth:`load_plugins`).
        self.current_plugin = ""
        self.plugin_manager: Any = None

    # ---- registration --------------------------------------------------------------------
    def register_env(
        self, spec: EnvSpec | None = None, /, *, replace: bool = False, **kwargs: Any
    ) -> EnvSpec:
        """Add an env spec (an :class:`EnvSpec` or its fields as keywords).

        Args:
            spec: the spec; or give its fields as keywords.
            replace: replace an env already registered under the same id (by this plugin or
                another) on purpose. Without it, a second registration of an id is an error.

        Raises:
            DuplicateNameError: the id is taken and ``replace`` is False; names both plugins.
        """
        spec = spec or EnvSpec(**kwargs)
        if not spec.plugin:
            spec.plugin = self.current_plugin
        old = self.envs.get(spec.id)
        if old is not None and not replace:
            raise DuplicateNameError(
                f"env id {spec.id!r} is registered twice: by plugin {old.plugin or '?'!r} and "
                f"again by plugin {spec.plugin or '?'!r}. Rename one, or pass replace=True to "
                "register_env to replace the first on purpose."
            )
        self.envs[spec.id] = spec
        return spec

    def register_agent(self, spec: AgentSpec | None = None, /, **kwargs: Any) -> AgentSpec:
        """Add a policy or bot. The same name may be registered once per set of envs."""
        spec = spec or AgentSpec(**kwargs)
        if not spec.plugin:
            spec.plugin = self.current_plugin
        entries = self.agents.setdefault(spec.name, [])
        entries[:] = [e for e in entries if e.envs != spec.envs]
        entries.append(spec)
        return spec

    def register_sandbox(self, spec: SandboxSpec | None = None, /, **kwargs: Any) -> SandboxSpec:
        """Add a code-execution backend."""
        spec = spec or SandboxSpec(**kwargs)
        if not spec.plugin:
            spec.plugin = self.current_plugin
        self.sandboxes[spec.name] = spec
        return spec

    def register_model(self, spec: ModelSpec | None = None, /, **kwargs: Any) -> ModelSpec:
        """Add a short model name (``model=<name>``) and how to resolve it to a path or id."""
        spec = spec or ModelSpec(**kwargs)
        if not spec.plugin:
            spec.plugin = self.current_plugin
        self.models[spec.name] = spec
        return spec

    def register_backend(self, spec: BackendSpec | None = None, /, **kwargs: Any) -> BackendSpec:
        """Add a backend that runs batches of games (``gymnpt tournament backend=<name>``)."""
        spec = spec or BackendSpec(**kwargs)
        if not spec.plugin:
            spec.plugin = self.current_plugin
        self.backends[spec.name] = spec
        return spec

    def load_plugins(self, pm: Any) -> Registry:
        """Run the registration hooks of every plugin in ``pm``, one plugin at a time."""
        self.plugin_manager = pm
        for hook_name in (
            "gymnpt_register_envs",
            "gymnpt_register_agents",
            "gymnpt_register_sandboxes",
            "gymnpt_register_backends",
        ):
            hook = getattr(pm.hook, hook_name)
            for impl in reversed(hook.get_hookimpls()):
                self.current_plugin = impl.plugin_name
                try:
                    impl.function(registry=self)
                except Exception as exc:
                    pm._fail(impl.plugin_name, exc)
        self.current_plugin = ""
        return self

    # ---- lookup --------------------------------------------------------------------------
    def env_spec(self, env_id: str) -> EnvSpec:
        base, _ = parse_id(env_id)
        spec = self.envs.get(base)
        if spec is None:
            raise UnknownNameError(self._unknown("env", base, list(self.envs)))
        return spec

    def _unknown(self, kind: str, name: str, choices: list[str]) -> str:
        close = suggest(name, choices)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        failed = ""
        pm = self.plugin_manager
        if pm is not None and pm.failures:
            failed = (
                " Plugins that failed to load: "
                + "; ".join(f"{k} ({v})" for k, v in pm.failures.items())
                + "."
            )
        article = "an" if kind[0] in "aeiou" else "a"
        return (
            f"No {kind} named {name!r}.{hint} Run `gymnpt {kind}s` to list them; {article} {kind} from "
            f"another package appears once that package (its gymnpt plugin) is installed.{failed}"
        )

    def make(self, env_id: str, **kwargs: Any) -> Any:
        """Create an env. Single-agent envs come back as Gymnasium envs."""
        spec = self.env_spec(env_id)
        if spec.unavailable:
            raise RuntimeError(f"env {spec.id!r} is unavailable here: {spec.unavailable}")
        _, id_kwargs = parse_id(env_id)
        all_kwargs = {**spec.kwargs, **id_kwargs, **kwargs}
        factory = load_entry_point(spec.entry_point)
        try:
            env = factory(**all_kwargs)
        except TypeError as exc:
            raise TypeError(f"cannot make env {spec.id!r} with {all_kwargs}: {exc}") from exc
        env.spec_id = spec.id  # type: ignore[attr-defined]
        if all_kwargs == spec.kwargs:  # other kwargs may change the seats (players=4)
            _check_seats(spec, env)
        if isinstance(env, gym.Env) and not isinstance(env, gym.Wrapper):
            env = gym.wrappers.OrderEnforcing(env)
        return env

    def make_multiagent(self, env_id: str, **kwargs: Any) -> Any:
        """Create an env and present it through the multi-agent API (one seat if single)."""
        return as_multiagent(self.make(env_id, **kwargs))

    def agent_spec(self, name: str, env_id: str | None = None) -> tuple[AgentSpec, dict[str, Any]]:
        """Find the agent for ``name`` (e.g. ``bot:minimax-3``) that supports ``env_id``.

        A trailing ``-N`` on a name that is not registered as such is passed as ``level=N``
        (the depth of a minimax bot, say).
        """
        extra: dict[str, Any] = {}
        entries = self.agents.get(name)
        if entries is None:
            m = re.match(r"^(.*)-(\d+)$", name)
            if m and m.group(1) in self.agents:
                entries = self.agents[m.group(1)]
                extra["level"] = int(m.group(2))
        if entries is None:
            choices = list(self.agents)
            if env_id and parse_id(env_id)[0] in self.envs:
                choices = self.agents_for(env_id) or choices  # suggest what plays this env
            raise UnknownNameError(self._unknown("agent", name, choices))
        base = parse_id(env_id)[0] if env_id else None
        family = self.envs[base].family if base in self.envs else None

        # The most specific entry wins: one naming the env id, then its family, then any env;
        # among equals, the one registered last.
        def rank(spec: AgentSpec) -> int:
            if base is not None and base in spec.envs:
                return 2
            if family is not None and f"family:{family}" in spec.envs:
                return 1
            return 0

        matching = [s for s in entries if s.supports(base, family)]
        if matching:
            best = max(rank(s) for s in matching)
            return [s for s in matching if rank(s) == best][-1], extra
        playable = sorted({e for s in entries for e in s.envs})
        raise UnknownNameError(
            f"agent {name!r} does not play env {base!r}; it plays: {', '.join(playable)}"
        )

    def make_agent(self, name: str, env_id: str | None = None, **kwargs: Any) -> Any:
        """Create a policy or bot by name for ``env_id``."""
        spec, extra = self.agent_spec(name, env_id)
        factory = load_entry_point(spec.factory)
        return factory(env_id=env_id, **{**extra, **kwargs})

    def agents_for(self, env_id: str) -> list[str]:
        base = parse_id(env_id)[0]
        family = self.envs[base].family if base in self.envs else None
        return sorted(
            n for n, specs in self.agents.items() if any(s.supports(base, family) for s in specs)
        )

    def resolve_model(self, name: str) -> str:
        """The path or id a registered short model name stands for; other names unchanged."""
        spec = self.models.get(name)
        if spec is None:
            return name
        return str(load_entry_point(spec.resolve)())

    def make_backend(self, name: str, **kwargs: Any) -> Any:
        """Create a registered backend for batches of games."""
        spec = self.backends.get(name)
        if spec is None:
            raise UnknownNameError(self._unknown("backend", name, list(self.backends)))
        why = spec.available() if spec.available else None
        if why:
            raise RuntimeError(f"backend={name} is not available: {why}")
        return load_entry_point(spec.factory)(**kwargs)

    def make_sandbox(self, name: str = "auto", **kwargs: Any) -> Any:
        """Create a sandbox backend; ``auto`` picks the strongest available one."""
        if name == "auto":
            skipped: list[str] = []
            for spec in sorted(self.sandboxes.values(), key=lambda s: -s.strength):
                why = "trusted code only" if not spec.untrusted else None
                why = why or (spec.available() if spec.available else None)
                if why:
                    skipped.append(f"{spec.name}: {why}")
                    continue
                _log.info(
                    "sandbox=auto picked %r%s",
                    spec.name,
                    f" (skipped {'; '.join(skipped)})" if skipped else "",
                )
                return load_entry_point(spec.factory)(**kwargs)
            raise RuntimeError(
                "no sandbox backend for untrusted code is available here ("
                + ("; ".join(skipped) or "none registered")
                + "); install bubblewrap or start a Docker daemon, or name a backend"
            )
        found = self.sandboxes.get(name)
        if found is None:
            raise UnknownNameError(self._unknown("sandbox", name, list(self.sandboxes)))
        spec = found
        why = spec.available() if spec.available else None
        if why:
            raise RuntimeError(f"sandbox {name!r} is not available here: {why}")
        return load_entry_point(spec.factory)(**kwargs)


def _check_seats(spec: EnvSpec, env: Any) -> None:
    """Raise when the env made from ``spec`` has other seats than its registration says."""
    if isinstance(env, gym.Env):
        actual: tuple[str, ...] = ("player",)
    else:
        agents = getattr(env, "possible_agents", None)
        if not isinstance(agents, (list, tuple)):
            return
        actual = tuple(agents)
    if actual == spec.seats:
        return
    how = "registered with" if spec.seats_given else "registered without seats=, so recorded as"
    raise ValueError(
        f"env {spec.id!r} (plugin {spec.plugin or '?'!r}) has seats {actual} but was {how} "
        f"{spec.seats}; the seats come from the env: omit seats= for an env class that "
        "declares them, or give the env's own seats"
    )


_default: Registry | None = None
_lock = threading.RLock()


def default_registry(*, reload: bool = False) -> Registry:
    """The process-wide registry, filled from installed plugins on first use."""
    global _default
    with _lock:
        if _default is None or reload:
            from gymnpt.core.gym_compat import sync_registry
            from gymnpt.core.plugins import autoload_enabled, make_plugin_manager

            _default = Registry().load_plugins(make_plugin_manager())
            sync_registry(_default, autoloaded=autoload_enabled())
        return _default


def make(env_id: str, **kwargs: Any) -> Any:
    """Create a registered env: ``gymnpt.make("tictactoe")``."""
    return default_registry().make(env_id, **kwargs)
