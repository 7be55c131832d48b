"""In-process span capture for the demo's session tree.

The demo keeps the spans of the sessions it may print, grouped by trace, and drops the
rest as soon as a session ends, so memory stays flat however long the run. It plugs into
whatever SDK ``TracerProvider`` is installed (its own, or the one
``agent_cache.telemetry.configure()`` set up for OTLP) through a ``SimpleSpanProcessor``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the SDK is optional for the library, required only for the tree
    from opentelemetry.sdk.trace import ReadableSpan

try:
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
except ImportError:  # pragma: no cover - exercised only without opentelemetry-sdk
    SpanExporter = object  # type: ignore[assignment,misc]
    SpanExportResult = None  # type: ignore[assignment,misc]


class TraceCollector(SpanExporter):
    """An in-memory span exporter that files finished spans by trace id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._traces: dict[int, list[ReadableSpan]] = {}
        self.spans_seen = 0

    def export(self, spans: Sequence[ReadableSpan]) -> Any:
        with self._lock:
            for span in spans:
                self.spans_seen += 1
                self._traces.setdefault(span.context.trace_id, []).append(span)
        return SpanExportResult.SUCCESS

    def take(self, trace_id: int) -> list[ReadableSpan]:
        """Remove and return the spans of one trace (empty if none were recorded)."""
        with self._lock:
            return self._traces.pop(trace_id, [])

    def discard(self, trace_id: int) -> None:
        """Forget a trace the demo will not print."""
        with self._lock:
            self._traces.pop(trace_id, None)

    def reset(self) -> None:
        """Forget everything (a new run starts)."""
        with self._lock:
            self._traces.clear()
            self.spans_seen = 0

    def shutdown(self) -> None:
        self.reset()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
