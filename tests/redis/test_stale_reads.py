"""No stale reads across replica processes, in situations production Redis meets daily.

The promise: once a mutation decorated with ``AgentCacheInvalidator`` has returned, no read
on any replica returns data loaded before it. Each test runs five replica processes (see
replica_worker.py) against a real redis-server and counts, for every read *sent after* the
mutation's reply arrived, whether it returned the cart without the mutation's item.

- memory pressure: ``maxmemory`` + ``allkeys-lru``, a flood of other keys between rounds;
- a 0.8 s stall (SIGSTOP) of Redis while a mutation runs, reads continuing throughout.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis_helpers import RedisServer, running_redis_server
from replicas import Replica, start_replicas

pytestmark = [pytest.mark.redis]

REPLICAS = 5


async def stop_all(replicas: list[Replica]) -> None:
    await asyncio.gather(*(r.stop() for r in replicas))


def count_stale(replies: list[dict], expected: list[str]) -> int:
    stale = 0
    for reply in replies:
        assert reply["errors"] == []
        stale += reply["values"] != [expected]
    return stale


@pytest.fixture
def pressured_redis(tmp_path: Path):
    # Small enough that the flood below makes Redis evict on every round.
    yield from running_redis_server(
        tmp_path, ("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"))


async def test_no_stale_reads_under_allkeys_lru_eviction(pressured_redis: RedisServer, tmp_path):
    replicas = await start_replicas(pressured_redis.url, tmp_path / "shop.db", REPLICAS)
    flood = aioredis.Redis.from_url(pressured_redis.url)
    filler = b"x" * 4096
    expected: list[str] = []
    reads = stale = 0
    try:
        for round_ in range(25):
            # Every replica reads (values and their bookkeeping are written to Redis)...
            replies = await asyncio.gather(*(r.call(op="read", user="u", n=3) for r in replicas))
            reads += len(replies)
            stale += count_stale(replies, expected)
            # ...other data pushes Redis over maxmemory, so it evicts (allkeys-lru)...
            async with flood.pipeline(transaction=False) as pipe:
                for i in range(600):
                    pipe.set(f"filler:{round_}:{i}", filler)
                await pipe.execute()
            # ...and then a mutation in one replica must still reach every other one.
            writer = replicas[round_ % REPLICAS]
            assert (await writer.call(op="add", user="u", item=f"i{round_}"))["errors"] == []
            expected.append(f"i{round_}")
            replies = await asyncio.gather(*(r.call(op="read", user="u", n=3) for r in replicas))
            reads += len(replies)
            stale += count_stale(replies, expected)
        evicted = int((await flood.info("stats"))["evicted_keys"])
    finally:
        await flood.aclose()
        await stop_all(replicas)
    print(f"\n[allkeys-lru] {REPLICAS} replicas, 25 mutations, {evicted} keys evicted: "
          f"{stale} stale of {reads} read calls (3 concurrent gets each)")
    assert evicted > 0
    assert stale == 0


async def keep_reading(replica: Replica, done: asyncio.Event, log: list[tuple[float, dict]]) -> None:
    """Read until ``done``, logging when each read was sent and what it returned."""
    while not done.is_set():
        sent = time.monotonic()
        log.append((sent, await replica.call(op="read", user="u", n=3)))


async def mutate(writer: Replica, item: str, returned_at: list[float]) -> None:
    assert (await writer.call(op="add", user="u", item=item))["errors"] == []
    returned_at.append(time.monotonic())


async def test_no_stale_reads_when_redis_stalls_during_a_mutation(redis_server: RedisServer,
                                                                  tmp_path):
    # Invalidations give up after 0.3 s: the mutation returns while Redis is still stopped,
    # with its invalidation queued (the case to get right). Leases are 0.15 s.
    replicas = await start_replicas(redis_server.url, tmp_path / "shop.db", REPLICAS,
                                    {"clear_timeout": 0.3})
    writer = replicas[0]
    expected: list[str] = []
    reads = stale = 0
    try:
        assert count_stale(await asyncio.gather(*(r.call(op="read", user="u", n=3)
                                                  for r in replicas)), []) == 0
        for round_ in range(3):
            returned_at: list[float] = []
            log: list[tuple[float, dict]] = []
            done = asyncio.Event()

            # Every replica serves reads, the writer too (its failing reads open its breaker).
            tasks = [asyncio.create_task(keep_reading(r, done, log)) for r in replicas]
            mutation = asyncio.create_task(mutate(writer, f"s{round_}", returned_at))
            await asyncio.sleep(0.01)  # the mutation has started (its first clear landed)
            redis_server.pause()
            await asyncio.sleep(0.8)
            redis_server.resume()
            await mutation
            expected.append(f"s{round_}")
            await asyncio.sleep(1.0)  # keep reading while Redis and the replicas recover
            done.set()
            await asyncio.gather(*tasks)
            after = [reply for sent, reply in log if sent > returned_at[0]]
            reads += len(after)
            stale += count_stale(after, expected)
        metrics = await asyncio.gather(*(r.call(op="metrics") for r in replicas))
    finally:
        await stop_all(replicas)
    print(f"\n[stall] {REPLICAS} replicas, 3 mutations each under a 0.8 s SIGSTOP: "
          f"{stale} stale of {reads} read calls (3 concurrent gets each) sent after the mutation "
          f"returned; lapses "
          f"{[m['backplane_lapses'] for m in metrics]}, resyncs {[m['resyncs'] for m in metrics]}")
    assert reads > 0
    assert stale == 0
    assert all(m["pending_invalidations"] == 0 for m in metrics)
