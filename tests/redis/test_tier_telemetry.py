"""Telemetry of the Redis tier through the real OpenTelemetry SDK (in-memory exporters)."""

from __future__ import annotations

import pytest
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace as otel_trace
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from agent_cache import AsyncCache
from agent_cache.backends.redis import RedisBackend
from agent_cache.telemetry import names as tn

pytestmark = pytest.mark.redis


def _set_providers(tracer_provider, meter_provider) -> None:
    """The API's providers are set-once; reset them so other tests see "no SDK"."""
    otel_trace._TRACER_PROVIDER_SET_ONCE = Once()
    otel_trace._TRACER_PROVIDER = None
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None
    if tracer_provider is not None:
        otel_trace.set_tracer_provider(tracer_provider)
        otel_metrics.set_meter_provider(meter_provider)


@pytest.fixture
def sdk():
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[reader])
    _set_providers(tracer_provider, meter_provider)
    yield exporter, reader
    _set_providers(None, None)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def sums(reader: InMemoryMetricReader, name: str) -> dict[frozenset, int]:
    out: dict[frozenset, int] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    for p in metric.data.data_points:
                        out[frozenset(p.attributes.items())] = p.value
    return out


async def test_load_path_spans_and_tier_metrics(sdk, redis_server):
    exporter, reader = sdk
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
    requests = sums(reader, tn.METRIC_TIER_REQUESTS[0])
    assert requests[frozenset({(tn.ATTR_RESULT, "hit"), redis})] >= 1
    assert requests[frozenset({(tn.ATTR_RESULT, "miss"), redis})] >= 1
    messages = sums(reader, tn.METRIC_BACKPLANE_MESSAGES[0])
    assert messages[frozenset({(tn.ATTR_BACKPLANE_DIRECTION, "sent"), redis})] >= 1
    assert messages[frozenset({(tn.ATTR_BACKPLANE_DIRECTION, "received"), redis})] >= 1
    locks = sums(reader, tn.METRIC_TIER_LOCKS[0])
    assert locks[frozenset({(tn.ATTR_LOCK_OUTCOME, "acquired"), redis})] >= 1
    assert sums(reader, tn.METRIC_BREAKER_STATE[0]) == {frozenset({redis}): 0}

    redis_server.kill()
    for _ in range(4):
        await ca.get(f"x{_}", loader=lambda: 0)
    failures = sums(reader, tn.METRIC_TIER_FAILURES[0])
    assert failures[frozenset({(tn.ATTR_TIER_FAILURE, "error"), redis})] >= 1
    assert failures[frozenset({(tn.ATTR_TIER_FAILURE, "short_circuit"), redis})] >= 1
    assert sums(reader, tn.METRIC_BREAKER_STATE[0]) == {frozenset({redis}): 2}
    assert sums(reader, tn.METRIC_BREAKER_OPENINGS[0]) == {frozenset({redis}): 1}
    for attrs in list(failures) + list(messages) + list(requests):
        assert {k for k, _ in attrs} <= {tn.ATTR_TIER, tn.ATTR_RESULT, tn.ATTR_TIER_FAILURE,
                                         tn.ATTR_BACKPLANE_DIRECTION}
    await a.close()
    await b.close()
