"""Issue #10: the core on the paths real callers take.

Each test reproduces one finding of the issue (it failed on the core before the fix): keys
that collided or crashed, a hit rule that depended on the wrapper, reads after ``clear()``,
several event loops, re-entrant loads, unbounded growth, telemetry that broke calls, and
bad input accepted silently. The module is part of the behaviour suite, so each test runs
on the fast path, the reference path and with the OpenTelemetry SDK installed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading

import pytest

from agent_cache import (
    AgentCache,
    AgentCacheError,
    AgentCacheSession,
    AgentLoopDetectedError,
    AsyncCache,
    AsyncLRU,
    AsyncTTL,
    MemoryBackend,
    ReentrantLoadError,
)
from agent_cache.errors import ConfigurationTypeError, ConfigurationValueError
from helpers import guarded

# --- keys never collide ------------------------------------------------------------------


class Order:
    """Defines ``__eq__`` but no ``__hash__``: unhashable, with an address-bearing repr."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Order) and other.n == self.n


class Summarised:
    """Unhashable, with a repr that summarises (as numpy's does for large arrays)."""

    def __init__(self, values: list[int]) -> None:
        self.values = values

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "array([0, 1, 2, ..., 1997, 1998, 1999])"


async def test_objects_without_a_by_value_form_never_share_an_entry(caplog):
    @AgentCache(resource="orders")
    async def total(order):
        return order.n * 10

    with caplog.at_level(logging.WARNING, logger="agent_cache"):
        results = [await total(Order(n)) for n in range(20)]
    assert results == [n * 10 for n in range(20)]  # was: 18 of 20 answered another call's
    assert total.get_metrics()["bypasses"] == 20
    assert total.get_metrics()["hits"] == 0
    warnings = [r for r in caplog.records if "runs uncached" in r.getMessage()]
    assert len(warnings) == 1  # one per tool, not one per call
    message = warnings[0].getMessage()
    assert "'total'" in message and "'order'" in message and "Order" in message
    assert "key=" in message and "ignore=" in message


async def test_summarising_reprs_do_not_merge_different_arguments():
    @AsyncLRU()
    async def first(values):
        return values.values[-1]

    a, b = Summarised(list(range(2000))), Summarised(list(range(1, 2001)))
    assert repr(a) == repr(b)
    assert await first(a) == 1999
    assert await first(b) == 2000  # was: 1999, the first array's entry
    assert first.get_metrics()["bypasses"] == 2


@pytest.mark.parametrize("shape", ["self-referencing", "deeply nested"])
async def test_unkeyable_structures_run_uncached_like_the_plain_function(shape):
    if shape == "self-referencing":
        arg: list = [1, 2]
        arg.append(arg)
    else:
        arg = []
        for _ in range(5000):
            arg = [arg]

    async def plain(x):
        return type(x).__name__

    cached = AgentCache(resource="odd")(plain)
    lru = AsyncLRU()(plain)
    assert await cached(arg) == await plain(arg) == "list"  # was: RecursionError
    assert await lru(arg) == "list"
    assert cached.get_metrics()["bypasses"] == 1 and lru.get_metrics()["bypasses"] == 1


async def test_hashable_identity_objects_are_keyed_by_identity_and_kept_alive():
    class Token:  # default __eq__/__hash__: identity
        pass

    @AsyncLRU()
    async def ident(t):
        return id(t)

    tokens = [Token() for _ in range(5)]
    ids = [await ident(t) for t in tokens]
    assert len(set(ids)) == 5
    assert [await ident(t) for t in tokens] == ids
    assert ident.get_metrics()["hits"] == 5


# --- one definition of a hit ---------------------------------------------------------------


async def test_a_ttl_set_through_the_public_cache_expires_on_every_path(clock):
    @AsyncLRU(clock=clock)  # no ttl of its own
    async def lru(x):
        return "loaded"

    @AgentCache(resource="r", clock=clock)  # no ttl either
    async def tool(x):
        return "loaded"

    lru.cache.set((1,), "planted", ttl=5)
    tool.cache.set((1,), "planted", ttl=5)
    assert await lru(1) == "planted" and await tool(1) == "planted"
    clock.advance(5)
    # was: "planted" forever on the fast path, "loaded" with an SDK installed
    assert await lru(1) == "loaded" and await tool(1) == "loaded"


