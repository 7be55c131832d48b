"""Distributed single-flight for the Redis tier: concurrent misses across processes run the
loader once.

Protocol, per key ``K`` under generation ``G`` (see :mod:`~agent_cache.backends.redis.keys`)::

    miss ─► one Lua step: value there? ─ yes ─► use it (filled meanwhile)
              │ no: SET lock(G, K) <G|token> NX PX lock_ttl
              │ won                                 │ lost
              ▼                                     ▼
         load, then one Lua step:               poll value + lock
           "if the generation is still G         value ─► use it
            and the lock is still mine:          no value and no lock (holder died,
            SET value(G, K); DEL lock"           failed or was fenced) ─► try to lock again

A ``clear`` of the namespace changes its generation and a ``delete`` of the key deletes its
lock, so a load that started before an invalidation cannot store its (possibly stale)
result: the Lua step finds another generation or no lock. When Redis is away, or this
process does not trust the tier for the namespace, a *local* token is handed out and every
process loads for itself.

:class:`LoadLockMixin` is mixed into :class:`~agent_cache.backends.redis.RedisBackend` and
uses its ``_keyed``, ``_call``, ``_layout``, ``_usable``, ``_encode``, ``_decode``,
``_read``, ``get_entry``, ``stats``, ``lock_ttl`` and ``tier_name``.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ...core.sentinel import MISSING
from ...telemetry import names as tn
from ...telemetry import runtime as tel
from ...telemetry import spans
from ..base import Loaded, value_of
from . import scripts
from .link import FAILED

T = TypeVar("T")

_LOCAL_TOKEN_PREFIX = "local:"  # a lock "held" only because Redis could not be asked
_HAND_OVERS = 3  # how often a waiter tries to take over from a holder that went away


def ttl_ms(ttl: float | None) -> int | None:
    """Seconds to Redis ``PX`` milliseconds (at least 1), ``None`` for no expiry."""
    return None if ttl is None else max(1, math.ceil(ttl * 1000))


def counted_down(seconds: float | None, since: float) -> float | None:
    """``seconds`` left as measured at ``since`` (``time.monotonic()``), counted down to
    now; ``None`` (no expiry) stays ``None``. Never overstates how long a value lives."""
    if seconds is None:
        return None
    return max(0.0, seconds - (time.monotonic() - since))


class LoadLockMixin:
    """The single-flight hooks of the Redis backend (see the module docstring)."""

    # Provided by the backend this is mixed into.
    stats: Any
    _link: Any
    _layout: Any
    lock_ttl: float
    tier_name: str
    _call: Callable[..., Awaitable[Any]]
    _keyed: Callable[..., Awaitable[Any]]
    _usable: Callable[[str], bool]
    _encode: Callable[[Any], bytes | None]
    _decode: Callable[[bytes], Any]
    _read: Callable[..., Awaitable[Any]]
    get_entry: Callable[[str], Awaitable[Any]]

    async def _acquire(self, key: str) -> tuple[str | None, Any]:
        """``(token, MISSING)`` when we hold the lock, ``(None, MISSING)`` when another
        process does, ``(None, entry)`` when the value is there already."""
        nonce = uuid.uuid4().hex
        sent = time.monotonic()
        reply, gen = await self._keyed(
            "lock", scripts.ACQUIRE, key, lambda g, v, lk: [g, lk, v],
            lambda gen: [f"{gen}|{nonce}", ttl_ms(self.lock_ttl)],
        )
        if reply is FAILED:
            return _LOCAL_TOKEN_PREFIX + nonce, MISSING
        status = int(reply[1])
        if status == 1:
            self.stats.locks_acquired += 1
            return f"{gen}|{nonce}", MISSING
        if status == 2:
            value = self._decode(reply[3])
            if value is not MISSING:
                pttl = int(reply[2])
                return None, (value, counted_down(None if pttl < 0 else pttl / 1000.0, sent))
            return _LOCAL_TOKEN_PREFIX + nonce, MISSING  # unreadable: load, do not wait
        self.stats.locks_contended += 1
        return None, MISSING

    async def acquire_load_lock(self, key: str) -> str | None:
        """Try to become the one process that loads ``key``.

        Returns an owner token (pass it to :meth:`store_and_release` or
        :meth:`release_load_lock`), or ``None`` when another live process holds the lock or
        the value is already there (call :meth:`wait_for_value`). When Redis is away it
        returns a local token: every process loads for itself rather than waiting on a
        lock nobody can see.
        """
        token, _ = await self._acquire(key)
        return token

    def _lock_keys(self, key: str, token: str) -> tuple[str, str, str]:
        return self._layout.entry_keys(key, token.partition("|")[0])  # type: ignore[no-any-return]

    async def release_load_lock(self, key: str, token: str) -> None:
        """Release the lock if ``token`` still owns it (compare-and-delete)."""
        if token.startswith(_LOCAL_TOKEN_PREFIX):
            return
        await self._call("unlock", scripts.run, scripts.RELEASE, [self._lock_keys(key, token)[2]],
                         [token])

    async def store_and_release(
        self, key: str, value: Any, ttl: float | None, token: str
    ) -> bool:
        """Store the loaded value and release the lock in one step, only if ``token``
        still owns the lock and the namespace's generation is the one the load started
        under. ``False``: not stored (lock expired, an invalidation fenced this load, Redis
        away, the tier is not trusted for the namespace, or the value cannot be encoded)."""
        if token.startswith(_LOCAL_TOKEN_PREFIX):
            return False
        payload = self._encode(value) if ttl is None or ttl > 0 else None
        if payload is None or not self._usable(key.rpartition("\x1f")[0]):
            await self.release_load_lock(key, token)
            return False
        gkey, vkey, lkey = self._lock_keys(key, token)
        result = await self._call(
            "store", scripts.run, scripts.STORE_AND_RELEASE, [gkey, vkey, lkey],
            [token.partition("|")[0], token, payload, ttl_ms(ttl) or 0],
        )
        stored = result is not FAILED and bool(result)
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
        return value_of(await self.wait_for_entry(key, timeout))

    async def wait_for_entry(self, key: str, timeout: float | None = None) -> Any:
        """Like :meth:`wait_for_value`, answering ``(value, seconds left or None)``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.lock_ttl if timeout is None else timeout)
        delay = 0.002
        while True:
            found = await self._read("wait", key, lock=True)
            if found is FAILED:
                break
            raw, left, locked = found
            if raw is not None:
                value = self._decode(raw)
                if value is not MISSING:
                    self.stats.lock_waits_filled += 1
                    return value, left
                break
            if not locked:
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
    ) -> Loaded:
        """Read ``key``; on a miss run ``load`` once across every process sharing Redis.

        Called by ``AsyncCache`` on an L1 miss (after its in-process single-flight). Returns
        :class:`Loaded` ``(value, from_tier, remaining)``: ``from_tier`` is ``True`` when the
        value came from Redis (stored earlier, or loaded meanwhile by the process holding
        the lock), and then ``remaining`` is how long it still lives there. Exceptions of
        ``load`` propagate (after the lock is released, so waiters elsewhere do not wait
        for its expiry); Redis failures never do: the value is then loaded locally. While
        the tier is not trusted for the key's namespace, Redis is not asked at all.
        """
        if not self._usable(key.rpartition("\x1f")[0]):
            self.stats.bypassed += 1
            return Loaded(await load(), False)
        failures = self._link.failures
        entry = await self._traced("get", self.get_entry(key))
        if entry is not MISSING:
            return Loaded(entry[0], True, entry[1])
        if self._link.failures != failures:
            # Redis is away or slow: one timeout per tool call is the most we pay.
            return Loaded(await load(), False)
        for _ in range(_HAND_OVERS):
            token, entry = await self._traced("lock", self._acquire(key))
            if entry is not MISSING:
                return Loaded(entry[0], True, entry[1])
            if token is None:
                entry = await self._traced("wait", self.wait_for_entry(key))
                if entry is not MISSING:
                    return Loaded(entry[0], True, entry[1])
                continue
            try:
                value = await load()
            except BaseException:
                await self.release_load_lock(key, token)
                raise
            await self._traced("store", self.store_and_release(key, value, ttl, token))
            return Loaded(value, False)
        return Loaded(await load(), False)

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


__all__ = ["LoadLockMixin", "Loaded", "counted_down", "ttl_ms"]
