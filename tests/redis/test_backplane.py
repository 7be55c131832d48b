"""Cross-process invalidation messages: delivered to others, not to the sender; malformed
messages ignored; a resubscription resets L1."""

from __future__ import annotations

import asyncio

import pytest

from agent_cache.backends.redis import RedisBackend
from agent_cache.backends.redis.backplane import decode_message, encode_message
from agent_cache.core.keys import stable_key
from agent_cache.core.sentinel import MISSING

pytestmark = pytest.mark.redis


class Recorder:
    """A subscribe() callback that records events and lets a test await the next one."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str | None]] = []
        self._changed = asyncio.Event()

    def __call__(self, kind: str, namespace: str, key: str | None) -> None:
        self.events.append((kind, namespace, key))
        self._changed.set()

    async def wait_for(self, event: tuple, timeout: float = 2.0) -> None:
        async def _wait() -> None:
            while event not in self.events:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(_wait(), timeout)

    def invalidations(self) -> list[tuple]:
        return [e for e in self.events if e[0] != "reset"]


@pytest.fixture
async def pair(redis_server):
    a, b = RedisBackend(redis_server.url), RedisBackend(redis_server.url)
    ra, rb = Recorder(), Recorder()
    assert await a.subscribe(ra) and await b.subscribe(rb)
    yield a, b, ra, rb
    await a.close()
    await b.close()


async def test_subscription_starts_with_reset_and_trusts_l1(pair):
    a, _, ra, _ = pair
    assert a.l1_trusted() and a.is_connected()
    assert ra.events[0] == ("reset", "", None)


async def test_invalidation_reaches_others_not_sender(pair):
    a, b, ra, rb = pair
    key = stable_key("cart", ("u1",))
    await a.set(key, [1], ttl=None)
    assert await a.invalidate("delete", "cart", key)
    await rb.wait_for(("delete", "cart", key))
    assert await b.get(key) is MISSING  # deleted in Redis before it was announced
    assert await a.invalidate("clear", "cart")
    await rb.wait_for(("clear", "cart", None))
    assert await a.sync_backplane()  # a's own messages have come back by now...
    assert ra.invalidations() == []  # ...and were ignored
    # set, delete and clear were each announced (a write makes other L1 copies stale).
    assert rb.invalidations() == [("delete", "cart", key), ("delete", "cart", key), ("clear", "cart", None)]
    assert b.get_metrics()["backplane_received"] == 3
    assert a.get_metrics()["published"] == 3


async def test_malformed_messages_are_ignored(pair, redis_server):
    a, b, _, rb = pair
    channel = b.channel
    bad = [
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b'{"v":2,"src":"x","op":"clear","ns":"cart","key":null}',
        b'{"v":1,"src":"x","op":"explode","ns":"cart","key":null}',
        b'{"v":1,"src":"x","op":"delete","ns":"cart","key":null}',
        b'{"v":1,"src":7,"op":"clear","ns":"cart","key":null}',
        b'{"v":1,"src":"x","op":"clear","ns":["cart"],"key":null}',
        b'{"v":1,"src":"x","op":"clear","ns":"cart","key":{"a":1}}',
        b'{"v":1,"src":"x","op":"clear","ns":"' + b"c" * 70000 + b'","key":null}',
        b"[" * 50000,
    ]
    for payload in bad:
        redis_server.command("PUBLISH", channel, payload)
    await a.invalidate("clear", "after")  # a valid message, published after the junk
    await rb.wait_for(("clear", "after", None))
    assert rb.invalidations() == [("clear", "after", None)]
    assert b.get_metrics()["backplane_dropped"] == len(bad)
    assert b.is_connected()


def test_message_codec_round_trip():
    raw = encode_message("me", "delete", "cart", "cart\x1fabc")
    msg = decode_message(raw)
    assert msg is not None and (msg.sender, msg.kind, msg.namespace, msg.key) == (
        "me", "delete", "cart", "cart\x1fabc")
    with pytest.raises(ValueError):
        encode_message("me", "delete", "cart", None)
    with pytest.raises(ValueError):
        encode_message("me", "reset", "cart")


async def test_callback_errors_do_not_kill_the_subscription(pair, redis_server):
    a, b, _, rb = pair
    seen: list[tuple] = []

    def flaky(kind, namespace, key):
        seen.append((kind, namespace))
        if namespace == "boom":
            raise RuntimeError("callback bug")
        rb(kind, namespace, key)

    b._backplane._callback = flaky  # swap the callback on the running subscription
    b._backplane.batch_callback = None
    await a.invalidate("clear", "boom")
    await a.invalidate("clear", "fine")
    await rb.wait_for(("clear", "fine", None))
    assert ("clear", "boom") in seen and b.is_connected()


async def test_async_callback_is_awaited(redis_server):
    a, b = RedisBackend(redis_server.url), RedisBackend(redis_server.url)
    got: list[tuple] = []
    done = asyncio.Event()

    async def callback(kind, namespace, key):
        await asyncio.sleep(0)
        got.append((kind, namespace, key))
        if kind == "clear":
            done.set()

    await b.subscribe(callback)
    await a.invalidate("clear", "x")
    await asyncio.wait_for(done.wait(), 2)
    assert got[-1] == ("clear", "x", None)
    await a.close()
    await b.close()


async def test_a_burst_of_invalidations_does_not_stall_the_event_loop(redis_server):
    """Anyone who can PUBLISH can send thousands of messages: they are applied in bounded,
    coalesced batches with the event loop free in between, and each batch hashes the L1
    once (not once per message)."""
    from agent_cache import AsyncCache

    backend = RedisBackend(redis_server.url)
    cache = AsyncCache(name="cart", maxsize=1000, backend=backend)
    assert await backend.subscribe()
    for i in range(500):
        await cache.set(i, i)
    loop = asyncio.get_running_loop()
    worst = 0.0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst
        last = loop.time()
        while not stop.is_set():
            await asyncio.sleep(0.001)
            now = loop.time()
            worst = max(worst, now - last)
            last = now

    messages = [encode_message("attacker", "delete", "cart", stable_key("cart", (f"x{i}",)))
                for i in range(3000)]
    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    # Published from another thread over a raw socket: only the subscriber's work is
    # measured on this event loop.
    await asyncio.to_thread(redis_server.pipeline, [("PUBLISH", backend.channel, m) for m in messages])
    bp = backend._backplane
    while bp.received < 3000:
        await asyncio.sleep(0.005)
    stop.set()
    await tick
    print(f"\n[burst] 3000 invalidation messages: event loop stalled at most {worst * 1000:.1f} ms")
    from agent_cache.backends.redis.backplane import MAX_BATCH

    assert bp.batches >= 3000 // MAX_BATCH  # the loop was given back between batches
    assert len(cache) == 500  # none of those keys was cached: nothing dropped
    await backend.close()


async def test_a_lock_planted_without_expiry_delays_a_miss_by_lock_ttl_at_most(redis_server):
    """A lock key written without a TTL (by hand, or by a crashed tool) used to delay every
    miss on that key until the waiter gave up, forever after: it now gets ``lock_ttl``."""
    backend = RedisBackend(redis_server.url, lock_ttl=0.3)
    key = stable_key("cart", ("u1",))
    await backend.get(key)  # learn the generation, to name the lock key
    gen = backend._layout.believed(key)
    _, _, lock_key = backend._layout.entry_keys(key, gen)
    assert redis_server.command("SET", lock_key, "planted") == b"+OK\r\n"
    assert await backend.acquire_load_lock(key) is None  # held by the planted lock...
    pttl = int(redis_server.command("PTTL", lock_key).split(b":")[1].split(b"\r")[0])
    assert 0 < pttl <= 300  # ...which now expires like any lock
    assert await backend.wait_for_value(key, timeout=2) is MISSING
    assert await backend.acquire_load_lock(key)
    await backend.close()
