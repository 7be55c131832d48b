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
``dropped`` and ignored: the channel is writable by anyone who can reach Redis.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("agent_cache.backends.backplane")

MAX_MESSAGE_BYTES = 64 * 1024
PROTOCOL_VERSION = 1

KIND_CLEAR = "clear"
KIND_DELETE = "delete"
KIND_RESET = "reset"  # local only: the subscription was (re-)established, drop all of L1
_KIND_SYNC = "sync"  # a marker a replica sends to itself; see Backplane.sync
_WIRE_KINDS = frozenset({KIND_CLEAR, KIND_DELETE, _KIND_SYNC})

#: ``callback(kind, namespace, key)``; may return an awaitable.
InvalidationCallback = Callable[[str, str, str | None], Awaitable[None] | None]


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
        min_reconnect_delay: float = 0.05,
        max_reconnect_delay: float = 1.0,
        on_health: Callable[[bool], None] | None = None,
    ) -> None:
        self._client_source = client_source
        self.channel = channel
        self.sender_id = sender_id
        self._health_interval = health_interval
        self._op_timeout = op_timeout
        self._min_delay = min_reconnect_delay
        self._max_delay = max_reconnect_delay
        self._callback: InvalidationCallback | None = None
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
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
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
        while True:
            established_before = self.resubscribes
            pubsub = self._client_source().pubsub()
            try:
                await asyncio.wait_for(pubsub.subscribe(self.channel), self._op_timeout)
                await self._listen(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: drop the connection and start over
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
        last_seen = loop.time()
        ping_out = False
        while True:
            msg = await pubsub.get_message(timeout=self._health_interval)
            now = loop.time()
            if msg is None:
                # Silence: prove the connection is alive with a PING whose PONG must come
                # back within one more interval, else a hung server looks healthy forever.
                if now - last_seen > 2 * self._health_interval + self._op_timeout:
                    raise ConnectionError("no reply from Redis on the pub/sub connection")
                if not ping_out:
                    await asyncio.wait_for(pubsub.ping(), self._op_timeout)
                    ping_out = True
                continue
            last_seen = now
            ping_out = False
            kind = msg.get("type")
            if kind == "subscribe":
                await self._on_subscribed()
            elif kind == "message":
                await self._on_message(msg.get("data"))

    async def _on_subscribed(self) -> None:
        self.resubscribes += 1
        # Trust L1 again only after telling the cache to drop what it may have kept stale.
        await self._deliver(KIND_RESET, "", None)
        self._set_connected(True)

    def _set_connected(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected = connected
            if self._on_health is not None:
                self._on_health(connected)

    async def _on_message(self, data: Any) -> None:
        message = decode_message(data)
        if message is None:
            self.dropped += 1
            log.debug("agent_cache backplane: ignored a malformed message")
            return
        if message.kind == _KIND_SYNC:
            if message.sender == self.sender_id:
                fut = self._sync_waiters.pop(message.namespace, None)
                if fut is not None and not fut.done():
                    fut.set_result(None)
            return
        if message.sender == self.sender_id:
            return  # our own invalidation, already applied locally
        self.received += 1
        await self._deliver(message.kind, message.namespace, message.key)

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


async def _close_quietly(pubsub: Any) -> None:
    try:
        await asyncio.wait_for(pubsub.aclose(), 0.5)
    except Exception:
        pass


def describe_error(exc: BaseException) -> str:
    """``"Type: message"`` for a log line."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


__all__ = [
    "Backplane",
    "Message",
    "encode_message",
    "decode_message",
    "InvalidationCallback",
    "KIND_CLEAR",
    "KIND_DELETE",
    "KIND_RESET",
    "MAX_MESSAGE_BYTES",
]
