"""AsyncCache + RedisBackend: two caches with their own backends stand for two replicas."""

from __future__ import annotations

import asyncio

import pytest
from redis_helpers import wait_until

from agent_cache import AsyncCache
from agent_cache.backends.redis import RedisBackend

pytestmark = pytest.mark.redis


class Source:
    """The "database": a value per key and a count of loader calls."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.calls = 0
        self.gate: asyncio.Event | None = None

    def loader(self, key: str):
        async def load() -> int:
            self.calls += 1
            if self.gate is not None:
                await self.gate.wait()
            return self.values.get(key, 0)

        return load


@pytest.fixture
async def replicas(redis_server):
    backends = [RedisBackend(redis_server.url, op_timeout=0.1, failure_threshold=2,
                             reset_timeout=0.2, health_interval=0.2, lock_ttl=2.0)
                for _ in range(2)]
    caches = [AsyncCache(name="cart", backend=b) for b in backends]
    for b in backends:
        assert await b.subscribe()
    yield backends, caches
    for b in backends:
        await b.close()


async def test_l2_shared_and_l1_invalidated_across_replicas(replicas):
    (ba, bb), (ca, cb) = replicas
    src = Source()
    src.values["u1"] = 1
    assert await ca.get("u1", loader=src.loader("u1")) == 1
    assert await cb.get("u1", loader=src.loader("u1")) == 1  # from Redis, not the loader
    assert src.calls == 1 and cb.get_metrics()["l2_hits"] == 1
    assert "u1" in cb  # now in b's L1 too

    src.values["u1"] = 2
    await ca.delete("u1")  # the mutation's invalidation: Redis first, then the backplane
    assert await bb.sync_backplane()
    assert "u1" not in cb
    assert await cb.get("u1", loader=src.loader("u1")) == 2

    src.values["u1"] = 3
    await cb.invalidate()  # a whole-namespace clear from the other side
    assert await ba.sync_backplane()
    assert len(ca) == 0
    assert await ca.get("u1", loader=src.loader("u1")) == 3


async def test_explicit_set_reaches_other_l1(replicas):
    (_ba, bb), (ca, cb) = replicas
    await ca.set("k", "v1")
    assert await cb.get("k") == "v1"
    await ca.set("k", "v2")
    assert await bb.sync_backplane()
    assert await cb.get("k") == "v2"


async def test_concurrent_misses_across_replicas_load_once(replicas):
    _, (ca, cb) = replicas
    src = Source()
    src.values["hot"] = 42
    src.gate = asyncio.Event()
    calls = [c.get("hot", loader=src.loader("hot")) for c in (ca, cb) for _ in range(50)]
    tasks = [asyncio.create_task(c) for c in calls]
    await wait_until(lambda: src.calls == 1, what="the one loader to start")
    await asyncio.sleep(0.05)  # give the other replica every chance to (wrongly) load too
    src.gate.set()
    assert await asyncio.gather(*tasks) == [42] * 100
    assert src.calls == 1


async def test_loader_error_is_not_cached_and_releases_the_lock(replicas):
    _, (ca, cb) = replicas

    async def boom() -> int:
        raise RuntimeError("db down")

    with pytest.raises(RuntimeError):
        await ca.get("k", loader=boom)
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await cb.get("k", loader=lambda: 7) == 7
    assert loop.time() - start < 0.5  # did not wait for the lock to expire


async def test_subscription_loss_suspends_l1(replicas, redis_server):
    (_ba, bb), (_ca, cb) = replicas
    src = Source()
    assert await cb.get("u1", loader=src.loader("u1")) == 0
    assert "u1" in cb
    redis_server.kill()
    await wait_until(lambda: not bb.l1_trusted(), what="b to notice")
    assert len(cb) == 0  # dropped: b may miss invalidations from now on
    for i in range(3):  # every read goes to the loader; none raises, none is kept in L1
        src.values["u1"] = 10 + i
        assert await cb.get("u1", loader=src.loader("u1")) == 10 + i
    assert len(cb) == 0
    redis_server.start()
    await wait_until(lambda: bb.l1_trusted(), what="b to resubscribe")
    await wait_until(lambda: bb.breaker.state != "open", what="cool-down")
    assert await cb.get("u1", loader=src.loader("u1")) == 12
    assert "u1" in cb  # caching again


def test_backend_outlives_its_event_loop(redis_server):
    """A module-level backend used by two ``asyncio.run`` calls resubscribes in the second."""
    backend = RedisBackend(redis_server.url)
    cache = AsyncCache(name="cart", backend=backend)  # created outside any loop
    calls: list[str] = []

    async def load() -> str:
        calls.append("load")
        return "v"

    async def use() -> tuple[bool, bool]:
        assert await cache.get("k", loader=load) == "v"
        await wait_until(backend.l1_trusted, what="subscription")
        cache.drop_all()  # forget L1 only
        assert await cache.get("k", loader=load) == "v"  # from Redis
        return "k" in cache, backend.is_connected()

    assert asyncio.run(use()) == (True, True)
    assert asyncio.run(use()) == (True, True)
    assert calls == ["load"]
    asyncio.run(backend.close())


async def test_single_key_invalidation_in_a_big_l1_clears_it(replicas, monkeypatch):
    from agent_cache.backends import redis_tier

    monkeypatch.setattr(redis_tier, "MAX_KEYS_SCANNED", 10)
    (_ba, bb), (ca, cb) = replicas
    for i in range(8):
        await cb.get(i, loader=lambda: 0)
    await ca.delete(5)
    assert await bb.sync_backplane()
    assert len(cb) == 7 and 5 not in cb  # small: found by hashing, only it dropped
    for i in range(20):
        await cb.get(i, loader=lambda: 0)
    await ca.delete(6)
    assert await bb.sync_backplane()
    assert len(cb) == 0  # big: cleared rather than hashing every key (correct, colder)
