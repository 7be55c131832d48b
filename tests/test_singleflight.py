"""Single-flight: concurrent misses on one key run the loader once and share its outcome."""

from __future__ import annotations

import asyncio

import pytest

from agent_cache import AgentCache, AsyncCache, AsyncLRU
from helpers import Gate, guarded, settle


@pytest.mark.parametrize("maxsize", [128, 0, None])
async def test_hundred_concurrent_misses_run_the_loader_once(maxsize):
    cache = AsyncCache(maxsize=maxsize)
    gate = Gate("v")
    tasks = [asyncio.create_task(cache.get("key", loader=gate)) for _ in range(100)]
    await guarded(gate.started.wait())
    gate.release.set()
    assert await guarded(asyncio.gather(*tasks)) == ["v"] * 100
    assert gate.calls == 1
    metrics = cache.get_metrics()
    assert (metrics["misses"], metrics["coalesced"], metrics["loads"]) == (100, 99, 1)
    assert not cache._flights


async def test_loader_may_be_a_lambda_returning_an_awaitable_or_a_plain_value():
    cache = AsyncCache()

    async def db_query(key):
        return f"row:{key}"

    assert await cache.get("a", loader=lambda: db_query("a")) == "row:a"
    assert await cache.get("b", loader=lambda: "plain") == "plain"
    assert await cache.get("a", loader=lambda: db_query("other")) == "row:a"  # a hit


async def test_different_keys_load_independently():
    cache = AsyncCache()
    gates = {k: Gate(k) for k in "abc"}
    tasks = [asyncio.create_task(cache.get(k, loader=g)) for k, g in gates.items()]
    for g in gates.values():
        await guarded(g.started.wait())  # all three are loading at once
        g.release.set()
    assert await guarded(asyncio.gather(*tasks)) == ["a", "b", "c"]


async def test_a_cancelled_waiter_does_not_disturb_the_leader_or_other_waiters():
    cache = AsyncCache()
    gate = Gate("v")
    leader = asyncio.create_task(cache.get("k", loader=gate))
    await guarded(gate.started.wait())
    quitter = asyncio.create_task(cache.get("k", loader=gate))
    stayer = asyncio.create_task(cache.get("k", loader=gate))
    await settle()
    quitter.cancel()
    await settle()
    gate.release.set()
    assert await guarded(leader) == "v"
    assert await guarded(stayer) == "v"
    assert quitter.cancelled()
    assert gate.calls == 1
    assert cache.peek("k") == "v"


async def test_decorated_function_is_single_flight():
    gate = Gate(42)

    @AsyncLRU()
    async def compute(x):
        return await gate()

    tasks = [asyncio.create_task(compute(1)) for _ in range(20)]
    await guarded(gate.started.wait())
    gate.release.set()
    assert await guarded(asyncio.gather(*tasks)) == [42] * 20
    assert gate.calls == 1


async def test_agent_tool_is_single_flight_and_counts_coalesced_callers():
    gate = Gate({"items": []})

    @AgentCache(resource="cart")
    async def get_cart(user_id):
        return await gate()

    tasks = [asyncio.create_task(get_cart("u1")) for _ in range(10)]
    await guarded(gate.started.wait())
    gate.release.set()
    results = await guarded(asyncio.gather(*tasks))
    assert all(r is results[0] for r in results)
    assert gate.calls == 1
    metrics = get_cart.get_metrics()
    assert (metrics["misses"], metrics["coalesced"], metrics["loads"]) == (10, 9, 1)

