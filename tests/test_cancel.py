"""A cancelled single-flight leader never strands or cancels its waiters.

The reference shares one load between callers; when the caller running it is cancelled,
the waiters inherit the ``CancelledError`` (or wait forever) and the key stays marked as
loading. Here the waiters retry: one of them leads a fresh load, nobody hangs, and the
in-flight map ends empty. Every await below is guarded, so a hang fails the test.
"""

from __future__ import annotations

import asyncio

import pytest

from agent_cache import AgentCache, AgentCacheSession, AsyncCache, AsyncLRU
from helpers import Gate, counted, guarded, settle


async def _start_leader_and_waiters(cache: AsyncCache, stuck: Gate, fresh, n: int):
    leader = asyncio.create_task(cache.get("k", loader=stuck))
    await guarded(stuck.started.wait())
    waiters = [asyncio.create_task(cache.get("k", loader=fresh)) for _ in range(n)]
    await settle()  # every waiter is now waiting on the leader's flight
    return leader, waiters


async def test_waiters_get_a_fresh_load_when_the_leader_is_cancelled():
    cache = AsyncCache()
    stuck = Gate("never")
    fresh_calls = 0

    async def fresh():
        nonlocal fresh_calls
        fresh_calls += 1
        return "fresh"

    leader, waiters = await _start_leader_and_waiters(cache, stuck, fresh, 5)
    leader.cancel()
    assert await guarded(asyncio.gather(*waiters)) == ["fresh"] * 5
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert fresh_calls == 1  # the retry is single-flight too
    assert not any(w.cancelled() for w in waiters)
    assert not cache._flights
    assert cache.peek("k") == "fresh"


async def test_the_new_leader_can_be_cancelled_too():
    cache = AsyncCache()
    loading_tasks: list[asyncio.Task] = []
    started = asyncio.Event()

    async def loader():
        loading_tasks.append(asyncio.current_task())
        if len(loading_tasks) <= 2:  # the first two leaders hang until cancelled
            started.set()
            await asyncio.Event().wait()
        return "third time lucky"

    tasks = [asyncio.create_task(cache.get("k", loader=loader)) for _ in range(4)]
    for _ in range(2):
        await guarded(started.wait())
        started.clear()
        loading_tasks[-1].cancel()
    results = await guarded(asyncio.gather(*tasks, return_exceptions=True))
    assert sum(isinstance(r, asyncio.CancelledError) for r in results) == 2
    assert [r for r in results if not isinstance(r, BaseException)] == ["third time lucky"] * 2
    assert len(loading_tasks) == 3
    assert not cache._flights


async def test_leader_cancelled_while_a_waiter_is_also_cancelled():
    cache = AsyncCache()
    stuck = Gate("never")
    leader, waiters = await _start_leader_and_waiters(cache, stuck, lambda: "fresh", 3)
    waiters[0].cancel()
    leader.cancel()
    results = await guarded(asyncio.gather(*waiters, return_exceptions=True))
    assert isinstance(results[0], asyncio.CancelledError)
    assert results[1:] == ["fresh", "fresh"]
    assert not cache._flights


async def test_cancelled_leader_alone_leaves_nothing_in_flight_and_next_call_loads():
    cache = AsyncCache()
    stuck = Gate("never")
    leader = asyncio.create_task(cache.get("k", loader=stuck))
    await guarded(stuck.started.wait())
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert not cache._flights
    assert "k" not in cache
    assert await guarded(cache.get("k", loader=lambda: "again")) == "again"


async def test_timeout_of_the_leader_does_not_time_out_the_waiters():
    """``wait_for`` cancels the leader; a waiter with no deadline must still get a value."""
    cache = AsyncCache()
    calls = 0
    release_second = asyncio.Event()
    first_started = asyncio.Event()

    async def loader():
        nonlocal calls
        calls += 1
        if calls == 1:
            first_started.set()
            await asyncio.Event().wait()  # the first load never finishes
        await release_second.wait()
        return calls

    leader = asyncio.create_task(asyncio.wait_for(cache.get("k", loader=loader), 0.01))
    await guarded(first_started.wait())
    waiter = asyncio.create_task(cache.get("k", loader=loader))
    with pytest.raises(asyncio.TimeoutError):
        await guarded(leader)
    release_second.set()
    assert await guarded(waiter) == 2
    assert not cache._flights


async def test_decorated_function_survives_a_cancelled_leader():
    body = counted(lambda run, x: x * 10, hang_first=True)
    fetch = AsyncLRU()(body)
    leader = asyncio.create_task(fetch(4))
    await guarded(body.started.wait())
    waiters = [asyncio.create_task(fetch(4)) for _ in range(3)]
    await settle()
    leader.cancel()
    assert await guarded(asyncio.gather(*waiters)) == [40, 40, 40]
    assert body.runs == 2
    assert not fetch.cache._flights


@pytest.mark.parametrize("scope", ["global", "session"])
async def test_agent_tool_survives_a_cancelled_leader(scope):
    body = counted(lambda run, ticket_id: {"id": ticket_id, "load": run}, hang_first=True)
    get_ticket = AgentCache(resource="ticket", scope=scope)(body)
    async with AgentCacheSession(loop_detection=False) as session:
        leader = asyncio.create_task(get_ticket("T-1"))
        await guarded(body.started.wait())
        waiters = [asyncio.create_task(get_ticket("T-1")) for _ in range(3)]
        await settle()
        leader.cancel()
        results = await guarded(asyncio.gather(*waiters))
        assert results == [{"id": "T-1", "load": 2}] * 3
        cache = get_ticket.cache if scope == "global" else next(iter(session._caches.values()))
        assert not cache._flights
