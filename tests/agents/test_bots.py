"""Scripted bots: registration, strength, exactness and determinism."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from fractions import Fraction

import pytest

from gymnpt import Request, default_registry
from gymnpt.agents.bots.connect_four import MinimaxConnectFour
from gymnpt.agents.bots.generic import RandomBot
from gymnpt.agents.bots.guess_the_number import BinarySearchBot, RandomGuessBot
from gymnpt.agents.bots.kuhn_poker import NashKuhnBot, nash_policy
from gymnpt.agents.bots.snake import GreedySnakeBot
from gymnpt.agents.bots.tictactoe import MinimaxTicTacToe
from gymnpt.agents.bots.wordle import RandomWordBot, WordleSolver
from gymnpt.envs.games.kuhn_poker import CARDS, KuhnPokerEnv
from gymnpt.envs.games.wordle import answer_words
from gymnpt.rollout.engine import RolloutEngine

REG = default_registry()


def play(env, bots, seed):
    """Play one episode of a multi-agent env with {seat: bot}; returns the outcome dict."""
    env.reset(seed=seed)
    while not env.done:
        seat = env.agent_selection
        move = bots[seat].act(Request(messages=[], seat=seat, env=env))
        env.step(move)
        assert not env.infos[seat].get("invalid_move"), (seat, move, env.infos[seat])
    return {s: env.outcome(s) for s in env.possible_agents}


# ---- registry ------------------------------------------------------------------------------


def test_bots_resolve_through_the_registry():
    assert isinstance(REG.make_agent("bot:random", "tictactoe"), RandomBot)
    assert isinstance(REG.make_agent("bot:random", "kuhn_poker"), RandomBot)
    assert isinstance(REG.make_agent("bot:random", "wordle"), RandomWordBot)
    assert isinstance(REG.make_agent("bot:random", "guess_the_number"), RandomGuessBot)
    assert isinstance(REG.make_agent("bot:greedy", "snake-multi"), GreedySnakeBot)
    assert isinstance(REG.make_agent("bot:minimax", "tictactoe"), MinimaxTicTacToe)
    c4 = REG.make_agent("bot:minimax-2", "connect_four")
    assert isinstance(c4, MinimaxConnectFour) and c4.depth == 2 and c4.name == "bot:minimax-2"
    assert REG.make_agent("bot:minimax", "connect_four").depth == 4
    assert REG.make_agent("bot:minimax-3", "tictactoe").depth == 3
    assert isinstance(REG.make_agent("bot:binary", "guess_the_number-1000"), BinarySearchBot)
    assert isinstance(REG.make_agent("bot:solver", "wordle"), WordleSolver)
    assert REG.make_agent("bot:nash", "kuhn_poker", alpha=0.1).alpha == 0.1
    for spec in REG.envs.values():
        if spec.plugin == "games":
            for bot in spec.bots:
                REG.make_agent(bot, spec.id)  # every advertised bot exists for its env
    with pytest.raises(KeyError):
        REG.make_agent("bot:minimax", "wordle")


def test_bots_need_the_live_env():
    with pytest.raises(ValueError, match="Request.env"):
        RandomBot().act(Request(messages=[], seat="x"))
    env = REG.make("tictactoe")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="plays"):
        NashKuhnBot().act(Request(messages=[], seat="x", env=env))


# ---- tic-tac-toe ---------------------------------------------------------------------------


def test_minimax_never_loses_tictactoe_to_random():
    env = REG.make("tictactoe")
    mm, rnd = MinimaxTicTacToe(), RandomBot(seed=1)
    results = Counter()
    for seed in range(15):
        results[play(env, {"x": mm, "o": rnd}, seed)["x"]] += 1
        results[play(env, {"x": rnd, "o": mm}, seed)["o"]] += 1
    assert results["loss"] == 0 and results["win"] >= 15


def test_perfect_minimax_draws_itself_and_takes_wins():
    env = REG.make("tictactoe")
    mm = MinimaxTicTacToe()
    for seed in range(3):
        assert play(env, {"x": mm, "o": mm}, seed) == {"x": "draw", "o": "draw"}
    env.reset(options={"board": "xx.oo...."})
    assert mm.act(Request(messages=[], seat="x", env=env)) == "c1"
    env.reset(options={"board": "x..xx.oo."})  # o to move: winning at c3 beats blocking
    assert env.agent_selection == "o"
    assert mm.act(Request(messages=[], seat="o", env=env)) == "c3"


def test_shallow_minimax_loses_to_perfect_play_sometimes_never_the_reverse():
    env = REG.make("tictactoe")
    deep, shallow = MinimaxTicTacToe(), MinimaxTicTacToe(level=1, seed=3)
    outcomes = Counter(play(env, {"x": shallow, "o": deep}, s)["o"] for s in range(6))
    outcomes += Counter(play(env, {"x": deep, "o": shallow}, s)["x"] for s in range(6))
    assert outcomes["loss"] == 0


# ---- connect four --------------------------------------------------------------------------


def test_connect_four_minimax_beats_random():
    env = REG.make("connect_four")
    mm, rnd = MinimaxConnectFour(level=2), RandomBot(seed=2)
    wins = sum(play(env, {"red": mm, "yellow": rnd}, s)["red"] == "win" for s in range(3))
    wins += sum(play(env, {"red": rnd, "yellow": mm}, s)["yellow"] == "win" for s in range(3))
    assert wins == 6


def test_connect_four_deeper_is_stronger():
    env = REG.make("connect_four")
    deep, shallow = MinimaxConnectFour(level=4), MinimaxConnectFour(level=2)
    score = 0.0
    for s in range(3):
        score += {"win": 1, "draw": 0.5, "loss": 0}[
            play(env, {"red": deep, "yellow": shallow}, s)["red"]
        ]
        score += {"win": 1, "draw": 0.5, "loss": 0}[
            play(env, {"red": shallow, "yellow": deep}, s)["yellow"]
        ]
    assert score >= 5


def test_connect_four_minimax_blocks_and_wins():
    env = REG.make("connect_four")
    mm = MinimaxConnectFour(level=2)
    env.reset(options={"moves": [1, 4, 1, 4, 1]})  # red threatens column 1
    assert mm.act(Request(messages=[], seat="yellow", env=env)) == "1"
    env.reset(options={"moves": [1, 4, 2, 4, 3, 7]})  # red completes 1-2-3-4
    assert mm.act(Request(messages=[], seat="red", env=env)) == "4"


# ---- guess the number ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "env_id,n", [("guess_the_number", 100), ("guess_the_number[high=128,max_guesses=8]", 128)]
)
def test_binary_search_always_finds_the_number(env_id, n):
    env = REG.make(env_id)
    bot = BinarySearchBot()
    bound = math.ceil(math.log2(n + 1))
    for secret in range(1, n + 1):
        env.reset(seed=0, options={"secret": secret})
        for _ in range(bound):
            _, _, term, _, info = env.step(bot.act(Request(messages=[], seat="player", env=env)))
            if term:
                break
        assert info["outcome"] == {"player": "success"} and len(env.unwrapped.guesses) <= bound


def test_random_guesser_stays_in_the_consistent_range():
    env = REG.make("guess_the_number")
    bot = RandomGuessBot(seed=4)
    env.reset(seed=2)
    game = env.unwrapped
    while not game._done:
        lo, hi = game.lo, game.hi
        guess = int(bot.act(Request(messages=[], seat="player", env=env)).split()[-1])
        assert lo <= guess <= hi
        env.step(str(guess))


# ---- wordle --------------------------------------------------------------------------------


def test_wordle_solver_solves_most_words():
    env = REG.make("wordle")
    bot = WordleSolver()
    words = answer_words()[::5]
    solved = 0
    for i, word in enumerate(words):
        env.reset(seed=i, options={"answer": word})
        while True:
            _, r, term, _, info = env.step(bot.act(Request(messages=[], seat="player", env=env)))
            assert not info["invalid_move"]
            if term:
                solved += r == 1.0
                break
    assert solved / len(words) >= 0.9


# ---- kuhn poker ----------------------------------------------------------------------------

_NODES: dict = {}


def _node(deal, actions):
    """(done, p0 chips, seat to act, cards, history) after ``actions``, read from a real env."""
    key = (deal, actions)
    if key not in _NODES:
        env = KuhnPokerEnv()
        env.reset(seed=0, options={"cards": deal})
        for act in actions:
            env.step(act)
            assert not env.infos[env.possible_agents[0]].get("invalid_move")
        _NODES[key] = (
            env.done,
            env.chips["p0"],
            env.agent_selection,
            dict(env.cards),
            tuple(env.history),
        )
    return _NODES[key]


def _kuhn_value(p0_strategy, p1_strategy):
    """p0's exact expected chips per hand, enumerating deals and betting lines of the env."""
    total = Fraction(0)
    for a, b in itertools.permutations(CARDS, 2):
        stack = [((), Fraction(1, 6))]
        while stack:
            actions, prob = stack.pop()
            done, chips, seat, cards, history = _node(a + b, actions)
            if done:
                total += prob * chips
                continue
            strategy = p0_strategy if seat == "p0" else p1_strategy
            for act, p in strategy(cards[seat], history).items():
                if p > 0:
                    stack.append((actions + (act,), prob * p))
    return total


