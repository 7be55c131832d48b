"""Issue 15: stale-while-revalidate, stale-if-error, load timeouts — and never a stale value
from before an invalidation.

Each behaviour runs on a plain ``AsyncCache.get``, an ``@AsyncTTL`` function and an
``@AgentCache`` tool, and (through the behaviour suite) on the fast path, the reference path
and with the OpenTelemetry SDK installed. TTLs run on an injected clock; load timeouts are
real but tiny, and loaders that must hang wait on an event nobody sets: nothing sleeps and
nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from agent_cache import (
    AgentCache,
    AgentCacheError,
    AgentCacheInvalidator,
    AgentCacheSession,
    AsyncCache,
    AsyncLRU,
    AsyncTTL,
    LoadTimeoutError,
)
from agent_cache.core.sentinel import MISSING
from agent_cache.errors import ConfigurationTypeError, ConfigurationValueError
from helpers import GUARD_S, FakeClock, guarded, settle

TTL = 10.0
T = 0.05  # a real load timeout, short: loaders that hang never finish on their own

_ids = itertools.count()


class UpstreamDown(Exception):
    pass


class Upstream:
    """The data source behind a cache. ``mode`` is read when a call starts:
    ``"ok"`` answers ``"<key>@v<version>"``, ``"raise"`` raises :class:`UpstreamDown`,
    ``"hang"`` waits until :attr:`release` is set, then answers what it read at its start;
    ``"hang_raise"`` waits the same way, then raises."""

    def __init__(self) -> None:
        self.version = 1
        self.mode = "ok"
        self.calls = 0
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def body(self, key: Any) -> str:
        self.calls += 1
        self.started.set()
        mode, seen = self.mode, f"{key}@v{self.version}"
        if mode == "raise":
            raise UpstreamDown("the upstream is down")
        if mode in ("hang", "hang_raise"):
            await self.release.wait()
        if mode == "hang_raise":
            raise UpstreamDown("the upstream failed after a while")
        return seen


class Reader:
    """One cached read of ``upstream`` of a given ``kind``, with its cache and invalidation."""

    def __init__(self, kind: str, upstream: Upstream, clock: FakeClock, **options: Any) -> None:
        self.kind = kind
        self.upstream = upstream
        resource = f"res{next(_ids)}"
        if kind == "cache":
            self.cache = AsyncCache(default_ttl=TTL, clock=clock, **options)
            self.get_metrics = self.cache.get_metrics
        elif kind == "ttl":
            self.fn = AsyncTTL(time_to_live=TTL, clock=clock, **options)(upstream.body)
            self.cache = self.fn.cache
            self.get_metrics = self.fn.get_metrics
        else:
            self.fn = AgentCache(resource=resource, ttl=TTL, clock=clock, **options)(upstream.body)
            self.cache = self.fn.cache
            self.get_metrics = self.fn.get_metrics

            @AgentCacheInvalidator(resource=resource)
            async def mutate() -> None:
                upstream.version += 1

            self.mutate = mutate

    async def __call__(self, key: Any) -> Any:
        if self.kind == "cache":
            return await self.cache.get(key, loader=lambda: self.upstream.body(key))
        return await self.fn(key)

    async def invalidate(self, how: str = "clear") -> None:
        """An invalidating write of the upstream, as the kind's users write it."""
        if self.kind == "tool" and how == "mutation":
            await self.mutate()
            return
        self.upstream.version += 1
        key = "k" if self.kind == "cache" else ("k",)
        if how == "delete":
            await self.cache.delete(key)
        elif how == "invalidate":
            await self.cache.invalidate()
        else:
            self.cache.clear()


KINDS = ("cache", "ttl", "tool")
INVALIDATIONS = ("delete", "clear", "invalidate", "mutation")
#: every (kind, invalidation) pair that exists: mutations are an agent-layer tool
INVALIDATED = [(k, how) for k in KINDS for how in INVALIDATIONS if how != "mutation" or k == "tool"]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def results_add_up(metrics: dict[str, Any]) -> None:
    """Each lookup has exactly one result."""
    parts = metrics["hits"] + metrics["misses"] + metrics["short_circuits"] + metrics["bypasses"] + metrics["stale"]
    assert parts == metrics["requests"]


