"""The one narrow door between the library and OpenTelemetry (API only).

Everything else in agent_cache calls into this module; nothing else imports
``opentelemetry``. Two rules shape it:

* **No work when nobody listens.** :func:`active_tracer` answers ``None`` in a few tens of
  nanoseconds when no SDK tracer provider is installed (or instrumentation is suppressed),
  so the hot path builds no span and no attribute dict. :func:`metrics_enabled` does the
  same for synchronous histograms.
* **Counts are plain ints.** Counters are observable instruments whose callbacks sum the
  :class:`~agent_cache.core.stats.CacheStats` objects registered with :func:`track`, so a hit
  costs an integer increment, never an SDK call.

A telemetry failure must never break a tool call: every callback and span helper swallows
and logs its own exceptions.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections import defaultdict, deque
from typing import Any, Iterable, Iterator

from opentelemetry import context as otel_context
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace as otel_trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.metrics import _internal as _metrics_internal
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider

from ..core.stats import CacheStats
from . import names as n

logger = logging.getLogger("agent_cache.telemetry")

_SUPPRESS_KEY = otel_context._SUPPRESS_INSTRUMENTATION_KEY

# --- tracing -------------------------------------------------------------------------------

_tracer_cache: tuple[Any, Any] = (None, None)  # (provider seen, tracer or None)


def _resolve_tracer(provider: Any) -> Any:
    global _tracer_cache
    tracer = None
    if provider is not None and not isinstance(provider, (NoOpTracerProvider, ProxyTracerProvider)):
        try:
            tracer = provider.get_tracer(
                n.INSTRUMENTATION_NAME, n.INSTRUMENTATION_VERSION, schema_url=n.SCHEMA_URL
            )
        except Exception:  # a broken SDK must not break tool calls
            logger.warning("agent_cache: could not get a tracer; spans disabled", exc_info=True)
            tracer = None
    _tracer_cache = (provider, tracer)
    return tracer


if os.environ.get("OTEL_PYTHON_TRACER_PROVIDER"):
    otel_trace.get_tracer_provider()  # let the API load the configured provider now


def active_tracer() -> Any:
    """The agent_cache tracer when spans would be recorded, else ``None`` (cheaply).

    Hot paths may skip the call when ``otel_trace._TRACER_PROVIDER is None`` (no provider
    was ever set): that module attribute read is the cheapest possible "nobody listens".
    """
    provider = otel_trace._TRACER_PROVIDER
    if provider is None:
        return None
    seen, tracer = _tracer_cache
    if provider is not seen:
        tracer = _resolve_tracer(provider)
    if tracer is None:
        return None
    if otel_context.get_value(_SUPPRESS_KEY):
        return None
    return tracer


def metrics_enabled() -> bool:
    """Whether an SDK meter provider is installed (so synchronous records are worth making)."""
    provider = _metrics_internal._METER_PROVIDER
    return provider is not None and not isinstance(provider, otel_metrics.NoOpMeterProvider)


# --- settings ---------------------------------------------------------------------------------

_TRUTHY = {"1", "true", "yes", "on"}


class Settings:
    """Process-wide telemetry options. Arguments and results are off by default."""

    record_arguments: bool = os.environ.get("AGENT_CACHE_RECORD_ARGUMENTS", "").lower() in _TRUTHY
    max_attribute_length: int = 256


settings = Settings()


def truncate(text: str) -> str:
    limit = settings.max_attribute_length
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- counters read by observable instruments ------------------------------------------------

# _lock guards _live and _retired. It is never taken by a weakref finalizer: the collector
# runs finalizers in whichever thread triggered it, at whatever point that thread was (from
# 3.12 at any eval-breaker check, so also while that thread holds _lock), and a finalizer
# waiting for _lock would then wait for itself forever. Finalizers only append to _dead (a
# deque append is atomic); whoever takes _lock next folds the dead stats into _retired.
_lock = threading.Lock()
_live: dict[int, CacheStats] = {}
_dead: deque[int] = deque()  # ids of _live stats whose owner was collected
_retired: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
_invalidations: dict[tuple[str, str], int] = defaultdict(int)
_loop_detections: dict[tuple[str, str, str], int] = defaultdict(int)
_sessions_active = [0]

_COUNTED = (
    "hits", "misses", "coalesced", "short_circuits", "bypasses",
    "evicted_capacity", "evicted_expired", "evicted_invalidated",
)


def _owner_collected(stats_id: int) -> None:
    """``weakref.finalize`` callback: takes no lock (see ``_lock``)."""
    _dead.append(stats_id)


def _fold_dead() -> None:
    """Move the counts of collected owners' stats into ``_retired``. Caller holds ``_lock``."""
    while _dead:
        stats = _live.pop(_dead.popleft(), None)
        if stats is None:
            continue
        bucket = _retired[(stats.resource, stats.scope)]
        for field in _COUNTED:
            bucket[field] += getattr(stats, field)


def track(stats: CacheStats, owner: Any) -> None:
    """Report ``stats`` through the observable counters for as long as ``owner`` lives."""
    with _lock:
        _fold_dead()
        _live[id(stats)] = stats
    weakref.finalize(owner, _owner_collected, id(stats))


def count_invalidation(resource: str, scope: str) -> None:
    _invalidations[(resource, scope)] += 1


def count_loop_detection(kind: str, action: str, tool: str) -> None:
    _loop_detections[(kind, action, tool)] += 1


