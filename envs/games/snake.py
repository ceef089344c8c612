"""Snake: one snake (``snake``) or several moving at once (``snake-multi``).

The board is a ``size`` x ``size`` grid; row 0 is the top, column 0 the left. Each turn every
live snake moves one cell ``up``, ``down``, ``left`` or ``right``; it may not turn back onto
its own neck. A snake that runs into a wall, into any snake's body, or head-on into another
snake dies. Eating an apple makes the snake one cell longer and scores one point; a new
apple appears at a random free cell, so ``apples`` apples are on the board at all times
while there is room.

Single player (:class:`SnakeEnv`): reward ``+apple_reward`` per apple and ``-death_penalty``
on death. The outcome is ``success`` on eating ``goal`` apples (or filling the board),
``failure`` on death; the ``max_turns`` cap truncates the episode (outcome ``aborted``).

Several snakes (:class:`SnakeMultiEnv`, seats ``snake_0`` .. ``snake_{N-1}``): all live
snakes move simultaneously (their replies are buffered until each has answered). Rewards are
the same per snake. The game ends when at most one snake is alive or after ``max_turns``
rounds. The last snake standing wins; if the last snakes die in the same round, or the round
cap is reached, the most apples decide among the snakes that lasted longest (equal apples:
a draw between them). The winner also receives ``win_bonus``.

A reply states its direction on a line ``Move: up`` or is the direction alone (the strict
format of :mod:`._parsing`); with ``lenient=True`` replies are read as
:func:`parse_direction` describes.
"""

from __future__ import annotations

import random
import re
from collections import deque
from functools import lru_cache
from typing import Any

import numpy as np

from gymnpt.core.env import InvalidAction, MultiAgentEnv, Outcome, TextEnv

from ._parsing import (
    brief,
    focus,
    format_metrics,
    last_match,
    reply_format,
    require_text,
    strict_move,
)

__all__ = [
    "SnakeBoard",
    "SnakeEnv",
    "SnakeMultiEnv",
    "parse_direction",
    "DIRECTIONS",
    "episode_metrics",
]

#: Direction name -> (row delta, column delta). Row 0 is the top of the board.
DIRECTIONS: dict[str, tuple[int, int]] = {
    "up": (-1, 0),
    "down": (1, 0),
    "left": (0, -1),
    "right": (0, 1),
}
OPPOSITE = {"up": "down", "down": "up", "left": "right", "right": "left"}
_ORDER = ("up", "down", "left", "right")
_FORWARD = {h: tuple(d for d in _ORDER if d != OPPOSITE[h]) for h in _ORDER}

_WORDS = {
    "up": "up",
    "down": "down",
    "left": "left",
    "right": "right",
    "north": "up",
    "south": "down",
    "west": "left",
    "east": "right",
    "↑": "up",
    "↓": "down",
    "←": "left",
    "→": "right",
}
# "d" is both "down" (U/D/L/R) and "right" (W/A/S/D); it is read as "down" (see parse_direction).
_LETTERS = {"u": "up", "d": "down", "l": "left", "r": "right", "w": "up", "a": "left", "s": "down"}
_EXACT = {**_WORDS, **_LETTERS, **{f"[{k}]": v for k, v in {**_WORDS, **_LETTERS}.items()}}
_WORD_RE = re.compile(r"\b(up|down|left|right|north|south|east|west)\b|([↑↓←→])", re.IGNORECASE)
_LETTER_RE = re.compile(r"^[\s\[\(\"'`*<]*([udlrwas])[\s\]\)\"'`*>.!]*$", re.IGNORECASE)
_BRACKET_LETTER_RE = re.compile(r"\[\s*([udlrwas])\s*\]", re.IGNORECASE)
Placement = tuple[frozenset[tuple[int, int]], tuple[tuple[int, int], ...], str]
_HINT = "Reply with one direction: up, down, left or right (U/D/L/R and W/A/S/D also work)."
_STRICT_RE = re.compile(r"up|down|left|right", re.IGNORECASE)
_STRICT_HINT = "State one direction (up, down, left, right) on a line of its own: 'Move: up'."
_FORMAT = reply_format("Move", "<direction>", "up", "direction")


