"""The TextArena adapter: registration, contract, invalid moves, determinism and isolation."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import time

import pytest

from gymnpt.core.env import as_multiagent
from gymnpt.core.registry import Registry, default_registry
from gymnpt.core.testing import check_env
from gymnpt.plugins.textarena import catalog as cat
from gymnpt.plugins.textarena.adapter import TextArenaEnv, TextArenaGymEnv, load_textarena
from gymnpt.plugins.textarena.bots import TextArenaRandomBot, candidate_moves
from gymnpt.rollout.policy import Request

pytestmark = pytest.mark.skipif(cat.textarena_root() is None, reason="textarena is not installed")

#: Fast, available ids across one, two and many players (the check_env subset).
CHECK_IDS = [
    # one player
    "textarena/Sudoku-v0-very-easy",
    "textarena/TowerOfHanoi-v0",
    "textarena/GuessTheNumber-v0",
    "textarena/Mastermind-v0",
    "textarena/Minesweeper-v0",
    "textarena/FrozenLake-v0",
    "textarena/Blackjack-v0",
    "textarena/Bandit-v0",
    # two players
    "textarena/TicTacToe-v0",
    "textarena/KuhnPoker-v0",
    "textarena/Nim-v0",
    "textarena/Othello-v0-tiny",
    "textarena/Battleship-v0",
    "textarena/IteratedPrisonersDilemma-v0",
    "textarena/SimpleNegotiation-v0-short",
    "textarena/ColonelBlotto-v0-small",
    "textarena/Chopsticks-v0",
    # three or more players
    "textarena/ThreePlayerTicTacToe-v0",
    "textarena/LiarsDice-v0",
    "textarena/Snake-v0",
    "textarena/Poker-v0",
    "textarena/Briscola-v0",
]


def _spec(gid: str):
    return default_registry().env_spec(gid)


def _play(
    env: TextArenaEnv, seed: int, bot_seed: int, steps: int = 200, pause: bool = False
) -> list[tuple]:
    """Play with the random bot; the transcript of (seat, observation, action, rewards).

    With ``pause`` the thread yields between moves, so that threads interleave mid-game.
    """
    bot = TextArenaRandomBot(seed=bot_seed)
    env.reset(seed=seed)
    out = []
    for _ in range(steps):
        if pause:
            time.sleep(0.001)
        if env.done:
            break
        seat = env.agent_selection
        obs = env.observe(seat)
        act = bot.act(Request(messages=[{"role": "user", "content": obs}], seat=seat)).text
        env.step(act)
        out.append((seat, obs, act, tuple(sorted(env.rewards.items()))))
    out.append(("end", env.done, tuple(env.outcome(s) for s in env.possible_agents)))
    return out


# ---- registration ----------------------------------------------------------------------------
def test_registers_hundreds_of_ids_with_seats_and_family():
    reg = default_registry()
    ids = [i for i, s in reg.envs.items() if s.family == "textarena"]
    assert len(ids) >= 500
    ttt = reg.env_spec("textarena/TicTacToe-v0")
    assert (
        ttt.seats == ("player_0", "player_1") and not ttt.single_agent and ttt.unavailable is None
    )
    sudoku = reg.env_spec("textarena/Sudoku-v0")
    assert sudoku.single_agent and sudoku.seats == ("player",)
    poker = reg.env_spec("textarena/Poker-v0")
    assert len(poker.seats) == 2 and "players:2-15" in poker.tags
    mafia = reg.env_spec("textarena/SecretMafia-v0")
    assert len(mafia.seats) == 6
    assert reg.env_spec("textarena/TicTacToe-v0-raw").description
    assert "bot:textarena-random" in reg.agents_for("textarena/TicTacToe-v0")


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="the 3.12 syntax is valid here")
@pytest.mark.parametrize(
    "ta_id",
    [
        "Chess-v0",
        "Checkers-v0",
        "Klondike-v0",
        "ReverseTicTacToe-v0",
        "UltimateTexasHoldem-v0",
        "IteratedStagHunt-v0",
    ],
)
def test_python312_games_are_unavailable_with_reason(ta_id):
    spec = _spec(f"textarena/{ta_id}")
    assert spec.unavailable and "3.12" in spec.unavailable
    with pytest.raises(RuntimeError, match="3.12"):
        default_registry().make(f"textarena/{ta_id}")


@pytest.mark.parametrize(
    "ta_id", ["Wordle-v0", "Hangman-v0", "Codenames-v0", "WordLadder-v0", "LetterAuction-v0"]
)
def test_word_games_need_nltk_data_on_disk(ta_id):
    spec = _spec(f"textarena/{ta_id}")
    if cat.nltk_data_missing(["words"]):
        assert spec.unavailable and "NLTK" in spec.unavailable and "words" in spec.unavailable
    else:  # pragma: no cover - only where the data is installed
        assert spec.unavailable is None or "averaged_perceptron_tagger_eng" in spec.unavailable


def test_other_unrunnable_games_are_marked():
    assert "not installed" in _spec("textarena/BabyAiText-v0").unavailable
    assert "not part of" in _spec("textarena/UsedCar-v0-balanced").unavailable
    if not os.environ.get("OPENROUTER_API_KEY"):
        assert "OpenRouter" in _spec("textarena/Debate-v0").unavailable


def test_registration_imports_no_game_and_no_network():
    code = (
        "import sys, socket\n"
        "def no(*a, **k): raise AssertionError('network used')\n"
        "socket.socket.connect = no\n"
        "socket.create_connection = no\n"
        "from gymnpt.core.registry import Registry\n"
        "from gymnpt.core.plugins import make_plugin_manager\n"
        "import gymnpt.plugins.textarena as p\n"
        "reg = Registry().load_plugins(make_plugin_manager(autoload=False, plugins=[p]))\n"
        "assert len(reg.envs) > 500, len(reg.envs)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textarena', 'nltk'))\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]


def test_player_ranges_come_from_the_games():
    games = {g.ta_id: g for g in cat.catalog()}
    assert games["TicTacToe-v0"].players == (2, 2, 2)
    assert games["Sudoku-v0"].players == (1, 1, 1)
    assert games["LiarsDice-v0"].players[:2] == (2, 15)
    assert games["ThreePlayerTicTacToe-v0"].players == (3, 3, 3)
    assert cat.player_range("NewGame", "self.state = ta.SinglePlayerState(num_players)") == (
        1,
        1,
        1,
    )
    assert cat.player_range("NewGame", "assert 3 <= num_players <= 7") == (3, 7, 3)


# ---- the contract ----------------------------------------------------------------------------
@pytest.mark.parametrize("gid", CHECK_IDS)
def test_check_env(gid):
    check_env(gid, seeds=(0, 1), max_steps=80)


def test_num_players_kwarg():
    env = default_registry().make("textarena/LiarsDice-v0", num_players=4)
    assert env.possible_agents == [f"player_{i}" for i in range(4)]
    env.reset(seed=0)
    assert env.agent_selection in env.possible_agents
    with pytest.raises(ValueError, match="players"):
        default_registry().make("textarena/TicTacToe-v0", num_players=3)
    assert len(default_registry().make("textarena/Poker-v0[num_players=5]").possible_agents) == 5


def test_invalid_moves_follow_textarena_allowance():
    env = default_registry().make("textarena/TicTacToe-v0")
    env.reset(seed=3)
    env.step("[4]")
    assert env.infos["player_0"] == {"invalid_move": False, "turn": 1}
    env.step("I refuse to play")
    info = env.infos["player_1"]
    assert info["invalid_move"] and info["retries_left"] == 0 and "format" in info["error"]
    assert env.agent_selection == "player_1"
    assert "invalid move" in env.observe("player_1")
    env.step("[4]")  # occupied: the second invalid move loses the game
    info = env.infos["player_1"]
    assert info["invalid_move"] and info["penalized"] and env.done
    assert env.rewards == {"player_0": 1.0, "player_1": -1.0}
    assert env.outcome("player_0") == "win" and env.outcome("player_1") == "loss"
    assert info["outcome"] == {"player_0": "win", "player_1": "loss"}
    with pytest.raises(RuntimeError):
        env.step("[0]")


def test_a_reply_that_makes_textarena_raise_is_an_invalid_move():
    env = default_registry().make("textarena/TicTacToe-v0")
    env.reset(seed=1)

    def broken(action):
        raise KeyError("bug in the game")

    env._ta.step = broken
    env.step("[4]")
    info = env.infos["player_0"]
    assert not env.done and env.agent_selection == "player_0"  # the same seat retries
    assert info["invalid_move"] and "KeyError" in info["env_error"]
    assert info["retries_left"] == 0
    env.step("[4]")  # no retries left: the seat forfeits
    assert env.done and env.outcome("player_0") == "loss" and env.outcome("player_1") == "win"
    assert env.rewards == {"player_0": -1.0, "player_1": 1.0}


@pytest.mark.parametrize(
    "ta_id", ["TicTacToe-v0", "ConnectFour-v0", "Othello-v0", "SimpleTak-v0", "GuessTheNumber-v0"]
)
def test_a_5000_digit_number_is_an_invalid_move(ta_id):
    # These games pass the number to int(), which Python refuses past 4300 digits.
    env = default_registry().make_multiagent(f"textarena/{ta_id}")
    env.reset(seed=0)
    seat = env.agent_selection
    env.step("[" + "9" * 5000 + "]")
    info = env.infos[seat]
    assert info["invalid_move"] and "ValueError" in info["env_error"]
    assert not env.done and env.agent_selection == seat


def test_a_penalized_player_ends_a_game_that_would_go_on():
    # PublicGoodsGame keeps playing after a player is eliminated (and loops forever inside
    # TextArena once every player is): the adapter ends it at the first forfeit.
    env = TextArenaEnv("PublicGoodsGame-v0")
    env.reset(seed=0)
    first = env.agent_selection
    turns = 0
    while not env.done and turns < 100:
        env.step("no idea")
        turns += 1
    assert env.done and turns < 100
    info = env.infos[first]
    assert info["penalized"] and "forfeited" in info["ended"]
    assert env.outcome(first) == "loss" and env.rewards[first] == -1.0
    assert all(env.outcome(s) == "win" for s in env.possible_agents if s != first)


@pytest.mark.parametrize(
    "ta_id",
    [
        "Poker-v0",
        "SantoriniBaseFixed-v0",
        "SettlersOfCatan-v0",
        "MarketEntryGame-v0",
        "PublicGoodsGame-v0-raw",
    ],
)
def test_games_that_go_on_after_elimination_end_on_garbage(ta_id):
    # Each of these kept playing after tens of thousands of invalid replies.
    env = default_registry().make_multiagent(f"textarena/{ta_id}")
    env.reset(seed=3)
    replies = 0
    while not env.done and replies < 50:
        env.step("garbage")
        replies += 1
    assert env.done and replies < 50
    assert {env.outcome(s) for s in env.possible_agents} <= {"win", "loss", "draw"}


def test_textarena_output_is_captured(capfd):
    env = TextArenaEnv("TicTacToe-v0")
    env.reset(seed=0)

    def noisy(action):
        print("a line TextArena printed")
        return original(action)

    original = env._ta.step
    env._ta.step = noisy
    env.step("[4]")
    out, _ = capfd.readouterr()
    assert "a line TextArena printed" not in out
    assert "a line TextArena printed" in env.captured_output


def test_character_conclave_is_listed_unavailable_with_the_reason():
    specs = [s for s in default_registry().envs.values() if "CharacterConclave" in s.id]
    assert len(specs) == 9
    assert all("TypeError" in (s.unavailable or "") for s in specs)


def test_a_stuck_game_does_not_stall_other_episodes():
    # One episode's call is stuck inside TextArena (a reset that takes a minute, abandoned by
    # the watchdog); others, in other threads, still play.
    stuck = TextArenaEnv("TicTacToe-v0")
    stuck.reset(seed=0)
    release = threading.Event()
    entered = threading.Event()

    def hang(action):
        entered.set()
        release.wait(30)
        return (False, {})

    stuck._ta.step = hang
    t = threading.Thread(target=stuck.step, args=("[4]",), daemon=True)
    t.start()
    try:
        assert entered.wait(10)
        done = []

        def play() -> None:
            done.append(_play(TextArenaEnv("KuhnPoker-v0"), seed=1, bot_seed=1))

        other = threading.Thread(target=play, daemon=True)
        other.start()
        other.join(20)
        assert done, "an episode in another thread was blocked by the stuck one"
    finally:
        release.set()
        t.join(10)


def test_huge_replies_are_clipped_before_textarena_parses_them():
    env = default_registry().make("textarena/ConnectFour-v0")
    env.reset(seed=0)
    env.step("x" * 100_000)
    assert env.infos["player_0"]["clipped"] and env.infos["player_0"]["invalid_move"]


def test_single_player_game_is_a_gymnasium_env():
    env = default_registry().make("textarena/GuessTheNumber-v0")
    assert isinstance(env.unwrapped, TextArenaGymEnv)
    obs, info = env.reset(seed=5)
    assert isinstance(obs, str) and "number" in obs.lower() and info["seat"] == "player"
    assert env.unwrapped.instructions
    total, done, steps = 0.0, False, 0
    while not done:
        obs, r, term, trunc, info = env.step(f"[{steps % 20 + 1}]")
        total += r
        done = term or trunc
        steps += 1
    assert info["outcome"]["player"] in ("success", "failure")
    ma = as_multiagent(default_registry().make("textarena/GuessTheNumber-v0"))
    ma.reset(seed=5)
    lo, hi = 1, 20  # binary search on the game's hints
    while not ma.done:
        guess = (lo + hi) // 2
        ma.step(f"[{guess}]")
        hint = ma.observe("player")
        if "higher" in hint:
            lo = guess + 1
        elif "lower" in hint:
            hi = guess - 1
    assert ma.outcome("player") == "success" and ma.rewards["player"] == 1.0


# ---- fidelity to TextArena ---------------------------------------------------------------------
@pytest.mark.parametrize("ta_id", ["TicTacToe-v0", "KuhnPoker-v0", "LiarsDice-v0"])
def test_full_observations_and_rewards_equal_raw_textarena(ta_id):
    ta = load_textarena()
    env = TextArenaEnv(ta_id, observation="full")
    players = len(env.possible_agents)
    for seed in (0, 7):
        bot = TextArenaRandomBot(seed=seed)
        raw = ta.make(ta_id)
        raw.reset(num_players=players, seed=seed)
        env.reset(seed=seed)
        done = False
        while not done:
            pid, raw_obs = raw.get_observation()
            seat = env.agent_selection
            assert seat == f"player_{pid}"
            obs = env.observe(seat)
            assert obs == raw_obs
            act = bot.act(Request(messages=[{"role": "user", "content": obs}], seat=seat)).text
            done, _ = raw.step(act)
            env.step(act)
        raw_rewards, _ = raw.close()
        assert env.done
        assert env.final_rewards() == {f"player_{p}": float(r) for p, r in raw_rewards.items()}


# ---- determinism and isolation -------------------------------------------------------------------
@pytest.mark.parametrize("ta_id", ["KuhnPoker-v0", "LiarsDice-v0", "Minesweeper-v0"])
def test_interleaved_episodes_equal_sequential_ones(ta_id):
    seq = [_play(TextArenaEnv(ta_id), seed=s, bot_seed=s) for s in (11, 12)]
    # Interleave two episodes step by step, disturbing the global RNG in between.
    envs = [TextArenaEnv(ta_id), TextArenaEnv(ta_id)]
    bots = [TextArenaRandomBot(seed=11), TextArenaRandomBot(seed=12)]
    logs: list[list[tuple]] = [[], []]
    for e, s in zip(envs, (11, 12)):
        e.reset(seed=s)
    while not all(e.done for e in envs):
        for i, e in enumerate(envs):
            random.seed(999)
            random.random()
            if e.done:
                continue
            seat = e.agent_selection
            obs = e.observe(seat)
            act = bots[i].act(Request(messages=[{"role": "user", "content": obs}], seat=seat)).text
            e.step(act)
            logs[i].append((seat, obs, act, tuple(sorted(e.rewards.items()))))
    for i, e in enumerate(envs):
        logs[i].append(("end", e.done, tuple(e.outcome(s) for s in e.possible_agents)))
    assert logs == seq


def test_episodes_in_threads_equal_sequential_ones():
    seeds = list(range(6))
    expected = [_play(TextArenaEnv("KuhnPoker-v0"), seed=s, bot_seed=s) for s in seeds]
    got: dict[int, list[tuple]] = {}

    def worker(s: int) -> None:
        got[s] = _play(TextArenaEnv("KuhnPoker-v0"), seed=s, bot_seed=s, pause=True)

    threads = [threading.Thread(target=worker, args=(s,)) for s in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [got[s] for s in seeds] == expected


def test_global_random_state_is_left_alone():
    random.seed(1234)
    before = random.getstate()
    env = TextArenaEnv("KuhnPoker-v0")
    env.reset(seed=3)
    env.step("[bet]")
    env.observe(env.agent_selection)
    assert random.getstate() == before


def test_different_seeds_give_different_games():
    deals = set()
    for s in range(8):
        env = TextArenaEnv("KuhnPoker-v0")
        env.reset(seed=s)
        deals.add(env.observe("player_0")[-300:])
    assert len(deals) > 1


def test_reset_without_seed_continues_a_reproducible_stream():
    a, b = TextArenaEnv("KuhnPoker-v0"), TextArenaEnv("KuhnPoker-v0")
    a.reset(seed=5)
    b.reset(seed=5)
    for _ in range(3):
        a.reset()
        b.reset()
        assert a.observe("player_0") == b.observe("player_0")


# ---- offline word data ---------------------------------------------------------------------------
def test_nltk_download_never_touches_the_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("network used")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    load_textarena()
    import nltk

    from gymnpt.plugins.textarena import offline

    assert nltk.download("words") == offline.resource_on_disk("words")
    assert nltk.download(["words", "no-such-resource"]) is False


# ---- the bot -------------------------------------------------------------------------------------
def test_candidate_moves_reads_the_latest_offer():
    obs = (
        "[GAME] You are Player 0. For example, '[4]' places your mark.\n"
        "[Player 1] [2]\n"
        "[GAME] Available Moves: '[0]', '[1]', '[5]'"
    )
    assert candidate_moves(obs) == ["[0]", "[1]", "[5]"]
    assert candidate_moves("[GAME] no moves here") == []


def test_random_bot_plays_through_the_rollout_engine():
    from gymnpt.rollout.engine import RolloutEngine

    reg = default_registry()
    bot = reg.make_agent("bot:textarena-random", "textarena/TicTacToe-v0")
    engine = RolloutEngine(env="textarena/TicTacToe-v0", max_turns=40)
    trajs = engine.run(seeds=[1, 2, 3], policies={"player_0": bot, "player_1": bot})
    assert len(trajs) == 6
    assert {t.outcome for t in trajs} <= {"win", "loss", "draw"}
    assert any(t.outcome == "win" for t in trajs)


def test_plugin_loads_into_a_fresh_registry():
    import gymnpt.plugins.textarena as plugin
    from gymnpt.core.plugins import make_plugin_manager

    reg = Registry().load_plugins(make_plugin_manager(autoload=False, plugins=[plugin]))
    assert "textarena/TicTacToe-v0" in reg.envs
    assert (
        reg.agent_spec("bot:textarena-random", "textarena/Nim-v0")[0].name == "bot:textarena-random"
    )