def session_started() -> None:
    _sessions_active[0] += 1


def session_ended() -> None:
    _sessions_active[0] -= 1


def reset_counters() -> None:
    """Forget retired and agent-level counts (tests); live CacheStats are reset by their owners."""
    with _lock:
        _fold_dead()
        _retired.clear()
        _invalidations.clear()
        _loop_detections.clear()


def _totals() -> dict[tuple[str, str], dict[str, int]]:
    with _lock:
        _fold_dead()
        live = list(_live.values())
        totals: dict[tuple[str, str], dict[str, int]] = {
            k: dict(v) for k, v in _retired.items()
        }
    for stats in live:
        bucket = totals.setdefault((stats.resource, stats.scope), {})
        for field in _COUNTED:
            bucket[field] = bucket.get(field, 0) + getattr(stats, field)
        bucket["entries"] = bucket.get("entries", 0) + stats.entries
    return totals


_RESULT_FIELDS = (
    (n.RESULT_HIT, "hits"),
    (n.RESULT_MISS, "misses"),
    (n.RESULT_COALESCED, "coalesced"),
    (n.RESULT_SHORT_CIRCUIT, "short_circuits"),
    (n.RESULT_BYPASS, "bypasses"),
)
_EVICTION_FIELDS = (
    (n.EVICTION_CAPACITY, "evicted_capacity"),
    (n.EVICTION_EXPIRED, "evicted_expired"),
    (n.EVICTION_INVALIDATED, "evicted_invalidated"),
)


def _safe(callback):
    def wrapped(options: CallbackOptions) -> Iterator[Observation]:
        try:
            return iter(list(callback()))
        except Exception:
            logger.warning("agent_cache: metric callback failed", exc_info=True)
            return iter(())

    return wrapped


def _observe_requests() -> Iterable[Observation]:
    for (resource, scope), fields in _totals().items():
        for result, field in _RESULT_FIELDS:
            value = fields.get(field, 0)
            if value:
                yield Observation(
                    value, {n.ATTR_RESOURCE: resource, n.ATTR_SCOPE: scope, n.ATTR_RESULT: result}
                )


def _observe_evictions() -> Iterable[Observation]:
    by_resource: dict[tuple[str, str], int] = defaultdict(int)
    for (resource, _scope), fields in _totals().items():
        for reason, field in _EVICTION_FIELDS:
            by_resource[(resource, reason)] += fields.get(field, 0)
    for (resource, reason), value in by_resource.items():
        if value:
            yield Observation(value, {n.ATTR_RESOURCE: resource, n.ATTR_EVICTION_REASON: reason})


def _observe_entries() -> Iterable[Observation]:
    by_resource: dict[str, int] = defaultdict(int)
    for (resource, _scope), fields in _totals().items():
        by_resource[resource] += fields.get("entries", 0)
    for resource, value in by_resource.items():
        yield Observation(value, {n.ATTR_RESOURCE: resource})


def _observe_invalidations() -> Iterable[Observation]:
    for (resource, scope), value in list(_invalidations.items()):
        yield Observation(value, {n.ATTR_RESOURCE: resource, n.ATTR_SCOPE: scope})


def _observe_loops() -> Iterable[Observation]:
    for (kind, action, tool), value in list(_loop_detections.items()):
        yield Observation(
            value, {n.ATTR_LOOP_KIND: kind, n.ATTR_LOOP_ACTION: action, n.GEN_AI_TOOL_NAME: tool}
        )


def _observe_sessions() -> Iterable[Observation]:
    yield Observation(_sessions_active[0])


meter = otel_metrics.get_meter(
    n.INSTRUMENTATION_NAME, n.INSTRUMENTATION_VERSION, schema_url=n.SCHEMA_URL
)


def _counter(spec: tuple[str, str, str], callback) -> None:
    name, unit, description = spec
    meter.create_observable_counter(name, [_safe(callback)], unit=unit, description=description)


def _updown(spec: tuple[str, str, str], callback) -> None:
    name, unit, description = spec
    meter.create_observable_up_down_counter(
        name, [_safe(callback)], unit=unit, description=description
    )


def _histogram(spec: tuple[str, str, str], buckets: tuple) -> Any:
    name, unit, description = spec
    return meter.create_histogram(
        name, unit=unit, description=description, explicit_bucket_boundaries_advisory=list(buckets)
    )


_counter(n.METRIC_REQUESTS, _observe_requests)
_counter(n.METRIC_INVALIDATIONS, _observe_invalidations)
_counter(n.METRIC_LOOP_DETECTIONS, _observe_loops)
_counter(n.METRIC_EVICTIONS, _observe_evictions)
_updown(n.METRIC_ENTRY_COUNT, _observe_entries)
_updown(n.METRIC_SESSION_ACTIVE, _observe_sessions)
load_duration = _histogram(n.METRIC_LOAD_DURATION, n.DURATION_BUCKETS_S)
tool_duration = _histogram(n.METRIC_TOOL_DURATION, n.DURATION_BUCKETS_S)
batch_size = _histogram(n.METRIC_BATCH_SIZE, n.BATCH_SIZE_BUCKETS)


def record(histogram: Any, value: float, attributes: dict[str, Any]) -> None:
    """Record on a histogram, never raising into the caller."""
    try:
        histogram.record(value, attributes)
    except Exception:
        logger.warning("agent_cache: histogram record failed", exc_info=True)
