"""Issue #13: plain ``def`` tools and ``with AgentCacheSession(...)``.

Frameworks run ``def`` tools in worker threads (openai-agents ``asyncio.to_thread``,
LangGraph's executor, AnyIO workers). Each decorator on a ``def`` returns a ``def`` with the
same behaviour: caching, single-flight across threads, invalidation, sessions, loop
detection and spans.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from agent_cache import (
    AgentCache,
    AgentCacheInvalidator,
    AgentCacheSession,
    AgentLoopDetectedError,
    AsyncLRU,
    AsyncTTL,
)


def test_decorated_def_functions_stay_plain_functions():
    @AsyncLRU()
    def square(x):
        return x * x

    @AgentCache(resource="cart")
    def get_cart(user_id: str) -> list[str]:
        return [user_id]

    assert not inspect.iscoroutinefunction(square) and not inspect.iscoroutinefunction(get_cart)
    assert square(3) == 9 and square(3) == 9
    assert square.get_metrics()["hits"] == 1
    assert get_cart("u1") == ["u1"] and get_cart(user_id="u1") == ["u1"]
    assert get_cart.get_metrics()["hits"] == 1
    assert list(inspect.signature(get_cart).parameters) == ["user_id"]  # frameworks read it
    assert get_cart.tool_name == "get_cart"


def test_two_threads_missing_one_key_run_the_body_once():
    started, release = threading.Event(), threading.Event()
    runs = []

    @AgentCache(resource="weather")
    def forecast(city):
        runs.append(city)
        started.set()
        assert release.wait(5)
        return f"sunny in {city}"

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(forecast, "Oslo")
        assert started.wait(5)
        second = pool.submit(forecast, "Oslo")
        flight = forecast.cache._flights[("Oslo",)]
        deadline = time.monotonic() + 5
        while not flight.waiters and time.monotonic() < deadline:  # the second thread has joined
            time.sleep(0.001)
        release.set()
        assert first.result(5) == second.result(5) == "sunny in Oslo"
    assert runs == ["Oslo"]
    assert forecast.get_metrics()["coalesced"] == 1


def test_a_sync_mutation_invalidates_a_sync_read():
    price = {"p1": 10}

    @AsyncTTL(time_to_live=60)
    def unused(x):  # AsyncTTL on a def works too
        return x

    @AgentCache(resource="prices")
    def get_price(item):
        return price[item]

    @AgentCacheInvalidator(resource="prices")
    def set_price(item, value):
        price[item] = value

    assert get_price("p1") == 10
    set_price("p1", 12)
    assert get_price("p1") == 12
    assert unused(1) == 1


def test_a_sync_session_isolates_and_detects_loops_in_worker_threads():
    @AgentCache(resource="tickets", scope="session")
    def get_ticket(ticket_id):
        return {"id": ticket_id, "thread": threading.current_thread().name}

    # as frameworks do: the tool runs in a worker thread with the caller's context
    with AgentCacheSession(session_id="sync-1", max_tool_repeats=3) as session, ThreadPoolExecutor(1) as pool:
        results = [pool.submit(contextvars.copy_context().run, get_ticket, "T-1").result(5) for _ in range(3)]
        assert all(r is results[0] for r in results)
        with pytest.raises(AgentLoopDetectedError):
            pool.submit(contextvars.copy_context().run, get_ticket, "T-1").result(5)
    metrics = session.get_metrics()
    assert (metrics["hits"], metrics["misses"], metrics["loop_detections"]) == (2, 1, 1)
    assert session.get_execution_trace() == []  # freed at exit


async def test_a_def_tool_called_from_async_code_works():
    @AgentCache(resource="cart")
    def get_cart(user_id):
        return [user_id]

    async with AgentCacheSession() as session:
        assert get_cart("u1") == ["u1"]  # blocks the loop briefly, as any def call does
        assert get_cart("u1") == ["u1"]
    assert session.get_metrics()["hits"] == 1


def test_a_sync_session_works_around_async_tools():
    @AgentCache(resource="cart")
    async def get_cart(user_id):
        return [user_id]

    with AgentCacheSession(max_tool_repeats=2) as session:
        assert asyncio.run(get_cart("u1")) == ["u1"]
        assert asyncio.run(get_cart("u1")) == ["u1"]
        with pytest.raises(AgentLoopDetectedError):
            asyncio.run(get_cart("u1"))
    assert session.get_metrics()["loop_detections"] == 1
