"""Issue 15 telemetry, on the real SDK: a stale answer is ``agent_cache.result="stale"`` on
the tool's span and in ``agent_cache.requests``; a background refresh is its own
``agent_cache.load`` span linked from the read that started it; a load error answered
stale is recorded on the caller's span; timeouts are counted."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import StatusCode

from agent_cache import AgentCache, AsyncCache, LoadTimeoutError
from agent_cache.telemetry import names as tn
from helpers import FakeClock, guarded, settle

TTL = 10.0


class Down(Exception):
    pass


def requests_by_result(otel, resource: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for attrs, point in otel.points("agent_cache.requests"):
        if attrs.get(tn.ATTR_RESOURCE) == resource:
            out[attrs[tn.ATTR_RESULT]] = out.get(attrs[tn.ATTR_RESULT], 0) + point.value
    return out


async def test_swr_read_is_stale_on_its_span_and_the_refresh_is_its_own_linked_load_span(otel):
    clock = FakeClock()
    release = asyncio.Event()
    version = {"v": 1}

    @AgentCache(resource="quotes", ttl=TTL, clock=clock, stale_while_revalidate=5)
    async def quote(symbol: str) -> str:
        seen = version["v"]
        if seen > 1:
            await release.wait()
        return f"{symbol}@{seen}"

    assert await quote("X") == "X@1"
    clock.advance(TTL + 1)
    version["v"] = 2
    assert await quote("X") == "X@1"
    release.set()
    await settle(10)
    assert await quote("X") == "X@2"

    tool_spans = [s for s in otel.spans() if s.name == "execute_tool quote"]
    assert [s.attributes[tn.ATTR_RESULT] for s in tool_spans] == ["miss", "stale", "hit"]
    stale_read = tool_spans[1]
    loads = [s for s in otel.spans() if s.name == "agent_cache.load quotes"]
    assert len(loads) == 2
    refresh = next(s for s in loads if s.parent is None)
    # its own trace, linked to the read that started it, and the read links back to it
    assert refresh.context.trace_id != stale_read.context.trace_id
    assert [link.context.span_id for link in refresh.links] == [stale_read.context.span_id]
    assert refresh.context.span_id in [link.context.span_id for link in stale_read.links]
    assert requests_by_result(otel, "quotes") == {"miss": 1, "stale": 1, "hit": 1}


async def test_sie_answer_records_the_error_on_the_callers_span_and_the_load_span(otel):
    clock = FakeClock()
    failing = {"on": False}

    @AgentCache(resource="weather", ttl=TTL, clock=clock, stale_if_error=60)
    async def weather(city: str) -> str:
        if failing["on"]:
            raise Down("upstream down")
        return f"sunny in {city}"

    await weather("Oslo")
    clock.advance(TTL + 1)
    failing["on"] = True
    assert await weather("Oslo") == "sunny in Oslo"

    read = [s for s in otel.spans() if s.name == "execute_tool weather"][-1]
    assert read.attributes[tn.ATTR_RESULT] == tn.RESULT_STALE
    assert read.status.status_code != StatusCode.ERROR  # the call succeeded
    events = [e for e in read.events if e.name == tn.EVENT_LOAD_FAILED]
    assert len(events) == 1
    assert events[0].attributes[tn.ERROR_TYPE].endswith("Down")
    failed_load = [s for s in otel.spans() if s.name == "agent_cache.load weather"][-1]
    assert failed_load.status.status_code == StatusCode.ERROR
    assert failed_load.attributes[tn.ERROR_TYPE].endswith("Down")
    durations = otel.points("agent_cache.load.duration")
    assert any(a.get(tn.ERROR_TYPE, "").endswith("Down") for a, _ in durations)
    assert requests_by_result(otel, "weather") == {"miss": 1, "stale": 1}


async def test_timeouts_are_counted_and_a_timeout_without_stale_marks_the_span(otel):
    hang = asyncio.Event()

    @AgentCache(resource="slow", ttl=TTL, load_timeout=0.05)
    async def slow(x: int) -> int:
        await hang.wait()
        return x

    with pytest.raises(LoadTimeoutError):
        await guarded(slow(1))
    read = [s for s in otel.spans() if s.name == "execute_tool slow"][-1]
    assert read.attributes[tn.ERROR_TYPE] == "agent_cache.errors.LoadTimeoutError"
    assert read.attributes[tn.ATTR_RESULT] == tn.RESULT_MISS
    assert {tuple(a.items()): p.value for a, p in otel.points("agent_cache.load.timeouts")} == {
        ((tn.ATTR_RESOURCE, "slow"),): 1
    }
    hang.set()
    await settle(10)


async def test_each_lookup_has_exactly_one_result_in_agent_cache_requests(otel):
    clock = FakeClock()
    cache = AsyncCache(default_ttl=TTL, name="sum", clock=clock, stale_if_error=60, stale_while_revalidate=2)
    calls = 0

    async def load() -> int:
        nonlocal calls
        calls += 1
        if calls > 2:
            raise Down("down")
        return calls

    lookups = 0
    for _ in range(12):
        try:
            await cache.get("k", loader=load)
        except Down:
            pass
        lookups += 1
        clock.advance(4)  # walk through fresh, swr, sie and beyond
        await settle(5)
    by_result = requests_by_result(otel, "sum")
    assert sum(by_result.values()) == lookups == cache.get_metrics()["requests"]
    assert by_result.get("stale", 0) == cache.get_metrics()["stale"] > 0
