"""The shared Redis tier: L2 behind every replica's in-memory L1.

::

    from agent_cache import AgentCache, AgentCacheInvalidator
    from agent_cache.backends.redis import RedisBackend

    shared = RedisBackend("redis://redis:6379/0")   # one per process, shared by tools

    @AgentCache(resource="cart", ttl=60, backend=shared)
    async def get_cart(user_id): ...

    @AgentCacheInvalidator(resource="cart")          # every replica drops its copies
    async def add_to_cart(user_id, item): ...

A cache built with ``backend=shared`` attaches itself: its L1 is invalidated by the other
replicas' writes, and its misses are loaded once across all replicas.

:class:`RedisBackend` implements the :class:`~agent_cache.backends.base.Backend` protocol
(``get`` / ``set`` / ``delete`` / ``clear`` / ``close``) plus optional hooks the cache calls
when present:

- **backplane**: :meth:`~RedisBackend.subscribe`, :meth:`~RedisBackend.publish_invalidation`,
  :meth:`~RedisBackend.invalidate`, :meth:`~RedisBackend.l1_trusted`,
  :meth:`~RedisBackend.sync_backplane` (see :mod:`agent_cache.backends.backplane`);
- **distributed single-flight**: :meth:`~RedisBackend.load_through` built on
  :meth:`~RedisBackend.acquire_load_lock`, :meth:`~RedisBackend.store_and_release`,
  :meth:`~RedisBackend.release_load_lock`, :meth:`~RedisBackend.wait_for_value`
  (see :mod:`agent_cache.backends.redis_singleflight`);
- **L1 coherence**: :meth:`~RedisBackend.attach_cache` (see
  :mod:`agent_cache.backends.redis_tier`).

Failure policy (:mod:`~agent_cache.backends.redis_link`): Redis being down, slow or
refusing a command never raises into a tool call. Every round trip is bounded by
``op_timeout``; a failure is logged (rate-limited), counted, and answered as a miss / no-op.
A circuit breaker stops paying the timeout once Redis is known to be down and probes it
again after ``reset_timeout``. Values go through a codec (JSON by default, or HMAC-signed pickle);
unsigned, tampered or foreign payloads are misses with a warning and are never unpickled.

Redis layout (``P`` is the ``prefix``, ``K`` the cache key ``"{namespace}\\x1f{digest}"``)::

    P:K                     the encoded value (PX = per-key TTL)
    P:K\\x1flock             single-flight lock: an owner token, PX = lock_ttl
    P:{namespace}\\x1findex  the namespace's keys, so ``clear`` never scans the keyspace
    P:invalidations         the pub/sub channel

A lock key sits under its value's namespace, so ``clear``/``delete`` remove locks too: a
loader that started before an invalidation can then not store its (possibly stale) result.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from ..core.sentinel import MISSING
from ..telemetry import names as tn
from ..telemetry import tier as tier_telemetry
from . import breaker as _breaker
from . import redis_scripts as scripts
from ._support import namespace_of
from .backplane import KIND_CLEAR, KIND_DELETE, Backplane, InvalidationCallback, encode_message
from .base import Entry, value_of
from .codec import Codec, default_codec
from .redis_link import FAILED, OUTAGE_ERRORS, Redis, RedisLink
from .redis_singleflight import LoadLockMixin, counted_down, ttl_ms
from .redis_tier import L1Registry, l1_summary


@dataclass
class RedisStats:
    """Plain counters, read by ``get_metrics()`` and by observable instruments."""

    hits: int = 0  # get() found a readable value
    misses: int = 0  # get() found nothing
    corrupt: int = 0  # stored payloads refused by the codec (tampered, foreign, malformed)
    unencodable: int = 0  # values the codec refused to store (kept in L1 only)
    writes: int = 0
    deletes: int = 0
    cleared_keys: int = 0
    published: int = 0  # invalidations sent on the backplane
    publish_failures: int = 0  # invalidations queued for retry because Redis was away
    locks_acquired: int = 0
    locks_contended: int = 0  # another process held the load lock
    lock_waits_filled: int = 0  # a waiter got the value another process loaded
    lock_waits_abandoned: int = 0  # the holder died / was fenced / timed out: load locally


class RedisBackend(LoadLockMixin):
    """A Redis second tier shared by every replica. See the module docstring.

    ``url``: a redis-py URL (``redis://host:port/db``). ``namespace``: prefix of every key
    and of the pub/sub channel, so several applications can share one Redis.
    ``codec``: :func:`~agent_cache.backends.codec.default_codec` by default (JSON, or
    signed pickle when ``AGENT_CACHE_SIGNING_KEY`` is set); pass ``SignedPickleCodec(key)``
    for arbitrary picklable values. ``op_timeout``: bound of one
    round trip, in seconds. ``lock_ttl``: lifetime of a single-flight lock, i.e. how long
    other processes wait for a loader before loading themselves.
    ``publish_invalidations``: announce every ``set`` / ``delete`` / ``clear`` on the
    backplane so other replicas drop their L1 copies (after the Redis write).
    ``failure_threshold`` consecutive failures open the breaker for ``reset_timeout``
    seconds. ``health_interval``: an idle subscription is PINGed this often, so a hung
    server is noticed within about ``2 * health_interval + op_timeout``. ``clear_timeout``
    bounds one namespace clear. ``max_pending_invalidations``: how many invalidations
    are kept for replay while Redis is away (oldest dropped first, with a warning).

    Worst cases while Redis hangs and the breaker is still closed: a cached read pays at
    most one ``op_timeout`` (then loads itself); an invalidation pays at most
    ``clear_timeout`` (or ``op_timeout`` for one key) and is queued for replay. While the
    breaker is open neither pays anything. A replica whose subscription is
    down serves no L1 hits (every read goes to Redis or the loader) until resubscribed.
    """

    tier_name = tn.TIER_REDIS
    stats: RedisStats  # (the load-lock mixin only knows it has counters)

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        namespace: str = "agent_cache",
        codec: Codec | None = None,
        op_timeout: float = 0.25,
        clear_timeout: float = 1.0,
        lock_ttl: float = 10.0,
        failure_threshold: int = 3,
        reset_timeout: float = 1.0,
        health_interval: float = 1.0,
        max_pending_invalidations: int = 1024,
        publish_invalidations: bool = True,
    ) -> None:
        self.url = url
        self.namespace = namespace
        self.codec = codec if codec is not None else default_codec()
        self.op_timeout = op_timeout
        self.clear_timeout = clear_timeout
        self.lock_ttl = lock_ttl
        self._prefix = f"{namespace}:"
        self.channel = f"{namespace}:invalidations"
        #: Identifies this backend instance on the backplane so it ignores its own messages.
        self.sender_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._link = RedisLink(url, op_timeout=op_timeout, failure_threshold=failure_threshold,
                               reset_timeout=reset_timeout)
        self.breaker = self._link.breaker
        self.stats = RedisStats()
        self._health_interval = health_interval
        self.publish_invalidations = publish_invalidations
        self._backplane: Backplane | None = None
        self._listeners: list[InvalidationCallback] = []
        self._l1 = L1Registry()
        self._pending: dict[tuple[str, str, str | None], None] = {}  # ordered set
        self._max_pending = max_pending_invalidations
        self._flush_task: asyncio.Task[Any] | None = None
        self._closed = False
        #: ``False`` while a requested subscription is down: the cache must not serve L1
        #: hits then. ``True`` when no subscription was requested (nothing to miss).
        self.subscription_healthy = True
        tier_telemetry.track(self)

    def __repr__(self) -> str:
        return f"RedisBackend({self.url!r}, namespace={self.namespace!r})"

    # -- keys -------------------------------------------------------------------------------
    def _rkey(self, key: str) -> str:
        return self._prefix + key

    def _lock_key(self, key: str) -> str:
        return self._prefix + key + scripts.LOCK_SUFFIX

    def _index_key(self, key: str) -> str:
        """The index of ``key``'s namespace."""
        return self._prefix + namespace_of(key) + scripts.INDEX_SUFFIX

    # -- the guarded round trip -------------------------------------------------------------
    async def _call(
        self, op: str, fn: Callable[..., Awaitable[Any]], *args: Any, timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """One round trip through the guarded link; ``FAILED`` on outage."""
        backplane = self._backplane
        if not self._closed and (
            (backplane is None and len(self._l1)) or (backplane is not None and not backplane.running)
        ):
            # First use inside an event loop by an attached cache, or a new event loop
            # after the one the subscriber ran in was closed.
            self._start_backplane()
        result = await self._link.call(op, fn, *args, timeout=timeout, **kwargs)
        if result is not FAILED and self._pending and (
            self._flush_task is None or self._flush_task.done()
        ):
            self._flush_task = self._link.spawn(self._flush_pending())
        return result

    # -- codec ------------------------------------------------------------------------------
    def _encode(self, value: Any) -> bytes | None:
        try:
            return self.codec.encode(value)
        except Exception as exc:  # CodecError, or any bug: never break the tool call
            self.stats.unencodable += 1
            self._link.warn(f"encode:{type(value).__qualname__}",
                       "agent_cache: not storing a %s in Redis (kept in L1 only): %s",
                       type(value).__qualname__, exc)
            return None

    def _decode(self, payload: bytes) -> Any:
        try:
            return self.codec.decode(payload)
        except Exception as exc:  # CodecError (refused), or a codec bug on hostile input
            self.stats.corrupt += 1
            self._link.warn("decode", "agent_cache: ignoring a Redis value that cannot be read "
                       "safely (tampered, unsigned or foreign): %s", exc)
            return MISSING

    # -- Backend protocol -------------------------------------------------------------------
    async def get(self, key: str) -> Any:
        """The value stored for ``key``, or ``MISSING`` (absent, unreadable, or Redis away)."""
        return value_of(await self.get_entry(key))

    async def get_entry(self, key: str) -> Entry | Any:
        """``(value, seconds left or None)`` for ``key``, or ``MISSING`` like :meth:`get`.

        The value and its PTTL are read in one atomic step; the seconds left are counted
        down by the round trip, so an L1 copy kept that long never outlives the Redis entry.
        """
        found = await self._read("get", key)
        if found is FAILED:
            return MISSING
        raw, left, _ = found
        value = MISSING if raw is None else self._decode(raw)
        if value is MISSING:
            self.stats.misses += 1
            return MISSING
        self.stats.hits += 1
        return value, left

    async def _read(self, op: str, key: str, *, lock: bool = False) -> Any:
        """``(payload or None, seconds left or None, lock held)`` in one round trip, or
        ``FAILED``. The lock is only looked at with ``lock=True``."""
        keys = [self._rkey(key), self._lock_key(key)] if lock else [self._rkey(key)]
        sent = time.monotonic()
        found = await self._call(op, scripts.run, scripts.READ, keys, [])
        if found is FAILED:
            return FAILED
        pttl = int(found[1])
        left = counted_down(None if pttl < 0 else pttl / 1000.0, sent)
        return found[0], left, lock and bool(found[2])

    async def set(self, key: str, value: Any, ttl: float | None) -> None:
        """Store ``value`` for ``ttl`` seconds (``None``: no expiry); a no-op on outage."""
        if ttl is not None and ttl <= 0:
            return
        payload = self._encode(value)
        if payload is None:
            return
        result = await self._call(
            "set", scripts.run, scripts.SET, [self._rkey(key), self._index_key(key)],
            [payload, ttl_ms(ttl) or 0],
        )
        if result is not FAILED:
            self.stats.writes += 1
        # Other replicas' L1 copies of this key are now outdated.
        await self._announce(KIND_DELETE, namespace_of(key), key, result is not FAILED)

    async def delete(self, key: str) -> None:
        """Remove ``key`` and its load lock (which fences a load in flight elsewhere)."""
        result = await self._call(
            "delete", scripts.run, scripts.DELETE,
            [self._rkey(key), self._lock_key(key), self._index_key(key)], [],
        )
        if result is not FAILED:
            self.stats.deletes += 1
        await self._announce(KIND_DELETE, namespace_of(key), key, result is not FAILED)

    async def clear(self, namespace: str) -> int:
        """Remove every key (and load lock) of ``namespace``; ``-1`` if Redis was away."""
        index = self._prefix + namespace + scripts.INDEX_SUFFIX
        result = await self._call(
            "clear", scripts.run, scripts.CLEAR, [index], [], timeout=self.clear_timeout
        )
        await self._announce(KIND_CLEAR, namespace, None, result is not FAILED)
        if result is FAILED:
            return -1
        cleared: int = result  # the CLEAR script returns how many keys it removed
        self.stats.cleared_keys += cleared
        return cleared

    async def _announce(self, kind: str, namespace: str, key: str | None, written: bool) -> None:
        """Publish an invalidation whose Redis write succeeded; queue it for replay if not."""
        if not self.publish_invalidations:
            return
        if written:
            await self.publish_invalidation(kind, namespace, key)
        else:
            self._queue_pending(kind, namespace, key)

    async def close(self) -> None:
        """Stop the subscriber and release every connection."""
        self._closed = True
        tier_telemetry.untrack(self)
        if self._backplane is not None:
            await self._backplane.close()
        self.subscription_healthy = True
        await self._link.close()

    # -- backplane --------------------------------------------------------------------------
    async def subscribe(
        self, callback: InvalidationCallback | None = None, *, wait: float | None = None
    ) -> bool:
        """Deliver other replicas' invalidations to ``callback(kind, namespace, key)``.

        ``kind`` is ``"clear"`` (``key`` is ``None``), ``"delete"`` (``key`` is the cache
        key), or ``"reset"`` (sent locally each time the subscription is established: drop
        the whole L1, it may have missed messages). Attached caches are kept coherent
        without a callback. Returns whether the subscription was confirmed within ``wait``
        seconds (default ``4 * op_timeout``); either way it keeps (re)connecting in the
        background, and :meth:`l1_trusted` says when it is healthy.
        """
        if callback is not None:
            self._listeners.append(callback)
        backplane = self._start_backplane()
        return await backplane.wait_connected(4 * self.op_timeout if wait is None else wait)

    def attach_cache(self, cache: Any) -> None:
        """Called by ``AsyncCache(backend=self)``: keep that L1 coherent across processes.
        The subscription starts at the cache's first use inside an event loop."""
        self._l1.attach(cache)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # decorated at import time: start later, in _call
        self._start_backplane()

    def _start_backplane(self) -> Backplane:
        self._link.current_client()  # a new event loop gets a new client first
        if self._backplane is None:
            self._backplane = Backplane(
                self._link.current_client, self.channel, self.sender_id,
                health_interval=self._health_interval, op_timeout=self.op_timeout,
                on_health=self._on_subscription_health,
            )
        if not self._backplane.running:
            self._on_subscription_health(False)
            self._backplane.start(self._dispatch)
        return self._backplane

    async def _dispatch(self, kind: str, namespace: str, key: str | None) -> None:
        self._l1.on_event(kind, namespace, key)
        for listener in list(self._listeners):
            result = listener(kind, namespace, key)
            if inspect.isawaitable(result):
                await result

    def _on_subscription_health(self, connected: bool) -> None:
        healthy = connected or self._closed
        self.subscription_healthy = healthy
        if healthy:
            self._l1.resume()
        else:
            self._l1.suspend()

    def l1_trusted(self) -> bool:
        """May the cache serve an L1 hit? ``False`` while the subscription is down."""
        return self.subscription_healthy

    def is_connected(self) -> bool:
        """Is the invalidation subscription confirmed and healthy?"""
        return self._backplane is not None and self._backplane.connected

    async def publish_invalidation(
        self, kind: str, namespace: str, key: str | None = None
    ) -> bool:
        """Tell other replicas to drop L1 copies (call after deleting in Redis).

        Returns ``False`` when Redis is away: the invalidation is then queued and re-sent,
        with its Redis deletion repeated first, as soon as Redis answers again.
        """
        message = encode_message(self.sender_id, kind, namespace, key)
        result = await self._call("publish", Redis.publish, self.channel, message)
        if result is FAILED:
            self._queue_pending(kind, namespace, key)
            return False
        self.stats.published += 1
        return True

    async def invalidate(self, kind: str, namespace: str, key: str | None = None) -> bool:
        """Delete in Redis (``clear`` a namespace or ``delete`` one key), then publish.
        ``False`` when Redis was away (the invalidation is then queued for replay)."""
        before = self.stats.publish_failures
        if kind == KIND_CLEAR:
            await self.clear(namespace)
        elif kind == KIND_DELETE and key is not None:
            await self.delete(key)
        else:
            raise ValueError(f"cannot invalidate kind={kind!r} key={key!r}")
        return self.stats.publish_failures == before

    async def sync_backplane(self, timeout: float = 1.0) -> bool:
        """Wait until every invalidation published before this call has reached us.

        Publishes a marker to ourselves; Redis delivers one channel's messages in order,
        so when the marker arrives all earlier invalidations have been applied.
        """
        backplane = self._backplane
        if backplane is None or not backplane.connected:
            return False
        marker, arrived = backplane.new_sync_marker()
        try:
            if await self._call("publish", Redis.publish, self.channel, marker) is FAILED:
                return False
            await asyncio.wait_for(arrived, timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            backplane.forget_sync_marker(arrived)

    def _queue_pending(self, kind: str, namespace: str, key: str | None) -> None:
        self.stats.publish_failures += 1
        self._pending.pop((kind, namespace, key), None)
        self._pending[(kind, namespace, key)] = None
        while len(self._pending) > self._max_pending:
            dropped = next(iter(self._pending))
            del self._pending[dropped]
            self._link.warn("pending", "agent_cache: too many invalidations queued while Redis is "
                       "away; dropped %s", dropped)

    async def _flush_pending(self) -> None:
        """Replay invalidations that could not be sent: delete first, then publish."""
        while self._pending and not self._closed:
            kind, namespace, key = next(iter(self._pending))
            del self._pending[(kind, namespace, key)]
            if not await self.invalidate(kind, namespace, key):
                return  # re-queued; the next successful round trip tries again

    # -- introspection ----------------------------------------------------------------------
    def get_metrics(self) -> dict[str, Any]:
        """Counters, breaker state and backplane health, as a plain dict."""
        metrics: dict[str, Any] = asdict(self.stats)
        metrics["errors"] = self._link.errors
        metrics["short_circuits"] = self._link.short_circuits
        metrics["breaker_state"] = self.breaker.state
        metrics["breaker_state_value"] = _breaker.STATE_VALUES[self.breaker.state]
        metrics["breaker_opened"] = self.breaker.opened_count
        metrics["pending_invalidations"] = len(self._pending)
        bp = self._backplane
        metrics["backplane_connected"] = bool(bp and bp.connected)
        metrics["backplane_received"] = bp.received if bp else 0
        metrics["backplane_dropped"] = bp.dropped if bp else 0
        metrics["backplane_resubscribes"] = bp.resubscribes if bp else 0
        metrics["backplane_drops"] = bp.drops if bp else 0
        metrics.update(l1_summary(self._l1))
        return metrics


__all__ = ["RedisBackend", "RedisStats", "OUTAGE_ERRORS"]
