"""Fixtures for the Redis tests: a fresh real ``redis-server`` per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_helpers import RedisServer, running_redis_server


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server per test: tests may kill or pause it."""
    yield from running_redis_server(tmp_path)
