"""``human``: a person at the terminal plays a seat.

The policy shows the newest observation (and, on the first turn, the instructions) in a panel
and reads the reply with a rich prompt. Input is read in a worker thread, so the event loop
keeps running other episodes meanwhile.
"""

from __future__ import annotations

import threading
from typing import Any, TextIO

from gymnpt.rollout.policy import BasePolicy, Completion, Request

__all__ = ["HumanPolicy", "make_human_policy"]


class HumanPolicy(BasePolicy):
    """Ask a person for each reply.

    Args:
        name: the policy name in trajectories.
        console: the ``rich.console.Console`` to write to (default: the terminal).
        stream: where replies are read from (default: standard input); one line per reply.
        show_instructions: show the system prompt before the first observation.
    """

    inline = False

    def __init__(
        self,
        name: str = "human",
        *,
        console: Any = None,
        stream: TextIO | None = None,
        show_instructions: bool = True,
    ) -> None:
        from rich.console import Console

        self.name = name
        self.version = 0
        self.console = console if console is not None else Console()
        self.stream = stream
        self.show_instructions = show_instructions
        self._lock = threading.Lock()

    def act(self, request: Request) -> Completion:
        """Show the observation of ``request`` and return the typed reply."""
        from rich.panel import Panel
        from rich.prompt import Prompt

        msgs = request.messages
        with self._lock:
            first = sum(1 for m in msgs if m.get("role") == "assistant") == 0
            if first and self.show_instructions:
                for m in msgs:
                    if m.get("role") == "system" and m.get("content"):
                        self.console.print(Panel(m["content"], title="instructions"))
            obs = next((m["content"] for m in reversed(msgs) if m.get("role") != "assistant"), "")
            where = f"{request.env_id or 'env'} / {request.seat}"
            self.console.print(Panel(obs, title=where))
            try:
                reply = Prompt.ask(
                    f"[bold]{request.seat}[/bold]", console=self.console, stream=self.stream
                )
            except EOFError:
                reply = ""
        return Completion(text=reply, info={"human": True})


def make_human_policy(env_id: str | None = None, **kwargs: Any) -> HumanPolicy:
    """Registry factory of the ``human`` agent."""
    del env_id
    return HumanPolicy(**kwargs)
