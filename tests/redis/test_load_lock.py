"""Distributed single-flight primitives: one owner, fenced stores, waiters, dead holders."""

from __future__ import annotations

import asyncio

import pytest

from agent_cache.backends.redis import RedisBackend
from agent_cache.core.keys import stable_key
from agent_cache.core.sentinel import MISSING

pytestmark = pytest.mark.redis

KEY = stable_key("inventory", ("sku-1",))


@pytest.fixture
async def two(redis_server):
    a = RedisBackend(redis_server.url, lock_ttl=0.3)
    b = RedisBackend(redis_server.url, lock_ttl=0.3)
    yield a, b
    await a.close()
    await b.close()


async def test_one_owner_and_waiter_gets_the_value(two):
    a, b = two
    token = await a.acquire_load_lock(KEY)
    assert token and await b.acquire_load_lock(KEY) is None
    waiter = asyncio.create_task(b.wait_for_value(KEY, timeout=2))
    await asyncio.sleep(0.01)  # let the waiter poll at least once while the lock is held
    assert await a.store_and_release(KEY, {"stock": 4}, ttl=60, token=token)
    assert await waiter == {"stock": 4}
    token_b, entry = await b._acquire(KEY)  # released: the next miss finds the value
    assert token_b is None and entry[0] == {"stock": 4}
    assert b.get_metrics()["lock_waits_filled"] == 1


async def test_invalidation_fences_a_load_in_flight(two):
    a, b = two
    token = await a.acquire_load_lock(KEY)
    await b.invalidate("clear", "inventory")  # a mutation elsewhere while a loads
    assert not await a.store_and_release(KEY, "stale", ttl=60, token=token)
    assert await b.get(KEY) is MISSING


async def test_waiter_gives_up_when_holder_dies(two):
    a, b = two
    assert await a.acquire_load_lock(KEY)  # and then "crashes": never releases
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await b.wait_for_value(KEY, timeout=5) is MISSING
    assert 0.2 < loop.time() - start < 1.0  # the lock expired after lock_ttl=0.3
    assert await b.acquire_load_lock(KEY)
    assert b.get_metrics()["lock_waits_abandoned"] == 1


async def test_release_only_by_owner(two):
    a, b = two
    token = await a.acquire_load_lock(KEY)
    await b.release_load_lock(KEY, "not-the-token")
    assert await b.acquire_load_lock(KEY) is None
    await a.release_load_lock(KEY, token)
    assert await b.wait_for_value(KEY, timeout=1) is MISSING  # no lock, no value: load
    assert await b.acquire_load_lock(KEY)


async def test_unencodable_value_releases_the_lock(two):
    a, b = two
    token = await a.acquire_load_lock(KEY)
    assert not await a.store_and_release(KEY, object(), ttl=None, token=token)
    assert await b.acquire_load_lock(KEY)
