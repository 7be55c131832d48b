"""Cross-process invalidation over Redis pub/sub.

Every replica keeps an in-memory L1 in front of the shared Redis tier. When one replica
invalidates (a resource ``clear`` or a single-key ``delete``), it deletes in Redis first and
then publishes a small JSON message; every *other* replica's subscriber drops its own L1
copies. A replica ignores its own messages (it has already invalidated locally).

Pub/sub is fire-and-forget: a replica that is disconnected misses messages. So the
subscriber exposes :attr:`Backplane.connected`, and while it is ``False`` the L1 must be
treated as stale. Each time the subscription is (re-)established the callback receives a
``"reset"`` event, telling the cache to drop its whole L1, since it may have missed
invalidations while it was away.

Messages (UTF-8 JSON, at most :data:`MAX_MESSAGE_BYTES`)::

    {"v": 1, "src": "<sender id>", "op": "clear"|"delete"|"sync", "ns": "<namespace>",
     "key": "<backend key>"|null}

Anything else on the channel (not JSON, wrong types, unknown op, too large) is counted in
``dropped`` and ignored: the channel is writable by anyone who can reach Redis. Messages
that arrive together are applied in batches of at most :data:`MAX_BATCH` (duplicates
coalesced, a namespace's deletes folded into its clear), yielding to the event loop
between batches, so a burst on the channel cannot stall the process.

**Lease.** A subscription that stays connected can still fall silent (a hung server). The
subscriber PINGs every ``ping_interval`` on the subscribed connection; Redis answers a PING
after every message published before it, so a PONG for a PING sent at ``t`` proves every
invalidation Redis applied before ``t`` has been delivered. The L1 is trusted until
``t + lease`` and :attr:`Backplane.connected` turns ``False`` the moment that lapses (a
timer, nothing on the hot path), so while Redis hangs no replica keeps serving L1 hits
for longer than ``lease``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

log = logging.getLogger("agent_cache.backends.redis.backplane")

MAX_MESSAGE_BYTES = 64 * 1024
PROTOCOL_VERSION = 1

KIND_CLEAR = "clear"
KIND_DELETE = "delete"
KIND_RESET = "reset"  # local only: the subscription was (re-)established, drop all of L1
_KIND_SYNC = "sync"  # a marker a replica sends to itself; see Backplane.sync
_WIRE_KINDS = frozenset({KIND_CLEAR, KIND_DELETE, _KIND_SYNC})

#: ``callback(kind, namespace, key)``; may return an awaitable.
InvalidationCallback = Callable[[str, str, str | None], Awaitable[None] | None]

#: Most messages applied in one go before the subscriber yields to the event loop.
MAX_BATCH = 64

Event = tuple[str, str, str | None]


@dataclass(frozen=True)
class Message:
    """One decoded backplane message."""

    sender: str
    kind: str
    namespace: str
    key: str | None


def encode_message(sender: str, kind: str, namespace: str, key: str | None = None) -> bytes:
    """The wire form of an invalidation; raises ``ValueError`` for an unknown kind."""
    if kind not in _WIRE_KINDS:
        raise ValueError(f"unknown invalidation kind {kind!r}")
    if kind == KIND_DELETE and key is None:
        raise ValueError("a delete invalidation needs a key")
    body = {"v": PROTOCOL_VERSION, "src": sender, "op": kind, "ns": namespace, "key": key}
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def decode_message(data: Any) -> Message | None:
    """Parse a message; ``None`` for anything malformed (never raises)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if not isinstance(data, (bytes, bytearray)) or len(data) > MAX_MESSAGE_BYTES:
        return None
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(body, dict) or body.get("v") != PROTOCOL_VERSION:
        return None
    sender, kind, namespace, key = body.get("src"), body.get("op"), body.get("ns"), body.get("key")
    if not isinstance(sender, str) or not isinstance(namespace, str) or kind not in _WIRE_KINDS:
        return None
    if not (key is None or isinstance(key, str)):
        return None
    if kind == KIND_DELETE and key is None:
        return None
    return Message(sender, kind, namespace, key)


