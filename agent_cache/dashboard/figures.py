"""The figures the page shows, sampled once a second into a short history.

Totals come from the library (``agent_cache.get_metrics()``), per-kind counts and loader
latency from the dashboard's span processor, database queries from the workload (when the
dashboard drives one). Rates are differences between samples, so nothing here touches the
cache's hot path.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .spans import SessionSpans

HISTORY = 300  # samples kept (five minutes at one a second)


class Sampler:
    """Takes :meth:`sample` s and keeps the last :data:`HISTORY` of them."""

    def __init__(self, spans: SessionSpans, workload_figures: Callable[[], dict[str, Any]] | None = None) -> None:
        self.spans = spans
        self.workload_figures = workload_figures
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self._last: dict[str, Any] | None = None

    def sample(self) -> dict[str, Any]:
        from agent_cache import get_metrics

        m = get_metrics()
        now = time.time()
        hits, coalesced = int(m.get("hits", 0)), int(m.get("coalesced", 0))
        # The library's misses are every lookup without a value, waiters included: the page
        # splits them into the lookups that ran a load (misses) and those that waited.
        misses = max(0, int(m.get("misses", 0)) - coalesced)
        stale = int(m.get("stale", 0))  # expired values answered: a lookup, neither hit nor miss
        lookups = hits + misses + coalesced + stale
        point: dict[str, Any] = {
            "t": now,
            "hits": hits,
            "misses": misses,
            "coalesced": coalesced,
            "stale": stale,
            "requests": lookups,
            "hit_ratio": hits / lookups if lookups else 0.0,
            "loads_avoided": hits + coalesced,
            "invalidations": int(m.get("invalidations", 0)),
            "loop_detections": int(m.get("loop_detections", 0)),
            "loops": dict(self.spans.loops),
            "active_sessions": self.spans.active_sessions,
            "sessions_finished": self.spans.sessions_finished,
            "load_ms": self.spans.load_latency_ms(),
        }
        last = self._last
        dt = now - last["t"] if last is not None else 0.0
        for name in ("hits", "misses", "coalesced", "stale"):
            point[f"{name}_per_s"] = max(0.0, (point[name] - last[name]) / dt) if last and dt > 0 else 0.0
        window = point["requests"] - last["requests"] if last else 0
        point["hit_ratio_now"] = (point["hits"] - last["hits"]) / window if last and window > 0 else None
        if self.workload_figures is not None:
            workload = self.workload_figures()
            point["workload"] = workload
            point["db_queries_cached"] = workload["db_queries_cached"]
            point["db_queries_uncached"] = workload["db_queries_uncached"]
        self._last = point
        self.history.append(point)
        return point
