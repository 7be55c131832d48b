"""The shared Redis tier: L2 behind every replica's in-memory L1.

:class:`RedisBackend` implements the :class:`~agent_cache.backends.base.Backend` protocol
(``get`` / ``set`` / ``delete`` / ``clear`` / ``close``) plus optional hooks the cache calls
when present:

- **backplane**: :meth:`~RedisBackend.subscribe`, :meth:`~RedisBackend.publish_invalidation`,
  :meth:`~RedisBackend.invalidate`, :meth:`~RedisBackend.l1_trusted`,
  :meth:`~RedisBackend.sync_backplane` (see :mod:`agent_cache.backends.backplane`);
- **distributed single-flight**: :meth:`~RedisBackend.acquire_load_lock`,
  :meth:`~RedisBackend.store_and_release`, :meth:`~RedisBackend.release_load_lock`,
  :meth:`~RedisBackend.wait_for_value`.

Failure policy: Redis being down, slow or refusing a command never raises into a tool call.
Every round trip is bounded by ``op_timeout``; a failure is logged (rate-limited), counted
in :attr:`RedisBackend.stats`, and answered as a miss / no-op. A :class:`CircuitBreaker`
stops paying the timeout once Redis is known to be down and probes it again after
``reset_timeout``. Values go through a codec (JSON by default, or HMAC-signed pickle);
unsigned, tampered or foreign payloads are misses with a warning and are never unpickled.

Redis layout (``P`` is the ``prefix``, ``K`` the cache key ``"{namespace}\\x1f{digest}"``)::

    P:K            the encoded value (PX = per-key TTL)
    P:K\\x1flock    single-flight lock: an owner token, PX = lock_ttl
    P:invalidations   the pub/sub channel

A lock key sits under its value's namespace, so ``clear``/``delete`` remove locks too: a
loader that started before an invalidation can then not store its (possibly stale) result.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Awaitable, Callable, TypeVar

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError
from redis.retry import Retry

from ..core.sentinel import MISSING
from ..telemetry import names as tn
from ..telemetry import runtime as tel
from ..telemetry import spans
from ..telemetry import tier as tier_telemetry
from . import breaker as _breaker
from .backplane import (
    KIND_CLEAR,
    KIND_DELETE,
    Backplane,
    InvalidationCallback,
    describe_error,
    encode_message,
)
from ._support import namespace_of
from .codec import Codec, default_codec
from .redis_tier import L1Registry, l1_summary


log = logging.getLogger("agent_cache.backends.redis")

T = TypeVar("T")

#: Errors that mean "Redis is unreachable or too slow", answered as a miss / no-op.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)

_LOCK_SUFFIX = "\x1flock"
_LOCAL_TOKEN_PREFIX = "local:"  # a lock "held" only because Redis could not be asked

# KEYS[1] = lock. ARGV[1] = token. Delete the lock only if we still own it.
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS[1] = value, KEYS[2] = lock. ARGV = token, payload, ttl in ms (0 = no expiry).
# Store only while we still own the lock: an invalidation deletes the lock, which fences
# a load that started before it. Storing and releasing in one step means a waiter sees
# either the lock or the value, never a gap in between.
_STORE_AND_RELEASE_LUA = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
redis.call('DEL', KEYS[2])
return 1
"""


class _Failed:
    """Result of a round trip that did not happen (outage, timeout, open breaker)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<failed>"


_FAILED: Any = _Failed()


@dataclass
class RedisStats:
    """Plain counters, read by ``get_metrics()`` and by observable instruments."""

    hits: int = 0  # get() found a readable value
    misses: int = 0  # get() found nothing
    corrupt: int = 0  # stored payloads refused by the codec (tampered, foreign, malformed)
    unencodable: int = 0  # values the codec refused to store (kept in L1 only)
    errors: int = 0  # round trips that failed or timed out
    short_circuits: int = 0  # round trips skipped because the breaker was open
    writes: int = 0
    deletes: int = 0
    cleared_keys: int = 0
    published: int = 0  # invalidations sent on the backplane
    publish_failures: int = 0  # invalidations queued for retry because Redis was away
    locks_acquired: int = 0
    locks_contended: int = 0  # another process held the load lock
    lock_waits_filled: int = 0  # a waiter got the value another process loaded
    lock_waits_abandoned: int = 0  # the holder died / was fenced / timed out: load locally


def _glob_escape(text: str) -> str:
    """Escape Redis glob metacharacters so a namespace matches only itself."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