# --- stale-while-revalidate ------------------------------------------------------------------


async def test_swr_answers_the_old_value_at_once_and_refreshes_once_for_fifty_readers(kind, clock):
    up = Upstream()
    read = Reader(kind, up, clock, stale_while_revalidate=5)
    assert await read("k") == "k@v1"
    up.version, up.mode = 2, "hang"
    clock.advance(TTL + 1)
    answers = await guarded(asyncio.gather(*(read("k") for _ in range(50))))
    assert answers == ["k@v1"] * 50  # while the refresh still hangs
    await guarded(up.started.wait())
    assert up.calls == 2  # one refresh, however many readers
    up.release.set()
    await settle(10)
    assert await read("k") == "k@v2"  # the refresh stored the new value: a hit
    assert up.calls == 2
    metrics = read.get_metrics()
    assert (metrics["stale"], metrics["hits"], metrics["misses"]) == (50, 1, 1)
    results_add_up(metrics)


async def test_past_ttl_plus_swr_a_read_waits_for_a_fresh_load(kind, clock):
    up = Upstream()
    read = Reader(kind, up, clock, stale_while_revalidate=5)
    await read("k")
    up.version = 2
    clock.advance(TTL + 5)
    assert await guarded(read("k")) == "k@v2"
    assert read.get_metrics()["stale"] == 0


async def test_a_failing_background_refresh_keeps_the_stale_value_until_the_window_ends(kind, clock):
    up = Upstream()
    read = Reader(kind, up, clock, stale_while_revalidate=5)
    await read("k")
    up.mode = "raise"
    clock.advance(TTL + 1)
    assert await read("k") == "k@v1"
    await settle(10)  # the refresh ran and failed
    assert up.calls == 2
    assert read.get_metrics()["load_errors"] == 1
    clock.advance(3)
    assert await read("k") == "k@v1"  # still within TTL+5: served, and another refresh tried
    await settle(10)
    assert up.calls == 3
    clock.advance(2)  # TTL+6 > TTL+5: the caller now waits for a load, and gets its error
    with pytest.raises(UpstreamDown):
        await read("k")
    results_add_up(read.get_metrics())


async def test_readers_past_the_window_share_one_failing_load(kind, clock):
    up = Upstream()
    read = Reader(kind, up, clock, stale_while_revalidate=1)
    await read("k")
    up.mode = "hang_raise"
    clock.advance(TTL + 2)
    tasks = [asyncio.create_task(read("k")) for _ in range(10)]
    await guarded(up.started.wait())
    await settle()
    up.release.set()
    results = await guarded(asyncio.gather(*tasks, return_exceptions=True))
    assert up.calls == 2  # ten readers, one load
    assert all(isinstance(r, UpstreamDown) for r in results)
    metrics = read.get_metrics()
    assert (metrics["misses"], metrics["coalesced"], metrics["load_errors"]) == (11, 9, 1)
    results_add_up(metrics)


# --- stale-if-error ------------------------------------------------------------------------------


async def test_sie_answers_the_expired_value_when_the_load_raises_and_never_caches_the_error(kind, clock):
    up = Upstream()
    read = Reader(kind, up, clock, stale_if_error=30)
    await read("k")
    up.mode = "raise"
    clock.advance(TTL + 1)
    assert await read("k") == "k@v1"
    assert await read("k") == "k@v1"
    assert up.calls == 3  # every read tried the upstream again: the error was not cached
    up.mode, up.version = "ok", 2
    assert await read("k") == "k@v2"
    metrics = read.get_metrics()
    assert (metrics["stale"], metrics["load_errors"], metrics["misses"]) == (2, 2, 2)
    results_add_up(metrics)


