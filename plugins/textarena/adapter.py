"""TextArena games behind gymnpt's env contract.

:class:`TextArenaEnv` drives one TextArena env through the multi-agent API of
:mod:`gymnpt.core.env` (seats ``player_0`` .. ``player_{n-1}``); :class:`TextArenaGymEnv` presents
a single-player game as a Gymnasium env with one seat, ``player``.

Determinism and isolation. TextArena draws from Python's global :mod:`random` (and a few
games from numpy's global RNG). Each adapter owns the state of those generators for its
episode. The functions of the :mod:`random` module are routed per thread: while a thread is
inside a call into TextArena they draw from that episode's own :class:`random.Random`, and
elsewhere from the usual global generator (whose state is never touched). Episodes in
different threads therefore run side by side without a lock, so one slow or stuck game
(a reset that takes a minute, abandoned by the engine's watchdog) never stalls the others.
Games that use numpy's global RNG still run under one process-wide lock, with numpy's state
swapped in and out. ``reset(seed=s)`` seeds the episode's state with ``s`` (and passes ``s``
to TextArena's ``reset``), so an episode depends only on its seed and its actions, whatever
other episodes run in between or in other threads.

Observations. ``observation="delta"`` (the default) gives each seat the messages that
reached it since it last acted, one ``[SENDER] text`` line each -- what a chat model should
read as its next user message. ``observation="full"`` gives TextArena's own observation for
the id (its observation wrappers; for the default ids the whole history every turn).

Invalid moves. TextArena decides what is invalid and how many retries a player gets
(``error_allowance``); the adapter records every ``State.set_invalid_move`` call and reports
it as ``info["invalid_move"]`` (with ``error``, ``retries_left`` and ``penalized``). A reply
that makes the TextArena code raise (a 5000-digit number that Python refuses to convert, a
bug in a game) is an invalid move too, reported the same way with ``info["env_error"]``.

Forfeits. When a player runs out of retries (``penalized``) and TextArena's game goes on
without it (some multi-player games keep playing after every player is eliminated, and a
few loop forever once nobody is left), the adapter ends the game there: the penalized seat
loses (reward -1) and the others win (+1).

Output. What TextArena prints to stdout while it runs is captured (kept, last 4 KB, in
:attr:`TextArenaEnv.captured_output`), never mixed into the caller's output.
"""

from __future__ import annotations

import io
import random
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from gymnpt.core.env import Outcome, coerce_action, text_space
from gymnpt.plugins.textarena import offline
from gymnpt.plugins.textarena.catalog import TextArenaGame, catalog

__all__ = ["TextArenaEnv", "TextArenaGymEnv", "make_env", "game_info", "load_textarena"]

#: Held around calls into games that use numpy's global RNG (its state is process-wide).
_LOCK = threading.RLock()
_GAME_ID = -1
#: Per thread: the episode whose call into TextArena the thread is running.
_LOCAL = threading.local()


def load_textarena() -> Any:
    """Import TextArena with NLTK's downloader made offline first."""
    offline.install()
    import textarena

    return textarena


def game_info(ta_id: str) -> TextArenaGame | None:
    """The catalog entry of a TextArena id, or None when the catalog does not list it."""
    for g in catalog():
        if g.ta_id == ta_id:
            return g
    return None


#: The functions of the :mod:`random` module that draw from its hidden global generator.
_RANDOM_NAMES = tuple(
    sorted(
        n
        for n in dir(random)
        if not n.startswith("_")
        and getattr(getattr(random, n), "__self__", None) is getattr(random, "_inst", None)
    )
)


