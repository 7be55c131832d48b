"""``AsyncCache``: LRU + TTL, single-flight loads, DataLoader batching, warmup, metrics.

Data flow of ``await cache.get(key, loader=...)``::

    L1 hit ──────────────────────────────────────────────► value   (no await, no allocation)
    L1 miss ─► key already loading? ─ yes ─► wait for that flight ─► value / same exception
                      │ no
                      ▼
               lead the flight: [backend tier] → loader → store (unless invalidated) → value

Invalidation (``delete`` / ``clear`` / ``invalidate``) also *fences* loads that are in
flight: their result still answers the callers that were already waiting, but it is not
stored, and later callers start a fresh load. That is what lets the agent layer promise
that no read after a mutation returns data loaded before it.
"""

from __future__ import annotations

import asyncio
import inspect
from functools import partial
from types import CoroutineType
import logging
import time
import weakref
from typing import Any, Callable, Hashable, Mapping

from ..telemetry import names as tn
from ..telemetry import runtime as tel
from ..telemetry import spans
from .batching import Batcher, match_results
from .keys import freeze, stable_key
from .sentinel import MISSING
from .singleflight import RETRY, Flight
from .stats import CacheStats
from .store import NEVER, Store
from .tier import ResolvedTier
from .validation import check_maxsize, check_non_negative_int, check_positive_int, check_ttl

logger = logging.getLogger("agent_cache")

Loader = Callable[[], Any]
BatchLoader = Callable[[list], Any]

_monotonic = time.monotonic
_perf = time.perf_counter