async def test_sie_past_ttl_plus_window_raises_the_error(kind, clock):
    up = Upstream()
    read = Reader(kind, up, clock, stale_if_error=30)
    await read("k")
    up.mode = "raise"
    clock.advance(TTL + 30)
    with pytest.raises(UpstreamDown):
        await read("k")
    assert read.get_metrics()["stale"] == 0


async def test_without_options_an_upstream_error_after_expiry_reaches_the_caller(kind, clock):
    up = Upstream()
    read = Reader(kind, up, clock)
    await read("k")
    up.mode = "raise"
    clock.advance(TTL + 1)
    with pytest.raises(UpstreamDown):
        await read("k")


async def test_a_reentrant_load_is_never_masked_by_a_stale_value(clock):
    cache = AsyncCache(default_ttl=TTL, clock=clock, stale_if_error=30)
    await cache.get("k", loader=lambda: "v1")
    clock.advance(TTL + 1)

    async def loops() -> str:
        return await cache.get("k", loader=loops)

    from agent_cache import ReentrantLoadError

    with pytest.raises(ReentrantLoadError):
        await guarded(cache.get("k", loader=loops))


# --- load_timeout ------------------------------------------------------------------------------------


async def test_a_hung_load_times_out_with_load_timeout_error(kind, clock):
    up = Upstream()
    up.mode = "hang"
    read = Reader(kind, up, clock, load_timeout=T)
    with pytest.raises(LoadTimeoutError) as caught:
        await guarded(read("k"))
    assert isinstance(caught.value, TimeoutError) and isinstance(caught.value, AgentCacheError)
    metrics = read.get_metrics()
    assert (metrics["load_timeouts"], metrics["misses"]) == (1, 1)
    results_add_up(metrics)


async def test_a_flight_older_than_the_timeout_is_abandoned_for_newcomers(kind, clock):
    up = Upstream()
    up.mode = "hang"
    read = Reader(kind, up, clock, load_timeout=T)
    with pytest.raises(LoadTimeoutError):
        await guarded(read("k"))
    up.mode = "ok"
    assert await guarded(read("k")) == "k@v1"  # led a fresh load, did not join the hung one
    assert up.calls == 2


async def test_a_caller_that_joins_a_hung_load_also_stops_waiting(clock):
    up = Upstream()
    up.mode = "hang"
    cache = AsyncCache(default_ttl=TTL, clock=clock, load_timeout=T)
    leader = asyncio.create_task(cache.get("k", loader=lambda: up.body("k")))
    await guarded(up.started.wait())
    joiner = asyncio.create_task(cache.get("k", loader=lambda: up.body("k")))
    for task in (leader, joiner):
        with pytest.raises(LoadTimeoutError):
            await guarded(task)
    assert up.calls == 1
    metrics = cache.get_metrics()
    assert (metrics["misses"], metrics["coalesced"], metrics["load_timeouts"]) == (2, 1, 2)


async def test_a_timed_out_load_finishes_in_the_background_and_is_stored(kind, clock):
    up = Upstream()
    up.mode = "hang"
    read = Reader(kind, up, clock, load_timeout=T)
    with pytest.raises(LoadTimeoutError):
        await guarded(read("k"))
    up.release.set()
    await settle(10)
    up.mode = "raise"  # a hit now never reaches the upstream
    assert await read("k") == "k@v1"
    assert up.calls == 1


@pytest.mark.parametrize(("kind", "how"), INVALIDATED)
async def test_a_timed_out_load_that_finishes_after_an_invalidation_is_not_stored(kind, how, clock):
    up = Upstream()
    up.mode = "hang"
    read = Reader(kind, up, clock, load_timeout=T)
    with pytest.raises(LoadTimeoutError):
        await guarded(read("k"))
    await read.invalidate(how)
    up.release.set()  # answers what it read before the invalidation
    await settle(10)
    up.mode = "ok"
    assert await read("k") == "k@v2"