class RedisBackend:
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
    """

    tier_name = tn.TIER_REDIS

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        namespace: str = "agent_cache",
        codec: Codec | None = None,
        op_timeout: float = 0.25,
        clear_timeout: float = 2.0,
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
        # No redis-py retries: a failure must surface here, fast, to feed the breaker
        # (and, on the pub/sub connection, to mark the L1 stale rather than reconnect
        # silently with messages lost in between).
        self._client = aioredis.Redis.from_url(
            url,
            socket_timeout=op_timeout,
            socket_connect_timeout=op_timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
        )
        self._release_script = self._client.register_script(_RELEASE_LUA)
        self._store_script = self._client.register_script(_STORE_AND_RELEASE_LUA)
        self.breaker = _breaker.CircuitBreaker(failure_threshold, reset_timeout)
        self.stats = RedisStats()
        self._health_interval = health_interval
        self.publish_invalidations = publish_invalidations
        self._backplane: Backplane | None = None
        self._listeners: list[InvalidationCallback] = []
        self._l1 = L1Registry()
        self._pending: dict[tuple[str, str, str | None], None] = {}  # ordered set
        self._max_pending = max_pending_invalidations
        self._flush_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_warning: dict[str, float] = {}
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
        return self._prefix + key + _LOCK_SUFFIX

    # -- the guarded round trip -------------------------------------------------------------
    async def _call(
        self, op: str, fn: Callable[..., Awaitable[T]], *args: Any, timeout: float | None = None,
        **kwargs: Any,
    ) -> T | Any:
        """Run one Redis round trip under the breaker and a timeout; ``_FAILED`` on outage."""
        if self._backplane is None and len(self._l1) and not self._closed:
            self._start_backplane()  # first use inside an event loop of an attached cache
        if self._closed or not self.breaker.allow():
            self.stats.short_circuits += 1
            return _FAILED
        try:
            result = await asyncio.wait_for(fn(*args, **kwargs), timeout or self.op_timeout)
        except asyncio.CancelledError:
            self.breaker.cancel_probe()
            raise
        except ResponseError as exc:  # Redis answered, with an error: not an outage
            self._succeeded()
            self._warn(f"response:{op}", "Redis refused %s: %s", op, exc)
            return _FAILED
        except OUTAGE_ERRORS as exc:
            self._failed(op, exc)
            return _FAILED
        self._succeeded()
        return result

    def _succeeded(self) -> None:
        if self.breaker.state != _breaker.CLOSED:
            log.warning("agent_cache: Redis tier %s reachable again; circuit breaker closed",
                        self.url)
        self.breaker.record_success()
        if self._pending and (self._flush_task is None or self._flush_task.done()):
            self._flush_task = self._spawn(self._flush_pending())

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """A background task that is kept referenced until it finishes."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _failed(self, op: str, exc: BaseException) -> None:
        self.stats.errors += 1
        if self.breaker.record_failure():
            self._warn(
                "open",
                "agent_cache: Redis tier %s unavailable (%s on %s); circuit breaker open, "
                "answering from L1 and loaders for %.1fs before probing again",
                self.url, describe_error(exc), op, self.breaker.reset_timeout,
            )
            # Idle pooled connections predate the outage: after a restart each would fail
            # once more and re-open the breaker. Drop them; new ones are made on demand.
            self._spawn(self._client.connection_pool.disconnect(inuse_connections=False))
        else:
            self._warn("outage", "agent_cache: Redis %s failed: %s", op, describe_error(exc))

    def _warn(self, kind: str, msg: str, *args: Any) -> None:
        """A warning at most every 10 s per kind: an outage must not flood the log."""
        now = time.monotonic()
        if now - self._last_warning.get(kind, -math.inf) >= 10.0:
            self._last_warning[kind] = now
            log.warning(msg, *args)
        else:
            log.debug(msg, *args)

    # -- codec ------------------------------------------------------------------------------
    def _encode(self, value: Any) -> bytes | None:
        try:
            return self.codec.encode(value)
        except Exception as exc:  # CodecError, or any bug: never break the tool call
            self.stats.unencodable += 1
            self._warn(f"encode:{type(value).__qualname__}",
                       "agent_cache: not storing a %s in Redis (kept in L1 only): %s",
                       type(value).__qualname__, exc)
            return None

    def _decode(self, payload: bytes) -> Any:
        try:
            return self.codec.decode(payload)
        except Exception as exc:  # CodecError (refused), or a codec bug on hostile input
            self.stats.corrupt += 1
            self._warn("decode", "agent_cache: ignoring a Redis value that cannot be read "
                       "safely (tampered, unsigned or foreign): %s", exc)
            return MISSING

    # -- Backend protocol -------------------------------------------------------------------
    async def get(self, key: str) -> Any:
        """The value stored for ``key``, or ``MISSING`` (absent, unreadable, or Redis away)."""
        raw = await self._call("get", self._client.get, self._rkey(key))
        if raw is _FAILED:
            return MISSING
        if raw is None:
            self.stats.misses += 1
            return MISSING
        value = self._decode(raw)
        if value is MISSING:
            self.stats.misses += 1
        else:
            self.stats.hits += 1
        return value

    async def set(self, key: str, value: Any, ttl: float | None) -> None:
        """Store ``value`` for ``ttl`` seconds (``None``: no expiry); a no-op on outage."""
        if ttl is not None and ttl <= 0:
            return
        payload = self._encode(value)
        if payload is None:
            return
        px = _ttl_ms(ttl)
        result = await self._call("set", self._client.set, self._rkey(key), payload, px=px)
        if result is not _FAILED:
            self.stats.writes += 1
        # Other replicas' L1 copies of this key are now outdated.
        await self._announce(KIND_DELETE, namespace_of(key), key, result is not _FAILED)

    async def delete(self, key: str) -> None:
        """Remove ``key`` and its load lock (which fences a load in flight elsewhere)."""
        result = await self._call("delete", self._client.unlink, self._rkey(key), self._lock_key(key))
        if result is not _FAILED:
            self.stats.deletes += 1
        await self._announce(KIND_DELETE, namespace_of(key), key, result is not _FAILED)

    async def clear(self, namespace: str) -> int:
        """Remove every key (and load lock) of ``namespace``; ``-1`` if Redis was away."""
        result = await self._call("clear", self._clear, namespace, timeout=self.clear_timeout)
        await self._announce(KIND_CLEAR, namespace, None, result is not _FAILED)
        if result is _FAILED:
            return -1
        self.stats.cleared_keys += result
        return result

    async def _announce(self, kind: str, namespace: str, key: str | None, written: bool) -> None:
        """Publish an invalidation whose Redis write succeeded; queue it for replay if not."""
        if not self.publish_invalidations:
            return
        if written:
            await self.publish_invalidation(kind, namespace, key)
        else:
            self._queue_pending(kind, namespace, key)

    async def _clear(self, namespace: str) -> int:
        pattern = f"{_glob_escape(self._prefix + namespace)}\x1f*"
        removed = 0
        batch: list[bytes] = []
        async for rkey in self._client.scan_iter(match=pattern, count=500):
            batch.append(rkey)
            if len(batch) >= 500:
                removed += await self._client.unlink(*batch)
                batch.clear()
        if batch:
            removed += await self._client.unlink(*batch)
        return removed

    async def close(self) -> None:
        """Stop the subscriber and release every connection."""
        self._closed = True
        tier_telemetry.untrack(self)
        if self._backplane is not None:
            await self._backplane.close()
        for task in list(self._tasks):
            task.cancel()
        self.subscription_healthy = True
        try:
            await self._client.aclose()
        except Exception:  # closing a dead connection must not raise either
            pass

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
        if self._backplane is None:
            self._backplane = Backplane(
                self._client, self.channel, self.sender_id,
                health_interval=self._health_interval, op_timeout=self.op_timeout,
                on_health=self._on_subscription_health,
            )
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
        result = await self._call("publish", self._client.publish, self.channel, message)
        if result is _FAILED:
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
            if await self._call("publish", self._client.publish, self.channel, marker) is _FAILED:
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
            self._warn("pending", "agent_cache: too many invalidations queued while Redis is "
                       "away; dropped %s", dropped)

    async def _flush_pending(self) -> None:
        """Replay invalidations that could not be sent: delete first, then publish."""
        while self._pending and not self._closed:
            kind, namespace, key = next(iter(self._pending))
            del self._pending[(kind, namespace, key)]
            if not await self.invalidate(kind, namespace, key):
                return  # re-queued; the next successful round trip tries again

    # -- distributed single-flight ----------------------------------------------------------
    async def acquire_load_lock(self, key: str) -> str | None:
        """Try to become the one process that loads ``key``.

        Returns an owner token (pass it to :meth:`store_and_release` or
        :meth:`release_load_lock`), or ``None`` when another live process holds the lock
        (call :meth:`wait_for_value`). When Redis is away it returns a local token: every
        process loads for itself rather than waiting on a lock nobody can see.
        """
        token = uuid.uuid4().hex
        result = await self._call(
            "lock", self._client.set, self._lock_key(key), token, nx=True, px=_ttl_ms(self.lock_ttl)
        )
        if result is _FAILED:
            return _LOCAL_TOKEN_PREFIX + token
        if result:
            self.stats.locks_acquired += 1
            return token
        self.stats.locks_contended += 1
        return None

    async def release_load_lock(self, key: str, token: str) -> None:
        """Release the lock if ``token`` still owns it (compare-and-delete)."""
        if token.startswith(_LOCAL_TOKEN_PREFIX):
            return
        await self._call("unlock", self._release_script, keys=[self._lock_key(key)], args=[token])

    async def store_and_release(
        self, key: str, value: Any, ttl: float | None, token: str
    ) -> bool:
        """Store the loaded value and release the lock in one step, only if ``token``
        still owns the lock. ``False``: not stored (lock expired, or an invalidation
        fenced this load, or Redis away, or the value cannot be encoded)."""
        if token.startswith(_LOCAL_TOKEN_PREFIX):
            return False
        payload = self._encode(value) if ttl is None or ttl > 0 else None
        if payload is None:
            await self.release_load_lock(key, token)
            return False
        result = await self._call(
            "store", self._store_script,
            keys=[self._rkey(key), self._lock_key(key)], args=[token, payload, _ttl_ms(ttl) or 0],
        )
        stored = result is not _FAILED and bool(result)
        if stored:
            self.stats.writes += 1
        return stored

    async def wait_for_value(self, key: str, timeout: float | None = None) -> Any:
        """Wait for another process's load of ``key`` to land in Redis.

        Returns the value, or ``MISSING`` as soon as waiting is pointless: the lock is gone
        without a value (holder died, was fenced, or failed), Redis is away, or
        ``timeout`` (default ``lock_ttl``) passed. On ``MISSING`` the caller should try
        :meth:`acquire_load_lock` again or load itself.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.lock_ttl if timeout is None else timeout)
        delay = 0.002
        rkey, lkey = self._rkey(key), self._lock_key(key)
        while True:
            found = await self._call("wait", self._client.mget, rkey, lkey)
            if found is _FAILED:
                break
            raw, lock = found
            if raw is not None:
                value = self._decode(raw)
                if value is not MISSING:
                    self.stats.lock_waits_filled += 1
                    return value
                break
            if lock is None:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.05)
        self.stats.lock_waits_abandoned += 1
        return MISSING

    async def load_through(
        self, key: str, load: Callable[[], Awaitable[T]], ttl: float | None
    ) -> tuple[T, bool]:
        """Read ``key``; on a miss run ``load`` once across every process sharing Redis.

        Called by ``AsyncCache`` on an L1 miss (after its in-process single-flight). Returns
        ``(value, from_tier)``: ``from_tier`` is ``True`` when the value came from Redis
        (stored earlier, or loaded meanwhile by the process holding the lock). Exceptions of
        ``load`` propagate (after the lock is released, so waiters elsewhere do not wait
        for its expiry); Redis failures never do: the value is then loaded locally.
        """
        value = await self._traced("get", self.get(key))
        if value is not MISSING:
            return value, True
        for _ in range(3):  # a holder that dies or is fenced hands the lock on
            token = await self._traced("lock", self.acquire_load_lock(key))
            if token is None:
                value = await self._traced("wait", self.wait_for_value(key))
                if value is not MISSING:
                    return value, True
                continue
            try:
                if not token.startswith(_LOCAL_TOKEN_PREFIX):
                    value = await self._traced("get", self.get(key))  # filled meanwhile?
                    if value is not MISSING:
                        await self.release_load_lock(key, token)
                        return value, True
                value = await load()
            except BaseException:
                await self.release_load_lock(key, token)
                raise
            await self._traced("store", self.store_and_release(key, value, ttl, token))
            return value, False
        return await load(), False

    async def _traced(self, operation: str, round_trip: Awaitable[T]) -> T:
        """Await a Redis round trip of the load path, in a span when tracing is on."""
        tracer = tel.active_tracer()
        if tracer is None:
            return await round_trip
        name = f"{tn.SPAN_TIER} {operation}"
        with spans.current_span(tracer, name, {tn.ATTR_TIER: self.tier_name}) as span:
            result = await round_trip
            if operation in ("get", "wait"):
                span.set_attribute(tn.ATTR_RESULT, tn.RESULT_MISS if result is MISSING else tn.RESULT_HIT)
            return result

    # -- introspection ----------------------------------------------------------------------
    def get_metrics(self) -> dict[str, Any]:
        """Counters, breaker state and backplane health, as a plain dict."""
        metrics: dict[str, Any] = asdict(self.stats)
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


def _ttl_ms(ttl: float | None) -> int | None:
    return None if ttl is None else max(1, math.ceil(ttl * 1000))


__all__ = ["RedisBackend", "RedisStats", "OUTAGE_ERRORS"]
