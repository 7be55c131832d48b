"""Issue 15 on the Redis tier (a real redis-server): the stale copy is an L1 entry, so it is
fenced with L1 — by an invalidation in this process, and by one from another process once
its backplane message has arrived. Two caches with their own backends stand for two
replicas. L1 expiry runs on an injected clock; the Redis copy "expires" by a raw ``DEL``
(no announcement), as Redis itself would drop it."""

from __future__ import annotations

import asyncio

import pytest

from agent_cache import AgentCache, AgentCacheInvalidator, AsyncCache, LoadTimeoutError
from agent_cache.backends.redis import RedisBackend
from helpers import FakeClock, guarded

pytestmark = pytest.mark.redis

TTL = 30.0


class Down(Exception):
    pass


class Upstream:
    def __init__(self) -> None:
        self.version = 1
        self.mode = "ok"
        self.calls = 0
        self.started = asyncio.Event()

    async def read(self, key: str) -> str:
        self.calls += 1
        self.started.set()
        if self.mode == "raise":
            raise Down("the upstream is down")
        if self.mode == "hang":
            await asyncio.Event().wait()
        return f"{key}@v{self.version}"


def expire_in_redis(redis_server) -> None:
    """Drop every data entry from Redis without announcing it (as its own expiry would)."""
    reply = redis_server.command("KEYS", "agent_cache:*")
    for key in reply.split(b"\r\n"):
        if key.startswith(b"agent_cache:") and not key.endswith(b"\x1findex"):
            redis_server.command("DEL", key)


@pytest.fixture
async def backends(redis_server):
    made = [RedisBackend(redis_server.url, op_timeout=0.5) for _ in range(2)]
    for backend in made:
        assert await backend.subscribe()
    yield made
    for backend in made:
        await backend.close()


async def test_stale_if_error_serves_the_l1_copy_when_redis_and_the_loader_have_nothing(backends, redis_server):
    clock = FakeClock()
    up = Upstream()
    tool = AgentCache(resource="quotes", ttl=TTL, backend=backends[0], clock=clock, stale_if_error=300)(up.read)
    assert await tool("X") == "X@v1"
    clock.advance(TTL + 1)
    expire_in_redis(redis_server)
    up.mode = "raise"
    assert await tool("X") == "X@v1"
    assert tool.get_metrics()["stale"] == 1


@pytest.mark.parametrize("loader", ["raise", "hang"])
async def test_an_invalidation_in_this_process_fences_the_stale_copy(backends, redis_server, loader):
    clock = FakeClock()
    up = Upstream()
    tool = AgentCache(
        resource="cart", ttl=TTL, backend=backends[0], clock=clock,
        stale_if_error=300, stale_while_revalidate=5, load_timeout=0.1,
    )(up.read)

    @AgentCacheInvalidator(resource="cart")
    async def add_item() -> None:
        up.version += 1

    assert await tool("u1") == "u1@v1"
    clock.advance(TTL + 1)
    await add_item()
    up.mode = loader
    with pytest.raises(Down if loader == "raise" else LoadTimeoutError):
        await guarded(tool("u1"))


@pytest.mark.parametrize("loader", ["raise", "hang"])
async def test_an_invalidation_from_another_process_fences_the_stale_copy(backends, redis_server, loader):
    clock = FakeClock()
    up = Upstream()
    here = AsyncCache(
        name="cart", default_ttl=TTL, backend=backends[0], clock=clock,
        stale_if_error=300, stale_while_revalidate=5, load_timeout=0.1,
    )
    there = AsyncCache(name="cart", default_ttl=TTL, backend=backends[1])
    assert await here.get("u1", loader=lambda: up.read("u1")) == "u1@v1"
    clock.advance(TTL + 1)
    up.version += 1
    await there.invalidate()  # the other replica's mutation: Redis cleared, then announced
    assert await backends[1].sync_backplane()  # ...and the announcement delivered everywhere
    assert len(here) == 0  # the stale copy went with the L1
    up.mode = loader
    with pytest.raises(Down if loader == "raise" else LoadTimeoutError):
        await guarded(here.get("u1", loader=lambda: up.read("u1")))


async def test_a_refresh_in_flight_during_another_process_invalidation_is_not_stored(backends, redis_server):
    clock = FakeClock()
    release = asyncio.Event()
    seen: list[int] = []
    version = {"v": 1}

    async def slow_read() -> str:
        read = version["v"]
        seen.append(read)
        if read == 1 and len(seen) > 1:
            await release.wait()  # the refresh read v1 and now hangs
        return f"v{read}"

    here = AsyncCache(name="cart", default_ttl=TTL, backend=backends[0], clock=clock, stale_while_revalidate=5)
    there = AsyncCache(name="cart", default_ttl=TTL, backend=backends[1])
    assert await here.get("u1", loader=slow_read) == "v1"
    clock.advance(TTL + 1)
    expire_in_redis(redis_server)
    assert await here.get("u1", loader=slow_read) == "v1"  # stale; the refresh has read v1
    while len(seen) < 2:
        await asyncio.sleep(0)
    version["v"] = 2
    await there.invalidate()
    assert await backends[1].sync_backplane()
    release.set()
    for _ in range(20):
        await asyncio.sleep(0)
    assert await here.get("u1", loader=slow_read) == "v2"


@pytest.mark.parametrize("loader", ["raise", "hang"])
async def test_another_process_invalidation_during_the_wait_removes_the_fallback(backends, redis_server, loader):
    """The reader is already waiting on its load when the other replica's invalidation
    arrives: its stale-if-error fallback must not answer what that removed."""
    clock = FakeClock()
    failing = asyncio.Event()
    started = asyncio.Event()

    async def load() -> str:
        started.set()
        await failing.wait()
        if loader == "hang":
            await asyncio.Event().wait()
        raise Down("the upstream failed")

    here = AsyncCache(
        name="cart", default_ttl=TTL, backend=backends[0], clock=clock, stale_if_error=300, load_timeout=0.5,
    )
    there = AsyncCache(name="cart", default_ttl=TTL, backend=backends[1])
    assert await here.get("u1", loader=lambda: "v1") == "v1"
    clock.advance(TTL + 1)
    expire_in_redis(redis_server)
    reader = asyncio.create_task(here.get("u1", loader=load))
    await guarded(started.wait())
    await there.invalidate()
    assert await backends[1].sync_backplane()
    failing.set()
    with pytest.raises(Down if loader == "raise" else LoadTimeoutError):
        await guarded(reader)