@pytest.mark.parametrize(("kind", "how"), INVALIDATED)
async def test_an_invalidation_fences_every_timed_out_load_of_the_key(kind, how, clock):
    """Two hung loads: the second superseded the first (older than the timeout), so only
    the second is the key's flight when the invalidation comes. Neither may store."""
    up = Upstream()
    up.mode = "hang"
    read = Reader(kind, up, clock, load_timeout=T)
    for _ in range(2):
        with pytest.raises(LoadTimeoutError):
            await guarded(read("k"))
    assert up.calls == 2
    await read.invalidate(how)
    up.release.set()  # both answer what they read before the invalidation
    await settle(10)
    up.mode = "ok"
    assert await read("k") == "k@v2"


async def test_an_old_load_finishing_late_never_overwrites_a_newer_one(clock):
    cache = AsyncCache(default_ttl=TTL, clock=clock, load_timeout=T)
    first_release = asyncio.Event()

    async def first() -> str:
        await first_release.wait()
        return "old"

    with pytest.raises(LoadTimeoutError):
        await guarded(cache.get("k", loader=first))
    assert await guarded(cache.get("k", loader=lambda: "new")) == "new"
    first_release.set()
    await settle(10)
    assert cache.peek("k") == "new"


async def test_timeout_with_sie_answers_the_stale_value(kind, clock):
    up = Upstream()
    read = Reader(kind, up, clock, stale_if_error=30, load_timeout=T)
    await read("k")
    up.mode = "hang"
    clock.advance(TTL + 1)
    assert await guarded(read("k")) == "k@v1"
    metrics = read.get_metrics()
    assert (metrics["stale"], metrics["load_timeouts"]) == (1, 1)
    results_add_up(metrics)


async def test_a_loaders_own_timeout_error_is_not_taken_for_ours(clock):
    cache = AsyncCache(default_ttl=TTL, clock=clock, load_timeout=5)

    async def times_out() -> str:
        raise TimeoutError("the upstream's own timeout")

    with pytest.raises(TimeoutError) as caught:
        await guarded(cache.get("k", loader=times_out))
    assert not isinstance(caught.value, LoadTimeoutError)
    assert cache.get_metrics()["load_timeouts"] == 0


async def test_a_cancelled_caller_leaves_the_load_running_for_the_others(clock):
    up = Upstream()
    up.mode = "hang"
    cache = AsyncCache(default_ttl=TTL, clock=clock, load_timeout=5)
    first = asyncio.create_task(cache.get("k", loader=lambda: up.body("k")))
    await guarded(up.started.wait())
    second = asyncio.create_task(cache.get("k", loader=lambda: up.body("k")))
    await settle()
    first.cancel()
    await settle()
    up.release.set()
    assert await guarded(second) == "k@v1"
    assert up.calls == 1


async def test_a_load_timeout_bounds_a_load_that_waits_for_itself_through_a_sub_task(clock):
    """The frame-based re-entrancy check cannot see a load that awaits a sub-task asking for
    its own key (singleflight.waits_for_itself); the load timeout bounds that wait."""
    cache = AsyncCache(default_ttl=TTL, clock=clock, load_timeout=T)

    async def loader() -> Any:
        return await asyncio.create_task(cache.get("k", loader=loader))

    with pytest.raises(LoadTimeoutError):
        await guarded(cache.get("k", loader=loader))


# --- the rule that must not break: no stale value from before an invalidation --------------------


@pytest.mark.parametrize(("kind", "how"), INVALIDATED)
async def test_no_stale_if_error_value_after_an_invalidation_with_a_raising_loader(kind, how, clock):
    up = Upstream()
    read = Reader(kind, up, clock, stale_if_error=300, stale_while_revalidate=5)
    await read("k")
    clock.advance(TTL + 1)  # the entry is a stale copy now
    await read.invalidate(how)
    up.mode = "raise"
    with pytest.raises(UpstreamDown):
        await read("k")


@pytest.mark.parametrize(("kind", "how"), INVALIDATED)
async def test_no_stale_value_after_an_invalidation_with_a_hanging_loader(kind, how, clock):
    up = Upstream()
    read = Reader(kind, up, clock, stale_if_error=300, stale_while_revalidate=5, load_timeout=T)
    await read("k")
    clock.advance(TTL + 1)
    await read.invalidate(how)
    up.mode = "hang"
    with pytest.raises(LoadTimeoutError):
        await guarded(read("k"))


