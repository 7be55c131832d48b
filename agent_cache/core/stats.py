"""Plain-int counters for one cache (or one cached tool), read by ``get_metrics()`` and by
the OpenTelemetry observable instruments.

Counting in ints keeps the SDK's per-call cost off the hot path: a hit is ``stats.hits += 1``.
The OTel callbacks sum these objects when a reader collects.
"""

from __future__ import annotations

from typing import Any


class CacheStats:
    """Counters for one cache; ``resource`` and ``scope`` are its (bounded) metric labels."""

    __slots__ = (
        "resource",
        "scope",
        "hits",
        "misses",
        "coalesced",
        "short_circuits",
        "bypasses",
        "l2_hits",
        "loads",
        "load_errors",
        "batches",
        "entries",
        "evicted_capacity",
        "evicted_expired",
        "evicted_invalidated",
        "__weakref__",
    )

    def __init__(self, resource: str, scope: str) -> None:
        self.resource = resource
        self.scope = scope
        self.reset()

    def reset(self) -> None:
        """Zero every counter except ``entries`` (which mirrors what is stored)."""
        self.hits = 0
        self.misses = 0
        self.coalesced = 0
        self.short_circuits = 0
        self.bypasses = 0
        self.l2_hits = 0
        self.loads = 0
        self.load_errors = 0
        self.batches = 0
        if not hasattr(self, "entries"):
            self.entries = 0
        self.evicted_capacity = 0
        self.evicted_expired = 0
        self.evicted_invalidated = 0

    @property
    def requests(self) -> int:
        """Every lookup: hits + misses + coalesced waiters."""
        return self.hits + self.misses + self.coalesced

    def as_dict(self) -> dict[str, Any]:
        requests = self.requests
        return {
            "hits": self.hits,
            "misses": self.misses,
            "coalesced": self.coalesced,
            "requests": requests,
            "hit_rate": self.hits / requests if requests else 0.0,
            "size": self.entries,
            "loads": self.loads,
            "load_errors": self.load_errors,
            "errors": self.load_errors,
            "l2_hits": self.l2_hits,
            "batches": self.batches,
            "evictions": self.evicted_capacity + self.evicted_expired + self.evicted_invalidated,
            "evictions_by_reason": {
                "capacity": self.evicted_capacity,
                "expired": self.evicted_expired,
                "invalidated": self.evicted_invalidated,
            },
        }
