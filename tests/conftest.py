"""Shared test setup."""

from __future__ import annotations

import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault(
    "GYMNPT_CACHE", os.path.join(os.path.dirname(__file__), "..", ".pytest_cache", "gymnpt")
)
