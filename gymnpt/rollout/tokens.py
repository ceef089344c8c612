"""Token-in/token-out bookkeeping for multi-turn conversations.

The rollout engine keeps, for each (episode, seat), the exact token ids the model has been
conditioned on. The first prompt is the chat template applied to the system prompt and the
first observation. After each reply, the ids the model *sampled* are appended as they are
(never re-tokenized), and the next observation is appended as the template's text for the new
message, tokenized on its own. :class:`ChatTokens` computes those pieces from any Hugging Face
tokenizer with a chat template.

Every token-level backend (``hf``, ``vllm``, the completions mode of ``openai``) encodes a
conversation with :func:`encode_chat` and reads a request's prompt with :func:`prompt_ids`,
and the engine's :class:`ChatTokens` renders through the same :func:`render_chat`, so a fix
to chat encoding lands in one place and the ids stay the same everywhere.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ChatTokens",
    "END_OF_TURN_TOKENS",
    "render_chat",
    "encode_text",
    "encode_chat",
    "prompt_ids",
    "stop_token_ids",
]

#: Special tokens that end an assistant turn in common chat templates (ChatML, Llama 3,
#: Phi, Gemma, GPT-2 style); sampling stops at any of them that the vocabulary has.
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>")


def render_chat(
    tokenizer: Any, messages: list[dict[str, str]], *, add_generation_prompt: bool = True
) -> str:
    """The chat template's text for ``messages``."""
    out = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )
    return out if isinstance(out, str) else str(out)


def encode_text(tokenizer: Any, text: str) -> list[int]:
    """Ids of ``text`` with no special tokens added (the template wrote them already)."""
    return list(tokenizer.encode(text, add_special_tokens=False))


def encode_chat(tokenizer: Any, messages: list[dict[str, str]], *, name: str = "") -> list[int]:
    """Token ids of ``messages`` rendered by the chat template with the generation prompt.

    Args:
        tokenizer: a Hugging Face tokenizer with a chat template.
        messages: the conversation (system prompt first, if any).
        name: the model's name, for error messages.

    Raises:
        ValueError: no messages, or a tokenizer without a chat template.
    """
    if not messages:
        raise ValueError("a request needs at least one message or prompt_token_ids")
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            f"the tokenizer of {name or 'this model'!r} has no chat template; send "
            "prompt_token_ids or use a chat model"
        )
    return encode_text(tokenizer, render_chat(tokenizer, messages))


def prompt_ids(
    request: Any, tokenizer: Any, *, vocab_size: int | None = None, name: str = ""
) -> list[int]:
    """The prompt of a request: its ``prompt_token_ids`` (checked) or its encoded messages.

    Args:
        request: a :class:`~gymnpt.rollout.policy.Request`.
        tokenizer: the backend's tokenizer.
        vocab_size: when given, ids outside ``[0, vocab_size)`` are refused.
        name: the model's name, for error messages.

    Raises:
        ValueError: an empty prompt or ids outside the vocabulary.
    """
    if request.prompt_token_ids is None:
        return encode_chat(tokenizer, request.messages, name=name)
    prompt = [int(t) for t in request.prompt_token_ids]
    if not prompt:
        raise ValueError("empty prompt: prompt_token_ids is an empty list")
    if vocab_size is not None:
        bad = [t for t in prompt if not 0 <= t < vocab_size]
        if bad:
            raise ValueError(
                f"prompt_token_ids has ids outside the vocabulary [0, {vocab_size}): {bad[:5]}"
            )
    return prompt


