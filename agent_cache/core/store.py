"""The in-memory tier: an LRU dictionary whose entries carry an absolute expiry time.

Entries are ``(value, expires_at)`` tuples in an :class:`~collections.OrderedDict`, with
``expires_at = inf`` for entries without a TTL, so a hit is one ``get``, one comparison and
one ``move_to_end`` (all in C). Callers on the hot path read ``store.data`` directly.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Hashable

from .sentinel import MISSING
from .stats import CacheStats

NEVER = float("inf")


class Store:
    """LRU + TTL map with a bound of ``maxsize`` entries (``None``: unbounded, ``0``: none)."""

    __slots__ = ("data", "maxsize", "stats")

    def __init__(self, maxsize: int | None, stats: CacheStats) -> None:
        self.data: OrderedDict[Hashable, tuple[Any, float]] = OrderedDict()
        self.maxsize = maxsize
        self.stats = stats

    def __len__(self) -> int:
        return len(self.data)

    def lookup(self, key: Hashable, now: float) -> Any:
        """The live value for ``key`` (refreshing its LRU position), or ``MISSING``."""
        entry = self.data.get(key)
        if entry is None:
            return MISSING
        if entry[1] <= now:
            del self.data[key]
            self.stats.entries -= 1
            self.stats.evicted_expired += 1
            return MISSING
        self.data.move_to_end(key)
        return entry[0]

    def peek(self, key: Hashable, now: float) -> Any:
        """Like :meth:`lookup` but without touching recency or removing anything."""
        entry = self.data.get(key)
        if entry is None or entry[1] <= now:
            return MISSING
        return entry[0]

    def put(self, key: Hashable, value: Any, expires_at: float) -> None:
        maxsize = self.maxsize
        if maxsize == 0:
            return
        data = self.data
        if key in data:
            data.move_to_end(key)
        else:
            self.stats.entries += 1
        data[key] = (value, expires_at)
        if maxsize is not None and len(data) > maxsize:
            data.popitem(last=False)
            self.stats.entries -= 1
            self.stats.evicted_capacity += 1

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
        dead = [k for k, (_, exp) in self.data.items() if exp <= now]
        for k in dead:
            del self.data[k]
        self.stats.entries -= len(dead)
        self.stats.evicted_expired += len(dead)
        return len(dead)
