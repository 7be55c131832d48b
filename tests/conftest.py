"""Shared fixtures: a clean slate per test and a fake monotonic clock.

Every test starts and ends with :func:`agent_cache.reset_global_state`, so global agent
caches and counters never leak from one test into the next.
"""

from __future__ import annotations

import pytest
from helpers import FakeClock

import agent_cache
from agent_cache.agent import tool_cache
from agent_cache.core import cache as core_cache
from agent_cache.core import decorators as core_decorators


@pytest.fixture(autouse=True)
def clean_slate():
    agent_cache.reset_global_state()
    yield
    agent_cache.reset_global_state()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Replace every ``_monotonic`` the library reads expiry times from."""
    fake = FakeClock()
    for module in (core_cache, core_decorators, tool_cache):
        monkeypatch.setattr(module, "_monotonic", fake)
    return fake
