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


def value_key(backend: RedisBackend, key: str) -> str:
    """The Redis key holding ``key``'s value under the generation the backend knows."""
    return backend._layout.entry_keys(key, backend._layout.believed(key))[1]


async def test_ttl_is_held_in_redis(backend, redis_server):
    key = stable_key("weather", ("paris",))
    await backend.set(key, "sunny", ttl=0.05)
    pttl = int(redis_server.command("PTTL", value_key(backend, key)).split(b":")[1])
    assert 0 < pttl <= 50
    rome = stable_key("weather", ("rome",))
    await backend.set(rome, "hot", ttl=None)
    assert redis_server.command("PTTL", value_key(backend, rome)) == b":-1\r\n"
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
    assert await backend.clear("cart") == 0
    assert backend.get_metrics()["clears"] == 1
    assert await backend.get(carts[1]) is MISSING
    assert await backend.get(other) == 2


async def test_glob_characters_in_namespace_are_literal(backend):
    star = stable_key("a*", (1,))
    plain = stable_key("ab", (1,))
    await backend.set(star, 1, ttl=None)
    await backend.set(plain, 2, ttl=None)
    assert await backend.clear("a*") == 0
    assert await backend.get(star) is MISSING
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


async def test_clear_is_one_step_that_touches_nothing_else(backend, redis_server):
    for i in range(300):  # unrelated keys: clear must neither touch nor walk them
        redis_server.command("SET", f"other:{i}", "x")
    keys = [stable_key("cart", (i,)) for i in range(5)]
    for k in keys:
        await backend.set(k, 1, ttl=None)
    before = _int_reply(redis_server.command("DBSIZE"))
    assert await backend.clear("cart") == 0
    assert [await backend.get(k) for k in keys] == [MISSING] * 5
    # The old entries are unreachable, left to their TTL / eviction; nothing was walked.
    assert _int_reply(redis_server.command("DBSIZE")) == before


async def test_a_generation_lives_as_long_as_its_entries(backend, redis_server):
    def gen_pttl(ns: str) -> int:
        return _int_reply(redis_server.command("PTTL", backend._layout.gen_key(ns, 0)))

    await backend.set(stable_key("w", (1,)), 1, ttl=90_000)  # longer than a day's idle
    assert 86_400_000 < gen_pttl("w") <= 90_000_000
    await backend.set(stable_key("w", (2,)), 1, ttl=None)  # an entry that never expires
    assert gen_pttl("w") == -1
    await backend.clear("w")  # a fresh, empty generation: gone after a day of idleness
    assert 0 < gen_pttl("w") <= 86_400_000


async def test_an_evicted_generation_makes_entries_unreachable(backend, redis_server):
    """allkeys-lru may evict the generation key while values survive: they must then be
    unreachable, and a load that started before must not store."""
    key = stable_key("cart", ("u1",))
    await backend.set(key, "old", ttl=None)
    token = await backend.acquire_load_lock(stable_key("cart", ("u2",)))
    gen_key = backend._layout.entry_keys(key, "")[0]
    assert _int_reply(redis_server.command("DEL", gen_key)) == 1  # "evicted"
    assert await backend.get(key) is MISSING
    assert not await backend.store_and_release(stable_key("cart", ("u2",)), "old", 60, token)
    await backend.set(key, "new", ttl=None)
    assert await backend.get(key) == "new"


async def test_an_evicted_generation_never_resurrects_an_older_one(backend, redis_server):
    """A replica that still believes generation G1 must not bring G1's entries back when
    the generation key that replaced G1 is evicted."""
    other = RedisBackend(redis_server.url)
    key = stable_key("cart", ("u1",))
    await other.set(key, "before the clear", ttl=None)
    assert await backend.get(key) == "before the clear"  # backend now believes G1
    await other.clear("cart")  # G2
    redis_server.command("DEL", backend._layout.entry_keys(key, "")[0])  # G2 evicted
    assert await backend.get(key) is MISSING  # a fresh G3, never G1 again
    await other.close()


@pytest.mark.parametrize("kwargs", [
    {"lease": 2.0},  # longer than clear_timeout: replicas could trust L1 after a failed clear
    {"lease": 0},
    {"op_timeout": 0},
    {"clear_timeout": -1},
    {"stripes": 0},
])
def test_bad_settings_are_refused_naming_the_parameter(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        RedisBackend("redis://127.0.0.1:1/0", **kwargs)
