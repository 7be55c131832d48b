"""Distributed single-flight for the Redis tier: concurrent misses across processes run the
loader once.

Protocol, per key ``K`` (``P`` is the backend's prefix)::

    miss ─► SET P:K\\x1flock <token> NX PX lock_ttl
              │ won                                 │ lost
              ▼                                     ▼
         GET P:K again (filled meanwhile?)     poll MGET P:K, P:K\\x1flock
         load, then one Lua step:                value ─► use it
           "if the lock is still mine:          no value and no lock (holder died,
            SET P:K value; DEL lock"            failed or was fenced) ─► try to lock again

A ``clear``/``delete`` of the key deletes its lock too, so a load that started before an
invalidation cannot store its (possibly stale) result: the Lua step finds the lock gone.
When Redis is away, a *local* token is handed out and every process loads for itself.

:class:`LoadLockMixin` is mixed into :class:`~agent_cache.backends.redis.RedisBackend` and
uses its ``_call``, ``_rkey``, ``_lock_key``, ``_index_key``, ``_encode``, ``_decode``, ``get``,
``stats``, ``lock_ttl`` and ``tier_name``.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, TypeVar

from ..core.sentinel import MISSING
from ..telemetry import names as tn
from ..telemetry import runtime as tel
from ..telemetry import spans
from . import redis_scripts as scripts
from .base import value_of
from .redis_link import FAILED

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


class Loaded(NamedTuple):
    """What :meth:`LoadLockMixin.load_through` answers.

    ``remaining``: when ``from_tier``, the seconds the Redis entry still lives (``None``:
    no expiry), so the caller's L1 copy does not outlive it; ``None`` for a fresh load.
    """

    value: Any
    from_tier: bool
    remaining: float | None = None


class LoadLockMixin:
    """The single-flight hooks of the Redis backend (see the module docstring)."""

    # Provided by the backend this is mixed into.
    stats: Any
    _link: Any
    lock_ttl: float
    tier_name: str
    _call: Callable[..., Awaitable[Any]]
    _rkey: Callable[[str], str]
    _lock_key: Callable[[str], str]
    _index_key: Callable[[str], str]
    _encode: Callable[[Any], bytes | None]
    _decode: Callable[[bytes], Any]
    _read: Callable[..., Awaitable[Any]]
    get_entry: Callable[[str], Awaitable[Any]]

    async def acquire_load_lock(self, key: str) -> str | None:
        """Try to become the one process that loads ``key``.

        Returns an owner token (pass it to :meth:`store_and_release` or
        :meth:`release_load_lock`), or ``None`` when another live process holds the lock
        (call :meth:`wait_for_value`). When Redis is away it returns a local token: every
        process loads for itself rather than waiting on a lock nobody can see.
        """
        token = uuid.uuid4().hex
        result = await self._call(
            "lock", scripts.run, scripts.ACQUIRE, [self._lock_key(key), self._index_key(key)],
            [token, ttl_ms(self.lock_ttl)],
        )
        if result is FAILED:
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
        await self._call(
            "unlock", scripts.run, scripts.RELEASE, [self._lock_key(key), self._index_key(key)],
            [token],
        )

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
            "store", scripts.run, scripts.STORE_AND_RELEASE,
            [self._rkey(key), self._lock_key(key), self._index_key(key)],
            [token, payload, ttl_ms(ttl) or 0],
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
        for its expiry); Redis failures never do: the value is then loaded locally.
        """
        failures = self._link.failures
        entry = await self._traced("get", self.get_entry(key))
        if entry is not MISSING:
            return Loaded(entry[0], True, entry[1])
        if self._link.failures != failures:
            # Redis is away or slow: one timeout per tool call is the most we pay.
            return Loaded(await load(), False)
        for _ in range(_HAND_OVERS):
            token = await self._traced("lock", self.acquire_load_lock(key))
            if token is None:
                entry = await self._traced("wait", self.wait_for_entry(key))
                if entry is not MISSING:
                    return Loaded(entry[0], True, entry[1])
                continue
            try:
                if not token.startswith(_LOCAL_TOKEN_PREFIX):
                    entry = await self._traced("get", self.get_entry(key))  # filled meanwhile?
                    if entry is not MISSING:
                        read_at = time.monotonic()
                        await self.release_load_lock(key, token)
                        return Loaded(entry[0], True, counted_down(entry[1], read_at))
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
