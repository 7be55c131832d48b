"""Issue #11: code written for async-cache runs unchanged.

Each test is one behaviour a team migrating from async-cache relies on: ``set``/``delete``
with or without ``await``, ``invalidate_cache`` with the call's own arguments, a warmup that
leaves cached keys alone, ``clear()`` restarting the reported counters, and misses counted
the way async-cache counts them.
"""

from __future__ import annotations

import asyncio
import gc
import warnings

from agent_cache import AsyncCache, AsyncLRU, AsyncTTL, MemoryBackend
from helpers import Gate, guarded


async def test_set_and_delete_work_without_await():
    cache = AsyncCache()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a never-awaited coroutine would warn here
        cache.set("k", "v")
        assert await cache.get("k") == "v"
        assert cache.delete("k")  # truthy: something was removed
        assert await cache.get("k") is None
        assert not cache.delete("k")
        gc.collect()


async def test_awaiting_set_waits_for_the_backend_tier():
    tier = MemoryBackend()
    cache = AsyncCache(name="compat", backend=tier)
    await cache.set("k", "v", ttl=60)
    assert len(tier) == 1  # written by the time the await returned
    assert await cache.delete("k") is True
    assert len(tier) == 0


async def test_a_plain_set_still_reaches_the_backend_tier():
    tier = MemoryBackend()
    cache = AsyncCache(name="compat", backend=tier)
    cache.set("k", "v")  # no await: memory now, the tier in the background
    assert cache.peek("k") == "v"
    await guarded(asyncio.gather(*cache._tasks))
    assert len(tier) == 1


async def test_invalidate_cache_takes_the_calls_arguments_with_skip_args_applied():
    runs = []

    @AsyncTTL(time_to_live=60, skip_args=1)
    async def price(multiplier, item):
        runs.append((multiplier, item))
        return multiplier * item

    assert await price(400, 2) == 800
    assert await price(300, 2) == 800  # multiplier is skipped: same entry
    assert price.invalidate_cache(300, 2) is True  # drops what price(400, 2) hits
    assert price.invalidate_cache(300, 2) is False  # nothing left to drop
    assert await price(400, 2) == 800 and len(runs) == 2


async def test_invalidate_cache_with_keyword_arguments():
    @AsyncLRU()
    async def fetch(user, *, region="eu"):
        return f"{user}@{region}"

    await fetch("u1", region="us")
    assert fetch.invalidate_cache("u1", region="eu") is False
    assert fetch.invalidate_cache("u1", region="us") is True


async def test_warmup_leaves_already_cached_keys_alone():
    cache = AsyncCache()
    await cache.set("fresh", "newer value")
    failures = await cache.warmup({"fresh": lambda: "stale preload", "cold": lambda: "preloaded"})
    assert failures == {}
    assert await cache.get("fresh") == "newer value"  # was: overwritten by the preload
    assert await cache.get("cold") == "preloaded"


async def test_clear_restarts_the_reported_counters():
    cache = AsyncCache()
    await cache.get("a", loader=lambda: 1)
    await cache.get("a", loader=lambda: 1)
    assert cache.get_metrics()["hits"] == 1
    assert cache.clear() == 1
    metrics = cache.get_metrics()
    assert (metrics["hits"], metrics["misses"], metrics["size"]) == (0, 0, 0)
    assert cache.stats.hits == 1  # the raw count OpenTelemetry reads never goes down


async def test_decorator_clear_cache_restarts_the_counters_too():
    @AsyncLRU()
    async def square(x):
        return x * x

    await square(2)
    await square(2)
    square.clear_cache()
    assert square.get_metrics()["hits"] == 0 and square.get_metrics()["misses"] == 0


async def test_misses_count_every_lookup_that_found_no_value():
    cache = AsyncCache()
    gate = Gate("v")
    callers = [asyncio.create_task(cache.get("cold", loader=gate)) for _ in range(10)]
    await guarded(gate.started.wait())
    gate.release.set()
    await guarded(asyncio.gather(*callers))
    await cache.get("cold", loader=gate)
    metrics = cache.get_metrics()
    assert (metrics["misses"], metrics["coalesced"], metrics["loads"], metrics["hits"]) == (10, 9, 1, 1)
    assert metrics["hit_rate"] == 1 / 11  # hits / (hits + misses)
    assert metrics["requests"] == 11