@pytest.mark.parametrize(("kind", "how"), INVALIDATED)
async def test_an_invalidation_during_the_wait_removes_the_stale_fallback(kind, how, clock):
    """The reader was already waiting on a hung load when the invalidation returned: its
    timeout fallback must not answer what the invalidation removed."""
    up = Upstream()
    read = Reader(kind, up, clock, stale_if_error=300, load_timeout=0.2)
    await read("k")
    clock.advance(TTL + 1)
    up.mode = "hang"
    reader = asyncio.create_task(read("k"))
    await guarded(up.started.wait())
    await read.invalidate(how)
    with pytest.raises(LoadTimeoutError):
        await guarded(reader)


@pytest.mark.parametrize(("kind", "how"), INVALIDATED)
async def test_a_load_failing_after_an_invalidation_raises_instead_of_answering_stale(kind, how, clock):
    up = Upstream()
    read = Reader(kind, up, clock, stale_if_error=300)
    await read("k")
    clock.advance(TTL + 1)
    up.mode = "hang_raise"
    reader = asyncio.create_task(read("k"))
    await guarded(up.started.wait())
    await read.invalidate(how)  # returns while the reader's load still runs
    up.release.set()
    with pytest.raises(UpstreamDown):
        await guarded(reader)


@pytest.mark.parametrize(("kind", "how"), INVALIDATED)
async def test_no_swr_answer_after_an_invalidation_and_its_refresh_is_fenced(kind, how, clock):
    up = Upstream()
    read = Reader(kind, up, clock, stale_while_revalidate=5)
    await read("k")
    clock.advance(TTL + 1)
    up.mode = "hang"
    assert await read("k") == "k@v1"  # stale, and a refresh that read v1 is now in flight
    await guarded(up.started.wait())
    await read.invalidate(how)
    up.release.set()  # the refresh answers v1, read before the invalidation
    await settle(10)
    up.mode = "ok"
    assert await guarded(read("k")) == "k@v2"  # neither stale nor the fenced refresh


# --- sessions ------------------------------------------------------------------------------------


async def test_session_scoped_tools_honour_the_options(clock):
    up = Upstream()
    tool = AgentCache(resource="s", scope="session", ttl=TTL, clock=clock, stale_if_error=30, stale_while_revalidate=2)(
        up.body
    )
    async with AgentCacheSession(max_tool_repeats=100) as session:
        assert await tool("k") == "k@v1"
        clock.advance(TTL + 1)
        up.mode = "hang"
        assert await tool("k") == "k@v1"  # stale-while-revalidate
        clock.advance(5)
        up.mode = "raise"
        up.release.set()
        await settle(10)
        assert await tool("k") == "k@v1"  # past the swr window: the load raised, stale-if-error
        metrics = session.get_metrics()
        assert metrics["stale"] == 2
        results_add_up(metrics)


# --- bad options fail at construction, naming the parameter ----------------------------------------

BUILDERS = {
    "AsyncCache": lambda **kw: AsyncCache(default_ttl=1, **kw),
    "AsyncTTL": lambda **kw: AsyncTTL(time_to_live=1, **kw),
    "AgentCache": lambda **kw: AgentCache(resource="r", ttl=1, **kw),
}


@pytest.mark.paths("fast")
@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("param", ["stale_while_revalidate", "stale_if_error", "load_timeout"])
@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, "5", True])
def test_bad_values_fail_at_construction_naming_the_parameter(builder, param, bad):
    if param == "load_timeout" and bad is None:
        return
    with pytest.raises((ConfigurationValueError, ConfigurationTypeError), match=param):
        BUILDERS[builder](**{param: bad})


@pytest.mark.paths("fast")
def test_zero_load_timeout_is_rejected_and_zero_windows_mean_off():
    with pytest.raises(ConfigurationValueError, match="load_timeout"):
        AsyncCache(load_timeout=0)
    assert AsyncCache(default_ttl=1, stale_if_error=0, stale_while_revalidate=0).policy.active is False


