"""The Backend protocol against a real redis-server: values, TTLs, delete, clear."""

from __future__ import annotations

import asyncio

import pytest

from agent_cache.backends.base import Backend
from agent_cache.backends.redis import RedisBackend
from agent_cache.core.keys import stable_key
from agent_cache.core.sentinel import MISSING

pytestmark = pytest.mark.redis


@pytest.fixture
async def backend(redis_server):
    b = RedisBackend(redis_server.url)
    yield b
    await b.close()


async def test_is_a_backend(backend):
    assert isinstance(backend, Backend)


async def test_round_trip_and_miss(backend):
    key = stable_key("cart", ("u1",))
    assert await backend.get(key) is MISSING
    value = {"items": [1, 2, 3], "total": 9.5, "note": None}
    await backend.set(key, value, ttl=None)
    assert await backend.get(key) == value
    await backend.set(key, None, ttl=None)  # None is a value, not a miss
    assert await backend.get(key) is None
    m = backend.get_metrics()
    assert (m["hits"], m["misses"], m["errors"]) == (2, 1, 0)


async def test_ttl_is_held_in_redis(backend, redis_server):
    key = stable_key("weather", ("paris",))
    await backend.set(key, "sunny", ttl=0.05)
    pttl = int(redis_server.command("PTTL", f"agent_cache:{key}").split(b":")[1])
    assert 0 < pttl <= 50
    await backend.set(stable_key("weather", ("rome",)), "hot", ttl=None)
    assert redis_server.command("PTTL", f"agent_cache:{stable_key('weather', ('rome',))}") == b":-1\r\n"
    await asyncio.sleep(0.08)  # the expiry is Redis's own clock: nothing to await
    assert await backend.get(key) is MISSING


async def test_delete_and_clear_namespace(backend):
    carts = [stable_key("cart", (i,)) for i in range(700)]  # more than one SCAN batch
    other = stable_key("cart2", (1,))  # a namespace that shares a prefix
    for k in carts:
        await backend.set(k, 1, ttl=None)
    await backend.set(other, 2, ttl=None)
    await backend.delete(carts[0])
    assert await backend.get(carts[0]) is MISSING
    assert await backend.clear("cart") == 699
    assert await backend.get(carts[1]) is MISSING
    assert await backend.get(other) == 2


async def test_glob_characters_in_namespace_are_literal(backend):
    star = stable_key("a*", (1,))
    plain = stable_key("ab", (1,))
    await backend.set(star, 1, ttl=None)
    await backend.set(plain, 2, ttl=None)
    assert await backend.clear("a*") == 1
    assert await backend.get(plain) == 2


async def test_unencodable_value_is_not_stored(backend, caplog):
    key = stable_key("objs", (1,))
    await backend.set(key, object(), ttl=None)
    assert await backend.get(key) is MISSING
    assert backend.get_metrics()["unencodable"] == 1
    assert "not storing" in caplog.text


async def test_prefix_isolates_applications(redis_server):
    a = RedisBackend(redis_server.url, namespace="app_a")
    b = RedisBackend(redis_server.url, namespace="app_b")
    key = stable_key("cart", (1,))
    await a.set(key, "a", ttl=None)
    assert await b.get(key) is MISSING
    await b.clear("cart")
    assert await a.get(key) == "a"
    await a.close()
    await b.close()