class Backplane:
    """The subscriber side: one background task holding one pub/sub connection.

    ``client_source()`` returns the ``redis.asyncio.Redis`` to subscribe with (asked again
    at each reconnection). It is built without automatic retries, so a dropped
    connection surfaces here (and flips :attr:`connected`) instead of being silently
    re-established by redis-py with messages lost in between.
    """

    def __init__(
        self,
        client_source: Callable[[], Any],
        channel: str,
        sender_id: str,
        *,
        health_interval: float = 1.0,
        op_timeout: float = 0.25,
        lease: float | None = None,
        min_reconnect_delay: float = 0.05,
        max_reconnect_delay: float = 1.0,
        on_health: Callable[[bool], None] | None = None,
        on_refused: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._client_source = client_source
        self.channel = channel
        self.sender_id = sender_id
        self._health_interval = health_interval
        self._op_timeout = op_timeout
        #: How long a PONG vouches for the L1 (default ``op_timeout``), and how often to PING.
        self.lease = op_timeout if lease is None else lease
        self.ping_interval = min(health_interval, self.lease / 3)
        self._on_refused = on_refused
        self._trusted_until = 0.0
        self._lapse_timer: asyncio.TimerHandle | None = None
        self._pings: dict[str, float] = {}
        self._ping_seq = 0
        self._stopping = False  # set by close(): the loops end at their next turn
        self._min_delay = min_reconnect_delay
        self._max_delay = max_reconnect_delay
        self._callback: InvalidationCallback | None = None
        #: When set, receives each coalesced batch of events instead of ``callback``.
        self.batch_callback: Callable[[list[Event]], Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._sync_waiters: dict[str, asyncio.Future[None]] = {}
        self._on_health = on_health
        #: ``True`` while the subscription is confirmed and healthy (read-only; changes
        #: are reported to ``on_health``).
        self.connected = False
        self.received = 0  # valid messages from other replicas, applied
        self.dropped = 0  # malformed messages ignored
        self.resubscribes = 0  # times the subscription was (re-)established
        self.drops = 0  # times an established subscription was lost
        self.lapses = 0  # times the lease ran out on a connection that stayed open
        self.batches = 0  # batches of messages applied

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, callback: InvalidationCallback) -> None:
        """Start listening; ``callback`` receives other replicas' invalidations."""
        self._callback = callback
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"agent_cache-backplane-{self.channel}"
            )

    @property
    def running(self) -> bool:
        """Is the subscriber task alive? (It dies with its event loop.)"""
        return self._task is not None and not self._task.done()

    async def wait_connected(self, timeout: float) -> bool:
        """Wait until the subscription is confirmed (for start-up and tests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.connected:
            if loop.time() >= deadline or self._task is None or self._task.done():
                return False
            await asyncio.sleep(0.005)
        return True

    async def close(self) -> None:
        """Stop the subscriber task and release its connection."""
        task, self._task = self._task, None
        self._set_connected(False)
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            self._stopping = True
            task.cancel()
            # On Python 3.11 a cancellation that races redis-py's own read timeout can be
            # absorbed (turned into that timeout): the loops also check ``_stopping``, and
            # the wait is bounded all the same.
            await asyncio.wait({task}, timeout=1.0 + self.ping_interval)
            self._stopping = False
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: nothing to report on close
        for fut in self._sync_waiters.values():
            if not fut.done():
                fut.cancel()
        self._sync_waiters.clear()

    # -- sync markers -----------------------------------------------------------------------
    def new_sync_marker(self) -> tuple[bytes, asyncio.Future[None]]:
        """A marker to publish, and a future that resolves when it comes back to us.

        Redis delivers a channel's messages to a subscriber in the order the PUBLISH
        commands ran, so once our own marker arrives we have seen every invalidation
        published before it: a strict "read your peers' writes" barrier.
        """
        nonce = uuid.uuid4().hex
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sync_waiters[nonce] = fut
        return encode_message(self.sender_id, _KIND_SYNC, nonce), fut

    def forget_sync_marker(self, fut: asyncio.Future[None]) -> None:
        for nonce, waiter in list(self._sync_waiters.items()):
            if waiter is fut:
                del self._sync_waiters[nonce]

    # -- the subscriber loop ----------------------------------------------------------------
    async def _run(self) -> None:
        delay = self._min_delay
        while not self._stopping:
            established_before = self.resubscribes
            pubsub = self._client_source().pubsub()
            try:
                await asyncio.wait_for(pubsub.subscribe(self.channel), self._op_timeout)
                await self._listen(pubsub)
            except asyncio.CancelledError:
                raise
            except ResponseError as exc:  # e.g. NOPERM: retrying will not help
                if self._on_refused is not None:
                    self._on_refused(exc)
            except Exception as exc:
                if self.connected:
                    self.drops += 1
                    log.warning("agent_cache backplane: subscription lost (%s); L1 is "
                                "treated as stale until resubscribed", describe_error(exc))
            finally:
                self._set_connected(False)
                await _close_quietly(pubsub)
            if self.resubscribes != established_before:
                delay = self._min_delay  # it was healthy for a while: retry fast
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_delay)

    async def _listen(self, pubsub: Any) -> None:
        loop = asyncio.get_running_loop()
        subscribe_sent = loop.time()
        last_pong = loop.time()
        next_ping = loop.time() + self.ping_interval
        while not self._stopping:
            msg = await pubsub.get_message(timeout=max(0.0, next_ping - loop.time()))
            now = loop.time()
            if now >= next_ping:
                # No PONG for a while: the server hangs or the link is gone; reconnect.
                if now - last_pong > 2 * self._health_interval + self._op_timeout + self.lease:
                    raise ConnectionError("no reply from Redis on the pub/sub connection")
                self._ping_seq += 1
                nonce = f"{self.sender_id}:{self._ping_seq}"
                self._pings[nonce] = now
                await asyncio.wait_for(pubsub.ping(nonce), self._op_timeout)
                next_ping = now + self.ping_interval
            if msg is None:
                continue
            batch: list[Any] = [msg]
            while len(batch) < MAX_BATCH:  # whatever else is buffered, up to a bound
                more = await pubsub.get_message(timeout=0)
                if more is None:
                    break
                batch.append(more)
            events: list[Event] = []
            for item in batch:
                kind = item.get("type")
                if kind == "subscribe":
                    self._pings.clear()
                    await self._on_subscribed()
                    self._confirm(subscribe_sent)
                elif kind == "pong":
                    last_pong = loop.time()
                    data = item.get("data")
                    sent = self._pings.pop(data.decode() if isinstance(data, bytes) else str(data), None)
                    if sent is not None:
                        for old in [n for n, t in self._pings.items() if t < sent]:
                            del self._pings[old]
                        await self._confirmed(sent)
                elif kind == "message":
                    event = self._on_message(item.get("data"))
                    if event is not None:
                        events.append(event)
            if events:
                self.batches += 1
                await self._deliver_batch(coalesce(events))
            await asyncio.sleep(0)  # let the event loop breathe between batches

    async def _confirmed(self, sent: float) -> None:
        """A PONG for a PING sent at ``sent`` arrived: everything before it is delivered."""
        if not self.connected:
            # The lease had lapsed: invalidations may have been missed meanwhile.
            await self._deliver(KIND_RESET, "", None)
        self._confirm(sent)

    def _confirm(self, sent: float) -> None:
        loop = asyncio.get_running_loop()
        until = sent + self.lease
        if until <= self._trusted_until:
            return
        self._trusted_until = until
        if self._lapse_timer is not None:
            self._lapse_timer.cancel()
        self._lapse_timer = loop.call_at(until, self._lapse)
        self._set_connected(True)

    def _lapse(self) -> None:
        self._lapse_timer = None
        if asyncio.get_running_loop().time() >= self._trusted_until and self.connected:
            self.lapses += 1
            self._set_connected(False)

    async def _on_subscribed(self) -> None:
        self.resubscribes += 1
        # Trust L1 again only after telling the cache to drop what it may have kept stale.
        await self._deliver(KIND_RESET, "", None)

    def _set_connected(self, connected: bool) -> None:
        if not connected:
            self._trusted_until = 0.0
            if self._lapse_timer is not None:
                self._lapse_timer.cancel()
                self._lapse_timer = None
        if connected != self.connected:
            self.connected = connected
            if self._on_health is not None:
                self._on_health(connected)

    def _on_message(self, data: Any) -> Event | None:
        """The event another replica sent, or ``None`` (malformed, a sync marker, ours)."""
        message = decode_message(data)
        if message is None:
            self.dropped += 1
            log.debug("agent_cache backplane: ignored a malformed message")
            return None
        if message.kind == _KIND_SYNC:
            if message.sender == self.sender_id:
                fut = self._sync_waiters.pop(message.namespace, None)
                if fut is not None and not fut.done():
                    fut.set_result(None)
            return None
        if message.sender == self.sender_id:
            return None  # our own invalidation, already applied locally
        self.received += 1
        return message.kind, message.namespace, message.key

    async def _deliver_batch(self, events: list[Event]) -> None:
        if self.batch_callback is None:
            for kind, namespace, key in events:
                await self._deliver(kind, namespace, key)
            return
        try:
            result = self.batch_callback(events)
            if inspect.isawaitable(result):
                await result
        except Exception:  # a buggy callback must not kill the subscription
            log.exception("agent_cache backplane: invalidation callback failed")

    async def _deliver(self, kind: str, namespace: str, key: str | None) -> None:
        callback = self._callback
        if callback is None:
            return
        try:
            result = callback(kind, namespace, key)
            if inspect.isawaitable(result):
                await result
        except Exception:  # a buggy callback must not kill the subscription
            log.exception("agent_cache backplane: invalidation callback failed")


def coalesce(events: list[Event]) -> list[Event]:
    """The same invalidations, once each: duplicates dropped, and a namespace's deletes
    dropped when the batch also clears that namespace (the clear covers them)."""
    cleared = {ns for kind, ns, _ in events if kind == KIND_CLEAR}
    seen: set[Event] = set()
    out: list[Event] = []
    for event in events:
        kind, namespace, _ = event
        if event in seen or (kind == KIND_DELETE and namespace in cleared):
            continue
        seen.add(event)
        out.append(event)
    return out


async def _close_quietly(pubsub: Any) -> None:
    with contextlib.suppress(Exception):  # a dead connection: nothing left to release
        await asyncio.wait_for(pubsub.aclose(), 0.5)


def describe_error(exc: BaseException) -> str:
    """``"Type: message"`` for a log line."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


__all__ = [
    "KIND_CLEAR",
    "KIND_DELETE",
    "KIND_RESET",
    "MAX_BATCH",
    "MAX_MESSAGE_BYTES",
    "Backplane",
    "InvalidationCallback",
    "Message",
    "coalesce",
    "decode_message",
    "encode_message",
]