def parse_direction(text: str, lenient: bool = False) -> str:
    """Read a direction from a reply.

    Strict (default): ``Move: up`` on a line of its own, or ``up`` alone (``up``, ``down``,
    ``left``, ``right``, any case).

    Lenient: the last direction word in the focused part of the reply wins (``up``, ``down``,
    ``left``, ``right``, ``north``/``south``/``west``/``east`` or an arrow ``↑↓←→``). A single
    letter counts only when it is the whole answer or is bracketed like ``[w]``: ``u``/``d``/
    ``l``/``r`` and ``w``/``a``/``s``; ``d`` means *down* (use ``right`` for WASD's d).

    Raises:
        InvalidAction: when the reply names no direction in the expected form.
    """
    if not lenient:
        what = "one direction (up, down, left or right)"
        move = strict_move(text, label="Move", token=_STRICT_RE, what=what, hint=_STRICT_HINT)
        return move.lower()
    quick = _EXACT.get(text.strip().lower())
    if quick is not None:
        return quick
    part = focus(require_text(text, _HINT))
    m = last_match(_WORD_RE, part)
    if m is not None:
        return _WORDS[(m.group(1) or m.group(2)).lower()]
    m = _LETTER_RE.match(part) or last_match(_BRACKET_LETTER_RE, part)
    if m is not None:
        return _LETTERS[m.group(1).lower()]
    raise InvalidAction(f"no direction found in {brief(part)!r}. {_HINT}")


#: ``EnvSpec.metrics``: replies outside the strict format (counted in lenient runs too).
episode_metrics = format_metrics(parse_direction)


class Snake:
    """One snake: its cells (head first), heading, score and whether it lives."""

    __slots__ = ("body", "heading", "alive", "score", "died_on", "death")

    def __init__(self, body: list[tuple[int, int]], heading: str) -> None:
        self.body: deque[tuple[int, int]] = deque(body)
        self.heading = heading
        self.alive = True
        self.score = 0
        self.died_on: int | None = None
        self.death = ""

    @property
    def head(self) -> tuple[int, int]:
        return self.body[0]

    def legal_moves(self) -> tuple[str, ...]:
        """Directions that do not turn back onto the neck."""
        return _FORWARD[self.heading] if len(self.body) > 1 else _ORDER


@lru_cache(maxsize=128)
def _placements(size: int, length: int) -> tuple[list[Placement], list[Placement]]:
    """Every straight placement of a snake that fits on the board, as (cells it covers or
    faces, body head-first, heading), split into (away from the walls, near a wall)."""
    interior: list[Placement] = []
    edge: list[Placement] = []
    for r in range(size):
        for c in range(size):
            for heading in _ORDER:
                dr, dc = DIRECTIONS[heading]
                ahead = (r + dr, c + dc)
                body = tuple((r - dr * k, c - dc * k) for k in range(length))
                if not all(0 <= x < size and 0 <= y < size for x, y in (ahead, *body)):
                    continue
                roomy = all(0 < x < size - 1 and 0 < y < size - 1 for x, y in (ahead, body[0]))
                (interior if roomy else edge).append((frozenset((ahead, *body)), body, heading))
    return interior, edge


@lru_cache(maxsize=128)
def _cells(size: int) -> tuple[tuple[int, int], ...]:
    return tuple((r, c) for r in range(size) for c in range(size))


@lru_cache(maxsize=128)
def _neighbourhoods(size: int) -> dict[tuple[int, int], frozenset[tuple[int, int]]]:
    """Cell -> the cells within 2 steps (1 on boards under 8x8), for keeping spawns apart."""
    reach = 2 if size >= 8 else 1
    span = range(-reach, reach + 1)
    return {
        (r, c): frozenset((r + dr, c + dc) for dr in span for dc in span) for r, c in _cells(size)
    }


