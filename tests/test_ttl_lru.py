"""Eviction: LRU (lazy promotion) at ``maxsize``, per-key TTL on a fake clock, ``maxsize=None`` and ``0``."""

from __future__ import annotations

from agent_cache import AgentCache, AsyncCache, AsyncLRU, AsyncTTL


def loader_of(value):
    return lambda: value


async def test_least_recently_used_entry_is_evicted_first():
    # Eviction is LRU with lazy promotion (CLOCK / second chance): a hit marks the entry,
    # and a marked entry at the front is moved to the back instead of being evicted.
    cache = AsyncCache(maxsize=3)
    for key in "abc":
        await cache.set(key, key.upper())
    assert await cache.get("a") == "A"  # a is now recently used
    await cache.set("d", "D")  # evicts b, the least recent
    assert "b" not in cache
    assert [k for k in "acd" if k in cache] == ["a", "c", "d"]
    await cache.get("c", loader=loader_of("unused"))  # a hit protects c
    await cache.set("e", "E")  # evicts d: never used since it was stored
    assert "d" not in cache and "c" in cache and "a" in cache
    await cache.set("f", "F")  # nothing marked now: the oldest, a, goes
    assert "a" not in cache and [k for k in "cef" if k in cache] == ["c", "e", "f"]
    metrics = cache.get_metrics()
    assert metrics["evictions"] == 3 and metrics["evictions_by_reason"]["capacity"] == 3
    assert metrics["size"] == 3


async def test_hot_keys_survive_a_scan_of_cold_ones():
    cache = AsyncCache(maxsize=10)
    for i in range(10):
        await cache.set(i, i)
    for _ in range(3):
        for hot in (0, 1, 2):
            assert await cache.get(hot) == hot
        for cold in range(100, 105):  # a burst of one-off keys
            await cache.set((cold, _), cold)
    assert all(hot in cache for hot in (0, 1, 2))
    assert len(cache) == 10


async def test_loaded_values_count_towards_maxsize():
    cache = AsyncCache(maxsize=2)
    for i in range(5):
        await cache.get(i, loader=loader_of(i))
    assert len(cache) == 2 and 3 in cache and 4 in cache


async def test_maxsize_none_is_unbounded():
    cache = AsyncCache(maxsize=None)
    for i in range(2000):
        await cache.set(i, i)
    assert len(cache) == 2000
    assert cache.get_metrics()["evictions"] == 0


async def test_maxsize_zero_stores_nothing_but_still_loads():
    cache = AsyncCache(maxsize=0)
    calls = 0

    async def loader():
        nonlocal calls
        calls += 1
        return calls

    assert await cache.get("k", loader=loader) == 1
    assert await cache.get("k", loader=loader) == 2
    await cache.set("k", "v")
    assert "k" not in cache and len(cache) == 0


async def test_entry_expires_after_its_ttl(clock):
    cache = AsyncCache(default_ttl=10, clock=clock)
    await cache.set("k", "v")
    clock.advance(9.9)
    assert await cache.get("k") == "v"
    clock.advance(0.1)
    assert await cache.get("k", default="gone") == "gone"
    assert cache.get_metrics()["evictions_by_reason"]["expired"] == 1


async def test_per_key_ttl_overrides_the_default(clock):
    cache = AsyncCache(default_ttl=100, clock=clock)
    await cache.set("short", 1, ttl=1)
    await cache.get("loaded", loader=loader_of(2), ttl=5)
    await cache.set("default", 3)
    clock.advance(2)
    assert "short" not in cache and "loaded" in cache
    clock.advance(4)
    assert "loaded" not in cache and "default" in cache
    clock.advance(95)
    assert "default" not in cache


async def test_no_ttl_never_expires(clock):
    cache = AsyncCache(clock=clock)
    await cache.set("k", "v")
    clock.advance(10**9)
    assert await cache.get("k") == "v"


async def test_expired_entry_is_reloaded(clock):
    cache = AsyncCache(default_ttl=1, clock=clock)
    values = iter(["old", "new"])
    assert await cache.get("k", loader=lambda: next(values)) == "old"
    clock.advance(1)
    assert await cache.get("k", loader=lambda: next(values)) == "new"


async def test_purge_expired_drops_only_dead_entries(clock):
    cache = AsyncCache(clock=clock)
    await cache.set("dead", 1, ttl=1)
    await cache.set("alive", 2, ttl=10)
    clock.advance(5)
    assert cache.purge_expired() == 1
    assert len(cache) == 1 and "alive" in cache


async def test_async_ttl_decorator_expires(clock):
    calls = 0

    @AsyncTTL(time_to_live=60, clock=clock)
    async def fetch(x):
        nonlocal calls
        calls += 1
        return calls

    assert await fetch("a") == 1
    clock.advance(59)
    assert await fetch("a") == 1
    clock.advance(1)
    assert await fetch("a") == 2


async def test_async_ttl_respects_maxsize():
    @AsyncTTL(time_to_live=None, maxsize=2)
    async def ident(x):
        return x

    for i in range(4):
        await ident(i)
    assert len(ident.cache) == 2


async def test_async_lru_evicts_the_least_recent_call():
    calls = []

    @AsyncLRU(maxsize=2)
    async def fetch(x):
        calls.append(x)
        return x

    for x in (1, 2, 1, 3, 1, 2):  # 3 evicts 2 (1 was touched); then 2 is loaded again
        await fetch(x)
    assert calls == [1, 2, 3, 2]


async def test_agent_tool_ttl_expires(clock):
    calls = 0

    @AgentCache(resource="product", ttl=300, clock=clock)
    async def get_product(pid):
        nonlocal calls
        calls += 1
        return {"id": pid, "version": calls}

    assert (await get_product("laptop"))["version"] == 1
    clock.advance(299)
    assert (await get_product("laptop"))["version"] == 1
    clock.advance(1)
    assert (await get_product("laptop"))["version"] == 2

