"""Session scoping: per-session caches that vanish at exit and never leak across sessions.

The reference keeps session caches in unbounded plain dicts and shares global state
without a reset; here a finished session leaves nothing behind (10,000 sessions in a row
keep memory flat) and concurrent sessions never read each other's session entries.
"""

from __future__ import annotations

import asyncio
import gc
import uuid
import weakref

import pytest

from agent_cache import AgentCache, AgentCacheSession, get_current_session
from agent_cache.agent.registry import registry
from helpers import Gate, allocated_growth, counted, guarded, settle


def session_ticket_tool():
    """A fresh session-scoped tool whose result names the session that loaded it."""
    loads: list[str] = []

    @AgentCache(resource="ticket", scope="session")
    async def get_ticket(ticket_id):
        owner = get_current_session().session_id
        loads.append(owner)
        return f"{ticket_id} loaded by {owner}"

    get_ticket.loads = loads
    return get_ticket


async def test_session_entries_are_hits_inside_and_gone_after_exit():
    get_ticket = session_ticket_tool()
    async with AgentCacheSession(session_id="agent-A") as session:
        assert await get_ticket("T-100") == "T-100 loaded by agent-A"
        assert await get_ticket("T-100") == "T-100 loaded by agent-A"
        assert (session.get_metrics()["hits"], session.get_metrics()["misses"]) == (1, 1)
    async with AgentCacheSession(session_id="agent-A"):  # same id, new session: fresh
        await get_ticket("T-100")
    assert get_ticket.loads == ["agent-A", "agent-A"]


async def test_session_scope_outside_a_session_runs_uncached():
    body = counted(lambda run, ticket_id: ticket_id)
    get_ticket = AgentCache(resource="ticket", scope="session")(body)
    assert await get_ticket("T-1") == "T-1"
    assert await get_ticket("T-1") == "T-1"
    assert body.runs == 2
    assert get_ticket.get_metrics()["hits"] == 0


async def test_session_identity_and_current_session():
    assert get_current_session() is None
    async with AgentCacheSession() as anonymous:
        assert get_current_session() is anonymous
        uuid.UUID(anonymous.session_id)  # a random UUID by default
        async with AgentCacheSession(session_id="inner") as inner:
            assert get_current_session() is inner
        assert get_current_session() is anonymous
    assert get_current_session() is None


async def test_tasks_spawned_inside_a_session_belong_to_it():
    get_ticket = session_ticket_tool()
    async with AgentCacheSession(session_id="parent") as session:
        await asyncio.gather(*(asyncio.create_task(get_ticket("T-1")) for _ in range(3)))
        await get_ticket("T-1")
    assert get_ticket.loads == ["parent"]
    assert session.get_metrics()["tool_calls"] == 4


async def test_a_session_cannot_be_entered_twice():
    session = AgentCacheSession()
    async with session:
        with pytest.raises(RuntimeError):
            async with session:
                pass


async def test_an_exception_inside_the_session_propagates_and_state_is_freed():
    get_ticket = session_ticket_tool()
    session = AgentCacheSession(session_id="crashy")
    with pytest.raises(KeyError):
        async with session:
            await get_ticket("T-1")
            raise KeyError("agent crashed")
    assert get_current_session() is None
    assert session.get_execution_trace() == []
    assert session._caches == {}
    assert session.get_metrics()["misses"] == 1  # counters stay readable after exit


async def test_concurrent_sessions_never_see_each_others_entries():
    get_ticket = session_ticket_tool()
    a_loaded, b_loaded = asyncio.Event(), asyncio.Event()

    async def agent(name: str, mine: asyncio.Event, theirs: asyncio.Event) -> list[str]:
        async with AgentCacheSession(session_id=name):
            if name == "B":
                await guarded(theirs.wait())  # A's entry exists before B asks
            first = await get_ticket("T-100")
            mine.set()
            await guarded(theirs.wait())  # the other session has cached its own entry
            return [first, await get_ticket("T-100")]

    a, b = await guarded(asyncio.gather(agent("A", a_loaded, b_loaded), agent("B", b_loaded, a_loaded)))
    assert a == ["T-100 loaded by A"] * 2
    assert b == ["T-100 loaded by B"] * 2
    assert get_ticket.loads == ["A", "B"]


async def test_concurrent_loads_in_two_sessions_are_not_coalesced():
    gate = Gate()
    loads = []

    @AgentCache(resource="ticket", scope="session")
    async def get_ticket(ticket_id):
        loads.append(get_current_session().session_id)
        await gate()
        return get_current_session().session_id

    async def agent(name):
        async with AgentCacheSession(session_id=name):
            return await get_ticket("T-1")

    tasks = [asyncio.create_task(agent(n)) for n in ("A", "B", "C")]
    await settle()
    gate.release.set()
    assert await guarded(asyncio.gather(*tasks)) == ["A", "B", "C"]
    assert sorted(loads) == ["A", "B", "C"]


async def test_many_concurrent_sessions_each_get_their_own_values():
    get_ticket = session_ticket_tool()

    async def agent(i: int) -> bool:
        async with AgentCacheSession(session_id=f"s{i}"):
            first = await get_ticket("T")
            await settle(1)  # interleave with the other sessions
            return first == await get_ticket("T") == f"T loaded by s{i}"

    assert all(await guarded(asyncio.gather(*(agent(i) for i in range(50)))))
    assert sorted(get_ticket.loads) == sorted(f"s{i}" for i in range(50))


@pytest.mark.paths("fast", "reference")  # the SDK run keeps every span in memory by design
async def test_ten_thousand_sessions_leave_no_residue():
    @AgentCache(resource="ticket", scope="session")
    async def get_ticket(ticket_id):
        return {"id": ticket_id, "body": "x" * 200}

    @AgentCache(resource="kb", scope="global")
    async def get_article(article_id):
        return article_id

    refs: list[weakref.ref] = []
    groups_before = len(registry.groups)

    async def run_sessions(n: int) -> None:
        for i in range(n):
            async with AgentCacheSession(session_id=f"s-{i}") as session:
                await get_ticket("T-1")
                await get_ticket("T-1")
                await get_ticket(f"T-{i}")
                await get_article(1)
                if i % 1000 == 0:
                    refs.append(weakref.ref(session))
                    refs.extend(weakref.ref(c) for c in session._caches.values())

    await run_sessions(50)  # warm up lazily created state
    growth = await allocated_growth(lambda: run_sessions(10_000))
    gc.collect()
    assert refs and all(r() is None for r in refs), "a finished session or its cache is still alive"
    assert len(registry.groups) == groups_before + 0  # sessions add no global groups
    assert len(get_article.cache) == 1
    # A leaked session (trace, loop state, cache with 2 entries) costs several kB: 10,000 of
    # them would be tens of MB. Allow a little noise.
    assert growth < 100_000, f"{growth} bytes retained by 10,000 finished sessions"
