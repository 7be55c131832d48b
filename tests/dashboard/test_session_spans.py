"""The dashboard's span processor: sessions filed as trees, loops and invalidations marked,
active sessions counted, memory bounded, no argument values copied."""

from __future__ import annotations

import asyncio

import pytest

from agent_cache import (
    AgentCache,
    AgentCacheInvalidator,
    AgentCacheSession,
    AgentLoopDetectedError,
)
from agent_cache.telemetry import names as tn


def make_tools():
    @AgentCache(resource="cart", name="get_cart")
    async def get_cart(user: str) -> dict:
        await asyncio.sleep(0)
        return {"user": user, "secret": "s3cr3t-value"}

    @AgentCacheInvalidator(resource="cart", name="add_to_cart")
    async def add_to_cart(user: str, item: str) -> None:
        return None

    return get_cart, add_to_cart


async def test_a_session_becomes_a_tree_with_its_invalidation_marked(session_spans) -> None:
    get_cart, add_to_cart = make_tools()
    async with AgentCacheSession(session_id="s-1", name="shopper"):
        await get_cart("alice-secret-id")
        await get_cart("alice-secret-id")
        await add_to_cart("alice-secret-id", "book")
    (summary,) = session_spans.recent()
    assert summary["name"].startswith(tn.SPAN_INVOKE_AGENT)
    assert summary["results"]["miss"] == 1 and summary["results"]["hit"] == 1
    assert summary["invalidations"] == 1 and summary["loops"] == []
    tree = session_spans.waterfall(summary["trace_id"])
    root = [s for s in tree["span_list"] if s["parent"] is None]
    assert len(root) == 1 and root[0]["start_ms"] == 0
    ids = {s["id"] for s in tree["span_list"]}
    assert all(s["parent"] in ids for s in tree["span_list"] if s["parent"] is not None)
    marked = [e for s in tree["span_list"] for e in s["events"] if e["name"] == tn.EVENT_INVALIDATION]
    assert marked and marked[0]["attributes"][tn.ATTR_RESOURCE] == "cart"
    text = repr(tree)
    assert "alice-secret-id" not in text and "s3cr3t-value" not in text


async def test_a_caught_loop_is_counted_by_kind_and_marked_on_the_session(session_spans) -> None:
    get_cart, _ = make_tools()
    with pytest.raises(AgentLoopDetectedError):
        async with AgentCacheSession(session_id="s-2", name="looper", max_tool_repeats=2, on_loop="raise"):
            for _ in range(5):
                await get_cart("bob")
    assert session_spans.loops == {"repeat": 1}
    (summary,) = session_spans.recent()
    assert summary["loops"] == ["repeat"]
    tree = session_spans.waterfall(summary["trace_id"])
    assert any(e["name"] == tn.EVENT_LOOP_DETECTED for s in tree["span_list"] for e in s["events"])


async def test_active_sessions_rise_inside_and_fall_after(session_spans) -> None:
    inside = asyncio.Event()
    release = asyncio.Event()

    async def agent(i: int) -> None:
        async with AgentCacheSession(session_id=f"a-{i}", name="waiter"):
            inside.set()
            await release.wait()

    tasks = [asyncio.ensure_future(agent(i)) for i in range(3)]
    while session_spans.active_sessions < 3:
        await asyncio.sleep(0)
    assert session_spans.active_sessions == 3
    release.set()
    await asyncio.gather(*tasks)
    assert session_spans.active_sessions == 0 and session_spans.sessions_finished == 3


async def test_only_the_last_sessions_are_kept(session_spans) -> None:
    get_cart, _ = make_tools()
    for i in range(12):
        async with AgentCacheSession(session_id=f"k-{i}", name=f"agent{i}"):
            await get_cart(str(i))
    names = [s["name"] for s in session_spans.recent(100)]
    assert len(names) == session_spans.keep == 5
    assert names[0].endswith("agent11") and names[-1].endswith("agent7")


async def test_loader_latency_comes_from_load_spans(session_spans) -> None:
    assert session_spans.load_latency_ms()["p50"] is None
    get_cart, _ = make_tools()
    await asyncio.gather(*(get_cart(str(i)) for i in range(4)))
    latency = session_spans.load_latency_ms()
    assert session_spans.loads_seen == 4 and latency["p50"] is not None and latency["p95"] >= latency["p50"]
