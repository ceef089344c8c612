"""Fixtures of the learner tests."""

from __future__ import annotations

import pytest
import torch
from learner_helpers import tiny_llama


@pytest.fixture
def model() -> torch.nn.Module:
    return tiny_llama()
