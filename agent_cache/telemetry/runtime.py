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
from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry import metrics as otel_metrics
from opentelemetry.metrics import CallbackOptions, Observation

from ..core.stats import CacheStats
from . import names as n
from .gate import active_tracer, metrics_enabled

__all__ = ["active_tracer", "metrics_enabled"]

logger = logging.getLogger("agent_cache.telemetry")


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

_lock = threading.Lock()
_live: dict[int, CacheStats] = {}
# Retired counts, per (resource, scope): {result: n} and {eviction reason: n}.
_retired_results: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
_retired_evictions: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
_retired_timeouts: dict[str, int] = defaultdict(int)
# Ids whose owner died. weakref.finalize callbacks can run inside any allocation — also
# while this thread holds _lock — so they only append here (atomic, lock-free) and the
# next reader folds them in under the lock. Taking _lock in the finalizer deadlocks.
_dying: deque[int] = deque()
_invalidations: dict[tuple[str, str], int] = defaultdict(int)
_loop_detections: dict[tuple[str, str, str], int] = defaultdict(int)
_sessions_active = [0]


def _fold_dying() -> None:
    """Move the counts of stats whose owner died into the retired totals (hold _lock)."""
    while _dying:
        stats = _live.pop(_dying.popleft(), None)
        if stats is None:
            continue
        label = (stats.resource, stats.scope)
        results = _retired_results[label]
        for result, count in stats.results():
            results[result] += count
        evictions = _retired_evictions[label]
        for reason, count in stats.evictions():
            evictions[reason] += count
        _retired_timeouts[stats.resource] += stats.load_timeouts


def track(stats: CacheStats, owner: Any) -> None:
    """Report ``stats`` through the observable counters for as long as ``owner`` lives."""
    with _lock:
        _fold_dying()
        _live[id(stats)] = stats
    weakref.finalize(owner, _dying.append, id(stats))


def count_invalidation(resource: str, scope: str) -> None:
    _invalidations[(resource, scope)] += 1


def count_loop_detection(kind: str, action: str, tool: str) -> None:
    _loop_detections[(kind, action, tool)] += 1


def session_started() -> None:
    _sessions_active[0] += 1


def session_ended() -> None:
    _sessions_active[0] -= 1


def reset_counters() -> None:
    """Forget retired and agent-level counts (tests); live stats are zeroed by their owners."""
    with _lock:
        _fold_dying()
        _retired_results.clear()
        _retired_evictions.clear()
        _retired_timeouts.clear()
        _invalidations.clear()
        _loop_detections.clear()


class _Totals:
    """Everything the observable callbacks report, summed per (resource, scope)."""

    def __init__(self) -> None:
        with _lock:
            _fold_dying()
            live = list(_live.values())
            self.results = {k: dict(v) for k, v in _retired_results.items()}
            self.evictions = {k: dict(v) for k, v in _retired_evictions.items()}
            self.timeouts: dict[str, int] = defaultdict(int, _retired_timeouts)
        self.entries: dict[str, int] = defaultdict(int)
        for stats in live:
            label = (stats.resource, stats.scope)
            bucket = self.results.setdefault(label, {})
            for result, count in stats.results():
                bucket[result] = bucket.get(result, 0) + count
            bucket = self.evictions.setdefault(label, {})
            for reason, count in stats.evictions():
                bucket[reason] = bucket.get(reason, 0) + count
            self.entries[stats.resource] += stats.entries
            self.timeouts[stats.resource] += stats.load_timeouts


def _safe(callback: Any) -> Any:
    def wrapped(options: CallbackOptions) -> Iterator[Observation]:
        try:
            return iter(list(callback()))
        except Exception:
            logger.warning("agent_cache: metric callback failed", exc_info=True)
            return iter(())

    return wrapped


def _observe_requests() -> Iterable[Observation]:
    for (resource, scope), counts in _Totals().results.items():
        for result, value in counts.items():
            if value:
                yield Observation(value, {n.ATTR_RESOURCE: resource, n.ATTR_SCOPE: scope, n.ATTR_RESULT: result})


def _observe_evictions() -> Iterable[Observation]:
    by_resource: dict[tuple[str, str], int] = defaultdict(int)
    for (resource, _scope), counts in _Totals().evictions.items():
        for reason, value in counts.items():
            by_resource[(resource, reason)] += value
    for (resource, reason), value in by_resource.items():
        if value:
            yield Observation(value, {n.ATTR_RESOURCE: resource, n.ATTR_EVICTION_REASON: reason})


def _observe_entries() -> Iterable[Observation]:
    for resource, value in _Totals().entries.items():
        yield Observation(value, {n.ATTR_RESOURCE: resource})


def _observe_timeouts() -> Iterable[Observation]:
    for resource, value in _Totals().timeouts.items():
        if value:
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


def _make_meter() -> Any:
    try:
        return otel_metrics.get_meter(n.INSTRUMENTATION_NAME, n.INSTRUMENTATION_VERSION, schema_url=n.SCHEMA_URL)
    except Exception:  # a broken meter provider must not break `import agent_cache`
        logger.warning("agent_cache: could not get a meter; metrics disabled", exc_info=True)
        return otel_metrics.NoOpMeter(n.INSTRUMENTATION_NAME)


meter = _make_meter()


def _instrument(kind: str, spec: tuple[str, str, str], **kwargs: Any) -> Any:
    """Create one instrument; a provider that raises leaves a no-op one in its place."""
    name, unit, description = spec
    try:
        return getattr(meter, kind)(name, unit=unit, description=description, **kwargs)
    except Exception:
        logger.warning("agent_cache: could not create instrument %s", name, exc_info=True)
        return getattr(otel_metrics.NoOpMeter(n.INSTRUMENTATION_NAME), kind)(name, **kwargs)


def _counter(spec: tuple[str, str, str], callback: Any) -> None:
    _instrument("create_observable_counter", spec, callbacks=[_safe(callback)])


def _updown(spec: tuple[str, str, str], callback: Any) -> None:
    _instrument("create_observable_up_down_counter", spec, callbacks=[_safe(callback)])


def _histogram(spec: tuple[str, str, str], buckets: tuple[float, ...]) -> Any:
    return _instrument("create_histogram", spec, explicit_bucket_boundaries_advisory=list(buckets))


_counter(n.METRIC_REQUESTS, _observe_requests)
_counter(n.METRIC_INVALIDATIONS, _observe_invalidations)
_counter(n.METRIC_LOOP_DETECTIONS, _observe_loops)
_counter(n.METRIC_EVICTIONS, _observe_evictions)
_counter(n.METRIC_LOAD_TIMEOUTS, _observe_timeouts)
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
