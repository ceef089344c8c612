"""Language-model policies (hf, vllm, openai) and the human policy."""

from __future__ import annotations

from typing import Any


def register(registry: Any) -> None:
    """Register the model-backed policies with ``registry``."""
