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


def _int_reply(reply: bytes) -> int:
    return int(reply.split(b"\r\n")[0][1:])


async def test_clear_removes_exactly_the_namespace_through_its_index(backend, redis_server):
    for i in range(300):  # unrelated keys: clear must neither touch nor walk them
        redis_server.command("SET", f"other:{i}", "x")
    keys = [stable_key("cart", (i,)) for i in range(5)]
    for k in keys:
        await backend.set(k, 1, ttl=None)
    index = "agent_cache:cart\x1findex"
    assert _int_reply(redis_server.command("SCARD", index)) == 5
    assert await backend.clear("cart") == 5
    assert _int_reply(redis_server.command("EXISTS", index)) == 0
    assert _int_reply(redis_server.command("DBSIZE")) == 300


async def test_index_expiry_follows_its_members(backend, redis_server):
    index = "agent_cache:w\x1findex"
    await backend.set(stable_key("w", (1,)), 1, ttl=5)
    assert 0 < _int_reply(redis_server.command("PTTL", index)) <= 5000
    await backend.set(stable_key("w", (2,)), 1, ttl=50)
    assert 5000 < _int_reply(redis_server.command("PTTL", index)) <= 50_000
    await backend.set(stable_key("w", (3,)), 1, ttl=None)  # a member that never expires
    assert _int_reply(redis_server.command("PTTL", index)) == -1


async def test_index_drops_members_whose_keys_are_gone(backend, redis_server):
    index = "agent_cache:w\x1findex"
    old = [stable_key("w", ("old", i)) for i in range(40)]
    for k in old:
        await backend.set(k, 1, ttl=60)
    for k in old:  # as if they had expired
        redis_server.command("DEL", f"agent_cache:{k}")
    for i in range(40):
        await backend.set(stable_key("w", ("new", i)), 1, ttl=60)
    # Each write samples 3 members and drops dead ones: most of the 40 dead are gone
    # (typically all but one or two).
    assert _int_reply(redis_server.command("SCARD", index)) < 40 + 40 - 20