@pytest.mark.paths("fast")
@pytest.mark.parametrize("param", ["stale_while_revalidate", "stale_if_error"])
def test_stale_windows_without_a_finite_ttl_fail_naming_both(param):
    with pytest.raises(ConfigurationValueError, match=f"{param}.*default_ttl"):
        AsyncCache(**{param: 5})
    with pytest.raises(ConfigurationValueError, match=f"{param}.*time_to_live"):
        AsyncTTL(time_to_live=None, **{param: 5})
    with pytest.raises(ConfigurationValueError, match=f"{param}.*ttl"):
        AgentCache(resource="r", **{param: 5})
    with pytest.raises(TypeError):
        AsyncLRU(**{param: 5})  # an LRU has no TTL: only load_timeout applies
    AsyncLRU(load_timeout=1)


@pytest.mark.paths("fast")
async def test_per_call_options_are_checked_and_widen_what_the_cache_keeps(clock):
    cache = AsyncCache(clock=clock)
    with pytest.raises(ConfigurationValueError, match="stale_if_error"):
        await cache.get("k", loader=lambda: 1, stale_if_error=-1)
    with pytest.raises(ConfigurationValueError, match="load_timeout"):
        await cache.get("k", loader=lambda: 1, load_timeout=math.nan)
    assert await cache.get("k", loader=lambda: "v1", ttl=TTL, stale_if_error=30) == "v1"
    clock.advance(TTL + 1)

    def down() -> str:
        raise UpstreamDown

    assert await cache.get("k", loader=down, stale_if_error=30) == "v1"
    with pytest.raises(UpstreamDown):
        await cache.get("k", loader=down)  # this call asked for no stale answer


# --- sync (def) tools: their private per-thread loop runs only during a call ------------------


class SlowTier:
    """A second tier that always misses after a real await (as a network tier does)."""

    async def get(self, key: str) -> Any:
        await asyncio.sleep(0.001)
        return MISSING

    async def set(self, key: str, value: Any, ttl: float | None) -> None:
        await asyncio.sleep(0.001)

    async def delete(self, key: str) -> None:
        return None

    async def clear(self, namespace: str) -> None:
        return None


@pytest.mark.paths("fast", "reference")
def test_a_sync_tools_background_refresh_does_not_wait_for_its_thread_to_call_again(clock):
    """Thread A's stale read starts the refresh; A then goes idle. Thread B, past the window,
    must get the refreshed value, not wait on a task parked on A's idle loop."""
    version = {"v": 1}

    @AgentCache(resource=f"sync{next(_ids)}", ttl=TTL, clock=clock, stale_while_revalidate=5, backend=SlowTier())
    def lookup(key: str) -> str:
        return f"{key}@v{version['v']}"

    a, b = ThreadPoolExecutor(max_workers=1), ThreadPoolExecutor(max_workers=1)
    try:
        assert a.submit(lookup, "k").result(timeout=GUARD_S) == "k@v1"
        clock.advance(TTL + 1)
        version["v"] = 2
        assert a.submit(lookup, "k").result(timeout=GUARD_S) == "k@v1"  # stale; refresh started
        clock.advance(5)  # past the window: B needs a fresh value
        assert b.submit(lookup, "k").result(timeout=GUARD_S) == "k@v2"
    finally:
        a.submit(lookup, "k").result(timeout=GUARD_S)  # runs A's loop again: frees what is parked there
        a.shutdown()
        b.shutdown()


@pytest.mark.paths("fast", "reference")
def test_a_sync_tools_load_timeout_applies_to_its_own_call(clock):
    release = threading.Event()

    @AgentCache(resource=f"sync{next(_ids)}", ttl=TTL, clock=clock, load_timeout=T)
    def blocking(key: str) -> str:
        release.wait(GUARD_S)
        return key

    try:
        with pytest.raises(LoadTimeoutError):
            blocking("k")
    finally:
        release.set()