def _nash(alpha):
    def probs(card, history):
        raw = nash_policy(card, history, alpha)
        # Exact fractions: the family's probabilities are multiples of alpha and of 1/3.
        return {k: Fraction(v).limit_denominator(1000) for k, v in raw.items()}

    return probs


def _pure(choices):
    """A pure strategy from {(card, history): action}."""
    return lambda card, history: {choices[(card, history)]: Fraction(1)}


@pytest.mark.parametrize("alpha", [Fraction(0), Fraction(1, 6), Fraction(1, 3)])
def test_nash_value_and_unexploitability(alpha):
    nash = _nash(float(alpha))
    value = _kuhn_value(nash, nash)
    assert value == Fraction(-1, 18)
    # In a seat-swapped match against itself the expected value is exactly 0.
    assert value + (-value) == 0
    # No pure strategy of either seat does better than the game value against it.
    p0_sets = [(c, h) for c in CARDS for h in ((), ("check", "bet"))]
    p1_sets = [(c, h) for c in CARDS for h in (("bet",), ("check",))]
    best_p0 = max(
        _kuhn_value(_pure(dict(zip(p0_sets, acts))), nash)
        for acts in itertools.product(
            *[["check", "bet"] if h == () else ["call", "fold"] for _, h in p0_sets]
        )
    )
    best_p1 = max(
        -_kuhn_value(nash, _pure(dict(zip(p1_sets, acts))))
        for acts in itertools.product(
            *[["call", "fold"] if h == ("bet",) else ["check", "bet"] for _, h in p1_sets]
        )
    )
    assert best_p0 == Fraction(-1, 18)
    assert best_p1 == Fraction(1, 18)


