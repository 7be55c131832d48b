"""``AsyncCache``: LRU + TTL, single-flight loads, DataLoader batching, warmup, metrics.

Data flow of ``await cache.get(key, loader=...)``::

    L1 hit ──────────────────────────────────────────────► value   (no await, no allocation)
    L1 miss ─► key already loading? ─ yes ─► wait for that flight ─► value / same exception
                      │ no
                      ▼
               lead the flight: [backend tier] → loader → store (unless invalidated) → value

Invalidation (``delete`` / ``clear`` / ``invalidate``) also *fences* loads that are in
flight: their result still answers the callers that were already waiting, but it is not
stored, and later callers start a fresh load. While a backend tier's clear is still under
way (or failed), reads skip that tier, so no read after ``clear()`` returns a value from
before it.

The cache is safe to share between threads that run their own event loops: see
:mod:`agent_cache.core.singleflight`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Generator, Hashable, Mapping
from functools import partial
from types import CoroutineType
from typing import Any

from ..errors import ConfigurationTypeError, ReentrantLoadError
from ..telemetry import gate, spans
from ..telemetry import names as tn
from ..telemetry import runtime as tel
from .batching import Batcher, match_results
from .keys import freeze, stable_key
from .sentinel import MISSING
from .singleflight import RETRY, Flight, running_loop, waits_for_itself
from .stats import CacheStats
from .store import NEVER, Clock, Store
from .validation import check_maxsize, check_positive_int, check_ttl, check_window_ms

logger = logging.getLogger("agent_cache")

Loader = Callable[[], Any]
BatchLoader = Callable[[list[Hashable]], Any]

_perf = time.perf_counter


class Completion:
    """What :meth:`AsyncCache.set` and :meth:`AsyncCache.delete` return.

    The in-memory effect has already happened when the call returns, so code written for
    async-cache (``cache.set(k, v)`` without ``await``) works. Awaiting it also waits for
    the backend tier's write and gives the call's result. It is not a coroutine: leaving it
    un-awaited never warns.
    """

    __slots__ = ("_result", "_task")

    def __init__(self, result: Any, task: asyncio.Future[Any] | None = None) -> None:
        self._result = result
        self._task = task

    def __await__(self) -> Generator[Any, None, Any]:
        if self._task is not None:
            yield from self._task.__await__()
        return self._result

    def result(self) -> Any:
        """The call's result (``None`` for ``set``, whether something was removed for ``delete``)."""
        return self._result

    def __bool__(self) -> bool:
        return bool(self._result)

    def __repr__(self) -> str:
        state = "pending" if self._task is not None and not self._task.done() else "done"
        return f"<Completion {state} result={self._result!r}>"


