"""Loader exceptions reach every waiter, are never cached, and leave no residue.

The reference keeps failed entries and their bookkeeping around (and has no bound on its
module-level maps); here a failure stores nothing, so 200 failing calls leave memory flat.
"""

from __future__ import annotations

import asyncio

import pytest

from agent_cache import AgentCache, AgentCacheSession, AsyncCache, AsyncLRU
from helpers import Gate, allocated_growth, counted, guarded


class Boom(Exception):
    pass


async def test_every_waiter_gets_the_same_exception():
    cache = AsyncCache()
    gate = Gate()
    error = Boom("db down")

    async def failing():
        await gate()
        raise error

    tasks = [asyncio.create_task(cache.get("k", loader=failing)) for _ in range(5)]
    await guarded(gate.started.wait())
    gate.release.set()
    results = await guarded(asyncio.gather(*tasks, return_exceptions=True))
    assert all(r is error for r in results)
    assert gate.calls == 1
    assert not cache._flights


async def test_a_failure_is_not_cached_and_the_next_call_loads_again():
    cache = AsyncCache()
    outcomes = [Boom("first"), "second"]

    async def loader():
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with pytest.raises(Boom):
        await cache.get("k", loader=loader)
    assert "k" not in cache and len(cache) == 0
    assert await cache.get("k", loader=loader) == "second"
    metrics = cache.get_metrics()
    assert (metrics["loads"], metrics["load_errors"], metrics["size"]) == (2, 1, 1)


async def test_sync_loader_exception_is_not_cached():
    cache = AsyncCache()

    def loader():
        raise Boom("sync")

    for _ in range(3):
        with pytest.raises(Boom):
            await cache.get("k", loader=loader)
    assert cache.get_metrics()["load_errors"] == 3
    assert not cache._flights and len(cache) == 0


def fail_first(run, x):
    if run == 1:
        raise Boom("transient")
    return x


async def test_decorated_function_exception_is_not_cached():
    body = counted(fail_first)
    flaky = AsyncLRU()(body)
    with pytest.raises(Boom):
        await flaky(1)
    assert await flaky(1) == 1
    assert await flaky(1) == 1
    assert body.runs == 2


@pytest.mark.parametrize("scope", ["global", "session"])
async def test_agent_tool_exception_is_not_cached(scope):
    body = counted(fail_first)
    search = AgentCache(resource="search", scope=scope)(body)
    async with AgentCacheSession(loop_detection=False):
        with pytest.raises(Boom):
            await search("q")
        assert await search("q") == "q"
        assert await search("q") == "q"
    assert body.runs == 2


@pytest.mark.paths("fast", "reference")  # the SDK run keeps every span in memory by design
async def test_two_hundred_failing_calls_leave_memory_flat():
    cache = AsyncCache(maxsize=None)

    @AsyncLRU(maxsize=None)
    async def failing_tool(i):
        raise Boom("x" * 1000)

    async def fail_many(n: int) -> None:
        for i in range(n):
            with pytest.raises(Boom):
                await cache.get(("key", i), loader=lambda: failing_tool.__wrapped__(i))  # noqa: B023 (awaited in this iteration)
            with pytest.raises(Boom):
                await failing_tool(i)

    await fail_many(20)  # warm up lazily created state
    growth = await allocated_growth(lambda: fail_many(200))
    assert len(cache) == 0 and not cache._flights
    assert len(failing_tool.cache) == 0 and not failing_tool.cache._flights
    # 400 failures, each with a 1 kB message: keeping any of them would cost > 400 kB.
    assert growth < 40_000, f"{growth} bytes retained after 400 failed loads"