def test_nash_bot_samples_its_strategy():
    bot = NashKuhnBot(alpha=0.25, seed=7)
    env = KuhnPokerEnv()
    bets = 0
    n = 400
    for seed in range(n):
        env.reset(seed=seed, options={"cards": "JQ"})
        bets += bot.act(Request(messages=[], seat="p0", env=env)) == "bet"
    assert abs(bets / n - 0.25) < 0.07
    env.reset(seed=0, options={"cards": "KQ"})
    env.step("check")
    assert bot.act(Request(messages=[], seat="p1", env=env)) in ("check", "bet")


# ---- snake ---------------------------------------------------------------------------------


def test_greedy_snake_beats_random():
    seeds = list(range(6))
    greedy = RolloutEngine(env="snake").run(
        seeds=seeds, policies=REG.make_agent("bot:greedy", "snake")
    )
    rnd = RolloutEngine(env="snake").run(
        seeds=seeds, policies=REG.make_agent("bot:random", "snake")
    )

    def apples(trajs):
        return sum(t.return_ + (1 if t.outcome == "failure" else 0) for t in trajs) / len(trajs)

    assert apples(greedy) >= apples(rnd) + 5
    assert all(t.invalid_moves == 0 for t in greedy + rnd)


def test_greedy_snake_outplays_random_in_multi():
    env = REG.make("snake-multi")
    greedy, rnd = GreedySnakeBot(), RandomBot(seed=5)
    wins = Counter(play(env, {"snake_0": greedy, "snake_1": rnd}, s)["snake_0"] for s in range(6))
    assert wins["win"] >= 5


# ---- determinism through the engine ---------------------------------------------------------


@pytest.mark.parametrize(
    "env_id,agents",
    [
        ("tictactoe", ("bot:minimax", "bot:random")),
        ("kuhn_poker-10", ("bot:nash", "bot:random")),
        ("snake-multi", ("bot:greedy", "bot:random")),
        ("wordle", ("bot:solver",)),
    ],
)
def test_same_seeds_same_games(env_id, agents):
    def run():
        spec = REG.env_spec(env_id)
        pols = {
            seat: REG.make_agent(agents[i % len(agents)], env_id)
            for i, seat in enumerate(spec.seats)
        }
        trajs = RolloutEngine(env=env_id).run(seeds=[11, 12, 13], policies=pols)
        return [(t.seed, t.role, [m["content"] for m in t.messages], t.rewards) for t in trajs]

    first = run()
    assert first == run()
    assert len({tuple(x[2]) for x in first}) > 1
