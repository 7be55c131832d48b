"""A telemetry failure never breaks a tool call; get_metrics() agrees with the OTel counters."""

from __future__ import annotations

import asyncio

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

from agent_cache import AgentCache, AgentCacheInvalidator, AgentCacheSession, get_metrics
from otel_globals import install_providers, uninstall_providers


class ExplodingProcessor(SpanProcessor):
    def on_start(self, span, parent_context=None):
        raise RuntimeError("processor broken")

    def on_end(self, span):
        raise RuntimeError("processor broken")


class DownExporter(SpanExporter):
    def export(self, spans):
        raise ConnectionError("collector down")


async def test_broken_span_processor_does_not_break_tools():
    provider = TracerProvider()
    provider.add_span_processor(ExplodingProcessor())
    provider.add_span_processor(SimpleSpanProcessor(DownExporter()))
    install_providers(provider, None)
    try:
        @AgentCache(resource="r")
        async def tool(x):
            return x + 1

        @AgentCacheInvalidator(resource="r")
        async def write(x):
            return "done"

        async with AgentCacheSession():
            assert await tool(1) == 2
            assert await tool(1) == 2
            assert await write(1) == "done"
            assert await tool(1) == 2
    finally:
        uninstall_providers()


async def test_get_metrics_agrees_with_otel_counters(otel):
    @AgentCache(resource="a")
    async def read(x):
        await asyncio.sleep(0)
        return x

    @AgentCacheInvalidator(resource="a")
    async def write(x):
        return x

    async with AgentCacheSession(max_tool_repeats=4, on_loop="short_circuit") as session:
        await asyncio.gather(read(1), read(1), read(2))
        await read(1)
        await write(1)
        await read(1)
        await read(1)  # 5th call of read(1): short-circuited

    global_metrics = get_metrics()
    session_metrics = session.get_metrics()
    by_result: dict[str, int] = {}
    for attrs, point in otel.points("agent_cache.requests"):
        by_result[attrs["agent_cache.result"]] = by_result.get(attrs["agent_cache.result"], 0) + point.value
    assert by_result["hit"] == global_metrics["hits"] == session_metrics["hits"] == 1
    # get_metrics' misses count every lookup that found no value: led + coalesced.
    assert by_result["miss"] + by_result["coalesced"] == global_metrics["misses"] == 4
    assert by_result["miss"] + by_result["coalesced"] == session_metrics["misses"]
    assert by_result["coalesced"] == global_metrics["coalesced"] == 1
    assert by_result["short_circuit"] == session_metrics["short_circuits"] == 1
    invalidations = sum(p.value for _, p in otel.points("agent_cache.invalidations"))
    assert invalidations == global_metrics["invalidations"] == session_metrics["invalidations"] == 1
    loops = sum(p.value for _, p in otel.points("agent_cache.loop.detections"))
    assert loops == global_metrics["loop_detections"] == 1
    [(_, active)] = otel.points("agent_cache.session.active")
    assert active.value == 0


async def test_session_active_counts_open_sessions(otel):
    async with AgentCacheSession(), AgentCacheSession():
        [(_, point)] = otel.points("agent_cache.session.active")
        assert point.value == 2
    [(_, point)] = otel.points("agent_cache.session.active")
    assert point.value == 0


async def test_load_duration_buckets_resolve_tenth_of_ms_to_ten_seconds(otel):
    @AgentCache(resource="timed")
    async def tool(x):
        return x

    await tool(1)
    [(_attrs, point)] = [(a, p) for a, p in otel.points("agent_cache.load.duration")
                        if a["agent_cache.resource"] == "timed"]
    bounds = list(point.explicit_bounds)
    assert bounds[0] == 0.0001 and bounds[-1] == 10.0
    assert point.count == 1