async def test_session_scoped_entries_follow_the_same_rule(clock):
    runs = []

    @AgentCache(resource="r", scope="session", ttl=10, clock=clock)
    async def tool(x):
        runs.append(x)
        return len(runs)

    async with AgentCacheSession():
        assert await tool(1) == 1
        clock.advance(9.9)
        assert await tool(1) == 1
        clock.advance(0.1)
        assert await tool(1) == 2


# --- clear() then read ---------------------------------------------------------------------


class SlowClearBackend(MemoryBackend):
    """A tier whose clear waits for the test (as a remote tier's round trip does)."""

    def __init__(self) -> None:
        super().__init__()
        self.clear_started = asyncio.Event()
        self.release_clear = asyncio.Event()

    async def clear(self, namespace: str) -> int:
        self.clear_started.set()
        await self.release_clear.wait()
        return await super().clear(namespace)


async def test_no_read_after_clear_returns_a_value_from_before_it():
    tier = SlowClearBackend()
    cache = AsyncCache(name="prices", backend=tier)
    await cache.set("k", "old")
    cache.clear()
    await guarded(tier.clear_started.wait())
    # The tier still holds "old": the read must not consult it, nor keep it in L1.
    assert await cache.get("k", loader=lambda: "new") == "new"
    assert await cache.get("k") == "new"
    tier.release_clear.set()
    await guarded(cache.invalidate())
    assert await cache.get("k", loader=lambda: "newer") == "newer"


class FailingClearBackend(MemoryBackend):
    async def clear(self, namespace: str) -> int:
        raise ConnectionError("tier down")


async def test_a_failed_tier_clear_stops_reads_from_the_tier(caplog):
    tier = FailingClearBackend()
    cache = AsyncCache(name="prices", backend=tier)
    await cache.set("k", "old")
    with caplog.at_level(logging.ERROR, logger="agent_cache"):
        await cache.invalidate()
    assert any(r.levelno == logging.ERROR and "no longer read" in r.getMessage() for r in caplog.records)
    assert await cache.get("k", loader=lambda: "new") == "new"  # not the tier's "old"


# --- several event loops --------------------------------------------------------------------


