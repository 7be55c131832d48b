"""Span nesting, links and which operations get spans."""

from __future__ import annotations

import asyncio

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from otel_support import tree

from agent_cache import AgentCache, AgentCacheSession, AsyncCache, AsyncLRU
from agent_cache.telemetry import runtime


async def test_session_nests_inside_host_trace(otel):
    @AgentCache(resource="r")
    async def tool(x):
        return x

    host = otel_trace.get_tracer("host-service")
    with host.start_as_current_span("POST /chat") as request:
        async with AgentCacheSession(name="helper"):
            await tool(1)
    assert tree(otel.spans()) == [
        "POST /chat",
        "  invoke_agent helper",
        "    execute_tool tool [miss]",
        "      agent_cache.load r",
    ]
    trace_ids = {s.context.trace_id for s in otel.spans()}
    assert trace_ids == {request.get_span_context().trace_id}


async def test_tool_called_by_tool_is_a_child_span(otel):
    @AgentCache(resource="inner")
    async def inner(x):
        return x * 2

    @AgentCache(resource="outer")
    async def outer(x):
        return await inner(x) + 1

    async with AgentCacheSession(name="a", max_tool_repeats=10):
        assert await outer(1) == 3
        assert await outer(1) == 3
    assert tree(otel.spans()) == [
        "invoke_agent a",
        "  execute_tool outer [miss]",
        "    agent_cache.load outer",
        "      execute_tool inner [miss]",
        "        agent_cache.load inner",
        "  execute_tool outer [hit]",
    ]


async def test_coalesced_waiter_links_to_the_load(otel):
    release = asyncio.Event()

    @AgentCache(resource="slow")
    async def slow(x):
        await release.wait()
        return x

    first = asyncio.ensure_future(slow(1))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(slow(1))
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(first, second) == [1, 1]
    load = otel.span("agent_cache.load slow")
    tools = [s for s in otel.spans() if s.name.startswith("execute_tool")]
    results = sorted(s.attributes["agent_cache.result"] for s in tools)
    assert results == ["coalesced", "miss"]
    waiter = next(s for s in tools if s.attributes["agent_cache.result"] == "coalesced")
    assert [link.context.span_id for link in waiter.links] == [load.context.span_id]


async def test_plain_cache_spans_loads_only(otel):
    cache = AsyncCache(name="users")

    async def load():
        return 1

    await cache.get("k", loader=load)
    await cache.get("k", loader=load)

    @AsyncLRU()
    async def f(x):
        return x

    await f(1)
    await f(1)
    names = sorted(s.name for s in otel.spans())
    assert names == ["agent_cache.load test_span_structure.f",
                     "agent_cache.load users"]
    reqs = {(a["agent_cache.resource"], a["agent_cache.result"]): p.value
            for a, p in otel.points("agent_cache.requests")}
    assert reqs[("users", "hit")] == 1 and reqs[("users", "miss")] == 1
    assert all(a["agent_cache.scope"] == "cache" for a, _ in otel.points("agent_cache.requests"))


async def test_batch_load_span_links_requesters(otel):
    cache = AsyncCache(name="batched", batch_window_ms=1)

    async def batch(keys):
        return {k: k for k in keys}

    tracer = otel_trace.get_tracer("host")

    async def request(k):
        with tracer.start_as_current_span(f"req {k}"):
            return await cache.get(k, batch_loader=batch)

    assert await asyncio.gather(*(request(k) for k in range(3))) == [0, 1, 2]
    span = otel.span("agent_cache.batch_load batched")
    assert span.attributes["agent_cache.batch.size"] == 3
    requesters = {s.context.span_id for s in otel.spans() if s.name.startswith("req")}
    assert {link.context.span_id for link in span.links} == requesters
    [(attrs, point)] = otel.points("agent_cache.batch.size")
    assert attrs == {"agent_cache.resource": "batched"} and point.sum == 3


async def test_suppressed_instrumentation_records_no_spans(otel):
    @AgentCache(resource="r")
    async def tool(x):
        return x

    token = otel_context.attach(otel_context.set_value(otel_context._SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        async with AgentCacheSession():
            await tool(1)
            await tool(1)
    finally:
        otel_context.detach(token)
    assert otel.spans() == []
    # Metrics still count: suppression is about spans.
    assert sum(p.value for _, p in otel.points("agent_cache.requests")) == 2


async def test_no_sdk_means_no_tracer_and_no_span_work(monkeypatch):
    assert runtime.active_tracer() is None
    started = []

    @AgentCache(resource="r")
    async def tool(x):
        return x

    import agent_cache.telemetry.spans as spans_mod

    original = spans_mod.current_span
    monkeypatch.setattr(spans_mod, "current_span", lambda *a, **k: started.append(a) or original(*a, **k))
    async with AgentCacheSession():
        await tool(1)
        await tool(1)
    await tool(1)
    assert started == []


async def test_failing_tools_still_say_what_kind_of_call_they_were(otel):
    class Boom(Exception):
        pass

    @AgentCache(resource="r")
    async def read(x):
        raise Boom()

    from agent_cache import AgentCacheInvalidator

    @AgentCacheInvalidator(resource="r")
    async def write(x):
        raise Boom()

    for tool in (read, write):
        try:
            await tool(1)
        except Boom:
            pass
    results = {s.name.split(" ", 1)[-1]: s.attributes.get("agent_cache.result")
               for s in otel.spans() if s.name.startswith("execute_tool")}
    assert results == {"read": "miss", "write": "bypass"}
