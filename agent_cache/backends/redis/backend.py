"""``RedisBackend``: the shared tier, composed of the parts of this package.

- :mod:`.keys` (key layout, generations) and :mod:`.scripts` (the atomic Lua steps): the store;
- :mod:`.lock`: distributed single-flight (load once across processes);
- :mod:`.backplane`: pub/sub invalidations, batches and the PING lease;
- :mod:`.link` + :mod:`.breaker`: one guarded connection pool (timeouts, breaker, redaction);
- :mod:`.coherence`: applies invalidations and trust changes to the attached L1s.

See the package docstring for the promises they keep together.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from ...core.sentinel import MISSING
from ...telemetry import names as tn
from ...telemetry import tier as tier_telemetry
from .._support import namespace_of
from ..base import Entry, value_of
from ..codec import Codec, default_codec
from ..stats import TierStats
from . import breaker as _breaker
from . import scripts
from .backplane import (
    _KIND_SYNC,
    KIND_CLEAR,
    KIND_DELETE,
    Backplane,
    InvalidationCallback,
    encode_message,
)
from .coherence import L1Registry, l1_summary
from .keys import KeyLayout, fresh_generation
from .link import FAILED, OUTAGE_ERRORS, Redis, RedisLink
from .lock import LoadLockMixin, counted_down

T = TypeVar("T")

log = logging.getLogger("agent_cache.backends.redis")

_RIGHTS_NAMESPACE = "\x00agent_cache-rights-check"

#: The commands each script runs, for the ERROR when a user may not run one of them.
_SCRIPT_COMMANDS = {
    "bump": "SET/PUBLISH", "clear": "SET/PUBLISH", "read": "GET/SET/PTTL/EXISTS",
    "get": "GET/SET/PTTL", "wait": "GET/SET/PTTL/EXISTS", "set": "GET/SET",
    "delete": "GET/SET/UNLINK/PUBLISH", "lock": "GET/SET/PTTL/PEXPIRE", "store": "GET/SET/DEL",
    "unlock": "GET/DEL",
}
_MAX_GENERATION_RETRIES = 3


@dataclass
class RedisStats(TierStats):
    """The tier counters every backend keeps, plus the Redis tier's own; read by
    ``get_metrics()`` and by observable instruments."""

    cleared_keys: int = 0  # kept for compatibility: clears are O(1) and count nothing
    published: int = 0  # invalidations sent on the backplane
    publish_failures: int = 0  # invalidations queued for retry because Redis was away
    locks_acquired: int = 0
    locks_contended: int = 0  # another process held the load lock
    lock_waits_filled: int = 0  # a waiter got the value another process loaded
    lock_waits_abandoned: int = 0  # the holder died / was fenced / timed out: load locally
    bypassed: int = 0  # reads served by the loader because the tier was not trusted
    resyncs: int = 0  # generations bumped after trust was lost (see _resync)
    generation_retries: int = 0  # a script found another generation than believed


class RedisBackend(LoadLockMixin):
    """A Redis second tier shared by every replica. See the module docstring.

    ``url``: a redis-py URL (``redis://[user:password@]host:port/db``, or ``rediss://``
    with redis-py's TLS parameters such as ``?ssl_ca_certs=...&ssl_certfile=...``).
    ``namespace``: prefix of every key and of the pub/sub channel, so several applications
    can share one Redis. ``codec``: :func:`~agent_cache.backends.codec.default_codec` by
    default (JSON, or signed pickle when ``AGENT_CACHE_SIGNING_KEY`` is set); pass
    ``SignedPickleCodec(key)`` for arbitrary picklable values. ``op_timeout``: bound of one
    round trip, in seconds. ``lock_ttl``: lifetime of a single-flight lock, i.e. how long
    other processes wait for a loader before loading themselves.
    ``publish_invalidations``: announce every ``set`` / ``delete`` / ``clear`` on the
    backplane so other replicas drop their L1 copies. ``failure_threshold`` consecutive
    failures open the breaker for ``reset_timeout`` seconds. ``health_interval``: the
    longest an idle subscription goes without a PING. ``clear_timeout``: bound of one
    invalidation attempt (a clear or delete; these ignore the breaker, so one that fails
    has waited that long for Redis). ``lease``: how long one answered PING vouches for the
    L1 (default ``clear_timeout / 2``; at most ``clear_timeout``, so every replica stops
    trusting its L1 before any invalidation can have failed for lack of an answer; see the
    module docstring).
    ``max_pending_invalidations``: how many invalidations are kept for replay while Redis is
    away (oldest dropped first, with an ERROR and the L1 of every replica stays suspended
    until a resync). ``stripes``: generation keys per namespace (default 1; 16 with
    ``cluster=True`` so a namespace spreads over 16 slots). ``cluster``: talk to a Redis
    Cluster (``redis.asyncio.RedisCluster``). ``check_permissions``: on first use, run
    every command the tier needs once and disable the tier, with an ERROR naming the
    missing permission, if the Redis user lacks one.
    """

    tier_name = tn.TIER_REDIS

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
        lease: float | None = None,
        max_pending_invalidations: int = 1024,
        publish_invalidations: bool = True,
        stripes: int | None = None,
        cluster: bool = False,
        check_permissions: bool = True,
    ) -> None:
        if not isinstance(url, str) or not url:
            raise TypeError(f"url must be a non-empty str, got {type(url).__name__}")
        for name, value in (("op_timeout", op_timeout), ("clear_timeout", clear_timeout),
                            ("lock_ttl", lock_ttl), ("health_interval", health_interval)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        self.url = url
        self.namespace = namespace
        self.codec = codec if codec is not None else default_codec()
        self.op_timeout = op_timeout
        self.clear_timeout = clear_timeout
        if lease is None:
            lease = clear_timeout / 2
        elif isinstance(lease, bool) or not isinstance(lease, (int, float)) or not 0 < lease <= clear_timeout:
            raise ValueError(
                f"lease must be a number of seconds in (0, clear_timeout={clear_timeout}], got {lease!r}: "
                "a longer lease lets a replica serve L1 hits after another replica's invalidation failed")
        self.lock_ttl = lock_ttl
        self.cluster = cluster
        self._prefix = f"{namespace}:"
        self._layout = KeyLayout(self._prefix, stripes if stripes is not None else (16 if cluster else 1))
        self.channel = f"{namespace}:invalidations"
        #: Identifies this backend instance on the backplane so it ignores its own messages.
        self.sender_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._link = RedisLink(url, op_timeout=op_timeout, failure_threshold=failure_threshold,
                               reset_timeout=reset_timeout, on_refused=self._refused,
                               cluster=cluster)
        self.breaker = self._link.breaker
        self.stats = RedisStats()
        self._health_interval = health_interval
        self._lease = lease
        self.publish_invalidations = publish_invalidations
        self._backplane: Backplane | None = None
        self._listeners: list[InvalidationCallback] = []
        self._l1 = L1Registry()
        self._pending: dict[tuple[str, str, str | None], None] = {}  # ordered set
        self._max_pending = max_pending_invalidations
        self._flush_task: asyncio.Task[Any] | None = None
        self._dropped: set[str] = set()  # namespaces of invalidations dropped from the queue
        self._resync_task: asyncio.Task[Any] | None = None
        self._closed = False
        self._check_permissions = check_permissions
        self._rights_checked: Any = None  # the client the rights were checked on
        self._rights_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        #: Why the tier is disabled (a permission is missing), or ``None``.
        self.disabled: str | None = None
        #: ``True`` after trust in the backplane was lost, until every attached namespace
        #: has been given a fresh generation: no L1 and no Redis reads meanwhile.
        self._untrusted = False
        self._was_connected = False
        #: ``False`` while a requested subscription is down: the cache must not serve L1
        #: hits then. ``True`` when no subscription was requested (nothing to miss).
        self.subscription_healthy = True
        tier_telemetry.track(self)

    def __repr__(self) -> str:
        return f"RedisBackend({self._link.safe_url!r}, namespace={self.namespace!r})"

    # -- trust ------------------------------------------------------------------------------
    def _usable(self, namespace: str) -> bool:
        """May this process read ``namespace`` from Redis (or store into it) now?"""
        if self.disabled is None and not self._untrusted and namespace not in self._l1.fenced:
            return True
        self._ensure_backplane()  # trust comes back only through a running subscriber
        return False

    def _ensure_backplane(self) -> None:
        backplane = self._backplane
        if not self._closed and (
            (backplane is None and len(self._l1)) or (backplane is not None and not backplane.running)
        ):
            # First use inside an event loop by an attached cache, or a new event loop
            # after the one the subscriber ran in was closed.
            self._start_backplane()

    def _refused(self, op: str, exc: BaseException) -> None:
        """Redis refused a command for lack of a permission: disable the tier, loudly."""
        if self.disabled is not None:
            return
        text = self._link.scrub(str(exc))
        found = re.search(r"run the '([^']+)' command|access the '([^']+)' channel", text)
        if found:
            what = f"run {found.group(1).upper()}" if found.group(1) else f"use channel {found.group(2)}"
        elif "keys" in text:
            what = f"access the keys '{self._prefix}*'"
        else:
            what = f"run {_SCRIPT_COMMANDS.get(op, op)} inside a script"
        self.disabled = f"missing permission to {what} ({op}): {text}"
        log.error(
            "agent_cache: Redis tier %s DISABLED: the Redis user lacks the permission to %s "
            "(%s). The tier needs EVALSHA/EVAL/SCRIPT, PUBLISH, SUBSCRIBE and PING on keys "
            "'%s*' and channel '%s'. Until that is granted every read is served by its loader "
            "and no in-memory copy is kept.",
            self._link.safe_url, what, text, self._prefix, self.channel,
        )
        self._l1.suspend()

    async def _ensure_rights(self) -> None:
        """Check, once per client, that the Redis user may run everything the tier needs."""
        if not self._check_permissions or self.disabled is not None:
            return
        client = self._link.current_client()
        if self._rights_checked is client:
            return
        loop = asyncio.get_running_loop()
        if self._rights_lock is None or self._rights_lock[0] is not loop:
            self._rights_lock = (loop, asyncio.Lock())
        async with self._rights_lock[1]:
            if self._rights_checked is client:
                return
            if await self._probe_rights():
                self._rights_checked = client

    async def _probe_rights(self) -> bool:
        """Run each script and pub/sub command once on a probe key; ``False`` if the answer
        is unknown (Redis away) or a permission is missing (the tier is then disabled)."""
        link = self._link
        key = f"{_RIGHTS_NAMESPACE}\x1f{'0' * 32}"
        marker = encode_message(self.sender_id, _KIND_SYNC, uuid.uuid4().hex)
        gen = fresh_generation()
        gkey, vkey, lkey = self._layout.entry_keys(key, gen)
        # Plain commands first (their refusal names the command), then each script (whose
        # refusal names the script line: see _SCRIPT_COMMANDS in the log).
        if await link.call("publish", Redis.publish, self.channel, marker) is FAILED:
            return False
        if await link.call("subscribe", lambda _client, channel: _probe_subscribe(
                link.pubsub_client(), channel), self.channel, timeout=4 * self.op_timeout) is FAILED:
            return False
        steps: list[tuple[str, Any, list[str], list[Any]]] = [
            ("bump", scripts.BUMP, [gkey], [self.channel, marker, gen]),
            ("read", scripts.READ, [gkey, vkey, lkey], [gen, fresh_generation()]),
            ("set", scripts.SET, [gkey, vkey], [gen, fresh_generation(), b"0", 1000]),
            ("delete", scripts.DELETE, [gkey, vkey, lkey],
             [gen, fresh_generation(), self.channel, marker]),
            ("lock", scripts.ACQUIRE, [gkey, lkey, vkey], [gen, fresh_generation(), "t", 1000]),
            ("store", scripts.STORE_AND_RELEASE, [gkey, vkey, lkey], [gen, "t", b"0", 1000]),
            ("unlock", scripts.RELEASE, [lkey], ["t"]),
            ("delete", scripts.DELETE, [gkey, vkey, lkey], [gen, fresh_generation(), "", b""]),
        ]
        for op, script, keys, args in steps:
            if await link.call(op, scripts.run, script, keys, args) is FAILED:
                return False
        return self.disabled is None

    # -- the guarded round trip -------------------------------------------------------------
    async def _call(
        self, op: str, fn: Callable[..., Awaitable[T]], *args: Any, timeout: float | None = None,
        force: bool = False, **kwargs: Any,
    ) -> T | Any:
        """One round trip through the guarded link; ``FAILED`` on outage or when disabled."""
        if self.disabled is not None:
            return FAILED
        if force and timeout is None:
            timeout = self.clear_timeout  # an invalidation attempt (see clear_timeout)
        self._ensure_backplane()
        if self._rights_checked is not self._link.client and self._check_permissions:
            await self._ensure_rights()  # once per client (event loop); may disable the tier
            if self._is_disabled():
                return FAILED
        return await self._link.call(op, fn, *args, timeout=timeout, force=force, **kwargs)

    def _is_disabled(self) -> bool:
        return self.disabled is not None

    async def _keyed(
        self, op: str, script: Any, key: str, pick: Callable[[str, str, str], list[str]],
        extra: Callable[[str], list[Any]], *, force: bool = False, timeout: float | None = None,
    ) -> tuple[Any, str]:
        """Run a generation-checked script for ``key``: ``(reply, generation)``, retried
        when Redis answers another generation than believed; ``FAILED`` on outage."""
        for _ in range(_MAX_GENERATION_RETRIES):
            gen = self._layout.believed(key)
            gkey, vkey, lkey = self._layout.entry_keys(key, gen)
            reply = await self._call(op, scripts.run, script, pick(gkey, vkey, lkey),
                                     [gen, fresh_generation(), *extra(gen)], force=force,
                                     timeout=timeout)
            if reply is FAILED:
                return FAILED, gen
            self._layout.learn(key, reply[0])
            if len(reply) > 1:
                return reply, gen
            self.stats.generation_retries += 1
        return FAILED, ""

    # -- codec ------------------------------------------------------------------------------
    def _encode(self, value: Any) -> bytes | None:
        try:
            return self.codec.encode(value)
        except Exception as exc:
            self.stats.unencodable += 1
            self._link.warn(f"encode:{type(value).__qualname__}",
                            "agent_cache: not storing a %s in Redis (kept in L1 only): %s",
                            type(value).__qualname__, exc)
            return None

    def _decode(self, payload: bytes) -> Any:
        try:
            return self.codec.decode(payload)
        except Exception as exc:
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
        if not self._usable(namespace_of(key)):
            self.stats.bypassed += 1
            return MISSING
        found = await self._read("get", key)
        if found is FAILED:
            return MISSING
        raw, left, _ = found
        value = MISSING if raw is None else self._decode(raw)
        self.stats.reads += 1
        if value is MISSING:
            self.stats.misses += 1
            return MISSING
        self.stats.hits += 1
        return value, left

    async def _read(self, op: str, key: str, *, lock: bool = False) -> Any:
        """``(payload or None, seconds left or None, lock held)`` in one round trip, or
        ``FAILED``. The lock is only looked at with ``lock=True``."""
        sent = time.monotonic()
        found, _ = await self._keyed(
            op, scripts.READ, key,
            (lambda g, v, lk: [g, v, lk]) if lock else (lambda g, v, lk: [g, v]), lambda gen: [],
        )
        if found is FAILED:
            return FAILED
        pttl = int(found[1])
        left = counted_down(None if pttl < 0 else pttl / 1000.0, sent)
        return (found[3] if len(found) > 3 else None), left, lock and bool(found[2])

    async def set(self, key: str, value: Any, ttl: float | None) -> None:
        """Store ``value`` for ``ttl`` seconds (``None``: no expiry); a no-op on outage."""
        if ttl is not None and ttl <= 0:
            await self.delete(key)
            return
        payload = self._encode(value)
        if payload is None:
            await self.delete(key)  # never leave an older value behind the new one
            return
        px = 0 if ttl is None else max(1, int(ttl * 1000 + 0.999))
        result, _ = await self._keyed("set", scripts.SET, key, lambda g, v, lk: [g, v],
                                      lambda gen: [payload, px])
        if result is not FAILED:
            self.stats.writes += 1
        # Other replicas' L1 copies of this key are now outdated.
        await self._announce(KIND_DELETE, namespace_of(key), key, result is not FAILED)

    async def delete(self, key: str) -> None:
        """Remove ``key`` and its load lock (which fences a load in flight elsewhere), and
        tell the other replicas in the same atomic step."""
        if not await self._delete(key):
            self._queue_pending(KIND_DELETE, namespace_of(key), key)

    async def _delete(self, key: str) -> bool:
        message = (encode_message(self.sender_id, KIND_DELETE, namespace_of(key), key)
                   if self.publish_invalidations else b"")
        inline = bool(message) and not self.cluster  # published by the script itself
        channel = self.channel if inline else ""
        result, _ = await self._keyed(
            "delete", scripts.DELETE, key, lambda g, v, lk: [g, v, lk],
            lambda gen: [channel, message if inline else b""], force=True,
        )
        if result is FAILED or (message and not inline and not await self._publish(message)):
            return False
        self.stats.deletes += 1
        if message:
            self.stats.published += 1
        return True

    async def clear(self, namespace: str) -> int:
        """Make every entry (and load lock) of ``namespace`` unreachable at once by giving
        it a fresh generation, and tell the other replicas. ``0``; ``-1`` if Redis was
        away (the clear is then retried in the background and the namespace is fenced:
        this process serves it from the loader until the clear has landed)."""
        if not await self._clear(namespace):
            self._queue_pending(KIND_CLEAR, namespace, None)
            return -1
        return 0

    async def _clear(self, namespace: str) -> bool:
        message = (encode_message(self.sender_id, KIND_CLEAR, namespace)
                   if self.publish_invalidations else b"")
        if not await self._bump([namespace], message):
            return False
        self.stats.clears += 1
        if message:
            self.stats.published += 1
        return True

    async def _bump(self, namespaces: Iterable[str], message: bytes) -> bool:
        """Give every stripe of ``namespaces`` a fresh generation, then publish ``message``
        (if any). One script on one server; one per stripe (its own slot) on a cluster."""
        layout = self._layout
        targets = [(ns, s) for ns in namespaces for s in range(layout.stripes)]
        if not targets:
            return True
        fresh = {t: fresh_generation() for t in targets}
        channel = self.channel if message else ""
        if not self.cluster:
            result = await self._call(
                "clear", scripts.run, scripts.BUMP, [layout.gen_key(*t) for t in targets],
                [channel, message, *fresh.values()], force=True,
            )
            ok = result is not FAILED
        else:
            results = await asyncio.gather(*(
                self._call("clear", scripts.run, scripts.BUMP, [layout.gen_key(*t)],
                           ["", b"", fresh[t]], force=True)
                for t in targets
            ))
            ok = all(r is not FAILED for r in results)
            if ok and message:
                ok = await self._publish(message)
        if ok:
            layout.generations.update(fresh)
        return ok

    async def _publish(self, message: bytes, *, force: bool = True) -> bool:
        """PUBLISH ``message`` on the channel. On a cluster it goes to the node every
        replica subscribes on (the URL's), so it has reached their connections when this
        returns, as on one server (a PUBLISH on another node would cross the cluster bus
        later)."""
        link = self._link
        if self.cluster:
            result = await self._call("publish", lambda _client, channel, body: link.pubsub_client()
                                      .publish(channel, body), self.channel, message, force=force)
        else:
            result = await self._call("publish", Redis.publish, self.channel, message, force=force)
        return result is not FAILED

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
        await self._ensure_rights()
        if self.disabled is not None:
            return False
        return await backplane.wait_connected(4 * self.op_timeout if wait is None else wait)

    def attach_cache(self, cache: Any) -> None:
        """Called by ``AsyncCache(backend=self)``: keep that L1 coherent across processes.
        The subscription starts at the cache's first use inside an event loop."""
        self._l1.attach(cache)
        if self.disabled is not None:
            cache.suspend()
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # decorated at import time: start later, in _call
        self._start_backplane()

    def _start_backplane(self) -> Backplane:
        self._link.pubsub_client()  # a new event loop gets a new client first
        if self._backplane is None:
            self._backplane = Backplane(
                self._link.pubsub_client, self.channel, self.sender_id,
                health_interval=self._health_interval, op_timeout=self.op_timeout,
                lease=self._lease, on_health=self._on_subscription_health,
                on_refused=lambda exc: self._refused("subscribe", exc),
            )
            self._backplane.batch_callback = self._dispatch_batch
        if not self._backplane.running:
            self._on_subscription_health(False)
            self._backplane.start(self._dispatch)
        return self._backplane

    async def _dispatch(self, kind: str, namespace: str, key: str | None) -> None:
        await self._dispatch_batch([(kind, namespace, key)])

    async def _dispatch_batch(self, events: list[tuple[str, str, str | None]]) -> None:
        self._l1.on_batch(events)
        for kind, namespace, key in events:
            if kind == KIND_CLEAR:
                self._layout.forget(namespace)  # the next script tells us the new one
            for listener in list(self._listeners):
                result = listener(kind, namespace, key)
                if inspect.isawaitable(result):
                    await result

    def _on_subscription_health(self, connected: bool) -> None:
        healthy = (connected or self._closed) and self.disabled is None
        self.subscription_healthy = healthy
        if not healthy:
            if self._was_connected and not self._closed:
                # Invalidations may be lost from here on (ours, or another replica's that
                # could not reach Redis): trust neither L1 nor Redis until resynced.
                self._untrusted = True
            self._l1.suspend()
            return
        self._was_connected = True
        if self._untrusted and not self._closed:
            self._start_resync()
        else:
            self._l1.resume()

    def _start_resync(self) -> None:
        if self._resync_task is None or self._resync_task.done():
            try:
                self._resync_task = self._link.spawn(self._resync())
            except RuntimeError:  # no event loop: the next health change starts it
                pass

    async def _resync(self) -> None:
        """After trust was lost: give every namespace this process caches a fresh
        generation before reading Redis or caching in memory again.

        Another replica's invalidation may have failed while Redis hung; it is retried in
        the background, but until it lands Redis still holds the old entries. Bumping the
        generations first means nothing written before the outage is read again here.
        """
        delay = 0.02
        while self._untrusted and not self._closed:
            backplane = self._backplane
            if backplane is None or not backplane.connected:
                return  # the next health change starts another resync
            namespaces = self._l1.namespaces() | {ns for _, ns, _ in self._pending} | self._dropped
            if await self._bump(namespaces, b""):
                self.stats.resyncs += 1
                self._dropped -= namespaces
                self._untrusted = False
                if backplane.connected and self.disabled is None:
                    self._l1.resume()
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    def l1_trusted(self) -> bool:
        """May the cache serve an L1 hit? ``False`` while the subscription is down."""
        return self.subscription_healthy and not self._untrusted

    def is_connected(self) -> bool:
        """Is the invalidation subscription confirmed and healthy?"""
        return self._backplane is not None and self._backplane.connected

    async def publish_invalidation(
        self, kind: str, namespace: str, key: str | None = None
    ) -> bool:
        """Tell other replicas to drop L1 copies (call after deleting in Redis).

        Returns ``False`` when Redis is away: the invalidation is then queued and re-sent,
        with its Redis deletion repeated first, in the background until it lands.
        """
        message = encode_message(self.sender_id, kind, namespace, key)
        if not await self._publish(message):
            self._queue_pending(kind, namespace, key)
            return False
        self.stats.published += 1
        return True

    async def invalidate(self, kind: str, namespace: str, key: str | None = None) -> bool:
        """Delete in Redis (``clear`` a namespace or ``delete`` one key) and publish, in one
        step. ``False`` when Redis was away (the invalidation is then queued for replay)."""
        if kind == KIND_CLEAR:
            return await self.clear(namespace) == 0
        if kind == KIND_DELETE and key is not None:
            ok = await self._delete(key)
            if not ok:
                self._queue_pending(kind, namespace, key)
            return ok
        raise ValueError(f"cannot invalidate kind={kind!r} key={key!r}")

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
            if not await self._publish(marker, force=False):
                return False
            await asyncio.wait_for(arrived, timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            backplane.forget_sync_marker(arrived)

    # -- pending invalidations --------------------------------------------------------------
    def _queue_pending(self, kind: str, namespace: str, key: str | None) -> None:
        """Remember an invalidation that did not reach Redis; fence its namespace here and
        retry it in the background until it lands."""
        if self.disabled is not None:
            return
        self.stats.publish_failures += 1
        self._pending.pop((kind, namespace, key), None)
        self._pending[(kind, namespace, key)] = None
        self._l1.fence_namespace(namespace)
        while len(self._pending) > self._max_pending:
            dropped = next(iter(self._pending))
            del self._pending[dropped]
            self._dropped.add(dropped[1])  # bumped by the resync instead
            if not any(ns == dropped[1] for _, ns, _ in self._pending):
                self._l1.unfence_namespace(dropped[1])
            # The dropped one can no longer be replayed: trust nothing here until every
            # namespace this process caches has a fresh generation.
            self._untrusted = True
            self._l1.suspend()
            self._start_resync()
            log.error("agent_cache: more than %d invalidations queued while Redis is away; "
                      "dropped one of namespace %r: every namespace is resynced when Redis is "
                      "back", self._max_pending, dropped[1])
        if not self._closed and (self._flush_task is None or self._flush_task.done()):
            try:
                self._flush_task = self._link.spawn(self._flush_pending())
            except RuntimeError:  # no event loop: replayed at the next call
                pass

    async def _flush_pending(self) -> None:
        """Replay queued invalidations until every one has landed (delete/bump, publish)."""
        delay = 0.01
        while self._pending and not self._closed:
            kind, namespace, key = item = next(iter(self._pending))
            if kind == KIND_CLEAR:
                ok = await self._clear(namespace)
            elif key is not None:
                ok = await self._delete(key)
            else:  # pragma: no cover - never queued
                ok = True
            if not ok:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.25)
                continue
            delay = 0.01
            self._pending.pop(item, None)
            if not any(ns == namespace for _, ns, _ in self._pending):
                self._l1.unfence_namespace(namespace)
        if not self._untrusted and not self._pending and self.subscription_healthy:
            self._l1.resume()

    # -- introspection ----------------------------------------------------------------------
    def get_metrics(self) -> dict[str, Any]:
        """Counters, breaker state and backplane health, as a plain dict."""
        metrics: dict[str, Any] = self.stats.as_dict()
        metrics["errors"] = self._link.errors
        metrics["short_circuits"] = self._link.short_circuits
        metrics["breaker_state"] = self.breaker.state
        metrics["breaker_state_value"] = _breaker.STATE_VALUES[self.breaker.state]
        metrics["breaker_opened"] = self.breaker.opened_count
        metrics["pending_invalidations"] = len(self._pending)
        metrics["tier_disabled"] = int(self.disabled is not None)
        metrics["tier_trusted"] = int(self.l1_trusted() and self.disabled is None)
        bp = self._backplane
        metrics["backplane_connected"] = bool(bp and bp.connected)
        metrics["backplane_received"] = bp.received if bp else 0
        metrics["backplane_dropped"] = bp.dropped if bp else 0
        metrics["backplane_resubscribes"] = bp.resubscribes if bp else 0
        metrics["backplane_drops"] = bp.drops if bp else 0
        metrics["backplane_lapses"] = bp.lapses if bp else 0
        metrics["backplane_batches"] = bp.batches if bp else 0
        metrics.update(l1_summary(self._l1))
        return metrics


async def _probe_subscribe(client: Any, channel: str) -> bool:
    """SUBSCRIBE once and wait for the confirmation (raises on a refusal)."""
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(channel)
        while True:
            msg = await pubsub.get_message(timeout=1.0)
            if msg is not None and msg.get("type") == "subscribe":
                return True
    finally:
        with contextlib.suppress(Exception):  # only a probe: nothing to release on failure
            await pubsub.aclose()


__all__ = ["OUTAGE_ERRORS", "RedisBackend", "RedisStats"]