def run_in_thread(fn):
    """Run ``fn`` in a new thread; return (thread, result box)."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # pragma: no cover - reported by the assertion
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


@pytest.mark.paths("fast", "reference")  # the SDK fixture's providers are not thread-scoped
def test_two_threads_with_their_own_loops_share_one_load():
    started, release = threading.Event(), threading.Event()
    calls = []

    @AgentCache(resource="weather")
    async def forecast(city):
        calls.append(city)
        started.set()
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 5)
        return f"sunny in {city}"

    first, box1 = run_in_thread(lambda: asyncio.run(forecast("Oslo")))
    assert started.wait(5)
    second, box2 = run_in_thread(lambda: asyncio.run(forecast("Oslo")))  # joins the flight
    release.set()
    first.join(5)
    second.join(5)
    assert not first.is_alive() and not second.is_alive(), "deadlock: a loop awaited another's future"
    assert box1 == box2 == {"value": "sunny in Oslo"}
    assert calls == ["Oslo"]


@pytest.mark.paths("fast", "reference")
def test_a_load_abandoned_by_a_closed_loop_does_not_block_the_key():
    never = threading.Event()

    @AsyncLRU()
    async def slow(x):
        await asyncio.get_running_loop().run_in_executor(None, never.wait, 2)
        return "first"

    loop = asyncio.new_event_loop()
    task = loop.create_task(slow(1))
    loop.run_until_complete(asyncio.sleep(0.01))  # the leader is now waiting
    loop.close()  # closed without cancelling the leader: its flight is abandoned
    assert not task.done()

    async def fresh():
        return await guarded(slow.cache.get((1,), loader=lambda: "second"))

    assert asyncio.run(fresh()) == "second"
    never.set()


@pytest.mark.paths("fast", "reference")
def test_a_batch_left_pending_by_a_closed_loop_does_not_hang_later_batches():
    cache = AsyncCache(batch_window_ms=50)

    async def batch(keys):
        return {k: k * 2 for k in keys}

    loop = asyncio.new_event_loop()
    loop.create_task(cache.get(1, batch_loader=batch))  # noqa: RUF006 (abandoned on purpose with its loop)
    loop.run_until_complete(asyncio.sleep(0))  # queued in a batch whose timer belongs to `loop`
    loop.close()

    async def later():
        return await guarded(asyncio.gather(cache.get(1, batch_loader=batch), cache.get(2, batch_loader=batch)))

    assert asyncio.run(later()) == [2, 4]  # was: hung forever


# --- re-entrancy -----------------------------------------------------------------------------


async def test_a_tool_that_waits_for_itself_fails_at_once_outside_a_session():
    @AgentCache(resource="kb")
    async def answer(question):
        return await answer(question)  # a sub-agent asking the same question

    with pytest.raises(ReentrantLoadError) as caught:
        await guarded(answer("why?"))
    assert isinstance(caught.value, RuntimeError) and isinstance(caught.value, AgentCacheError)


async def test_a_tool_that_waits_for_itself_is_a_reentrant_loop_inside_a_session():
    async def sub_agent(question):
        return await answer(question)  # the sub-agent asks the very same question

    @AgentCache(resource="kb")
    async def answer(question):
        return await sub_agent(question)

    async with AgentCacheSession(session_id="s-1") as session:
        with pytest.raises(AgentLoopDetectedError) as caught:
            await guarded(answer("why?"))
    assert caught.value.kind == "reentrant"
    assert caught.value.session_id == "s-1"
    assert session.get_metrics()["loop_detections"] == 1


async def test_a_memoized_function_that_recurses_on_its_own_key_fails_fast():
    @AsyncTTL(time_to_live=10)
    async def fib(n):
        return await fib(n)

    with pytest.raises(ReentrantLoadError):
        await guarded(fib(3))


@pytest.mark.parametrize("window", [float("inf"), float("nan"), -1])
def test_a_batch_window_that_would_hang_is_refused(window):
    with pytest.raises(ConfigurationValueError, match="batch_window_ms"):
        AsyncCache(batch_window_ms=window)


# --- leaks -----------------------------------------------------------------------------------


async def test_an_unbounded_ttl_cache_reclaims_entries_nobody_reads_again(clock):
    cache = AsyncCache(maxsize=None, default_ttl=1, clock=clock)
    for i in range(100_000):
        cache.set(i, i)
        if i % 1000 == 999:
            clock.advance(1)  # about 1,000 live entries at any time
    assert len(cache) <= 3_000  # was: 100,999 held


async def test_a_warn_session_bounds_its_memory_and_its_log(caplog):
    @AgentCache(resource="r", scope="session")
    async def read(x):
        return x

    with caplog.at_level(logging.WARNING, logger="agent_cache"):
        async with AgentCacheSession(on_loop="warn", max_execution_depth=10, trace_limit=100) as session:
            for i in range(5_000):
                await read(i)
            assert len(session.calls.repeats) <= 100
    depth_warnings = [r for r in caplog.records if "depth" in r.getMessage().lower()]
    assert len(depth_warnings) == 1  # was: one per call past the limit


async def test_a_task_that_outlives_its_session_calls_as_if_outside_it():
    release = asyncio.Event()

    @AgentCache(resource="r", scope="session")
    async def read(x):
        return x

    async def straggler():
        await release.wait()
        return await read(1)

    async with AgentCacheSession() as session:
        task = asyncio.create_task(straggler())
        await asyncio.sleep(0)
    release.set()
    assert await guarded(task) == 1
    assert session._caches == {}  # the ended session built no cache
    assert session.tool_calls == 0
    assert read.get_metrics()["bypasses"] == 1


# --- crashes and bad input ------------------------------------------------------------------


def test_a_use_cache_parameter_of_the_function_is_refused_at_decoration():
    async def fetch(key, use_cache=True):
        return key

    with pytest.raises(ConfigurationTypeError, match="use_cache"):
        AsyncLRU()(fetch)
    with pytest.raises(TypeError, match="use_cache"):  # also a TypeError, as before
        AsyncTTL()(fetch)


async def test_a_partial_can_be_decorated():
    async def power(exponent, base):
        return base**exponent

    square = AsyncLRU()(functools.partial(power, 2))
    tool = AgentCache(resource="math")(functools.partial(power, 3))
    assert await square(4) == 16 and await square(4) == 16
    assert await tool(2) == 8
    assert square.get_metrics()["hits"] == 1
    assert tool.tool_name == "power"


def test_every_deliberate_error_shares_one_root():
    for build in (
        lambda: AsyncCache(maxsize=-1),
        lambda: AsyncCache(batch_window_ms="5"),
        lambda: AgentCache(resource=""),
        lambda: AgentCacheSession(on_loop="explode"),
    ):
        with pytest.raises(AgentCacheError):
            build()
