"""``AsyncCache``: LRU + TTL, single-flight loads, DataLoader batching, warmup, metrics.

Data flow of ``await cache.get(key, loader=...)``::

    L1 hit ──────────────────────────────────────────────► value   (no await, no allocation)
    L1 miss ─► key already loading? ─ yes ─► wait for that flight ─► value / same exception
                      │ no
                      ▼
               lead the flight: [backend tier] → loader → store (unless invalidated) → value

With resilience options (:mod:`agent_cache.core.resilience`) an expired entry is kept as
a stale copy and the miss path may answer it (``stale_while_revalidate``, or
``stale_if_error`` after a load failed or timed out), and callers wait at most
``load_timeout`` for a load. The hit path does not change.

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
import weakref
from collections.abc import Callable, Generator, Hashable, Mapping
from functools import partial
from types import CoroutineType
from typing import Any, ClassVar

from ..errors import ConfigurationTypeError, LoadTimeoutError, ReentrantLoadError, UnkeyableArgumentError
from ..telemetry import gate, spans
from ..telemetry import names as tn
from ..telemetry import runtime as tel
from . import sync_bridge
from .batching import Batcher, match_results
from .keys import freeze, stable_key
from .resilience import NO_POLICY, Policy, build_policy
from .sentinel import MISSING
from .singleflight import RETRY, Flight, running_loop, waits_for_itself
from .stats import CacheStats
from .store import NEVER, Clock, Store
from .tier import ResolvedTier
from .validation import check_maxsize, check_positive_int, check_ttl, check_window_ms

logger = logging.getLogger("agent_cache")

Loader = Callable[[], Any]
BatchLoader = Callable[[list[Hashable]], Any]

_perf = time.perf_counter
_mono = time.monotonic  # load timeouts are real time, whatever clock measures TTLs


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
    :param stale_while_revalidate: seconds after an entry's TTL during which a read answers
        the old value at once and starts one background refresh (default 0: off).
    :param stale_if_error: seconds after an entry's TTL during which a load that raises or
        times out is answered with the old value instead (default 0: off).
    :param load_timeout: most seconds a caller waits for a load before it gets the stale
        value or :class:`~agent_cache.errors.LoadTimeoutError` (default ``None``: no limit).
        See :mod:`agent_cache.core.resilience` for what happens to the timed-out load.
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
        "_tier_clears_pending",
        "_tier_dirty",
        "_policy",
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
        stale_while_revalidate: float = 0,
        stale_if_error: float = 0,
        load_timeout: float | None = None,
    ) -> None:
        maxsize = check_maxsize("maxsize", maxsize)
        self.default_ttl = check_ttl("default_ttl", default_ttl)
        policy = build_policy(
            stale_while_revalidate, stale_if_error, load_timeout, ttl=self.default_ttl, ttl_name="default_ttl"
        )
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
        #: the resilience options, ``None`` when all are off (the plain miss path)
        self._policy = policy
        if policy is not None:
            self._store.retain(policy.grace)
        self._flights: dict[Hashable, Flight] = {}
        # One batcher per (event loop, batch function): a timer belongs to one loop.
        self._batchers: dict[tuple[asyncio.AbstractEventLoop, Any], Batcher] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        self._load_attrs = {tn.ATTR_RESOURCE: stats.resource}
        self._load_span_name = f"{tn.SPAN_LOAD} {self.name}"
        self._tier_clears_pending = 0  # backend clears scheduled but not finished
        self._tier_dirty = False  # a backend clear failed: the tier may hold pre-clear data
        self._tier = ResolvedTier(backend)  # optional capabilities, looked up once
        if self._tier.coherent:  # a shared tier drops this L1's entries on other processes' writes
            backend.attach_cache(self)

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

    @property
    def policy(self) -> Policy:
        """The resilience options (stale windows, load timeout) of this cache."""
        return self._policy or NO_POLICY

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
        *,
        stale_while_revalidate: float | None = None,
        stale_if_error: float | None = None,
        load_timeout: float | None = None,
    ) -> Any:
        """The cached value for ``key``; on a miss, load it once however many callers ask.

        ``loader`` is a zero-argument callable returning the value or an awaitable of it
        (``lambda: db_query(k)`` works). ``batch_loader`` receives a list of keys and returns
        a list of values in key order or a dict keyed by key. Without either, a miss returns
        ``default``. ``ttl`` overrides ``default_ttl`` for the stored value.

        ``stale_while_revalidate``, ``stale_if_error`` and ``load_timeout`` override the
        cache's options for this call (``None``: the cache's). A stale window given here
        also makes the cache keep expired entries that long from now on. They apply to
        ``loader`` calls (not to ``batch_loader`` ones).
        """
        key = _hashable(key)
        entry = self._store.fresh(key)
        if entry is not None:
            self._stats.hits += 1
            return entry[0]
        if ttl is not None:
            check_ttl("ttl", ttl)
        policy = None
        if stale_while_revalidate is not None or stale_if_error is not None or load_timeout is not None:
            policy = self.policy.override(stale_while_revalidate, stale_if_error, load_timeout)
            self._store.retain(policy.grace)
        if batch_loader is not None:
            if not callable(batch_loader):
                raise ConfigurationTypeError(f"batch_loader must be callable, got {type(batch_loader).__name__}")
            return await self._batch_get(key, batch_loader, ttl)
        if loader is None:
            return await self._get_without_loader(key, default)
        if not callable(loader):
            raise ConfigurationTypeError(f"loader must be callable, got {type(loader).__name__}")
        value, _ = await self.load(key, loader, ttl, policy=policy)
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
        self, key: Hashable, loader: Loader, ttl: float | None = None, span: Any = None,
        policy: Policy | None = None,
    ) -> tuple[Any, str]:
        """Answer a lookup that found no fresh entry; return ``(value, result)``.

        ``result`` is the lookup's one ``agent_cache.result``: ``"miss"`` for the caller
        that ran the loader, ``"coalesced"`` for a caller that shared another's load,
        ``"stale"`` for one answered with an expired value (resilience options), ``"hit"``
        when a value was stored meanwhile. ``span``, when given, is the caller's span: it is
        linked to the load it shared (or started in the background). ``policy`` overrides
        the cache's resilience options. Raises
        :class:`~agent_cache.errors.ReentrantLoadError` when the caller is itself running
        this key's load (it would wait forever).
        """
        if policy is None:
            policy = self._policy
        if policy is not None and policy.active:
            return await self._load_resilient(key, loader, ttl, span, policy)
        if key not in self._flights:  # the uncontended miss: no extra frame
            return await self._lead(key, loader, ttl), tn.RESULT_MISS
        role = [tn.RESULT_MISS]
        value = await self._join_or_lead(key, loader, ttl, span, True, None, role)
        return value, role[0]

    async def _join_or_lead(
        self, key: Hashable, loader: Loader, ttl: float | None, span: Any, lookup: bool,
        timeout: float | None, role: list[str],
    ) -> Any:
        """Share the key's load in flight, or lead one; ``role[0]`` says which it was.

        With ``lookup`` the lookup is counted here (a leader's miss by :meth:`_lead`, a
        waiter's ``coalesced`` once it has its outcome); without, the caller counts it.
        With ``timeout``, the caller waits at most that long (:class:`LoadTimeoutError`),
        the load runs in a task of its own, and a flight older than ``timeout`` is
        abandoned for a fresh one.
        """
        flights = self._flights
        deadline = None if timeout is None else _mono() + timeout
        while True:
            flight = flights.get(key)
            if flight is None or flight.abandoned() or (timeout is not None and _older(flight, timeout)):
                role[0] = tn.RESULT_MISS
                if timeout is None:
                    return await self._lead(key, loader, ttl, lookup)
                flight = self._start_flight(key, loader, ttl, lookup)
            else:
                if waits_for_itself(flight):
                    raise ReentrantLoadError(
                        f"the load of a key of cache {self.name!r} asked for the same key while it ran; "
                        "it would wait for itself forever"
                    )
                role[0] = tn.RESULT_COALESCED
                if span is not None:
                    spans.add_link(span, flight.span_context)
                    spans.set_attribute(span, tn.ATTR_RESULT, tn.RESULT_COALESCED)
            try:
                value = await self._await_flight(flight, deadline)
            except Exception:
                if lookup and role[0] == tn.RESULT_COALESCED:
                    self._stats.coalesced += 1
                raise
            if value is RETRY:  # the leader was cancelled or its loop died: retry, maybe lead
                if flights.get(key) is flight:
                    del flights[key]
                entry = self._store.fresh(key)
                if entry is None:
                    continue
                value = entry[0]
            if lookup and role[0] == tn.RESULT_COALESCED:
                self._stats.coalesced += 1
            return value

    async def _await_flight(self, flight: Flight, deadline: float | None) -> Any:
        """``flight``'s outcome (or :data:`RETRY`), waiting at most until ``deadline``.

        ``asyncio.wait`` rather than ``wait_for``: a loader's own ``TimeoutError`` must reach
        the caller as itself, not be mistaken for ours (they are one class since 3.11).
        Giving up cancels only this caller's future, never the load.
        """
        if deadline is None:
            return await flight.waiting()
        remaining = deadline - _mono()
        future: asyncio.Future[Any]
        if flight.loop is running_loop():
            future = flight.join()
        else:  # another loop leads: Flight.wait polls that loop's health
            future = asyncio.ensure_future(flight.wait())
        try:
            if remaining > 0 and not future.done():
                await asyncio.wait((future,), timeout=remaining)
        finally:
            timed_out = not future.done()
            if timed_out:  # (only this caller's future or polling task: never the load)
                future.cancel()
        if timed_out:
            self._stats.load_timeouts += 1
            raise LoadTimeoutError(f"a load of cache {self.name!r} did not finish within load_timeout")
        return future.result()

    async def _load_resilient(
        self, key: Hashable, loader: Loader, ttl: float | None, span: Any, policy: Policy
    ) -> tuple[Any, str]:
        """The miss path with resilience options (see :mod:`agent_cache.core.resilience`).

        Counts the lookup's one result itself, once it is known.
        """
        store = self._store
        stats = self._stats
        swr = policy.stale_while_revalidate
        if swr:
            entry = store.stale(key, swr)
            if entry is not None:
                expires = entry[1]
                if expires is NEVER or expires > store.clock():  # stored meanwhile: a hit
                    stats.hits += 1
                    return entry[0], tn.RESULT_HIT
                flight = self._flights.get(key)
                timeout = policy.load_timeout
                if flight is None or flight.abandoned() or (timeout is not None and _older(flight, timeout)):
                    self._refresh(key, loader, ttl, span)
                elif span is not None:
                    spans.add_link(span, flight.span_context)
                stats.stale += 1
                return entry[0], tn.RESULT_STALE
        role = [tn.RESULT_MISS]
        try:
            value = await self._join_or_lead(key, loader, ttl, span, False, policy.load_timeout, role)
        except ReentrantLoadError:
            raise  # a loop in the caller's code, not an upstream failure: never masked
        except Exception as exc:
            # Read the stale copy *now*, not before the load: an invalidation since then
            # has removed it, and what it held must not be served any more.
            entry = store.stale(key, policy.stale_if_error)
            if entry is None:
                self._count(role[0])
                raise
            stats.stale += 1
            self._record_failure(span, exc)
            return entry[0], tn.RESULT_STALE
        self._count(role[0])
        return value, role[0]

    def _count(self, result: str) -> None:
        if result == tn.RESULT_MISS:
            self._stats.misses += 1
        else:
            self._stats.coalesced += 1

    def _record_failure(self, span: Any, exc: BaseException) -> None:
        """A stale value answered instead of ``exc``: say so on the caller's span."""
        if span is None:
            if gate.active_tracer() is None:
                return
            span = spans.current()
        spans.add_event(span, tn.EVENT_LOAD_FAILED, {tn.ERROR_TYPE: spans.error_type(exc)})

    def _refresh(self, key: Hashable, loader: Loader, ttl: float | None, span: Any) -> None:
        """Start the one background refresh of ``key`` (stale-while-revalidate).

        With a tracer, its ``agent_cache.load`` span starts a trace of its own (it outlives
        the read) and links to the read's span, which links back to it.
        """
        load_span = None
        tracer = gate.active_tracer()
        if tracer is not None:
            reader = span if span is not None else spans.current()
            reader_context = spans.span_context_of(reader)
            links = [reader_context] if reader_context is not None and reader_context.is_valid else None
            load_span = spans.start_span(tracer, self._load_span_name, self._load_attrs, links, root=True)
            spans.add_link(reader, spans.span_context_of(load_span))
        self._start_flight(key, loader, ttl, False, load_span)

    def _start_flight(
        self, key: Hashable, loader: Loader, ttl: float | None, lookup: bool, span: Any = None
    ) -> Flight:
        """Register a new flight for ``key`` now and run its load in a task of its own.

        Registered before this returns, so callers arriving in the same loop turn share it.
        A flight it replaces (older than the load timeout) stays linked: see
        :meth:`Flight.fence`.
        """
        # On a sync tool's private loop (which stops when the call returns) the load gets a
        # loop of its own in a worker thread instead: see agent_cache.core.sync_bridge.
        detached = sync_bridge.on_private_loop()
        loop = asyncio.new_event_loop() if detached else None
        flight = Flight(loop)
        flight.started = _mono()
        if span is not None:
            flight.span_context = spans.span_context_of(span)
        older = self._flights.get(key)
        if older is not None:
            flight.superseded = older
        self._flights[key] = flight
        if lookup:
            self._stats.misses += 1
        work = self._lead_detached(key, loader, ttl, flight, span)
        if loop is None:
            self._spawn(work)
        else:
            sync_bridge.run_detached(work, loop)
        return flight

    async def _lead_detached(
        self, key: Hashable, loader: Loader, ttl: float | None, flight: Flight, span: Any
    ) -> None:
        try:
            await self._lead(key, loader, ttl, False, flight, span)
        except Exception as exc:
            # Recorded already (load_errors, the load span, load.duration's error.type);
            # nobody awaits this task, so log it here rather than as "never retrieved".
            logger.debug("agent_cache: background load in %s failed: %s", self.name, type(exc).__name__)

    async def _lead(
        self, key: Hashable, loader: Loader, ttl: float | None, lookup: bool = True,
        flight: Flight | None = None, span: Any = None, args: tuple[Any, ...] = (),
    ) -> Any:
        """Run ``key``'s load as the leader of a new flight; ``lookup=False`` when the caller
        counts the lookup itself (or it is none: a warmup). ``flight``: an already registered
        flight to run (:meth:`_start_flight`); ``span``: its already started load span.
        ``args``: arguments the loader is called with (the memoizers pass the call's own,
        so the common miss builds no ``partial``)."""
        flights = self._flights
        if flight is None:
            flight = Flight()
            existing = flights.setdefault(key, flight)
            if existing is not flight:
                if not existing.abandoned():
                    # Another thread's loop started this key's load a moment ago: share it.
                    return await self._join_or_lead(
                        key, partial(loader, *args) if args else loader, ttl, None, lookup, None, [tn.RESULT_MISS]
                    )
                flights[key] = flight
            if lookup:
                self._stats.misses += 1
        if key in self._data:
            self._store.drop_if_expired(key)
        if args and (span is not None or self.backend is not None or gate.tracer_probe() is not None
                     or gate.meter_probe() is not None):
            loader, args = partial(loader, *args), ()  # the slow paths take a zero-argument loader
        try:
            remaining = None  # seconds the tier's copy still lives, if it answered
            tracer = None if gate.tracer_probe() is None else gate.active_tracer()
            if span is not None:  # a background refresh, its span started by the read
                span_token = spans.make_current(span)
                error: BaseException | None = None
                try:
                    flight.body = fetch = self._fetch(key, loader, ttl)
                    value, from_backend, remaining = await fetch
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    spans.close_span(span, span_token, None, error)
            elif tracer is None and self.backend is None and (gate.meter_probe() is None or not gate.metrics_enabled()):
                # The common miss, nobody listening: call the loader right here.
                self._stats.loads += 1
                try:
                    value = loader(*args)
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
                with spans.current_span(tracer, self._load_span_name, self._load_attrs) as load_span:
                    flight.span_context = spans.span_context_of(load_span)
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
            if flight.superseded is not None:
                flight.fence_older()
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
        skey = self._tier_key(key) if self._tier_readable() else None
        if skey is not None:
            load_through = self._tier.load_through
            if load_through is not None:
                value, from_tier, remaining = await load_through(
                    skey, lambda: self._run_loader(loader),
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

    def _batcher(self, batch_loader: BatchLoader, loop: asyncio.AbstractEventLoop) -> Batcher:
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
                if key in self._data:
                    self._store.drop_if_expired(key)
                requester = None if gate.tracer_probe() is None or not gate.active_tracer() else (
                    spans.current_span_context()
                )
                self._batcher(batch_loader, flight.loop).add(key, flight, ttl, requester)
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
        skey = self._tier_key(key)
        if skey is None:
            return Completion(removed)
        return Completion(removed, self._in_background(self._backend_call("delete", skey), "delete"))

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
        """Drop every entry (stale copies included) and fence every load in flight."""
        flights = list(self._flights.values())
        self._flights.clear()
        for flight in flights:
            flight.fence()
        return self._store.clear()

    def _fence(self, key: Hashable) -> None:
        """Fence ``key``'s load in flight (and the timed-out ones it superseded)."""
        flight = self._flights.pop(key, None)
        if flight is not None:
            flight.fence()

    def drop_all(self) -> None:
        """Forget everything quietly (not counted as invalidation): a session ending."""
        flights = list(self._flights.values())
        self._flights.clear()
        for flight in flights:
            flight.fence()
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

    def _tier_key(self, key: Hashable) -> str | None:
        """The tier's key for ``key``, or ``None`` when it has no process-independent form
        (then the value lives in this process's memory only)."""
        try:
            return stable_key(self.namespace, key)
        except UnkeyableArgumentError:
            return None

    async def _backend_entry(self, key: Hashable) -> Any:
        """``(value, seconds left or None)`` from the tier, or ``MISSING``.

        Uses the backend's optional ``get_entry``; a backend with only ``get`` answers
        ``None`` for the seconds left (its values get the full TTL in L1).
        """
        skey = self._tier_key(key)
        if skey is None:
            return MISSING
        if self._tier.get_entry is not None:
            return await self._backend_call("get_entry", skey, default=MISSING)
        value = await self._backend_call("get", skey, default=MISSING)
        return MISSING if value is MISSING else (value, None)

    async def _backend_set(self, key: Hashable, value: Any, ttl: float | None) -> None:
        if ttl is None:
            ttl = self.default_ttl
        skey = self._tier_key(key)
        if skey is not None:
            await self._backend_call("set", skey, value, ttl)

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

    # -- L1 handle for shared tiers ------------------------------------------------------------
    # What a shared tier (Redis) uses to keep this L1 coherent with other processes' writes,
    # instead of reaching into the store. Each method is synchronous and O(1) or O(size).

    #: The ``maxsize`` of each suspended cache, restored by :meth:`resume`.
    _suspended_sizes: ClassVar[weakref.WeakKeyDictionary[AsyncCache, int | None]] = (
        weakref.WeakKeyDictionary())

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


def _older(flight: Flight, timeout: float) -> bool:
    """Whether ``flight`` has run ``timeout`` seconds or more (abandoned for newcomers)."""
    started = flight.started
    return started is not None and _mono() - started >= timeout


def _hashable(key: Hashable) -> Hashable:
    """``key`` itself when hashable, else its frozen by-value stand-in."""
    try:
        hash(key)
    except TypeError:
        return freeze(key)
    return key
