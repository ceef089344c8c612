"""Context strategies: what a policy reads at each turn of a multi-turn episode.

``context`` is an option of the rollout engine, of the warm start and of ``gymnpt train``:

* ``full`` -- the whole conversation so far (the default). A seat's trajectory is one token
  sequence that grows turn by turn.
* ``last:K`` -- the system prompt, the last ``K`` exchanges (observation and reply) and the
  current observation.
* ``obs`` -- the system prompt and the current observation only (``last:0``).

With a window, every turn's prompt is a fresh sequence. The trajectory still holds all of the
seat's tokens, one turn's prompt and reply after the other, and ``info["segments"]`` lists the
offset where each turn's sequence starts; the learner trains on each segment as its own row,
exactly as the sampler saw it.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CONTEXT_HELP", "parse_context", "context_window", "turn_windows"]

CONTEXT_HELP = (
    "What the model reads each turn: full (whole conversation), last:K (system prompt, last K "
    "exchanges, current observation) or obs (system prompt and current observation)."
)


def parse_context(context: str) -> int | None:
    """The number of past exchanges a context strategy keeps (None: all of them).

    Args:
        context: ``full``, ``obs`` or ``last:K`` with ``K >= 0``.

    Raises:
        ValueError: any other text.
    """
    text = str(context).strip().lower()
    if text == "full":
        return None
    if text == "obs":
        return 0
    head, _, k = text.partition(":")
    if head == "last" and k.isdigit():
        return int(k)
    raise ValueError(f"context must be full, obs or last:K (K >= 0), got {context!r}")


def context_window(messages: Sequence[dict[str, str]], keep: int | None) -> list[dict[str, str]]:
    """The messages a policy reads: the system prompt, ``keep`` past exchanges, the last message.

    Args:
        messages: the whole conversation, ending with the current observation.
        keep: past exchanges kept (None: the whole conversation).

    Returns:
        A new list (the messages themselves are shared, not copied).
    """
    msgs = list(messages)
    if keep is None or not msgs:
        return msgs
    head = msgs[:1] if msgs[0].get("role") == "system" else []
    body = msgs[len(head) :]
    past, current = body[:-1], body[-1:]
    kept = past[len(past) - 2 * keep :] if keep > 0 else []
    return head + kept + current


def turn_windows(
    messages: Sequence[dict[str, str]], keep: int | None
) -> list[list[dict[str, str]]]:
    """One conversation per reply, as the policy saw it under the strategy, ending with the reply.

    With ``keep=None`` this is the whole conversation once (one sequence holds every reply).

    Args:
        messages: a finished conversation.
        keep: past exchanges kept (None: the whole conversation).
    """
    msgs = list(messages)
    if keep is None:
        return [msgs]
    return [
        context_window(msgs[:i], keep) + [m]
        for i, m in enumerate(msgs)
        if m.get("role") == "assistant" and i > 0
    ]