def stop_token_ids(tokenizer: Any, extra: Any = None) -> set[int]:
    """Ids that end a reply: the tokenizer's eos, ``extra`` (an id or ids, e.g. a generation
    config's ``eos_token_id``) and the end-of-turn tokens the vocabulary has."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    if isinstance(extra, int):
        ids.add(extra)
    elif isinstance(extra, (list, tuple, set)):
        ids.update(int(x) for x in extra)
    vocab = tokenizer.get_vocab()
    ids.update(vocab[t] for t in END_OF_TURN_TOKENS if t in vocab)
    return ids


_PROBE_USER = "Hello."
_PROBE_REPLY = "Hi."


class ChatTokens:
    """Chat-template pieces for one tokenizer, cached.

    Args:
        tokenizer: a Hugging Face tokenizer with ``apply_chat_template``.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        eos = tokenizer.eos_token
        self.eos_text: str = eos if isinstance(eos, str) else ""
        self.eos_id: int | None = tokenizer.eos_token_id
        # What the template writes after the end-of-turn token of an assistant reply
        # (e.g. "\n" in ChatML); it is never sampled, so it is added with the next message.
        self._probe = [
            {"role": "user", "content": _PROBE_USER},
            {"role": "assistant", "content": _PROBE_REPLY},
        ]
        base = self._base = self._render(self._probe, gen=False)
        idx = base.rfind(_PROBE_REPLY)
        after = base[idx + len(_PROBE_REPLY) :] if idx >= 0 else ""
        if self.eos_text and self.eos_text in after:
            self.after_eos = after[after.index(self.eos_text) + len(self.eos_text) :]
            self.reply_suffix = after[: after.index(self.eos_text)]
        else:
            self.after_eos = after
            self.reply_suffix = ""

    def _render(self, messages: list[dict[str, str]], *, gen: bool) -> str:
        return render_chat(self.tokenizer, messages, add_generation_prompt=gen)

    def encode(self, text: str) -> list[int]:
        """Ids of ``text`` with no special tokens added."""
        return encode_text(self.tokenizer, text)

    def prompt(self, messages: list[dict[str, str]]) -> list[int]:
        """Ids of a fresh conversation (system + first user message) with the generation prompt."""
        return self.encode(self._render(messages, gen=True))

    def continuation(
        self, new_messages: list[dict[str, str]], *, ended_with_eos: bool
    ) -> list[int]:
        """Ids to append after a sampled reply so that the model reads ``new_messages`` next.

        The template's text for the new messages does not depend on the earlier conversation
        (the template is append-only), so only the new messages are rendered.

        Args:
            new_messages: the messages that follow (usually one user message).
            ended_with_eos: whether the sampled ids ended with the end-of-turn token; if not
                (the reply hit the token limit), the end-of-turn token is closed here.
        """
        base = self._base
        full = self._render(self._probe + new_messages, gen=True)
        if full.startswith(base):
            delta = full[len(base) :]
        else:  # a template that rewrites history: fall back to rendering the new part alone
            delta = self._render(new_messages, gen=True)
        prefix = (
            self.after_eos if ended_with_eos else self.reply_suffix + self.eos_text + self.after_eos
        )
        return self.encode(prefix + delta)

    def conversation(self, messages: list[dict[str, str]]) -> tuple[list[int], list[int]]:
        """Tokenize a whole conversation the way the engine would have built it.

        Returns (ids, mask) with mask 1 on assistant reply tokens (including their end-of-turn
        token) and 0 elsewhere. Used to train on conversations that were not sampled by a
        model (scripted-bot episodes for supervised warm starts).
        """
        ids: list[int] = []
        mask: list[int] = []
        i = 0
        # leading non-assistant messages form the first prompt
        while i < len(messages) and messages[i]["role"] != "assistant":
            i += 1
        first = self.prompt(messages[:i]) if i else []
        ids += first
        mask += [0] * len(first)
        while i < len(messages):
            msg = messages[i]
            if msg["role"] == "assistant":
                reply = self.encode(msg["content"] + self.reply_suffix)
                if self.eos_id is not None:
                    reply.append(self.eos_id)
                ids += reply
                mask += [1] * len(reply)
                i += 1
                continue
            j = i
            while j < len(messages) and messages[j]["role"] != "assistant":
                j += 1
            if j == i:
                break
            cont = self.continuation(messages[i:j], ended_with_eos=True)
            ids += cont
            mask += [0] * len(cont)
            i = j
        return ids, mask