@lru_cache(maxsize=128)
def _grid_template(size: int) -> tuple[tuple[str, ...], dict[tuple[int, int], int]]:
    """The empty board's characters, and the index of each cell's character among them."""
    lines = ["   " + " ".join(str(c % 10) for c in range(size))]
    lines += [f"{r:>2} " + " ".join("." * size) for r in range(size)]
    text = "\n".join(lines)
    width = len(lines[0]) + 1
    pos = {(r, c): width * (r + 1) + 3 + 2 * c for r, c in _cells(size)}
    return tuple(text), pos


class SnakeBoard:
    """The rules of Snake for one or more snakes moving simultaneously.

    Args:
        size: side of the square board.
        n_snakes: number of snakes.
        n_apples: apples kept on the board.
        length: starting length of every snake.
        rng: the env's Python random generator (spawns and apples), ``env.py_rng``.
    """

    def __init__(
        self, size: int, n_snakes: int, n_apples: int, length: int, rng: random.Random
    ) -> None:
        self.size = size
        self.rng = rng
        self.n_apples = n_apples
        self.snakes: list[Snake] = []
        #: cell -> index of the live snake that occupies it.
        self.occupied: dict[tuple[int, int], int] = {}
        self.apples: list[tuple[int, int]] = []
        self.round = 0
        for i in range(n_snakes):
            body, heading = self._spawn(length)
            self.snakes.append(Snake(body, heading))
            for cell in body:
                self.occupied[cell] = i
        for _ in range(n_apples):
            self._place_apple()

    # ---- setup ---------------------------------------------------------------------------
    def _spawn(self, length: int) -> tuple[list[tuple[int, int]], str]:
        """A random straight placement that fits, preferring the interior away from others."""
        taken = self.occupied
        interior, edge = _placements(self.size, length)
        if not taken:
            pool = interior or edge
        else:
            free = taken.keys().isdisjoint
            around = _neighbourhoods(self.size)
            near = frozenset().union(*(around[cell] for cell in taken)).isdisjoint
            for _ in range(10 if interior else 0):  # a few random draws usually find a spot
                cells, body, heading = interior[self.rng.randrange(len(interior))]
                if free(cells) and near(cells):
                    return list(body), heading
            pool = [p for p in interior if free(p[0]) and near(p[0])]
            if not pool:
                pool = [p for group in (interior, edge) for p in group if free(p[0])]
        if not pool:
            raise ValueError(
                f"a {self.size}x{self.size} board has no room for another snake of length {length}"
            )
        _, body, heading = pool[self.rng.randrange(len(pool))]
        return list(body), heading

    def _place_apple(self) -> bool:
        size = self.size
        occupied, apples = self.occupied, self.apples
        if len(occupied) + len(apples) >= size * size:
            return False
        randrange = self.rng.randrange
        for _ in range(8):  # a few random draws usually hit a free cell
            cell = (randrange(size), randrange(size))
            if cell not in occupied and cell not in apples:
                apples.append(cell)
                return True
        blocked = occupied.keys() | set(apples)
        free = [cell for cell in _cells(size) if cell not in blocked]
        apples.append(free[randrange(len(free))])
        return True

    # ---- rules ---------------------------------------------------------------------------
    def step(self, moves: dict[int, str]) -> dict[int, tuple[int, bool]]:
        """Move the live snakes at once. ``moves`` maps snake index to a direction; a live
        snake without a move keeps its heading. Returns {index: (apples eaten, died)}."""
        size = self.size
        snakes, occupied, apples = self.snakes, self.occupied, self.apples
        live = [i for i, s in enumerate(snakes) if s.alive]
        heads: dict[int, tuple[int, int]] = {}
        grows: dict[int, bool] = {}
        vacated = set()
        for i in live:
            snake = snakes[i]
            direction = moves.get(i, snake.heading)
            dr, dc = DIRECTIONS[direction]
            hr, hc = snake.body[0]
            head = heads[i] = (hr + dr, hc + dc)
            snake.heading = direction
            grows[i] = head in apples
            if not grows[i]:
                vacated.add(snake.body[-1])
        clash = len(set(heads.values())) < len(heads)
        dead: dict[int, str] = {}
        for i, (r, c) in heads.items():
            if not (0 <= r < size and 0 <= c < size):
                dead[i] = "hit the wall"
            elif (r, c) in occupied and (r, c) not in vacated:
                other = occupied[(r, c)]
                dead[i] = "ran into itself" if other == i else f"ran into snake {other}"
            elif clash and sum(1 for h in heads.values() if h == (r, c)) > 1:
                dead[i] = "collided head-on"
        # Tails leave first, then heads arrive (a head may take a tail's cell).
        for i in live:
            if i not in dead and not grows[i]:
                tail = snakes[i].body.pop()
                if occupied.get(tail) == i:
                    del occupied[tail]
        result: dict[int, tuple[int, bool]] = {}
        eaten = 0
        for i in live:
            snake = snakes[i]
            if i in dead:
                snake.alive = False
                snake.died_on = self.round
                snake.death = dead[i]
                for cell in snake.body:
                    if occupied.get(cell) == i:
                        del occupied[cell]
                result[i] = (0, True)
                continue
            head = heads[i]
            snake.body.appendleft(head)
            occupied[head] = i
            if grows[i]:
                apples.remove(head)
                snake.score += 1
                eaten += 1
                result[i] = (1, False)
            else:
                result[i] = (0, False)
        for _ in range(eaten):
            if not self._place_apple():
                break
        self.round += 1
        return result

    def is_full(self) -> bool:
        """Whether the snakes cover every cell."""
        return len(self.occupied) >= self.size * self.size

    # ---- text ----------------------------------------------------------------------------
    def grid(self, symbols: list[tuple[str, str]]) -> str:
        """The board as text; ``symbols[i]`` is (head, body) for snake ``i``."""
        chars, pos = _grid_template(self.size)
        out = list(chars)
        for cell in self.apples:
            out[pos[cell]] = "*"
        for i, snake in enumerate(self.snakes):
            if snake.alive:
                head, body = symbols[i]
                for cell in snake.body:
                    out[pos[cell]] = body
                out[pos[snake.body[0]]] = head
        return "".join(out)


