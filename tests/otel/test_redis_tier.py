"""Telemetry of the Redis tier through the real OpenTelemetry SDK (in-memory exporters):
spans for Redis round trips on the load path only, and the tier's metric instruments."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent_cache import AsyncCache
from agent_cache.backends.redis import RedisBackend
from agent_cache.telemetry import names as tn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "redis"))
from redis_helpers import running_redis_server

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_server(tmp_path):
    yield from running_redis_server(tmp_path)


def attrs(*pairs: tuple[str, str]) -> tuple:
    """The key ``Otel.values`` uses for one series: its attributes, sorted."""
    return tuple(sorted(pairs))


async def test_load_path_spans_and_tier_metrics(otel, redis_server):
    exporter = otel.exporter
    a, b = RedisBackend(redis_server.url), RedisBackend(redis_server.url)
    ca, cb = AsyncCache(name="cart", backend=a), AsyncCache(name="cart", backend=b)
    assert await a.subscribe() and await b.subscribe()

    assert await ca.get("u1", loader=lambda: [1]) == [1]
    spans = {s.name: s for s in exporter.get_finished_spans()}
    load = spans["agent_cache.load cart"]
    for name in ("agent_cache.tier get", "agent_cache.tier lock", "agent_cache.tier store"):
        assert spans[name].parent.span_id == load.context.span_id
        assert spans[name].attributes[tn.ATTR_TIER] == "redis"
    assert spans["agent_cache.tier get"].attributes[tn.ATTR_RESULT] == "miss"

    exporter.clear()
    assert await cb.get("u1", loader=lambda: [2]) == [1]  # from Redis
    assert [s.attributes.get(tn.ATTR_RESULT) for s in exporter.get_finished_spans()
            if s.name == "agent_cache.tier get"] == ["hit"]
    exporter.clear()
    assert await cb.get("u1") == [1]  # an L1 hit: no Redis, no tier span
    assert not [s for s in exporter.get_finished_spans() if s.name.startswith(tn.SPAN_TIER)]

    await ca.delete("u1")
    assert await b.sync_backplane()
    redis = (tn.ATTR_TIER, "redis")
    requests = otel.values(tn.METRIC_TIER_REQUESTS[0])
    assert requests[attrs((tn.ATTR_RESULT, "hit"), redis)] >= 1
    assert requests[attrs((tn.ATTR_RESULT, "miss"), redis)] >= 1
    messages = otel.values(tn.METRIC_BACKPLANE_MESSAGES[0])
    assert messages[attrs((tn.ATTR_BACKPLANE_DIRECTION, "sent"), redis)] >= 1
    assert messages[attrs((tn.ATTR_BACKPLANE_DIRECTION, "received"), redis)] >= 1
    locks = otel.values(tn.METRIC_TIER_LOCKS[0])
    assert locks[attrs((tn.ATTR_LOCK_OUTCOME, "acquired"), redis)] >= 1
    assert otel.values(tn.METRIC_BREAKER_STATE[0]) == {attrs(redis): 0}

    redis_server.kill()
    for _ in range(4):
        await ca.get(f"x{_}", loader=lambda: 0)
    failures = otel.values(tn.METRIC_TIER_FAILURES[0])
    assert failures[attrs((tn.ATTR_TIER_FAILURE, "error"), redis)] >= 1
    assert failures[attrs((tn.ATTR_TIER_FAILURE, "short_circuit"), redis)] >= 1
    assert otel.values(tn.METRIC_BREAKER_STATE[0]) == {attrs(redis): 2}
    assert otel.values(tn.METRIC_BREAKER_OPENINGS[0]) == {attrs(redis): 1}
    for series in list(failures) + list(messages) + list(requests):
        assert {k for k, _ in series} <= {tn.ATTR_TIER, tn.ATTR_RESULT, tn.ATTR_TIER_FAILURE,
                                         tn.ATTR_BACKPLANE_DIRECTION}
    await a.close()
    await b.close()
