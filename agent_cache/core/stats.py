"""Counters — one family for caches, cached tools, sessions and the registry.

Every count is a plain int (a hit costs ``stats.hits += 1``); the OpenTelemetry observable
instruments read them when a reader collects (:meth:`Counters.results`), so the SDK's
per-call cost stays off the hot path.

**One definition of each stat** (the async-cache semantics, issue #11):

- ``hits``: lookups answered from the cache.
- ``misses``: lookups that found no value — the caller that ran the load *and* every
  caller that waited for it. ``coalesced`` says how many of those shared another's load,
  ``loads`` how many loads ran. ``hit_rate = hits / (hits + misses)``.
- ``stale``: lookups answered with an expired value (``stale_while_revalidate``, or
  ``stale_if_error`` after a load failed or timed out); neither a hit nor a miss.
- ``requests``: every lookup, whatever its result (hits + misses + short circuits +
  bypasses + stale answers).
- ``load_timeouts``: callers that stopped waiting for a load after ``load_timeout`` (each
  such lookup still has one result: ``stale``, or ``miss``/``coalesced`` when it raised).

OpenTelemetry's ``agent_cache.result`` attribute keeps one value per lookup: ``miss`` is the
leader, ``coalesced`` a waiter, so ``miss + coalesced`` there equals ``misses`` here.

``clear()`` and ``reset_metrics()`` restart what :meth:`as_dict` reports (as
``functools.lru_cache.cache_clear()`` does) while the raw counts the OpenTelemetry counters
read keep growing: cumulative counters must never go down.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..telemetry import names as tn

_RESULT_SLOTS = (
    (tn.RESULT_HIT, "hits"),
    (tn.RESULT_MISS, "misses"),
    (tn.RESULT_COALESCED, "coalesced"),
    (tn.RESULT_SHORT_CIRCUIT, "short_circuits"),
    (tn.RESULT_BYPASS, "bypasses"),
    (tn.RESULT_STALE, "stale"),
)
_SLOT_OF = dict(_RESULT_SLOTS)


class Counters:
    """Per-result lookup counts plus load counts; the base of every stats object."""

    __slots__ = (
        "hits",
        "misses",
        "coalesced",
        "short_circuits",
        "bypasses",
        "stale",
        "loads",
        "load_errors",
        "load_timeouts",
        "_baseline",
        "__weakref__",
    )

    # Declared for the type checker only (no class attribute is created; the slots hold them).
    hits: int
    misses: int
    coalesced: int
    short_circuits: int
    bypasses: int
    stale: int
    loads: int
    load_errors: int
    load_timeouts: int

    #: Counts that :meth:`reset` restarts for :meth:`as_dict` (subclasses extend it).
    COUNTED: tuple[str, ...] = (
        "hits", "misses", "coalesced", "short_circuits", "bypasses", "stale", "loads", "load_errors", "load_timeouts",
    )

    def __init__(self) -> None:
        for name in self.COUNTED:
            setattr(self, name, 0)
        self._baseline: dict[str, int] = {}

    # -- reading ---------------------------------------------------------------------------

    def results(self) -> Iterator[tuple[str, int]]:
        """``(agent_cache.result value, cumulative count)`` for every lookup result."""
        for result, slot in _RESULT_SLOTS:
            yield result, getattr(self, slot)

    def since_reset(self, name: str) -> int:
        """``name``'s count since the last :meth:`reset`."""
        value: int = getattr(self, name)
        return value - self._baseline.get(name, 0)

    def as_dict(self) -> dict[str, Any]:
        """The counts since the last reset, with ``requests`` and ``hit_rate`` derived."""
        c = {name: self.since_reset(name) for name in self.COUNTED}
        led = c.pop("misses")
        misses = led + c["coalesced"]
        hits = c["hits"]
        out: dict[str, Any] = {
            "hits": hits,
            "misses": misses,
            "coalesced": c["coalesced"],
            "requests": hits + misses + c["short_circuits"] + c["bypasses"] + c["stale"],
            "hit_rate": hits / (hits + misses) if hits + misses else 0.0,
        }
        out.update(c)
        out["errors"] = c["load_errors"]
        return out

    # -- writing ---------------------------------------------------------------------------

    def count(self, result: str) -> None:
        """Count one lookup whose ``agent_cache.result`` is ``result``."""
        slot = _SLOT_OF[result]
        setattr(self, slot, getattr(self, slot) + 1)

    def reset(self) -> None:
        """Restart what :meth:`as_dict` reports; the raw cumulative counts keep growing."""
        self._baseline = {name: getattr(self, name) for name in self.COUNTED}

    def zero(self) -> None:
        """Set every count back to 0 (a test's clean slate; telemetry forgets them too)."""
        for name in self.COUNTED:
            setattr(self, name, 0)
        self._baseline = {}

    @classmethod
    def total(cls, many: list[Counters]) -> dict[str, Any]:
        """:meth:`as_dict` of the sum of ``many``."""
        acc = Counters()
        for stats in many:
            for name in Counters.COUNTED:
                setattr(acc, name, getattr(acc, name) + stats.since_reset(name))
        return acc.as_dict()


class CacheStats(Counters):
    """Counters of one cache (or one cached tool, across its session caches).

    ``resource`` and ``scope`` are its bounded metric labels; ``entries`` mirrors what is
    stored and is never reset.
    """

    __slots__ = (
        "resource",
        "scope",
        "l2_hits",
        "batches",
        "entries",
        "evicted_capacity",
        "evicted_expired",
        "evicted_invalidated",
    )

    l2_hits: int
    batches: int
    evicted_capacity: int
    evicted_expired: int
    evicted_invalidated: int

    COUNTED = (*Counters.COUNTED, "l2_hits", "batches", "evicted_capacity", "evicted_expired", "evicted_invalidated")

    def __init__(self, resource: str, scope: str) -> None:
        super().__init__()
        self.resource = resource
        self.scope = scope
        self.entries = 0

    def evictions(self) -> Iterator[tuple[str, int]]:
        """``(agent_cache.eviction.reason, cumulative count)``."""
        yield tn.EVICTION_CAPACITY, self.evicted_capacity
        yield tn.EVICTION_EXPIRED, self.evicted_expired
        yield tn.EVICTION_INVALIDATED, self.evicted_invalidated

    def as_dict(self) -> dict[str, Any]:
        out = super().as_dict()
        capacity = out.pop("evicted_capacity")
        expired = out.pop("evicted_expired")
        invalidated = out.pop("evicted_invalidated")
        out["size"] = self.entries
        out["evictions"] = capacity + expired + invalidated
        out["evictions_by_reason"] = {"capacity": capacity, "expired": expired, "invalidated": invalidated}
        return out


class SessionStats(Counters):
    """Counters of one agent session: its lookups plus invalidations and loop detections."""

    __slots__ = ("invalidations", "loop_detections")

    invalidations: int
    loop_detections: int

    COUNTED = (*Counters.COUNTED, "invalidations", "loop_detections")