def _route_random() -> None:
    """Point each of :data:`_RANDOM_NAMES` at a function that draws from the calling
    thread's episode generator when there is one, else from the global generator."""
    module = vars(random)
    if module.get("_gymnpt_routed"):
        return
    for name in _RANDOM_NAMES:
        original = module[name]

        def routed(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            funcs = getattr(_LOCAL, "funcs", None)
            return (funcs[_name] if funcs is not None else _original)(*args, **kw)

        routed.__name__ = routed.__qualname__ = name
        routed.__doc__ = original.__doc__
        module[name] = routed
    module["_gymnpt_routed"] = True


_route_random()


class _RoutedStdout(io.TextIOBase):
    """Stands in for ``sys.stdout`` while some thread is inside TextArena: writes from such
    a thread go to its episode's buffer, everything else to the real stream."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def write(self, text: str) -> int:
        buf = getattr(_LOCAL, "out", None)
        return (buf if buf is not None else self.real).write(text)

    def flush(self) -> None:
        if getattr(_LOCAL, "out", None) is None:
            self.real.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


_OUT_LOCK = threading.Lock()
_out_users = 0
_router: _RoutedStdout | None = None


def _stdout_on() -> None:
    global _out_users, _router
    with _OUT_LOCK:
        if _out_users == 0 or _router is None or sys.stdout is not _router:
            _router = _RoutedStdout(sys.stdout)
            sys.stdout = _router
        _out_users += 1


def _stdout_off() -> None:
    global _out_users, _router
    with _OUT_LOCK:
        _out_users -= 1
        if _out_users == 0 and _router is not None:
            if sys.stdout is _router:  # leave alone a stream someone else put there since
                sys.stdout = _router.real
            _router = None


class _EpisodeRNG:
    """The global RNGs of one episode, in force around calls into TextArena.

    Python's global generator is replaced by the episode's own :class:`random.Random` for the
    calling thread (see :func:`_route_random`). Games that use numpy's global RNG get its
    state swapped too, under :data:`_LOCK`. What TextArena prints meanwhile is captured.
    """

    def __init__(self, use_numpy: bool) -> None:
        self.use_numpy = use_numpy
        #: What TextArena printed while this episode's calls ran.
        self.output = io.StringIO()
        self.py = random.Random(0)
        self.funcs = {n: getattr(self.py, n) for n in _RANDOM_NAMES}
        self.seed(0)

    def seed(self, seed: int) -> None:
        self.py.seed(seed)
        if self.use_numpy:
            self.np_state = np.random.RandomState(seed % (2**32)).get_state()

    def enter(self) -> Any:
        """Put the episode's RNGs in force for this thread; pass the result to :meth:`exit`."""
        saved_np = None
        if self.use_numpy:
            _LOCK.acquire()
            saved_np = np.random.get_state()
            np.random.set_state(self.np_state)
        token = (getattr(_LOCAL, "funcs", None), getattr(_LOCAL, "out", None), saved_np)
        _LOCAL.funcs = self.funcs
        _LOCAL.out = self.output
        _stdout_on()
        return token

    def exit(self, token: Any) -> None:
        """Restore what :meth:`enter` replaced."""
        funcs, out, saved_np = token
        _LOCAL.funcs, _LOCAL.out = funcs, out
        _stdout_off()
        if out is None and self.output.tell() > 8192:  # keep the last 4 KB
            tail = self.output.getvalue()[-4096:]
            self.output = io.StringIO()
            self.output.write(tail)
        if self.use_numpy:
            try:
                self.np_state = np.random.get_state()
                np.random.set_state(saved_np)
            finally:
                _LOCK.release()

    @contextmanager
    def active(self) -> Iterator[None]:
        token = self.enter()
        try:
            yield
        finally:
            self.exit(token)


def _seat(pid: int) -> str:
    return f"player_{pid}"


class TextArenaEnv:
    """A TextArena game with gymnpt's multi-agent API (PettingZoo-AEC-like).

    It fulfils :class:`gymnpt.MultiSeatEnv`, the contract the engine and ``check_env`` use.

    Args:
        ta_id: TextArena's id, e.g. ``"TicTacToe-v0"``.
        num_players: Players for games with a player range (default: the game's default).
        observation: ``"delta"`` (new messages since the seat last acted) or ``"full"``
            (TextArena's own observation wrappers).
        max_steps: Truncate the episode after this many replies (None: TextArena's limits only).
        max_action_chars: Replies are cut to this many characters before TextArena parses
            them (some TextArena parsers take seconds on a 100 KB reply); None: no cut.
        render_mode: Only ``"ansi"`` (or None).
        **ta_kwargs: Passed to the TextArena env constructor (e.g. ``max_turns``).

    Raises:
        RuntimeError: when TextArena or the game cannot be loaded here (the reason is given).
        ValueError: for a player count the game does not support or an unknown option.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"]}

    def __init__(
        self,
        ta_id: str,
        num_players: int | None = None,
        observation: str = "delta",
        max_steps: int | None = None,
        max_action_chars: int | None = 8192,
        render_mode: str | None = None,
        **ta_kwargs: Any,
    ) -> None:
        if observation not in ("delta", "full"):
            raise ValueError(f"observation must be 'delta' or 'full', not {observation!r}")
        if max_steps is not None and int(max_steps) < 1:
            raise ValueError(f"max_steps must be a positive integer or None, not {max_steps!r}")
        if max_action_chars is not None and int(max_action_chars) < 1:
            raise ValueError(f"max_action_chars must be positive or None, not {max_action_chars!r}")
        self.max_action_chars = None if max_action_chars is None else int(max_action_chars)
        self.ta_id = ta_id
        self.info = game_info(ta_id)
        lo, hi, default = self.info.players if self.info else (1, 15, 2)
        n = default if num_players is None else int(num_players)
        if not lo <= n <= hi:
            raise ValueError(f"TextArena game {ta_id} takes {lo}..{hi} players, not {n}")
        if self.info is not None and self.info.unavailable:
            raise RuntimeError(
                f"TextArena game {ta_id} is unavailable here: {self.info.unavailable}"
            )
        self.num_players = n
        self.observation_mode = observation
        self.max_steps = None if max_steps is None else int(max_steps)
        self.render_mode = render_mode
        self.possible_agents = [_seat(i) for i in range(n)]
        self.seats = tuple(self.possible_agents)
        self._pids = {seat: i for i, seat in enumerate(self.seats)}
        self._zeros = dict.fromkeys(self.seats, 0.0)
        self.observation_spaces = {s: text_space() for s in self.seats}
        self.action_spaces = {s: text_space() for s in self.seats}
        self._rng = _EpisodeRNG(bool(self.info and self.info.uses_numpy_random))
        self._seed_base: int | None = None
        self._seed_count = 0
        try:
            ta = load_textarena()
            with self._rng.active():
                random.seed(0)
                probe = ta.make(ta_id, **ta_kwargs)  # fail here, not at reset, if it cannot load
        except Exception as exc:
            raise RuntimeError(
                f"cannot load TextArena game {ta_id}: {type(exc).__name__}: {exc}"
            ) from exc
        self._ta_module = ta
        self._ta_kwargs = dict(ta_kwargs)
        self._use(probe)
        self._done = True
        self.agents: list[str] = []
        self.agent_selection = ""
        self.rewards = {s: 0.0 for s in self.seats}
        self._cumulative_rewards = {s: 0.0 for s in self.seats}
        self.terminations = {s: False for s in self.seats}
        self.truncations = {s: False for s in self.seats}
        self.infos: dict[str, dict[str, Any]] = {s: {} for s in self.seats}
        self._outcomes: dict[str, str] = {}

    # ---- gymnpt API ------------------------------------------------------------------------
    @property
    def num_seats(self) -> int:
        return self.num_players

    @property
    def done(self) -> bool:
        """Whether the episode is over (or was never started)."""
        return self._done

    @property
    def unwrapped(self) -> TextArenaEnv:
        return self

    def observation_space(self, agent: str) -> Any:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> Any:
        return self.action_spaces[agent]

    def seat_instructions(self, seat: str) -> str:
        """The system prompt for ``seat``; the game's own rules come in its first message."""
        game = self.ta_id.split("-v")[0]
        pid = self._pid(seat)
        return (
            f"You are Player {pid} of {self.num_players} in the game {game} (TextArena {self.ta_id}). "
            "Each message from the game shows what happened since your last turn, one line per "
            "message, prefixed by who sent it ([GAME] is the game itself). The first message "
            "explains the rules. Reply with your move in exactly the format the game asks for, "
            "usually an action in square brackets such as [4]. Invalid moves are penalized."
        )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Start an episode; ``reset(seed=s)`` fully determines it (with the actions)."""
        if seed is None:
            # Continue a stream: derived from the last seed (or fresh entropy) and a counter.
            if self._seed_base is None:
                self._seed_base = int(np.random.SeedSequence().entropy % (2**63))
            self._seed_count += 1
            ss = np.random.SeedSequence([self._seed_base, self._seed_count])
            ta_seed = int(ss.generate_state(1, np.uint64)[0] % (2**63))
        else:
            ta_seed = int(seed)
            self._seed_base, self._seed_count = abs(ta_seed), 0
        self.seed = seed
        self._rng.seed(ta_seed)
        self._invalid: list[tuple[int, str, bool]] = []
        try:
            with self._rng.active():
                self._use(self._fresh())
                self._ta.reset(num_players=self.num_players, seed=ta_seed)
        except Exception as exc:
            raise RuntimeError(
                f"TextArena game {self.ta_id} failed to reset: {type(exc).__name__}: {exc}"
            ) from exc
        self._state = self._base.state
        self._hook_invalid_moves()
        self.turn = 0
        self._done = False
        self._truncated = False
        self._outcomes = {}
        self._fetched = False
        self._lines: dict[int, list[str]] = {i: [] for i in range(self.num_players)}
        self._full: dict[int, str] = {}
        self.agents = list(self.seats)
        self.rewards = {s: 0.0 for s in self.seats}
        self._cumulative_rewards = {s: 0.0 for s in self.seats}
        self.terminations = {s: False for s in self.seats}
        self.truncations = {s: False for s in self.seats}
        self.infos = {s: {} for s in self.seats}
        if self._state.done:
            self._end({}, {})
        self._select()

    def observe(self, agent: str) -> str:
        """The next message ``agent`` reads (see the module docstring for the two modes)."""
        pid = self._pids.get(agent)
        if pid is None:
            pid = self._pid(agent)
        if self._done and not hasattr(self, "_state"):
            return ""
        current = not self._done and pid == self._state.current_player_id
        if self.observation_mode == "full":
            if current and not self._fetched:
                self._fetched = True
                _, obs = self._ta.get_observation()
                self._full[pid] = obs if isinstance(obs, str) else "\n".join(self._format(obs))
            elif not current:
                msgs = self._state.observations.get(pid) or []
                if msgs or pid not in self._full:
                    self._state.observations[pid] = []
                    self._full[pid] = self._wrap_observation(pid, msgs)
            return self._full.get(pid, "")
        if current and not self._fetched:
            self._fetched = True
            _, msgs = self._base.get_observation()
            self._lines[pid] += self._format(msgs)
        elif not current:
            msgs = self._state.observations.get(pid) or []
            if msgs:
                self._state.observations[pid] = []
                self._lines[pid] += self._format(msgs)
        text = "\n".join(self._lines[pid])
        if current and not text:
            return "[GAME] It is your turn."
        return text

    def last(self) -> tuple[str, float, bool, bool, dict[str, Any]]:
        a = self.agent_selection
        return (
            self.observe(a),
            self._cumulative_rewards[a],
            self.terminations[a],
            self.truncations[a],
            self.infos[a],
        )

    def step(self, action: Any) -> None:
        """Take the acting seat's reply. Bad replies are invalid moves, never exceptions."""
        seat = self.agent_selection
        if self._done or not seat:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        pid = self._pids[seat]
        if not self._fetched:
            self.observe(seat)  # TextArena's loop always reads the observation before stepping
        self._lines[pid] = []
        text = coerce_action(action)
        self._invalid.clear()
        info: dict[str, Any] = {"invalid_move": False}
        if self.max_action_chars is not None and len(text) > self.max_action_chars:
            text = text[: self.max_action_chars]
            info["clipped"] = True
        rng = self._rng
        token = rng.enter()
        try:
            done, _ = self._ta.step(text)
        except Exception as exc:  # noqa: BLE001 - a reply that makes TextArena raise
            raised = f"TextArena raised {type(exc).__name__}: {str(exc)[:300]}"
            info["env_error"] = raised
            try:  # an invalid move, as if the game had rejected the reply itself
                self._state.set_invalid_move(
                    reason=f"the game could not process the reply ({raised})"
                )
                step = self._state.step
                done, _ = step() if self.num_players == 1 else step(rotate_player=False)
            except Exception as exc2:  # noqa: BLE001 - the game's state is beyond repair
                self.turn += 1
                info.update(error=f"{raised}; then {type(exc2).__name__}: {exc2}")
                self._end(
                    info,
                    {s: Outcome.ERROR for s in self.seats},
                    rewards={},
                    reason="TextArena error",
                )
                self.infos = {s: {} for s in self.seats}
                self.infos[seat] = info
                self._select()
                return
        finally:
            rng.exit(token)
        self.turn += 1
        self._fetched = False
        mine = [r for r in self._invalid if r[0] == pid] or self._invalid
        if mine:
            _, reason, exhausted = mine[-1]
            allowance = getattr(self._state, "error_allowance", None)
            count = getattr(self._state, "error_count", None)
            info.update(invalid_move=True, error=reason or "invalid move")
            if exhausted:
                info["penalized"] = True
            elif allowance is not None and count is not None:
                info["retries_left"] = max(int(allowance) - int(count), 0)
        info["turn"] = self.turn
        self.rewards = dict(self._zeros)
        forfeit = sorted({_seat(p) for p, _, exhausted in self._invalid if exhausted})
        if done or self._state.done:
            self._end(info, None)
        elif forfeit and self.num_players > 1:
            # The game would go on without the penalized player: end it here.
            rewards = {s: -1.0 if s in forfeit else 1.0 for s in self.seats}
            self._end(
                info,
                {s: Outcome.LOSS if s in forfeit else Outcome.WIN for s in self.seats},
                rewards=rewards,
                reason=f"{', '.join(forfeit)} forfeited (no retries left after invalid moves)",
            )
        elif self.max_steps is not None and self.turn >= self.max_steps:
            self._truncated = True
            self._end(
                info, {s: Outcome.ABORTED for s in self.seats}, rewards={}, reason="turn limit"
            )
        self.infos = {s: {} for s in self.seats}
        self.infos[seat] = info
        if self._done:
            for s in self.seats:
                self.infos[s].setdefault("outcome", info.get("outcome"))
        self._select()

    def outcome(self, seat: str) -> str | None:
        """``win``/``loss``/``draw`` (``success``/``failure`` alone), ``aborted`` or ``error``."""
        return self._outcomes.get(seat)

    def legal_actions(self, seat: str) -> list[str] | None:
        """Always None: TextArena does not expose its legal moves as a list."""
        return None

    def final_rewards(self) -> dict[str, float]:
        """TextArena's end-of-game reward for each seat (empty while the game runs)."""
        return dict(getattr(self, "_final", {}))

    def render(self) -> str:
        """The game board when TextArena can draw it, else the acting seat's observation."""
        base = self._base
        for name in ("get_board_str", "_render_board", "render_board"):
            fn = getattr(base, name, None)
            if callable(fn) and hasattr(self, "_state"):
                try:
                    out = fn()
                except Exception:  # noqa: BLE001 - rendering is best effort
                    continue
                if isinstance(out, str):
                    return out
        seat = self.agent_selection or (self.seats[0] if self.seats else "")
        return self.observe(seat) if seat else ""

    @property
    def captured_output(self) -> str:
        """What TextArena printed to stdout during this episode (the last 4 KB or so)."""
        return self._rng.output.getvalue()

    def close(self) -> None:
        """Nothing to free; present for API symmetry."""

    # ---- internals -------------------------------------------------------------------------
    def _fresh(self) -> Any:
        """A newly constructed TextArena env.

        Many TextArena games keep state on the instance across ``reset`` (a deck shuffled in
        place, observation wrappers that never forget), so every episode gets a new instance,
        built with the episode's own RNG.
        """
        return self._ta_module.make(self.ta_id, **self._ta_kwargs)

    def _use(self, env: Any) -> None:
        ta = self._ta_module
        self._ta = env
        base = env
        obs_wrappers = []
        while isinstance(base, ta.Wrapper):
            if isinstance(base, ta.ObservationWrapper):
                obs_wrappers.append(base)
            base = base.env
        self._base = base
        self._obs_wrappers = list(reversed(obs_wrappers))  # innermost first

    def _pid(self, seat: str) -> int:
        try:
            return self._pids[seat]
        except (KeyError, TypeError):
            raise KeyError(f"unknown seat {seat!r}; seats are {list(self.seats)}") from None

    def _select(self) -> None:
        self.agent_selection = "" if self._done else self.seats[self._state.current_player_id]

    def _hook_invalid_moves(self) -> None:
        state = self._state
        original: Callable[..., Any] = state.set_invalid_move
        log = self._invalid

        def set_invalid_move(*args: Any, **kwargs: Any) -> Any:
            pid = int(getattr(state, "current_player_id", 0))
            before = getattr(state, "error_count", 0)
            result = original(*args, **kwargs)
            reason = kwargs.get("reason", args[0] if args else "")
            after = getattr(state, "error_count", 0)
            exhausted = (
                bool(result) if isinstance(result, bool) else (after == before or state.done)
            )
            log.append((pid, str(reason) if reason is not None else "", exhausted))
            return result

        state.set_invalid_move = set_invalid_move
        self._invalid = log

    def _format(self, msgs: Any) -> list[str]:
        roles = getattr(self._state, "role_mapping", {}) or {}
        lines = []
        for item in msgs or []:
            try:
                sender, message = item[0], item[1]
            except (TypeError, IndexError):
                lines.append(str(item))
                continue
            name = "GAME" if sender == _GAME_ID else roles.get(sender, f"Player {sender}")
            lines.append(f"[{name}] {message}")
        return lines

    def _wrap_observation(self, pid: int, msgs: list[Any]) -> str:
        obs: Any = msgs
        for w in self._obs_wrappers:
            try:
                obs = w.observation(pid, obs)
            except Exception:  # noqa: BLE001 - some wrappers only work for the acting player
                break
        return obs if isinstance(obs, str) else "\n".join(self._format(obs))

    def _end(
        self,
        info: dict[str, Any],
        outcomes: dict[str, str] | None,
        rewards: dict[str, float] | None = None,
        reason: str | None = None,
    ) -> None:
        state = self._state
        if rewards is None:
            raw = state.rewards or {}
            rewards = {}
            for p, r in raw.items():
                if isinstance(p, int) and 0 <= p < self.num_players:
                    rewards[_seat(p)] = _number(r)
            if not raw:
                outcomes = {s: Outcome.ABORTED for s in self.seats}
        self._final = dict(rewards)
        self.rewards = {s: float(rewards.get(s, 0.0)) for s in self.seats}
        for s, r in self.rewards.items():
            self._cumulative_rewards[s] += r
        self._outcomes = outcomes or self._label(self.rewards)
        if reason is None:
            infos = getattr(state, "game_info", {}) or {}
            reasons = {
                str(v.get("reason"))
                for v in infos.values()
                if isinstance(v, dict) and v.get("reason")
            }
            reason = "; ".join(sorted(reasons)) or None
        self._done = True
        self.agents = []
        for s in self.seats:
            self.terminations[s] = not self._truncated
            self.truncations[s] = self._truncated
        info["outcome"] = dict(self._outcomes)
        info["rewards"] = dict(self.rewards)
        if reason:
            info["ended"] = reason

    def _label(self, rewards: dict[str, float]) -> dict[str, str]:
        if self.num_players == 1:
            r = rewards[self.seats[0]]
            return {self.seats[0]: Outcome.SUCCESS if r >= 1.0 else Outcome.FAILURE}
        vals = list(rewards.values())
        hi, lo = max(vals), min(vals)
        if hi == lo:
            return {s: Outcome.DRAW for s in self.seats}
        return {s: Outcome.WIN if r == hi else Outcome.LOSS for s, r in rewards.items()}


def _number(value: Any) -> float:
    """A TextArena reward as a finite float (0.0 for the malformed ones some games produce)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return 0.0
    return out if np.isfinite(out) else 0.0


class TextArenaGymEnv(gym.Env):
    """A single-player TextArena game as a Gymnasium text env (one seat, ``player``).

    Takes the same arguments as :class:`TextArenaEnv`. ``step`` returns the reward TextArena
    gives at the end of the game (0 before); ``info`` carries ``invalid_move`` and, at the end,
    ``outcome`` (``{"player": "success" | "failure" | ...}``).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"]}

    def __init__(self, ta_id: str, render_mode: str | None = None, **kwargs: Any) -> None:
        self.game = TextArenaEnv(ta_id, render_mode=render_mode, **kwargs)
        if self.game.num_players != 1:
            raise ValueError(
                f"TextArena game {ta_id} has {self.game.num_players} players; use TextArenaEnv"
            )
        self.observation_space = text_space()
        self.action_space = text_space()
        self.render_mode = render_mode

    @property
    def instructions(self) -> str:
        """The system prompt."""
        return self.game.seat_instructions("player_0")

    def seat_instructions(self, seat: str) -> str:
        return self.instructions

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        self.game.reset(seed=seed, options=options)
        return self.game.observe("player_0"), {"seat": "player", "turn": 0}

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        g = self.game
        g.step(action)
        info = dict(g.infos["player_0"])
        if "outcome" in info and isinstance(info["outcome"], dict):
            info["outcome"] = {"player": info["outcome"].get("player_0")}
        info.pop("rewards", None)
        terminated = g.done and not g.truncations["player_0"]
        truncated = g.truncations["player_0"]
        return g.observe("player_0"), g.rewards["player_0"], terminated, truncated, info

    def outcome(self, seat: str = "player") -> str | None:
        return self.game.outcome("player_0")

    def legal_actions(self, seat: str = "player") -> list[str] | None:
        return None

    def render(self) -> str:
        return self.game.render()


def make_env(ta_id: str, **kwargs: Any) -> TextArenaEnv | TextArenaGymEnv:
    """Entry point of every ``textarena/<Id>``: a Gymnasium env for one-player games, else
    a multi-agent :class:`TextArenaEnv`."""
    info = game_info(ta_id)
    n = kwargs.get("num_players")
    single = (info is not None and info.players[1] == 1) if n is None else int(n) == 1
    return TextArenaGymEnv(ta_id, **kwargs) if single else TextArenaEnv(ta_id, **kwargs)