class AsyncCache:
    """An asyncio cache with LRU eviction, per-key TTL, single-flight loads and batching.

    :param maxsize: most entries kept (LRU eviction beyond); ``None`` unbounded, ``0`` keeps
        nothing (every get loads, concurrent gets still share one load).
    :param default_ttl: seconds an entry lives unless ``ttl=`` says otherwise; ``None``: forever.
    :param batch_window_ms: how long ``get(..., batch_loader=f)`` waits to gather keys
        (a finite number >= 0).
    :param max_batch_size: a batch is sent as soon as it has this many keys.
    :param name: the cache's name in metrics (``agent_cache.resource``) and span names.
        Keep it a constant from code: it is a metric label.
    :param backend: an optional second tier (:class:`~agent_cache.DiskBackend`, Redis, ...).
    :param clock: the monotonic clock expiry is measured with (default
        :func:`time.monotonic`); tests inject a fake one.
    """

    __slots__ = (
        "name",
        "namespace",
        "default_ttl",
        "batch_window",
        "max_batch_size",
        "backend",
        "_store",
        "_data",
        "_stats",
        "_flights",
        "_batchers",
        "_tasks",
        "_load_attrs",
        "_load_span_name",
        "_tier_clears_pending",
        "_tier_dirty",
        "__weakref__",
    )

    def __init__(
        self,
        maxsize: int | None = 128,
        default_ttl: float | None = None,
        batch_window_ms: float = 5,
        max_batch_size: int = 100,
        *,
        name: str | None = None,
        backend: Any = None,
        namespace: str | None = None,
        scope: str = tn.SCOPE_CACHE,
        stats: CacheStats | None = None,
        clock: Clock | None = None,
    ) -> None:
        maxsize = check_maxsize("maxsize", maxsize)
        self.default_ttl = check_ttl("default_ttl", default_ttl)
        self.batch_window = check_window_ms("batch_window_ms", batch_window_ms) / 1000.0
        self.max_batch_size = check_positive_int("max_batch_size", max_batch_size)
        if clock is not None and not callable(clock):
            raise ConfigurationTypeError(f"clock must be a callable returning seconds, got {type(clock).__name__}")
        if backend is not None and not all(
            callable(getattr(backend, m, None)) for m in ("get", "set", "delete", "clear")
        ):
            raise ConfigurationTypeError(
                "backend must implement get/set/delete/clear (see agent_cache.backends.Backend)"
            )
        self.name = name or "AsyncCache"
        self.namespace = namespace or self.name
        self.backend = backend
        if stats is None:
            stats = CacheStats(self.name, scope)
            tel.track(stats, self)
        self._stats = stats
        self._store = Store(maxsize, stats, clock or time.monotonic)
        self._data = self._store.data
        self._flights: dict[Hashable, Flight] = {}
        # One batcher per (event loop, batch function): a timer belongs to one loop.
        self._batchers: dict[tuple[asyncio.AbstractEventLoop, Any], Batcher] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        self._load_attrs = {tn.ATTR_RESOURCE: stats.resource}
        self._load_span_name = f"{tn.SPAN_LOAD} {self.name}"
        self._tier_clears_pending = 0  # backend clears scheduled but not finished
        self._tier_dirty = False  # a backend clear failed: the tier may hold pre-clear data
        attach = getattr(backend, "attach_cache", None)
        if attach is not None:  # a shared tier drops this L1's entries on other processes' writes
            attach(self)

    @property
    def store(self) -> Store:
        """The in-memory tier (entry layout and freshness rule: :mod:`agent_cache.core.store`)."""
        return self._store

    @property
    def stats(self) -> CacheStats:
        return self._stats

    @property
    def clock(self) -> Clock:
        return self._store.clock

    def _tier_readable(self) -> bool:
        """Whether reads may consult the backend tier (no clear pending or failed)."""
        return self.backend is not None and not self._tier_clears_pending and not self._tier_dirty

    # -- reading -------------------------------------------------------------------------

    async def get(
        self,
        key: Hashable,
        loader: Loader | None = None,
        batch_loader: BatchLoader | None = None,
        ttl: float | None = None,
        default: Any = None,
    ) -> Any:
        """The cached value for ``key``; on a miss, load it once however many callers ask.

        ``loader`` is a zero-argument callable returning the value or an awaitable of it
        (``lambda: db_query(k)`` works). ``batch_loader`` receives a list of keys and returns
        a list of values in key order or a dict keyed by key. Without either, a miss returns
        ``default``. ``ttl`` overrides ``default_ttl`` for the stored value.
        """
        key = _hashable(key)
        entry = self._store.fresh(key)
        if entry is not None:
            self._stats.hits += 1
            return entry[0]
        if ttl is not None:
            check_ttl("ttl", ttl)
        if batch_loader is not None:
            if not callable(batch_loader):
                raise ConfigurationTypeError(f"batch_loader must be callable, got {type(batch_loader).__name__}")
            return await self._batch_get(key, batch_loader, ttl)
        if loader is None:
            return await self._get_without_loader(key, default)
        if not callable(loader):
            raise ConfigurationTypeError(f"loader must be callable, got {type(loader).__name__}")
        value, _ = await self.load(key, loader, ttl)
        return value

    def peek(self, key: Hashable, default: Any = None) -> Any:
        """The live in-memory value for ``key`` without loading, counting or reordering."""
        value = self._store.peek(_hashable(key))
        return default if value is MISSING else value

    def __contains__(self, key: Hashable) -> bool:
        return self.peek(key, MISSING) is not MISSING

    def __len__(self) -> int:
        return len(self._data)

    async def _get_without_loader(self, key: Hashable, default: Any) -> Any:
        if self._tier_readable():
            entry = await self._backend_entry(key)
            if entry is not MISSING and self._tier_readable():
                value, remaining = entry
                self._stats.hits += 1
                self._stats.l2_hits += 1
                self._store.put(key, value, self._expiry(None, remaining))
                return value
        self._stats.misses += 1
        return default

    # -- single-flight loading -----------------------------------------------------------------

    async def load(
        self, key: Hashable, loader: Loader, ttl: float | None = None, span: Any = None
    ) -> tuple[Any, bool]:
        """Load ``key`` through single-flight; return ``(value, led)``.

        ``led`` is True for the caller that ran the loader (a miss) and False for a caller
        that shared another's load (coalesced). ``span``, when given, is the caller's span,
        linked to the load it shared. Raises :class:`~agent_cache.errors.ReentrantLoadError`
        when the caller is itself running this key's load (it would wait forever).
        """
        flights = self._flights
        while True:
            flight = flights.get(key)
            if flight is None or flight.abandoned():
                return await self._lead(key, loader, ttl), True
            if waits_for_itself(flight):
                raise ReentrantLoadError(
                    f"the load of a key of cache {self.name!r} asked for the same key while it ran; "
                    "it would wait for itself forever"
                )
            if span is not None:
                spans.add_link(span, flight.span_context)
                spans.set_attribute(span, tn.ATTR_RESULT, tn.RESULT_COALESCED)
            try:
                value = await flight.waiting()
            except Exception:
                self._stats.coalesced += 1
                raise
            if value is RETRY:  # the leader was cancelled or its loop died: retry, maybe lead
                if flights.get(key) is flight:
                    del flights[key]
                entry = self._store.fresh(key)
                if entry is None:
                    continue
                value = entry[0]
            self._stats.coalesced += 1
            return value, False

    async def _lead(self, key: Hashable, loader: Loader, ttl: float | None, lookup: bool = True) -> Any:
        """Run ``key``'s load as the leader of a new flight; ``lookup=False`` for a preload
        (warmup), which is not a lookup and so not a miss."""
        flight = Flight()
        flights = self._flights
        existing = flights.setdefault(key, flight)
        if existing is not flight:
            if not existing.abandoned():
                # Another thread's loop started this key's load a moment ago: share it.
                value, _ = await self.load(key, loader, ttl)
                return value
            flights[key] = flight
        if lookup:
            self._stats.misses += 1
        if key in self._data:
            self._store.drop_if_expired(key)
        try:
            remaining = None  # seconds the tier's copy still lives, if it answered
            tracer = None if gate.tracer_probe() is None else gate.active_tracer()
            if tracer is None and self.backend is None and (gate.meter_probe() is None or not gate.metrics_enabled()):
                # The common miss, nobody listening: call the loader right here.
                self._stats.loads += 1
                try:
                    value = loader()
                    if type(value) is CoroutineType or inspect.isawaitable(value):
                        flight.body = value
                        value = await value
                except Exception:
                    self._stats.load_errors += 1
                    raise
                from_backend = False
            elif tracer is None:
                flight.body = fetch = self._fetch(key, loader, ttl)
                value, from_backend, remaining = await fetch
            else:
                with spans.current_span(tracer, self._load_span_name, self._load_attrs) as span:
                    flight.span_context = spans.span_context_of(span)
                    flight.body = fetch = self._fetch(key, loader, ttl)
                    value, from_backend, remaining = await fetch
        except BaseException as exc:
            if self._flights.get(key) is flight:
                del self._flights[key]
            if isinstance(exc, Exception):
                flight.fail(exc)
            else:  # cancelled or interrupted: waiters retry instead of inheriting it
                flight.handoff()
            raise
        if flights.get(key) is flight:
            del flights[key]
        stored = not flight.stale
        if stored:
            if ttl is None and remaining is None and self.default_ttl is None:
                self._store.put(key, value, NEVER)
            else:
                self._store.put(key, value, self._expiry(ttl, remaining))
        # Publish the outcome before looking for waiters: a joiner from another thread that
        # appends after this line settles itself from it (see Flight).
        flight.outcome = (value, None)
        if flight.waiters is not None:
            flight.resolve(value)
        if stored and self.backend is not None and not from_backend and self._tier_readable():
            # No await between the fence check above and the backend write starting: a
            # clear() that comes later is queued after it.
            await self._backend_set(key, value, ttl)
        return value

    async def _fetch(
        self, key: Hashable, loader: Loader, ttl: float | None
    ) -> tuple[Any, bool, float | None]:
        """Second tier first, then the loader; return ``(value, came_from_backend, remaining)``.

        ``remaining``: seconds the tier's entry still lives, when the value was read from
        the tier and the tier knows (``None`` otherwise); the L1 copy must not outlive it.
        A backend with ``load_through(skey, load, ttl) -> (value, from_tier, remaining)``
        (the Redis tier) reads itself, runs ``load`` once across processes and stores the
        result, so what it returns is already in the backend.
        """
        if self._tier_readable():
            load_through = getattr(self.backend, "load_through", None)
            if load_through is not None:
                value, from_tier, remaining = await load_through(
                    self._skey(key), lambda: self._run_loader(loader),
                    self.default_ttl if ttl is None else ttl,
                )
                if from_tier:
                    self._stats.l2_hits += 1
                return value, True, remaining
            entry = await self._backend_entry(key)
            if entry is not MISSING:
                self._stats.l2_hits += 1
                return entry[0], True, entry[1]
        return await self._run_loader(loader), False, None

    async def _run_loader(self, loader: Loader) -> Any:
        """Run the loader, counted, and timed for the histogram when an SDK listens."""
        stats = self._stats
        stats.loads += 1
        timed = gate.meter_probe() is not None and gate.metrics_enabled()
        started = _perf() if timed else 0.0
        try:
            value = loader()
            if type(value) is CoroutineType or inspect.isawaitable(value):
                value = await value
        except Exception as exc:
            stats.load_errors += 1
            if timed:
                attrs = dict(self._load_attrs)
                attrs[tn.ERROR_TYPE] = spans.error_type(exc)
                tel.record(tel.load_duration, _perf() - started, attrs)
            raise
        if timed:
            tel.record(tel.load_duration, _perf() - started, self._load_attrs)
        return value

    def _expiry(self, ttl: float | None, remaining: float | None = None) -> float:
        """When an entry stored now expires: after ``ttl`` (default: ``default_ttl``), or
        sooner if it came from a tier whose copy lives only ``remaining`` more seconds."""
        if ttl is None:
            ttl = self.default_ttl
        if remaining is not None and (ttl is None or remaining < ttl):
            ttl = remaining
        return self._store.expiry(ttl)

    # -- batching ----------------------------------------------------------------------------

    def _batcher(self, batch_loader: BatchLoader) -> Batcher:
        loop = running_loop()
        batcher = self._batchers.get((loop, batch_loader))
        if batcher is None:
            for dead in [k for k in self._batchers if k[0].is_closed()]:
                del self._batchers[dead]  # a loop that closed mid-window left this behind
            batcher = Batcher(batch_loader, self.batch_window, self.max_batch_size, self._start_batch)
            self._batchers[(loop, batch_loader)] = batcher
        return batcher

    async def _batch_get(self, key: Hashable, batch_loader: BatchLoader, ttl: float | None) -> Any:
        while True:
            flight = self._flights.get(key)
            led = flight is None or flight.abandoned()
            if led:
                flight = Flight()
                self._flights[key] = flight
                self._stats.misses += 1
                self._store.drop_if_expired(key)
                requester = None if gate.tracer_probe() is None or not gate.active_tracer() else (
                    spans.current_span_context()
                )
                self._batcher(batch_loader).add(key, flight, ttl, requester)
            assert flight is not None
            try:
                value = await flight.waiting()
            except Exception:
                if not led:
                    self._stats.coalesced += 1
                raise
            if value is RETRY:
                if self._flights.get(key) is flight:
                    del self._flights[key]
                if led:
                    self._stats.misses -= 1
                continue
            if not led:
                self._stats.coalesced += 1
            return value

    def _start_batch(self, fn: BatchLoader, batch: dict[Hashable, Any]) -> None:
        loop = asyncio.get_running_loop()
        batcher = self._batchers.get((loop, fn))
        if batcher is not None and not batcher.pending:
            del self._batchers[(loop, fn)]  # no unbounded map of batch functions
        self._spawn(self._run_batch(fn, batch))

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run_batch(self, fn: BatchLoader, batch: dict[Hashable, Any]) -> None:
        keys = list(batch)
        self._stats.batches += 1
        if gate.meter_probe() is not None and gate.metrics_enabled():
            tel.record(tel.batch_size, len(keys), self._load_attrs)
        tracer = None if gate.tracer_probe() is None else gate.active_tracer()
        try:
            if tracer is None:
                outcomes = await self._call_batch(fn, keys)
            else:
                links = [req for (_, _, req) in batch.values() if req is not None]
                attrs: dict[str, Any] = dict(self._load_attrs)
                attrs[tn.ATTR_BATCH_SIZE] = len(keys)
                name = f"{tn.SPAN_BATCH_LOAD} {self.name}"
                with spans.current_span(tracer, name, attrs, links=links):
                    outcomes = await self._call_batch(fn, keys)
        except BaseException as exc:
            for key, (flight, _, _) in batch.items():
                if self._flights.get(key) is flight:
                    del self._flights[key]
                if isinstance(exc, Exception):
                    flight.fail(exc)
                else:
                    flight.handoff()
            if not isinstance(exc, Exception):
                raise
            return
        for key, (ok, value) in zip(keys, outcomes, strict=True):
            flight, ttl, _ = batch[key]
            if self._flights.get(key) is flight:
                del self._flights[key]
            if ok:
                if not flight.stale:
                    self._store.put(key, value, self._expiry(ttl))
                flight.resolve(value)
            else:
                flight.fail(value)

    async def _call_batch(self, fn: BatchLoader, keys: list[Hashable]) -> list[tuple[bool, Any]]:
        return match_results(keys, await self._run_loader(partial(fn, keys)))

    # -- writing -------------------------------------------------------------------------------

    def set(self, key: Hashable, value: Any, ttl: float | None = None) -> Completion:
        """Store ``value`` now (replacing any load in flight for ``key``, which will not be
        stored). Awaiting the result also waits for the backend tier's write."""
        check_ttl("ttl", ttl)
        key = _hashable(key)
        self._fence(key)
        self._store.put(key, value, self._expiry(ttl))
        if self.backend is None:
            return Completion(None)
        return Completion(None, self._in_background(self._backend_set(key, value, ttl), "set"))

    def delete(self, key: Hashable) -> Completion:
        """Remove ``key`` now (and fence a load in flight for it). The result is truthy when
        something was cached; awaiting it gives that bool and waits for the backend tier."""
        key = _hashable(key)
        self._fence(key)
        removed = self._store.discard(key)
        if self.backend is None:
            return Completion(removed)
        return Completion(removed, self._in_background(self._backend_call("delete", self._skey(key)), "delete"))

    def _in_background(self, coro: Any, what: str) -> asyncio.Future[Any] | None:
        try:
            return self._spawn(coro)
        except RuntimeError:  # no running loop: nothing to schedule the tier's write on
            coro.close()
            logger.warning("agent_cache: %s.%s() outside an event loop; backend tier not updated", self.name, what)
            if what != "set":
                self._tier_dirty = True  # the tier may still serve what we removed
            return None

    def clear(self) -> int:
        """Drop every in-memory entry, fence every load in flight and restart the counters
        :meth:`get_metrics` reports; return how many entries were dropped.

        With a backend, its entries are cleared in the background; until that finishes,
        reads skip the tier. ``await invalidate()`` to wait for it.
        """
        removed = self._clear_memory()
        self._stats.reset()
        if self.backend is not None:
            self._tier_clears_pending += 1
            try:
                self._spawn(self._clear_tier_then_release())
            except RuntimeError:  # no running loop: the tier stays unread until a clear lands
                self._tier_clears_pending -= 1
                self._tier_dirty = True
                logger.warning("agent_cache: %s.clear() outside an event loop; backend tier not cleared", self.name)
        return removed

    async def _clear_tier_then_release(self) -> None:
        try:
            await self._backend_clear()
        finally:
            self._tier_clears_pending -= 1

    async def invalidate(self) -> int:
        """Like :meth:`clear` (without restarting the counters), and wait until the backend
        tier is cleared too."""
        removed = self._clear_memory()
        if self.backend is not None:
            self._tier_clears_pending += 1
            await self._clear_tier_then_release()
        return removed

    def _clear_memory(self) -> int:
        flights = list(self._flights.values())
        self._flights.clear()
        for flight in flights:
            flight.stale = True
        return self._store.clear()

    def _fence(self, key: Hashable) -> None:
        flight = self._flights.pop(key, None)
        if flight is not None:
            flight.stale = True

    def drop_all(self) -> None:
        """Forget everything quietly (not counted as invalidation): a session ending."""
        flights = list(self._flights.values())
        self._flights.clear()
        for flight in flights:
            flight.stale = True
        self._store.drop_all()

    async def warmup(
        self, loaders: Mapping[Hashable, Loader], ttl: float | None = None
    ) -> dict[Hashable, BaseException]:
        """Preload every ``{key: loader}`` not already cached, concurrently.

        Keys that hold a live value are left alone (warmup avoids cold misses; it never
        overwrites fresher data). Returns ``{key: exception}`` for the loaders that failed
        (logged, never raised), so one bad key never stops start-up.
        """
        check_ttl("ttl", ttl)
        items = [(k, loader) for k, loader in ((_hashable(k), ld) for k, ld in loaders.items())
                 if self._store.peek(k) is MISSING]

        async def one(key: Hashable, loader: Loader) -> None:
            flight = self._flights.get(key)
            if flight is None or flight.abandoned():  # (a key already loading needs no warmup)
                await self._lead(key, loader, ttl, lookup=False)

        results = await asyncio.gather(*(one(k, ld) for k, ld in items), return_exceptions=True)
        failures: dict[Hashable, BaseException] = {}
        for (key, _), result in zip(items, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                logger.warning("agent_cache: warmup of a key in %s failed: %s", self.name, type(result).__name__)
                failures[key] = result
        return failures

    # -- metrics -------------------------------------------------------------------------------

    def get_metrics(self) -> dict[str, Any]:
        """``{'hits', 'misses', 'coalesced', 'requests', 'hit_rate', 'size', 'loads', ...}``.

        ``misses`` counts every lookup that found no value (``coalesced`` of them shared
        another caller's load); ``hit_rate = hits / (hits + misses)``.
        """
        metrics = self._stats.as_dict()
        metrics["size"] = len(self._data)
        return metrics

    def reset_metrics(self) -> None:
        self._stats.reset()

    def purge_expired(self) -> int:
        """Drop expired entries now (they are otherwise dropped lazily, or swept on writes)."""
        return self._store.purge_expired()

    # -- backend tier ----------------------------------------------------------------------------

    def _skey(self, key: Hashable) -> str:
        return stable_key(self.namespace, key)

    async def _backend_entry(self, key: Hashable) -> Any:
        """``(value, seconds left or None)`` from the tier, or ``MISSING``.

        Uses the backend's optional ``get_entry``; a backend with only ``get`` answers
        ``None`` for the seconds left (its values get the full TTL in L1).
        """
        skey = self._skey(key)
        if callable(getattr(self.backend, "get_entry", None)):
            return await self._backend_call("get_entry", skey, default=MISSING)
        value = await self._backend_call("get", skey, default=MISSING)
        return MISSING if value is MISSING else (value, None)

    async def _backend_set(self, key: Hashable, value: Any, ttl: float | None) -> None:
        if ttl is None:
            ttl = self.default_ttl
        await self._backend_call("set", self._skey(key), value, ttl)

    async def _backend_clear(self) -> None:
        """Clear this cache's namespace in the tier; if that fails, stop reading the tier
        (ERROR, not WARNING: it may still hold what the caller just invalidated)."""
        try:
            await self.backend.clear(self.namespace)
        except Exception as exc:
            self._tier_dirty = True
            logger.error(
                "agent_cache: backend clear failed in %s (%s); the tier is no longer read by this cache",
                self.name, type(exc).__name__,
            )
        else:
            self._tier_dirty = False

    async def _backend_call(self, method: str, *args: Any, default: Any = None) -> Any:
        """Call the backend; a failure is logged and answered with ``default``, never raised."""
        try:
            return await getattr(self.backend, method)(*args)
        except Exception as exc:
            logger.warning("agent_cache: backend %s failed in %s: %s", method, self.name, type(exc).__name__)
            return default

    def __repr__(self) -> str:
        return f"<AsyncCache {self.name!r} size={len(self._data)} maxsize={self._store.maxsize}>"


def _hashable(key: Hashable) -> Hashable:
    """``key`` itself when hashable, else its frozen by-value stand-in."""
    try:
        hash(key)
    except TypeError:
        return freeze(key)
    return key
