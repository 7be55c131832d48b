"""Observable instruments for second tiers (the Redis tier): lookups, failures, single-flight
locks, backplane messages and breaker state.

Like the core's counters, these read plain ints that the backend keeps (its ``stats``,
breaker and backplane), so no SDK call happens on any request path. Backends register with
:func:`track` and are held weakly. Attributes are bounded: the tier name and a fixed
outcome vocabulary; never keys, namespaces or session ids.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.metrics import Observation

from . import names as n
from .runtime import _counter, _updown

_backends: weakref.WeakSet[Any] = weakref.WeakSet()


def track(backend: Any) -> None:
    """Report ``backend.get_metrics()`` through the tier instruments while it lives."""
    _backends.add(backend)


def untrack(backend: Any) -> None:
    """Stop reporting ``backend`` (it was closed)."""
    _backends.discard(backend)


def _sum(tier_field_pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    totals: dict[tuple[str, str], int] = {}
    for backend in list(_backends):
        metrics = backend.get_metrics()
        tier = backend.tier_name
        for label, field in tier_field_pairs:
            totals[(tier, label)] = totals.get((tier, label), 0) + int(metrics.get(field, 0))
    return totals


def _observe(pairs: tuple[tuple[str, str], ...], attribute: str) -> Callable[[], Iterable[Observation]]:
    def callback() -> Iterable[Observation]:
        for (tier, label), value in _sum(pairs).items():
            if value:
                yield Observation(value, {n.ATTR_TIER: tier, attribute: label})

    return callback


def _observe_breaker_state() -> Iterable[Observation]:
    worst: dict[str, int] = {}
    for backend in list(_backends):
        value = backend.get_metrics().get("breaker_state_value", 0)
        worst[backend.tier_name] = max(worst.get(backend.tier_name, 0), value)
    for tier, value in worst.items():
        yield Observation(value, {n.ATTR_TIER: tier})


def _observe_openings() -> Iterable[Observation]:
    for (tier, _), value in _sum((("", "breaker_opened"),)).items():
        yield Observation(value, {n.ATTR_TIER: tier})


_counter(n.METRIC_TIER_REQUESTS, _observe(
    ((n.RESULT_HIT, "hits"), (n.RESULT_MISS, "misses")), n.ATTR_RESULT))
_counter(n.METRIC_TIER_FAILURES, _observe(
    ((n.TIER_FAILURE_ERROR, "errors"), (n.TIER_FAILURE_SHORT_CIRCUIT, "short_circuits"),
     (n.TIER_FAILURE_CORRUPT, "corrupt")), n.ATTR_TIER_FAILURE))
_counter(n.METRIC_TIER_LOCKS, _observe(
    (("acquired", "locks_acquired"), ("contended", "locks_contended"),
     ("filled", "lock_waits_filled"), ("abandoned", "lock_waits_abandoned")), n.ATTR_LOCK_OUTCOME))
_counter(n.METRIC_BACKPLANE_MESSAGES, _observe(
    (("sent", "published"), ("received", "backplane_received"), ("dropped", "backplane_dropped")),
    n.ATTR_BACKPLANE_DIRECTION))
_counter(n.METRIC_BREAKER_OPENINGS, _observe_openings)
_updown(n.METRIC_BREAKER_STATE, _observe_breaker_state)

__all__ = ["track", "untrack"]
