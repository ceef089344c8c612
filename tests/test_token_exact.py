"""Token in, token out: the recorded ids are exactly what the model saw and sampled."""

from __future__ import annotations

import pytest
import torch

from gymnpt.agents.hf import HFPolicy
from gymnpt.core.env import MultiAgentEnv, Outcome
from gymnpt.rollout.engine import RolloutEngine
from gymnpt.rollout.policy import SamplingParams
from gymnpt.rollout.tokens import ChatTokens


class RecordingHF(HFPolicy):
    """The real hf policy; it also keeps every prompt it was asked to condition on."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.prompts: dict[tuple[str, str], list[list[int]]] = {}

    async def generate(self, requests):
        for r in requests:
            self.prompts.setdefault((r.episode_id, r.seat), []).append(list(r.prompt_token_ids))
        return await super().generate(requests)


class Relay(MultiAgentEnv):
    """Two seats take turns; every reply is valid; three turns each. Rewards favour long replies."""

    seats = ("a", "b")
    instructions = "Say something."

    def _new_game(self, rng, options):
        self.turns = 0
        self.word = str(rng.choice(["apple", "river", "stone"]))

    def _to_act(self):
        return [] if self.turns >= 6 else [self.seats[self.turns % 2]]

    def _observe(self, seat):
        return f"Turn {self.turns}: the word is {self.word}. Ünïcode too."

    def _parse(self, seat, text):
        return text

    def _apply(self, moves):
        ((seat, text),) = moves.items()
        self.turns += 1
        if self.turns >= 6:
            self._finish({"a": Outcome.DRAW, "b": Outcome.DRAW})
        return {seat: min(len(text), 10) / 10}


@pytest.fixture(scope="module")
def rollouts():
    pol = RecordingHF("tiny", seed=0)
    engine = RolloutEngine(
        Relay,
        sampling=SamplingParams(temperature=1.0, max_new_tokens=12, seed=3),
        registry=object(),
    )
    trajs = engine.run([0, 1, 2], pol, group_size=2)  # self-play: both seats are the model
    trajs += RolloutEngine("tictactoe", sampling=SamplingParams(max_new_tokens=8)).run([0], pol)
    return pol, trajs


def test_multi_turn_episodes_were_played(rollouts):
    _, trajs = rollouts
    relay = [t for t in trajs if t.num_turns == 3]
    assert len(relay) == 12 and all(len(t.rewards) == 3 for t in relay)


def test_masked_tokens_decode_to_the_replies(rollouts):
    pol, trajs = rollouts
    checked = 0
    for t in trajs:
        replies = [m["content"] for m in t.messages if m["role"] == "assistant"]
        runs = t.completions()
        assert len(runs) == len(replies) == t.num_turns
        for ids, text in zip(runs, replies):
            assert pol.tokenizer.decode(ids, skip_special_tokens=True) == text
            checked += 1
    assert checked > 10


def test_each_prompt_is_a_prefix_of_the_record(rollouts):
    pol, trajs = rollouts
    for t in trajs:
        if t.num_turns == 0:  # the game ended before this seat moved
            continue
        prompts = pol.prompts[(t.episode_id, t.role)]
        assert len(prompts) == t.num_turns
        starts = [
            i
            for i in range(len(t.loss_mask))
            if t.loss_mask[i] == 1 and (i == 0 or t.loss_mask[i - 1] == 0)
        ]
        for prompt, start in zip(prompts, starts):
            assert prompt == t.token_ids[:start]  # the model was conditioned on exactly these ids


def test_first_prompt_is_the_chat_template(rollouts):
    pol, trajs = rollouts
    ct = ChatTokens(pol.tokenizer)
    t = next(t for t in trajs if t.num_turns)
    first = t.messages[:2]
    assert pol.prompts[(t.episode_id, t.role)][0] == ct.prompt(first)


def test_recomputed_logprobs_match_sampler(rollouts):
    pol, trajs = rollouts
    model = pol.model
    for t in trajs[:4]:
        ids = torch.tensor([t.token_ids])
        with torch.no_grad():
            logits = model(ids).logits[0, :-1].float()
        logp = torch.log_softmax(logits, dim=-1).gather(1, ids[0, 1:, None])[:, 0]
        mask = torch.tensor(t.loss_mask[1:], dtype=torch.bool)
        sampler = torch.tensor(t.logprobs[1:])[mask]
        assert torch.allclose(logp[mask], sampler, atol=1e-4), (logp[mask] - sampler).abs().max()


def test_env_text_is_masked_out(rollouts):
    _, trajs = rollouts
    for t in trajs:
        if not t.num_turns:
            assert t.token_ids == []
            continue
        assert 0 < sum(t.loss_mask) < len(t.loss_mask)
        assert all(lp == 0.0 for lp, m in zip(t.logprobs, t.loss_mask) if m == 0)


class Scripted:
    """A policy with the tiny tokenizer that replies with fixed text, as token ids ending in eos."""

    name = "scripted"
    version = 0

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.ct = ChatTokens(tokenizer)

    async def generate(self, requests):
        from gymnpt.rollout.policy import Completion

        out = []
        for r in requests:
            text = f"reply {len(r.messages)} ñ"
            out.append(
                Completion(
                    text=text,
                    token_ids=self.ct.encode(text) + [self.ct.eos_id],
                    logprobs=[-1.0] * (len(self.ct.encode(text)) + 1),
                )
            )
        return out


def test_conversation_tokenization_matches_engine(rollouts):
    """``ChatTokens.conversation`` (used to train on bot episodes) rebuilds the engine's ids."""
    pol, _ = rollouts
    trajs = RolloutEngine(Relay, registry=object()).run([0, 1], Scripted(pol.tokenizer))
    ct = ChatTokens(pol.tokenizer)
    for t in trajs:
        ids, mask = ct.conversation(t.messages)
        assert ids == t.token_ids and mask == t.loss_mask
