"""The in-memory tier: a bounded map whose entries carry an absolute expiry time.

Entries are ``[value, expires_at, referenced]`` lists in an
:class:`~collections.OrderedDict` (``expires_at = inf`` without a TTL). Eviction is LRU with
lazy promotion ("second chance", as in CLOCK): a hit only sets ``referenced``; when the
store is full, the oldest entry is evicted unless it was referenced since it last reached
the front, in which case it is moved to the back and its flag cleared. A hit therefore
costs one dict lookup, one comparison and one list store — no reordering — while hit
ratios stay those of LRU for cache workloads. Callers on the hot path read ``store.data``
directly and set ``entry[REF] = True`` themselves.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Hashable

from .sentinel import MISSING
from .stats import CacheStats

NEVER = float("inf")
VALUE, EXPIRES, REF = 0, 1, 2


class Store:
    """LRU + TTL map with a bound of ``maxsize`` entries (``None``: unbounded, ``0``: none)."""

    __slots__ = ("data", "maxsize", "stats")

    def __init__(self, maxsize: int | None, stats: CacheStats) -> None:
        self.data: OrderedDict[Hashable, list] = OrderedDict()
        self.maxsize = maxsize
        self.stats = stats

    def __len__(self) -> int:
        return len(self.data)

    def lookup(self, key: Hashable, now: float) -> Any:
        """The live value for ``key`` (marking it used), or ``MISSING``; drops it if expired."""
        entry = self.data.get(key)
        if entry is None:
            return MISSING
        if entry[EXPIRES] <= now:
            del self.data[key]
            self.stats.entries -= 1
            self.stats.evicted_expired += 1
            return MISSING
        entry[REF] = True
        return entry[VALUE]

    def peek(self, key: Hashable, now: float) -> Any:
        """Like :meth:`lookup` but without marking or removing anything."""
        entry = self.data.get(key)
        if entry is None or entry[EXPIRES] <= now:
            return MISSING
        return entry[VALUE]

    def put(self, key: Hashable, value: Any, expires_at: float) -> None:
        maxsize = self.maxsize
        if maxsize == 0:
            return
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

    def _evict(self, count: int) -> None:
        data = self.data
        stats = self.stats
        # Each entry gets at most one second chance per pass, so this ends within
        # len(data) + count steps, and is O(1) amortised per insertion.
        while count > 0:
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

    def purge_expired(self, now: float) -> int:
        """Drop every expired entry; return how many."""
        dead = [k for k, entry in self.data.items() if entry[EXPIRES] <= now]
        for k in dead:
            del self.data[k]
        self.stats.entries -= len(dead)
        self.stats.evicted_expired += len(dead)
        return len(dead)
