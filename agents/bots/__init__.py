"""Scripted bots, one module per game."""

from __future__ import annotations

from typing import Any


def register(registry: Any) -> None:
    """Register every scripted bot with ``registry``."""