class AsyncCache:
    """An asyncio cache with LRU eviction, per-key TTL, single-flight loads and batching.

    :param maxsize: most entries kept (LRU eviction beyond); ``None`` unbounded, ``0`` keeps
        nothing (every get loads, concurrent gets still share one load).
    :param default_ttl: seconds an entry lives unless ``ttl=`` says otherwise; ``None``: forever.
    :param batch_window_ms: how long ``get(..., batch_loader=f)`` waits to gather keys.
    :param max_batch_size: a batch is sent as soon as it has this many keys.
    :param name: the cache's name in metrics (``agent_cache.resource``) and span names.
        Keep it a constant from code: it is a metric label.
    :param backend: an optional second tier (:class:`~agent_cache.DiskBackend`, Redis, ...).
    """

    __slots__ = (
        "name",
        "namespace",
        "default_ttl",
        "batch_window",
        "max_batch_size",
        "backend",
        "_tier",
        "_store",
        "_data",
        "_stats",
        "_flights",
        "_batchers",
        "_tasks",
        "_load_attrs",
        "_load_span_name",
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
    ) -> None:
        maxsize = check_maxsize("maxsize", maxsize)
        self.default_ttl = check_ttl("default_ttl", default_ttl)
        if isinstance(batch_window_ms, bool) or not isinstance(batch_window_ms, (int, float)):
            raise TypeError(f"batch_window_ms must be a number, got {type(batch_window_ms).__name__}")
        if batch_window_ms < 0:
            raise ValueError(f"batch_window_ms must be >= 0, got {batch_window_ms}")
        self.batch_window = batch_window_ms / 1000.0
        self.max_batch_size = check_positive_int("max_batch_size", max_batch_size)
        if backend is not None and not all(
            callable(getattr(backend, m, None)) for m in ("get", "set", "delete", "clear")
        ):
            raise TypeError("backend must implement get/set/delete/clear (see agent_cache.backends.Backend)")
        self.name = name or "AsyncCache"
        self.namespace = namespace or self.name
        self.backend = backend
        if stats is None:
            stats = CacheStats(self.name, scope)
            tel.track(stats, self)
        self._stats = stats
        self._store = Store(maxsize, stats)
        self._data = self._store.data
        self._flights: dict[Hashable, Flight] = {}
        self._batchers: dict[Any, Batcher] = {}
        self._tasks: set[asyncio.Task] = set()
        self._load_attrs = {tn.ATTR_RESOURCE: stats.resource}
        self._load_span_name = f"{tn.SPAN_LOAD} {self.name}"
        self._tier = ResolvedTier(backend)  # optional capabilities, looked up once
        if self._tier.coherent:  # a shared tier drops this L1's entries on other processes' writes
            backend.attach_cache(self)

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
        try:
            entry = self._data.get(key)
        except TypeError:
            key = freeze(key)
            entry = self._data.get(key)
        if entry is not None and entry[1] > _monotonic():
            entry[2] = True
            self._stats.hits += 1
            return entry[0]
        if ttl is not None:
            check_ttl("ttl", ttl)
        if batch_loader is not None:
            if not callable(batch_loader):
                raise TypeError(f"batch_loader must be callable, got {type(batch_loader).__name__}")
            return await self._batch_get(key, batch_loader, ttl)
        if loader is None:
            return await self._get_without_loader(key, default)
        if not callable(loader):
            raise TypeError(f"loader must be callable, got {type(loader).__name__}")
        value, _ = await self.load(key, loader, ttl)
        return value

    def peek(self, key: Hashable, default: Any = None) -> Any:
        """The live in-memory value for ``key`` without loading, counting or reordering."""
        try:
            value = self._store.peek(key, _monotonic())
        except TypeError:
            value = self._store.peek(freeze(key), _monotonic())
        return default if value is MISSING else value

    def __contains__(self, key: Hashable) -> bool:
        return self.peek(key, MISSING) is not MISSING

    def __len__(self) -> int:
        return len(self._data)

    async def _get_without_loader(self, key: Hashable, default: Any) -> Any:
        # The expired entry, if any, is dropped and counted here.
        self._store.lookup(key, _monotonic())
        if self.backend is not None:
            entry = await self._backend_entry(key)
            if entry is not MISSING:
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
        linked to the load it shared.
        """
        flights = self._flights
        while True:
            flight = flights.get(key)
            if flight is None:
                return await self._lead(key, loader, ttl), True
            if span is not None:
                spans.add_link(span, flight.span_context)
                span.set_attribute(tn.ATTR_RESULT, tn.RESULT_COALESCED)
            try:
                value = await flight.join()
            except Exception:
                self._stats.coalesced += 1
                raise
            if value is RETRY:  # the leader was cancelled: try again, maybe as the leader
                value = self._store.lookup(key, _monotonic())
                if value is MISSING:
                    continue
            self._stats.coalesced += 1
            return value, False

    async def _lead(self, key: Hashable, loader: Loader, ttl: float | None) -> Any:
        flight = Flight()
        self._flights[key] = flight
        self._stats.misses += 1
        if key in self._data:
            self._store.lookup(key, _monotonic())  # drops (and counts) an expired entry
        try:
            remaining = None  # seconds the tier's copy still lives, if it answered
            tracer = None if tel.otel_trace._TRACER_PROVIDER is None else tel.active_tracer()
            if tracer is None and self.backend is None and not tel.metrics_enabled():
                # The common miss, nobody listening: call the loader right here.
                self._stats.loads += 1
                try:
                    value = loader()
                    if type(value) is CoroutineType or inspect.isawaitable(value):
                        value = await value
                except Exception:
                    self._stats.load_errors += 1
                    raise
                from_backend = False
            elif tracer is None:
                value, from_backend, remaining = await self._fetch(key, loader, ttl)
            else:
                with spans.current_span(tracer, self._load_span_name, self._load_attrs) as span:
                    flight.span_context = span.get_span_context()
                    value, from_backend, remaining = await self._fetch(key, loader, ttl)
        except BaseException as exc:
            if self._flights.get(key) is flight:
                del self._flights[key]
            if isinstance(exc, Exception):
                flight.fail(exc)
            else:  # cancelled or interrupted: waiters retry instead of inheriting it
                flight.handoff()
            raise
        if self._flights.get(key) is flight:
            del self._flights[key]
        stored = not flight.stale
        if stored:
            self._store.put(key, value, self._expiry(ttl, remaining))
        if flight.waiters is not None:
            flight.resolve(value)
        if stored and self.backend is not None and not from_backend:
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
        if self.backend is not None:
            load_through = self._tier.load_through
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
        timed = tel.metrics_enabled()
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
        return NEVER if ttl is None else _monotonic() + ttl

    # -- batching ----------------------------------------------------------------------------

    async def _batch_get(self, key: Hashable, batch_loader: BatchLoader, ttl: float | None) -> Any:
        while True:
            flight = self._flights.get(key)
            led = flight is None
            if led:
                flight = Flight()
                self._flights[key] = flight
                self._stats.misses += 1
                self._store.lookup(key, _monotonic())  # drops (and counts) an expired entry
                batcher = self._batchers.get(batch_loader)
                if batcher is None:
                    batcher = Batcher(batch_loader, self.batch_window, self.max_batch_size, self._start_batch)
                    self._batchers[batch_loader] = batcher
                requester = spans.current_span_context() if tel.active_tracer() else None
                batcher.add(key, flight, ttl, requester)
            try:
                value = await flight.join()
            except Exception:
                if not led:
                    self._stats.coalesced += 1
                raise
            if value is RETRY:
                if led:
                    self._stats.misses -= 1
                continue
            if not led:
                self._stats.coalesced += 1
            return value

    def _start_batch(self, fn: BatchLoader, batch: dict) -> None:
        batcher = self._batchers.get(fn)
        if batcher is not None and not batcher.pending:
            del self._batchers[fn]  # no unbounded map of batch functions
        task = asyncio.get_running_loop().create_task(self._run_batch(fn, batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_batch(self, fn: BatchLoader, batch: dict) -> None:
        keys = list(batch)
        self._stats.batches += 1
        if tel.metrics_enabled():
            tel.record(tel.batch_size, len(keys), self._load_attrs)
        tracer = tel.active_tracer()
        try:
            if tracer is None:
                outcomes = await self._call_batch(fn, keys)
            else:
                links = [req for (_, _, req) in batch.values() if req is not None]
                attrs = dict(self._load_attrs)
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
        for key, (ok, value) in zip(keys, outcomes):
            flight, ttl, _ = batch[key]
            if self._flights.get(key) is flight:
                del self._flights[key]
            if ok:
                if not flight.stale:
                    self._store.put(key, value, self._expiry(ttl))
                flight.resolve(value)
            else:
                flight.fail(value)

    async def _call_batch(self, fn: BatchLoader, keys: list) -> list[tuple[bool, Any]]:
        return match_results(keys, await self._run_loader(partial(fn, keys)))

    # -- writing -------------------------------------------------------------------------------

    async def set(self, key: Hashable, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` (replacing any load in flight for ``key``, which will not be stored)."""
        check_ttl("ttl", ttl)
        key = _hashable(key)
        self._fence(key)
        self._store.put(key, value, self._expiry(ttl))
        if self.backend is not None:
            await self._backend_set(key, value, ttl)

    async def delete(self, key: Hashable) -> bool:
        """Remove ``key`` (and fence a load in flight for it); return whether it was cached."""
        key = _hashable(key)
        self._fence(key)
        removed = self._store.discard(key)
        if self.backend is not None:
            await self._backend_call("delete", self._skey(key))
        return removed

    def clear(self) -> int:
        """Drop every in-memory entry and fence every load in flight; return how many.

        With a backend, its entries are cleared in the background; ``await invalidate()``
        to wait for that.
        """
        removed = self._clear_memory()
        if self.backend is not None:
            try:
                task = asyncio.get_running_loop().create_task(self._backend_clear())
            except RuntimeError:  # no running loop: nothing to schedule on
                logger.warning("agent_cache: %s.clear() outside an event loop; backend not cleared", self.name)
            else:
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return removed

    async def invalidate(self) -> int:
        """Like :meth:`clear`, and wait until the backend tier is cleared too."""
        removed = self._clear_memory()
        if self.backend is not None:
            await self._backend_clear()
        return removed

    def _clear_memory(self) -> int:
        for flight in self._flights.values():
            flight.stale = True
        self._flights.clear()
        return self._store.clear()

    def _fence(self, key: Hashable) -> None:
        flight = self._flights.pop(key, None)
        if flight is not None:
            flight.stale = True

    def drop_all(self) -> None:
        """Forget everything quietly (not counted as invalidation): a session ending."""
        for flight in self._flights.values():
            flight.stale = True
        self._flights.clear()
        self._store.drop_all()

    async def warmup(self, loaders: Mapping[Hashable, Loader], ttl: float | None = None) -> dict[Hashable, BaseException]:
        """Load every ``{key: loader}`` concurrently and store the values.

        Returns ``{key: exception}`` for the loaders that failed (logged, never raised), so
        one bad key never stops start-up.
        """
        check_ttl("ttl", ttl)
        items = [(_hashable(k), loader) for k, loader in loaders.items()]

        async def one(key: Hashable, loader: Loader) -> None:
            value = loader()
            if inspect.isawaitable(value):
                value = await value
            await self.set(key, value, ttl)

        results = await asyncio.gather(*(one(k, l) for k, l in items), return_exceptions=True)
        failures = {}
        for (key, _), result in zip(items, results):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                logger.warning("agent_cache: warmup of %r in %s failed: %s", key, self.name, type(result).__name__)
                failures[key] = result
        return failures

    # -- metrics -------------------------------------------------------------------------------

    def get_metrics(self) -> dict[str, Any]:
        """``{'hits', 'misses', 'coalesced', 'requests', 'hit_rate', 'size', 'loads', ...}``."""
        metrics = self._stats.as_dict()
        metrics["size"] = len(self._data)
        return metrics

    def reset_metrics(self) -> None:
        self._stats.reset()

    def purge_expired(self) -> int:
        """Drop expired entries now (they are otherwise dropped lazily when looked up)."""
        return self._store.purge_expired(_monotonic())

    # -- backend tier ----------------------------------------------------------------------------

    def _skey(self, key: Hashable) -> str:
        return stable_key(self.namespace, key)

    async def _backend_entry(self, key: Hashable) -> Any:
        """``(value, seconds left or None)`` from the tier, or ``MISSING``.

        Uses the backend's optional ``get_entry``; a backend with only ``get`` answers
        ``None`` for the seconds left (its values get the full TTL in L1).
        """
        skey = self._skey(key)
        if self._tier.get_entry is not None:
            return await self._backend_call("get_entry", skey, default=MISSING)
        value = await self._backend_call("get", skey, default=MISSING)
        return MISSING if value is MISSING else (value, None)

    async def _backend_set(self, key: Hashable, value: Any, ttl: float | None) -> None:
        if ttl is None:
            ttl = self.default_ttl
        await self._backend_call("set", self._skey(key), value, ttl)

    async def _backend_clear(self) -> None:
        await self._backend_call("clear", self.namespace)

    async def _backend_call(self, method: str, *args: Any, default: Any = None) -> Any:
        """Call the backend; a failure is logged and answered with ``default``, never raised."""
        try:
            return await getattr(self.backend, method)(*args)
        except Exception as exc:
            logger.warning("agent_cache: backend %s failed in %s: %s", method, self.name, type(exc).__name__)
            return default

    def __repr__(self) -> str:
        return f"<AsyncCache {self.name!r} size={len(self._data)} maxsize={self._store.maxsize}>"

    # -- L1 handle for shared tiers ------------------------------------------------------------
    # What a shared tier (Redis) uses to keep this L1 coherent with other processes' writes,
    # instead of reaching into the store. Each method is synchronous and O(1) or O(size).

    #: The ``maxsize`` of each suspended cache, restored by :meth:`resume`.
    _suspended_sizes: "weakref.WeakKeyDictionary[AsyncCache, int | None]" = weakref.WeakKeyDictionary()

    def fence(self, key: Hashable) -> int:
        """Drop ``key`` from memory and fence its load in flight (its result is not stored);
        return how many entries were dropped (0 or 1)."""
        key = _hashable(key)
        self._fence(key)
        return int(self._store.discard(key))

    def fence_all(self) -> int:
        """Drop every entry and fence every load in flight; return how many were dropped."""
        return self._clear_memory()

    def suspend(self) -> int:
        """Keep nothing in memory until :meth:`resume` (every read goes to the tier or the
        loader): for while this L1 cannot learn of other processes' invalidations. Drops
        and fences everything now; return how many entries were dropped. Idempotent."""
        if self not in AsyncCache._suspended_sizes:
            AsyncCache._suspended_sizes[self] = self._store.maxsize
            self._store.maxsize = 0  # the store keeps nothing while 0
        return self._clear_memory()

    def resume(self) -> None:
        """Cache in memory again after :meth:`suspend` (a no-op if not suspended)."""
        if self in AsyncCache._suspended_sizes:
            self._store.maxsize = AsyncCache._suspended_sizes.pop(self)

    @property
    def suspended(self) -> bool:
        """Is this L1 suspended (see :meth:`suspend`)?"""
        return self in AsyncCache._suspended_sizes


def _hashable(key: Hashable) -> Hashable:
    try:
        hash(key)
    except TypeError:
        return freeze(key)
    return key


