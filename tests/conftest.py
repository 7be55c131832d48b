"""Shared fixtures: a clean slate per test and a fake monotonic clock (injected with ``clock=``).

Every test starts and ends with :func:`agent_cache.reset_global_state`, so global agent
caches and counters never leak from one test into the next.
"""

from __future__ import annotations

import pytest

import agent_cache
from helpers import FakeClock


@pytest.fixture(autouse=True)
def clean_slate():
    agent_cache.reset_global_state()
    yield
    agent_cache.reset_global_state()


@pytest.fixture
def clock() -> FakeClock:
    """A fake monotonic clock; tests inject it with ``clock=`` (no module patching)."""
    return FakeClock()
