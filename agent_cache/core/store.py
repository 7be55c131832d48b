"""The in-memory tier: a bounded map whose entries carry an absolute expiry time.

**Entry layout** — the one definition every path shares: an entry is a list
``[value, expires_at, referenced]`` (indices :data:`VALUE`, :data:`EXPIRES`, :data:`REF`),
``expires_at`` being a reading of the store's clock, or :data:`NEVER` without a TTL.

**Freshness rule** — :func:`is_fresh`: an entry is served while ``expires_at is NEVER`` or
``expires_at > clock()``. An entry with no TTL therefore costs no clock call, and an entry
given a TTL by *any* write (``set(..., ttl=)``, a tier's remaining lifetime) is checked on
*every* path — nothing is decided per wrapper at decoration time. :meth:`Store.fresh` is
the reference implementation of a hit; the generated fast wrappers
(:mod:`agent_cache.core.wrappers`) inline exactly that expression, and the behaviour suite
runs on both.

**Stale copies** (issue 15): a store with ``grace`` > 0 keeps an expired entry until
``expires_at + grace`` (:func:`is_kept`), so the resilience options
(:mod:`agent_cache.core.resilience`) can answer it while the upstream is slow or down.
Such an entry is *not* fresh — no path serves it as a hit — and it is an ordinary entry in
every other respect: ``discard``/``clear`` remove it, capacity evicts it, the sweep drops it
once past its grace. With ``grace == 0`` (the default) nothing changes.

**Eviction** is LRU with lazy promotion ("second chance", as in CLOCK): a hit only sets
``referenced``; when the store is full, the oldest entry is evicted unless it was referenced
since it last reached the front, in which case it moves to the back with its flag cleared.

**Reclaiming expired entries** that are never read again is amortised on writes: after as
many inserts as the last sweep left entries (at least :data:`SWEEP_MIN_WRITES`), one sweep
drops the expired ones, so an unbounded store with a TTL holds about twice its live set.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from .sentinel import MISSING
from .stats import CacheStats

Clock = Callable[[], float]
Entry = list[Any]

NEVER: float = float("inf")
VALUE, EXPIRES, REF = 0, 1, 2
SWEEP_MIN_WRITES = 256


def is_fresh(entry: Entry, clock: Clock) -> bool:
    """THE hit rule: is ``entry`` still servable at ``clock()``?"""
    expires_at = entry[EXPIRES]
    return expires_at is NEVER or expires_at > clock()


def is_kept(entry: Entry, now: float, grace: float) -> bool:
    """Whether ``entry`` is still held at ``now``: fresh, or expired less than ``grace`` ago."""
    expires_at: float = entry[EXPIRES]
    return expires_at is NEVER or expires_at + grace > now


class Store:
    """LRU + TTL map with a bound of ``maxsize`` entries (``None``: unbounded, ``0``: none)."""

    __slots__ = ("data", "maxsize", "stats", "clock", "grace", "_writes", "_sweep_after", "_expiring")

    def __init__(self, maxsize: int | None, stats: CacheStats, clock: Clock = time.monotonic) -> None:
        self.data: OrderedDict[Hashable, Entry] = OrderedDict()
        self.maxsize = maxsize
        self.stats = stats
        self.clock = clock
        #: seconds an expired entry is kept as a stale copy (only ever widened: :meth:`retain`)
        self.grace = 0.0
        self._writes = 0  # inserts since the last sweep of expired entries
        self._sweep_after = SWEEP_MIN_WRITES  # sweep again after this many inserts
        self._expiring = False  # whether any entry was ever stored with an expiry

    def __len__(self) -> int:
        return len(self.data)

    def expiry(self, ttl: float | None) -> float:
        """The ``expires_at`` of an entry stored now with ``ttl`` seconds to live."""
        return NEVER if ttl is None else self.clock() + ttl

    def retain(self, grace: float) -> None:
        """Keep expired entries at least ``grace`` seconds past their expiry from now on."""
        if grace > self.grace:
            self.grace = grace

    def fresh(self, key: Hashable) -> Entry | None:
        """The reference hit: the live entry for ``key`` (marked used), else ``None``.

        An expired entry found here is dropped and counted as an ``expired`` eviction,
        unless it is still within the store's ``grace`` (a stale copy).
        """
        entry = self.data.get(key)
        if entry is None:
            return None
        if is_fresh(entry, self.clock):
            entry[REF] = True
            return entry
        if not self.grace or not is_kept(entry, self.clock(), self.grace):
            self._drop_expired(key, entry)
        return None

    def stale(self, key: Hashable, window: float) -> Entry | None:
        """The entry for ``key`` if it expired less than ``window`` seconds ago, else ``None``.

        A fresh entry is returned too (a load that failed may find one stored meanwhile by
        another caller; it is newer than anything stale). Marks the entry used.
        """
        entry = self.data.get(key)
        if entry is None or not window or not is_kept(entry, self.clock(), window):
            return None
        entry[REF] = True
        return entry

    def peek(self, key: Hashable) -> Any:
        """The live value for ``key`` without marking or removing anything, or ``MISSING``."""
        entry = self.data.get(key)
        if entry is None or not is_fresh(entry, self.clock):
            return MISSING
        return entry[VALUE]

    def drop_if_expired(self, key: Hashable) -> None:
        """Drop (and count) the entry for ``key`` if it is there but no longer fresh (nor
        a stale copy within the store's ``grace``)."""
        entry = self.data.get(key)
        if entry is not None and not is_kept(entry, self.clock(), self.grace):
            self._drop_expired(key, entry)

    def _drop_expired(self, key: Hashable, entry: Entry) -> None:
        if self.data.get(key) is entry:  # another thread may have replaced it meanwhile
            del self.data[key]
            self.stats.entries -= 1
            self.stats.evicted_expired += 1

    def put(self, key: Hashable, value: Any, expires_at: float) -> None:
        maxsize = self.maxsize
        if maxsize == 0:
            return
        if expires_at is not NEVER:
            self._expiring = True
        data = self.data
        entry = data.get(key)
        if entry is not None:
            entry[VALUE] = value
            entry[EXPIRES] = expires_at
            entry[REF] = True
            return
        data[key] = [value, expires_at, False]
        self.stats.entries += 1
        if maxsize is not None and len(data) > maxsize:
            self._evict(len(data) - maxsize)
        elif maxsize is None and self._expiring:
            self._writes += 1
            if self._writes >= self._sweep_after:
                self.purge_expired()

    def _evict(self, count: int) -> None:
        data = self.data
        stats = self.stats
        # Each entry gets at most one second chance per pass, so this ends within
        # len(data) + count steps, and is O(1) amortised per insertion.
        while count > 0 and data:
            key, entry = data.popitem(last=False)
            if entry[REF]:
                entry[REF] = False
                data[key] = entry
                continue
            count -= 1
            stats.entries -= 1
            stats.evicted_capacity += 1

    def discard(self, key: Hashable) -> bool:
        """Remove ``key`` because it was invalidated; return whether it was present."""
        if self.data.pop(key, None) is None:
            return False
        self.stats.entries -= 1
        self.stats.evicted_invalidated += 1
        return True

    def clear(self) -> int:
        """Remove everything (an invalidation); return how many entries were removed."""
        removed = len(self.data)
        self.data.clear()
        self.stats.entries -= removed
        self.stats.evicted_invalidated += removed
        return removed

    def drop_all(self) -> None:
        """Forget everything without counting it as an eviction (a session ending)."""
        self.stats.entries -= len(self.data)
        self.data.clear()

    def purge_expired(self) -> int:
        """Drop every expired entry (past its grace) now; return how many."""
        self._writes = 0
        now = self.clock()
        grace = self.grace
        dead = [k for k, entry in list(self.data.items()) if not is_kept(entry, now, grace)]
        removed = 0
        for k in dead:
            if self.data.pop(k, None) is not None:
                removed += 1
        self.stats.entries -= removed
        self.stats.evicted_expired += removed
        # Sweep again once as many entries as survived were inserted: O(1) amortised.
        self._sweep_after = max(SWEEP_MIN_WRITES, len(self.data))
        return removed