def _check_common(size: int, apples: int, length: int, max_turns: int | None) -> None:
    if not isinstance(size, int) or size < 4 or size > 50:
        raise ValueError(f"size must be an integer from 4 to 50, got {size!r}")
    if not isinstance(apples, int) or apples < 1 or apples > size * size // 4:
        raise ValueError(
            f"apples must be from 1 to {size * size // 4} on a {size}x{size} board, got {apples!r}"
        )
    if not isinstance(length, int) or length < 1 or length > size - 1:
        raise ValueError(
            f"length must be from 1 to {size - 1} on a {size}x{size} board, got {length!r}"
        )
    if max_turns is not None and (not isinstance(max_turns, int) or max_turns < 1):
        raise ValueError(f"max_turns must be a positive integer or None, got {max_turns!r}")


class SnakeEnv(TextEnv):
    """Single-player Snake.

    Args:
        size: side of the board (4-50).
        apples: apples kept on the board.
        length: starting length of the snake.
        goal: apples to eat for ``success``; 0 or None plays until death or the turn cap.
        max_turns: turn cap (truncation); None for none.
        apple_reward: reward per apple.
        death_penalty: subtracted from the reward when the snake dies.
        lenient: read moves leniently (see :func:`parse_direction`); strict by default.
        hints: add two lines to each observation: what lies next to the head in each direction
            (``wall``, ``body``, ``apple`` or ``empty``) and the offset of the nearest apple. The
            CPU training preset turns them on so that a small model can learn from few games.
        render_mode: ``"ansi"`` or None.
    """

    instructions = (
        "You play Snake on a square grid. Row 0 is the top and column 0 the left. Your snake's "
        "head is 'H' and its body 'o'; apples are '*', empty cells '.'. Each turn you move the head "
        "one cell up, down, left or right; you cannot turn back onto your own body. Eating an apple "
        "scores +1 and makes you longer. Running into a wall or your own body ends the game with a "
        "penalty.\n" + _FORMAT
    )

    def __init__(
        self,
        size: int = 10,
        apples: int = 1,
        length: int = 3,
        goal: int | None = 10,
        max_turns: int | None = 200,
        apple_reward: float = 1.0,
        death_penalty: float = 1.0,
        lenient: bool = False,
        hints: bool = False,
        invalid_retries: int = 1,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(render_mode=render_mode)
        self.lenient = bool(lenient)
        self.hints = bool(hints)
        if not isinstance(invalid_retries, int) or invalid_retries < 0:
            raise ValueError(f"invalid_retries must be an integer >= 0, got {invalid_retries!r}")
        self.invalid_retries = invalid_retries
        _check_common(size, apples, length, max_turns)
        if goal is not None and (not isinstance(goal, int) or goal < 0):
            raise ValueError(f"goal must be a non-negative integer or None, got {goal!r}")
        self.size, self.n_apples, self.length = size, apples, length
        self.goal = goal or None
        self.max_turns = max_turns
        self.apple_reward, self.death_penalty = float(apple_reward), float(death_penalty)

    def _new_game(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        self.board = SnakeBoard(self.size, 1, self.n_apples, self.length, self.py_rng)

    @property
    def snake(self) -> Snake:
        return self.board.snakes[0]

    def _to_act(self) -> list[str]:
        return ["player"] if self.snake.alive else []

    def _status(self) -> str:
        s = self.snake
        goal = f" of {self.goal}" if self.goal else ""
        cap = f" of {self.max_turns}" if self.max_turns else ""
        return f"Turn {self.turn + 1}{cap}. Apples eaten: {s.score}{goal}. Length {len(s.body)}. Heading {s.heading}."

    def _observe(self, seat: str) -> str:
        s = self.snake
        grid = self.board.grid([("H", "o")])
        if not s.alive:
            return f"{grid}\nYour snake {s.death}. Game over with {s.score} apples."
        if self._done:
            return f"{grid}\nGame over with {s.score} apples."
        hints = f"\n{self._hints()}" if self.hints else ""
        return f"{self._status()}\n{grid}\nLegal moves: {', '.join(s.legal_moves())}.{hints}"

    def _hints(self) -> str:
        """What lies next to the head in each direction, and where the nearest apple is."""
        r, c = self.snake.head
        around = []
        for name, (dr, dc) in DIRECTIONS.items():
            cell = (r + dr, c + dc)
            if not (0 <= cell[0] < self.size and 0 <= cell[1] < self.size):
                what = "wall"
            elif cell in self.board.occupied:
                what = "body"
            elif cell in self.board.apples:
                what = "apple"
            else:
                what = "empty"
            around.append(f"{name} {what}")
        near = "none"
        if self.board.apples:
            ar, ac = min(self.board.apples, key=lambda a: (abs(a[0] - r) + abs(a[1] - c), a))
            steps = [f"{abs(ar - r)} {'down' if ar > r else 'up'}"] if ar != r else []
            steps += [f"{abs(ac - c)} {'right' if ac > c else 'left'}"] if ac != c else []
            near = ", ".join(steps)
        return f"Next to the head: {', '.join(around)}.\nNearest apple: {near}."

    def _parse(self, seat: str, text: str) -> str:
        move = parse_direction(text, self.lenient)
        if move not in self.snake.legal_moves():
            raise InvalidAction(
                f"'{move}' turns back onto your body; legal moves: {', '.join(self.snake.legal_moves())}."
            )
        return move

    def _apply(self, moves: dict[str, Any]) -> dict[str, float]:
        ate, died = self.board.step({0: moves["player"]})[0]
        reward = ate * self.apple_reward
        if died:
            self._finish({"player": Outcome.FAILURE}, reason=f"the snake {self.snake.death}")
            return {"player": reward - self.death_penalty}
        if (self.goal and self.snake.score >= self.goal) or self.board.is_full():
            self._finish({"player": Outcome.SUCCESS}, reason=f"ate {self.snake.score} apples")
        return {"player": reward}

    def legal_actions(self, seat: str) -> list[str]:
        """Directions that do not turn back onto the neck (empty once the game is over)."""
        return [] if self._done or not self.snake.alive else list(self.snake.legal_moves())

    def render_text(self) -> str:
        return f"{self._status()}\n{self.board.grid([('H', 'o')])}"


class SnakeMultiEnv(MultiAgentEnv):
    """Several snakes on one board, moving simultaneously.

    Args:
        snakes: number of snakes (2-10); seats are ``snake_0`` .. ``snake_{N-1}``.
        size: side of the board.
        apples: apples kept on the board.
        length: starting length of every snake.
        max_turns: round cap; reaching it ends the game and the scores decide.
        apple_reward: reward per apple.
        death_penalty: subtracted from a snake's reward when it dies.
        win_bonus: added to the winner's reward at the end.
        lenient: read moves leniently (see :func:`parse_direction`); strict by default.
        render_mode: ``"ansi"`` or None.
    """

    seats = ("snake_0", "snake_1")

    def __init__(
        self,
        snakes: int = 2,
        size: int = 10,
        apples: int = 3,
        length: int = 3,
        max_turns: int | None = 100,
        apple_reward: float = 1.0,
        death_penalty: float = 1.0,
        win_bonus: float = 0.0,
        lenient: bool = False,
        render_mode: str | None = None,
    ) -> None:
        self.lenient = bool(lenient)
        if not isinstance(snakes, int) or not 2 <= snakes <= 10:
            raise ValueError(f"snakes must be from 2 to 10, got {snakes!r}")
        _check_common(size, apples, length, max_turns)
        if snakes * (length + 4) > size * size // 2:
            raise ValueError(
                f"a {size}x{size} board is too small for {snakes} snakes of length {length}"
            )
        # Seats depend on the number of snakes; the instance attribute shadows the class default.
        self.seats = tuple(f"snake_{i}" for i in range(snakes))  # type: ignore[misc,assignment]
        super().__init__(render_mode=render_mode)
        self.n_snakes, self.size, self.n_apples, self.length = snakes, size, apples, length
        self.round_limit = max_turns
        self.max_turns = None  # the round cap ends the game with a result, it is not a truncation
        self.apple_reward, self.death_penalty = float(apple_reward), float(death_penalty)
        self.win_bonus = float(win_bonus)
        self._index = {s: i for i, s in enumerate(self.seats)}
        self._symbols = [(str(i), chr(ord("a") + i)) for i in range(snakes)]

    @property
    def instructions(self) -> str:  # type: ignore[override]
        return (
            f"You play Snake against {self.n_snakes - 1} other snake(s) on a square grid; all snakes "
            "move at the same time. Row 0 is the top and column 0 the left. Snake i has head 'i' and "
            "body cells shown as a letter (snake 0: 'a', snake 1: 'b', ...); apples are '*', empty "
            "cells '.'. Each turn you move your head one cell up, down, left or right; you cannot "
            "turn back onto your own body. Eating an apple scores +1 and makes you longer. Running "
            "into a wall or any body, or head-on into another snake, kills you. The last snake "
            "standing wins; otherwise the most apples wins.\n" + _FORMAT
        )

    def seat_instructions(self, seat: str) -> str:
        i = self._index[seat]
        return f"{self.instructions}\nYou are snake {i}: head '{i}', body '{chr(ord('a') + i)}'."

    def _new_game(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        self.board = SnakeBoard(self.size, self.n_snakes, self.n_apples, self.length, self.py_rng)
        self._grid_cache: tuple[int, str] = (-1, "")
        self._scores_cache = ""
        self._live = list(self.seats)

    def snake_of(self, seat: str) -> Snake:
        """The :class:`Snake` played by ``seat``."""
        return self.board.snakes[self._index[seat]]

    def _to_act(self) -> list[str]:
        return self._live

    def _grid(self) -> str:
        if self._grid_cache[0] != self.board.round:
            self._refresh()
        return self._grid_cache[1]

    def _scores(self) -> str:
        if self._grid_cache[0] != self.board.round:
            self._refresh()
        return self._scores_cache

    def _refresh(self) -> None:
        """Render the parts of the observation that all seats share, once per round."""
        self._grid_cache = (self.board.round, self.board.grid(self._symbols))
        self._scores_cache = ", ".join(
            f"snake {i}: {s.score}" + ("" if s.alive else " (dead)")
            for i, s in enumerate(self.board.snakes)
        )

    def _observe(self, seat: str) -> str:
        i = self._index[seat]
        snake = self.board.snakes[i]
        cap = f" of {self.round_limit}" if self.round_limit else ""
        head = f"Round {self.board.round + 1}{cap}. You are snake {i}. Apples: {self._scores()}"
        if self._done:
            return f"{head}.\n{self._grid()}\nGame over: you {self._outcomes.get(seat, 'lost')}."
        if not snake.alive:
            return f"{head}.\n{self._grid()}\nYour snake {snake.death}."
        return f"{head}. Heading {snake.heading}.\n{self._grid()}\nLegal moves: {', '.join(snake.legal_moves())}."

    def _parse(self, seat: str, text: str) -> str:
        snake = self.snake_of(seat)
        move = parse_direction(text, self.lenient)
        if move not in snake.legal_moves():
            raise InvalidAction(
                f"'{move}' turns back onto your body; legal moves: {', '.join(snake.legal_moves())}."
            )
        return move

    def _apply(self, moves: dict[str, Any]) -> dict[str, float]:
        result = self.board.step({self._index[s]: m for s, m in moves.items()})
        rewards = {s: 0.0 for s in self.seats}
        for i, (ate, died) in result.items():
            rewards[self.seats[i]] = ate * self.apple_reward - (self.death_penalty if died else 0.0)
        alive = [i for i, s in enumerate(self.board.snakes) if s.alive]
        self._live = [self.seats[i] for i in alive]
        capped = self.round_limit is not None and self.board.round >= self.round_limit
        if len(alive) <= 1 or capped:
            self._decide(
                rewards, "round limit" if capped and len(alive) > 1 else "one snake or none left"
            )
        return rewards

    def _decide(self, rewards: dict[str, float], reason: str) -> None:
        snakes = self.board.snakes

        def key(i: int) -> tuple[float, int]:
            s = snakes[i]
            return (float("inf") if s.alive else float(s.died_on or 0), s.score)

        best = max(key(i) for i in range(len(snakes)))
        top = [i for i in range(len(snakes)) if key(i) == best]
        outcomes = {}
        for i, seat in enumerate(self.seats):
            if i in top:
                outcomes[seat] = Outcome.WIN if len(top) == 1 else Outcome.DRAW
            else:
                outcomes[seat] = Outcome.LOSS
        if len(top) == 1:
            rewards[self.seats[top[0]]] += self.win_bonus
        self._finish(outcomes, reason=reason)

    def legal_actions(self, seat: str) -> list[str]:
        """Directions that do not turn back onto the neck; empty for dead snakes."""
        snake = self.snake_of(seat)
        return [] if self._done or not snake.alive else list(snake.legal_moves())

    def render_text(self) -> str:
        return f"Round {self.board.round}. Apples: {self._scores()}.\n{self._grid()}"
