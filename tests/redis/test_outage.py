"""Redis killed or hung mid-run: nothing raises, calls stay bounded, the breaker opens and
recovers, queued invalidations are replayed, and data is fresh afterwards."""

from __future__ import annotations

import time

import pytest
from redis_helpers import wait_until

from agent_cache.backends.redis import RedisBackend
from agent_cache.core.keys import stable_key
from agent_cache.core.sentinel import MISSING

pytestmark = pytest.mark.redis

KEY = stable_key("cart", ("u1",))
OP_TIMEOUT = 0.1


def make(url: str) -> RedisBackend:
    return RedisBackend(url, op_timeout=OP_TIMEOUT, failure_threshold=2, reset_timeout=0.2,
                        health_interval=0.2, lock_ttl=1.0)


async def every_operation(b: RedisBackend) -> list[float]:
    """Call every hook once; return how long each took. Any exception fails the test."""
    durations = []
    for call in (
        lambda: b.get(KEY),
        lambda: b.set(KEY, "v", ttl=10),
        lambda: b.delete(KEY),
        lambda: b.clear("cart"),
        lambda: b.acquire_load_lock(KEY),
        lambda: b.wait_for_value(KEY, timeout=0.5),
        lambda: b.publish_invalidation("clear", "cart"),
    ):
        start = time.monotonic()
        await call()
        durations.append(time.monotonic() - start)
    return durations


async def test_killed_redis_then_restart(redis_server, caplog):
    a, b = make(redis_server.url), make(redis_server.url)
    events: list[tuple] = []
    assert await b.subscribe(lambda *e: events.append(e))
    await a.set(KEY, "old", ttl=None)

    redis_server.kill()
    await wait_until(lambda: not b.l1_trusted(), what="b to notice the dropped subscription")
    durations = await every_operation(a)
    assert await a.get(KEY) is MISSING
    token = await a.acquire_load_lock(KEY)
    assert token and token.startswith("local:")  # load locally, nobody to coordinate with
    assert not await a.store_and_release(KEY, "x", ttl=None, token=token)
    await a.release_load_lock(KEY, token)
    assert not await a.invalidate("delete", "cart", KEY)  # queued for replay
    m = a.get_metrics()
    assert m["breaker_state"] == "open" and m["breaker_opened"] >= 1
    assert m["short_circuits"] > 0 and m["errors"] >= 2
    assert m["pending_invalidations"] == 2  # the clear of "cart" and the delete of KEY
    assert max(durations) < OP_TIMEOUT + 0.15, durations
    assert "circuit breaker open" in caplog.text

    redis_server.start()  # same port, empty (no persistence)
    await b.set(stable_key("other", (1,)), "seed", ttl=None)  # b probes and recovers too
    await wait_until(lambda: b.l1_trusted(), what="b to resubscribe")
    assert events.count(("reset", "", None)) == 2  # initial subscribe + resubscribe
    await wait_until(lambda: a.breaker.state == "half_open", what="cool-down")
    await a.set(KEY, "new", ttl=None)  # the half-open probe: succeeds, closes the breaker
    assert a.get_metrics()["breaker_state"] == "closed"
    await wait_until(lambda: a.get_metrics()["pending_invalidations"] == 0, what="replay")
    await wait_until(lambda: ("delete", "cart", KEY) in events, what="replayed invalidation")
    # The replay deleted again before publishing, so b reads from the loader's source: miss.
    assert await b.get(KEY) is MISSING
    await a.set(KEY, "fresh", ttl=None)
    assert await b.get(KEY) == "fresh"
    await a.close()
    await b.close()


async def test_hung_redis_is_bounded_and_short_circuited(redis_server):
    a, b = make(redis_server.url), make(redis_server.url)
    assert await b.subscribe(lambda *e: None)
    await a.set(KEY, "v", ttl=None)
    redis_server.pause()  # connections accept bytes but nothing answers
    try:
        first = await every_operation(a)
        assert max(first) < OP_TIMEOUT + 0.15, first
        assert a.get_metrics()["breaker_state"] == "open"
        start = time.monotonic()
        for _ in range(100):  # the open breaker answers at once
            assert await a.get(KEY) is MISSING
        assert time.monotonic() - start < 0.05
        await wait_until(lambda: not b.l1_trusted(), what="health check to notice a hung server")
    finally:
        redis_server.resume()
    await wait_until(lambda: a.breaker.state == "half_open")
    assert await a.get(KEY) == "v"
    assert a.get_metrics()["breaker_state"] == "closed"
    await wait_until(lambda: b.l1_trusted(), what="b to resubscribe")
    await a.close()
    await b.close()


async def test_tool_call_pays_at_most_one_timeout_when_redis_hangs(redis_server):
    from agent_cache import AsyncCache

    backend = make(redis_server.url)
    cache = AsyncCache(name="cart", backend=backend)
    assert await backend.subscribe()
    redis_server.pause()
    try:
        for i in range(4):  # the first calls pay one timeout each, until the breaker opens
            start = time.monotonic()
            assert await cache.get(f"k{i}", loader=lambda: "fresh") == "fresh"
            assert time.monotonic() - start < OP_TIMEOUT + 0.08
        assert backend.breaker.state == "open"
    finally:
        redis_server.resume()
    await backend.close()
