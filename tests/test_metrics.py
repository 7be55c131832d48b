"""Metrics: per cache, per decorated function, per session, the global aggregate, and the
``reset_global_state()`` clean slate."""

from __future__ import annotations

import asyncio

import pytest

import agent_cache
from agent_cache import (
    AgentCache,
    AgentCacheInvalidator,
    AgentCacheSession,
    AsyncCache,
    AsyncLRU,
    get_metrics,
)
from helpers import Gate, counted, guarded

ZERO_GLOBAL = {"hits": 0, "misses": 0, "coalesced": 0, "invalidations": 0, "loop_detections": 0, "hit_rate": 0.0}


class Boom(Exception):
    pass


async def test_async_cache_metrics_count_every_outcome():
    cache = AsyncCache(maxsize=2)
    assert cache.get_metrics()["hit_rate"] == 0.0
    await cache.get("a", loader=lambda: 1)  # miss + load
    await cache.get("a", loader=lambda: 1)  # hit
    await cache.get("b", loader=lambda: 2)  # miss + load
    await cache.get("c", loader=lambda: 3)  # miss + load, evicts a
    with pytest.raises(Boom):
        await cache.get("d", loader=lambda: (_ for _ in ()).throw(Boom()))  # miss + failed load
    gate = Gate(5)
    tasks = [asyncio.create_task(cache.get("e", loader=gate)) for _ in range(3)]  # 1 miss, 2 coalesced
    await guarded(gate.started.wait())
    gate.release.set()
    await guarded(asyncio.gather(*tasks))
    metrics = cache.get_metrics()
    expected = {"hits": 1, "misses": 7, "coalesced": 2, "loads": 5, "load_errors": 1, "size": 2, "evictions": 2}
    assert {k: metrics[k] for k in expected} == expected
    assert metrics["hit_rate"] == pytest.approx(1 / 8)  # hits / (hits + misses)
    cache.reset_metrics()
    assert cache.get_metrics()["hits"] == 0 and cache.get_metrics()["size"] == 2


async def test_decorated_function_metrics():
    @AsyncLRU()
    async def square(x):
        return x * x

    for x in (1, 2, 1, 1):
        await square(x)
    metrics = square.get_metrics()
    assert (metrics["hits"], metrics["misses"], metrics["size"]) == (2, 2, 2)
    assert metrics["hit_rate"] == 0.5


async def test_session_metrics_have_the_seed_shape():
    @AgentCache(resource="docs")
    async def read_doc(doc_id):
        return doc_id

    @AgentCacheInvalidator(resource="docs")
    async def edit_doc(doc_id):
        return None

    async with AgentCacheSession(max_tool_repeats=100, loop_detection=False) as session:
        for doc in range(5):  # 5 misses
            await read_doc(doc)
        for _ in range(12):  # 12 hits
            await read_doc(0)
        await edit_doc(0)
        await edit_doc(1)
        metrics = session.get_metrics()
    seed_shape = {k: metrics[k] for k in ("hits", "misses", "invalidations", "loop_detections")}
    assert seed_shape == {"hits": 12, "misses": 5, "invalidations": 2, "loop_detections": 0}
    assert round(metrics["hit_rate"], 3) == 0.706
    assert metrics["tool_calls"] == 19


async def test_global_metrics_aggregate_sessions_and_calls_outside_them():
    @AgentCache(resource="kb")
    async def lookup(term):
        return term

    @AgentCache(resource="kb", scope="session")
    async def scratch(term):
        return term

    @AgentCacheInvalidator(resource="kb")
    async def update(term):
        return None

    await lookup("a")  # miss, outside any session
    await lookup("a")  # hit
    async with AgentCacheSession() as one:
        await lookup("a")  # hit
        await scratch("x")  # miss
        await scratch("x")  # hit
    async with AgentCacheSession(max_tool_repeats=1, on_loop="warn") as two:
        await update("a")
        await update("a")  # a loop detection (warn)
        await lookup("a")  # miss after invalidation
    assert one.get_metrics()["hits"] == 2 and two.get_metrics()["misses"] == 1
    totals = get_metrics()
    assert {k: totals[k] for k in ZERO_GLOBAL if k != "hit_rate"} == {
        "hits": 3,
        "misses": 3,
        "coalesced": 0,
        "invalidations": 2,
        "loop_detections": 1,
    }
    assert totals["hit_rate"] == 0.5


async def test_reset_global_state_empties_global_caches_and_zeroes_metrics():
    body = counted(lambda run, user: user)
    get_profile = AgentCache(resource="profile")(body)
    await get_profile("u")
    await get_profile("u")
    async with AgentCacheSession(max_tool_repeats=1, on_loop="warn"):
        await get_profile("u")
        await get_profile("u")  # a repeat: one loop detection
    assert get_metrics()["hits"] == 3 and get_metrics()["loop_detections"] == 1
    agent_cache.reset_global_state()
    assert {k: get_metrics()[k] for k in ZERO_GLOBAL} == ZERO_GLOBAL
    assert get_profile.get_metrics()["hits"] == 0
    assert len(get_profile.cache) == 0
    await get_profile("u")
    assert body.runs == 2  # the cached value was dropped


@pytest.mark.parametrize("round_", [1, 2])
async def test_each_test_starts_from_a_clean_slate(round_):
    """The autouse fixture in conftest.py calls reset_global_state(); run twice to show it."""
    assert {k: get_metrics()[k] for k in ZERO_GLOBAL} == ZERO_GLOBAL

    @AgentCache(resource="slate")
    async def tool():
        return round_

    await tool()
    await tool()
    assert get_metrics()["hits"] == 1


@pytest.mark.parametrize("how", ["loader", "batch_loader", "no-loader"])
async def test_an_expired_entry_counts_as_an_expired_eviction(clock, how):
    cache = AsyncCache(default_ttl=1, clock=clock)
    await cache.get("k", loader=lambda: 1)
    clock.advance(1)
    if how == "loader":
        assert await cache.get("k", loader=lambda: 2) == 2
    elif how == "batch_loader":
        assert await guarded(cache.get("k", batch_loader=lambda keys: [2])) == 2
    else:
        assert await cache.get("k") is None
    assert cache.get_metrics()["evictions_by_reason"]["expired"] == 1
