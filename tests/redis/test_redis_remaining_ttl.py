"""A replica's L1 copy of a Redis entry never outlives the Redis entry.

Redis's clock cannot be faked, so the entry is written with a short PX (300 ms) and each
test checks the L1 expiry (``cache._data[key][1]``, monotonic) against the PTTL Redis
reports afterwards: the L1 copy must expire no later than Redis's. No sleeping.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from redis_helpers import value_key

from agent_cache import AsyncCache
from agent_cache.backends.redis import RedisBackend
from agent_cache.core.sentinel import MISSING

pytestmark = pytest.mark.redis

SHORT = 0.3  # seconds the written entry lives in Redis
TOLERANCE = 0.002  # Redis counts milliseconds: allow one for rounding, plus float slack


@pytest.fixture
async def replicas(redis_server):
    backends = [RedisBackend(redis_server.url, op_timeout=0.5, lock_ttl=2.0) for _ in range(2)]
    for b in backends:
        assert await b.subscribe()
    yield backends
    for b in backends:
        await b.close()


async def write_short(backend: RedisBackend, reader: RedisBackend) -> None:
    """Another replica stores ``"v"`` with a PX of ``SHORT``; ``reader`` has seen its
    invalidation when this returns.

    Without the barrier the writer's invalidation may reach the reader while the reader's
    load is in flight, and the load then (correctly) keeps its result out of L1. Whether it
    arrives before or after depends on how many event-loop turns ``set`` takes: on 3.11
    ``asyncio.wait_for`` wraps the command in a task (one extra turn, so the subscriber
    usually wins); from 3.12 it runs it inline and the reader's load usually wins.
    """
    await AsyncCache(default_ttl=10, name="quotes", backend=backend).set("k", "v", ttl=SHORT)
    assert await reader.sync_backplane(timeout=2.0)


async def assert_l1_within_redis(cache: AsyncCache, backend: RedisBackend) -> None:
    expires = cache._data["k"][1]
    # The write happened before now, so Redis drops the entry before now + SHORT: an L1
    # copy given the configured 10 s would fail here.
    assert expires <= time.monotonic() + SHORT + TOLERANCE
    pttl = await backend._link.current_client().pttl(await value_key(backend, cache._tier_key("k")))
    assert pttl > 0, "the Redis entry expired before the check: the machine is too slow"
    assert expires - time.monotonic() <= pttl / 1000 + TOLERANCE


async def test_l1_expiry_follows_pttl_on_load(replicas) -> None:
    a, b = replicas
    await write_short(a, b)
    reader = AsyncCache(default_ttl=10, name="quotes", backend=b)
    calls = []
    assert await reader.get("k", loader=lambda: calls.append(1) or "fresh") == "v"
    assert calls == [] and reader.get_metrics()["l2_hits"] == 1
    await assert_l1_within_redis(reader, b)


async def test_l1_expiry_follows_pttl_without_loader(replicas) -> None:
    a, b = replicas
    await write_short(a, b)
    reader = AsyncCache(default_ttl=10, name="quotes", backend=b)
    assert await reader.get("k") == "v"
    await assert_l1_within_redis(reader, b)


async def test_l1_expiry_follows_pttl_when_another_replica_loaded_it(replicas) -> None:
    a, b = replicas
    reader = AsyncCache(default_ttl=10, name="quotes", backend=b)
    skey = reader._tier_key("k")
    token = await a.acquire_load_lock(skey)  # replica a is loading "k" right now
    assert token
    calls = []
    waiting = asyncio.create_task(reader.get("k", loader=lambda: calls.append(1) or "fresh"))
    while b.stats.locks_contended == 0:  # until the reader is waiting on a's lock
        await asyncio.sleep(0)
    assert await a.store_and_release(skey, "v", ttl=SHORT, token=token)
    assert await asyncio.wait_for(waiting, 2) == "v"
    assert calls == [] and b.stats.lock_waits_filled == 1
    await assert_l1_within_redis(reader, b)


async def test_get_entry_reads_value_and_seconds_left(replicas) -> None:
    a, _ = replicas
    await a.set("ns\x1fshort", [1], SHORT)
    await a.set("ns\x1fforever", [2], None)
    value, left = await a.get_entry("ns\x1fshort")
    assert value == [1] and 0 < left <= SHORT
    assert await a.get_entry("ns\x1fforever") == ([2], None)
    assert await a.get_entry("ns\x1fabsent") is MISSING
    assert await a.get("ns\x1fshort") == [1]  # get keeps its shape
    assert a.stats.hits == 3 and a.stats.misses == 1
