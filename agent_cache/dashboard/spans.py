"""An in-process span processor that keeps the recent sessions' span trees for the dashboard.

It plugs into the OpenTelemetry SDK ``TracerProvider`` (the app's own, or one the dashboard
installs) and files finished spans by trace. When a trace's root span ends and the trace
holds an agent-session or tool span, the trace becomes a *recent session*; only the last
``keep`` of them are kept, and unfinished traces are bounded too, so memory stays flat
however long an application runs.

From the same spans it counts what the metrics API does not say per kind: active agent
sessions (``invoke_agent`` spans started and not yet ended), caught loops by kind (the
``agent_cache.loop_detected`` event on a session span) and loader latencies (the duration
of ``agent_cache.load`` spans).

Only bounded, code-defined attributes are copied (tool, resource, scope, result, error
type, loop kind): never argument values or results, whatever the spans carry.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from agent_cache.telemetry import names as tn

# Span attributes a waterfall may show: constants from code, never user data.
SAFE_ATTRIBUTES = (
    tn.GEN_AI_OPERATION_NAME,
    tn.GEN_AI_AGENT_NAME,
    tn.GEN_AI_TOOL_NAME,
    tn.ATTR_RESULT,
    tn.ATTR_RESOURCE,
    tn.ATTR_SCOPE,
    tn.ATTR_BATCH_SIZE,
    tn.ERROR_TYPE,
    tn.ATTR_SESSION_TOOL_CALLS,
    tn.ATTR_SESSION_HITS,
    tn.ATTR_SESSION_MISSES,
    "demo.scenario",
    "demo.misbehaviour",
    "demo.loop.kind",
)
SAFE_EVENT_ATTRIBUTES = (tn.ATTR_RESOURCE, tn.ATTR_SCOPE, tn.ATTR_LOOP_KIND, tn.ATTR_LOOP_ACTION,
                         tn.ATTR_ENTRIES_REMOVED)
MARKED_EVENTS = (tn.EVENT_LOOP_DETECTED, tn.EVENT_INVALIDATION)


@dataclass
class SpanRecord:
    """What the waterfall needs of one finished span (times in ns since the epoch)."""

    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int
    error: bool
    attributes: dict[str, Any]
    events: list[dict[str, Any]]

    def as_json(self, origin_ns: int) -> dict[str, Any]:
        return {
            "id": self.span_id,
            "parent": self.parent_id,
            "name": self.name,
            "start_ms": (self.start_ns - origin_ns) / 1e6,
            "duration_ms": (self.end_ns - self.start_ns) / 1e6,
            "error": self.error,
            "attributes": self.attributes,
            "events": [{**e, "at_ms": (e["time_ns"] - origin_ns) / 1e6} for e in self.events],
        }


@dataclass
class SessionRecord:
    """A finished trace that holds an agent session (or a tool call): its spans, summarized."""

    trace_id: str
    name: str
    start_ns: int
    end_ns: int
    spans: list[SpanRecord]
    loops: list[str] = field(default_factory=list)
    invalidations: int = 0
    results: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "name": self.name,
            "duration_ms": (self.end_ns - self.start_ns) / 1e6,
            "spans": len(self.spans),
            "loops": self.loops,
            "invalidations": self.invalidations,
            "results": dict(self.results),
        }

    def waterfall(self) -> dict[str, Any]:
        ordered = sorted(self.spans, key=lambda s: (s.start_ns, s.end_ns))
        return {**self.summary(), "span_list": [s.as_json(self.start_ns) for s in ordered]}


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def _record(span: ReadableSpan) -> SpanRecord:
    attrs = span.attributes or {}
    events = []
    for event in span.events:
        if event.name in MARKED_EVENTS:
            event_attrs = event.attributes or {}
            events.append({
                "name": event.name,
                "time_ns": event.timestamp,
                "attributes": {k: event_attrs[k] for k in SAFE_EVENT_ATTRIBUTES if k in event_attrs},
            })
    parent = span.parent
    context = span.context
    assert context is not None
    return SpanRecord(
        span_id=_hex(context.span_id, 16),
        parent_id=_hex(parent.span_id, 16) if parent is not None and not parent.is_remote else None,
        name=span.name,
        start_ns=span.start_time or 0,
        end_ns=span.end_time or span.start_time or 0,
        error=span.status.status_code is StatusCode.ERROR,
        attributes={k: attrs[k] for k in SAFE_ATTRIBUTES if k in attrs},
        events=events,
    )


class SessionSpans(SpanProcessor):
    """Keeps the last ``keep`` sessions' span trees and live counts derived from spans.

    Thread-safe: the SDK may end spans on any thread (a ``BatchSpanProcessor`` is not in the
    way: this processor sees each span as it ends).
    """

    def __init__(self, keep: int = 60, max_open_traces: int = 2000, max_spans_per_trace: int = 400,
                 latency_window: int = 2000) -> None:
        self.keep = keep
        self.max_open_traces = max_open_traces
        self.max_spans_per_trace = max_spans_per_trace
        self._lock = threading.Lock()
        self._open: OrderedDict[int, list[SpanRecord]] = OrderedDict()
        self._recent: OrderedDict[str, SessionRecord] = OrderedDict()
        self.active_sessions = 0
        self.sessions_finished = 0
        self.loops: Counter[str] = Counter()
        self._load_ms: deque[float] = deque(maxlen=latency_window)
        self.loads_seen = 0

    # -- SpanProcessor --------------------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if span.name.startswith(tn.SPAN_INVOKE_AGENT):
            with self._lock:
                self.active_sessions += 1

    def on_end(self, span: ReadableSpan) -> None:
        record = _record(span)
        context = span.context
        assert context is not None
        trace_id = context.trace_id
        with self._lock:
            if span.name.startswith(tn.SPAN_INVOKE_AGENT):
                self.active_sessions = max(0, self.active_sessions - 1)
                self.sessions_finished += 1
                for event in record.events:
                    if event["name"] == tn.EVENT_LOOP_DETECTED:
                        self.loops[str(event["attributes"].get(tn.ATTR_LOOP_KIND, "unknown"))] += 1
            if span.name.startswith(tn.SPAN_LOAD) and not span.name.startswith(tn.SPAN_BATCH_LOAD):
                self._load_ms.append((record.end_ns - record.start_ns) / 1e6)
                self.loads_seen += 1
            spans = self._open.get(trace_id)
            if spans is None:
                spans = self._open[trace_id] = []
                while len(self._open) > self.max_open_traces:
                    self._open.popitem(last=False)
            if len(spans) < self.max_spans_per_trace:
                spans.append(record)
            if record.parent_id is None:  # the root ended: the trace is complete
                del self._open[trace_id]
                self._finish(trace_id, record, spans)

    def _finish(self, trace_id: int, root: SpanRecord, spans: list[SpanRecord]) -> None:
        interesting = any(
            s.name.startswith((tn.SPAN_INVOKE_AGENT, tn.SPAN_EXECUTE_TOOL)) for s in spans
        )
        if not interesting:
            return
        session = SessionRecord(_hex(trace_id, 32), root.name, root.start_ns, root.end_ns, spans)
        for s in spans:
            if s.name.startswith(tn.SPAN_EXECUTE_TOOL) and tn.ATTR_RESULT in s.attributes:
                session.results[str(s.attributes[tn.ATTR_RESULT])] += 1
            for event in s.events:
                if event["name"] == tn.EVENT_INVALIDATION:
                    session.invalidations += 1
                elif event["name"] == tn.EVENT_LOOP_DETECTED and s.name.startswith(tn.SPAN_INVOKE_AGENT):
                    session.loops.append(str(event["attributes"].get(tn.ATTR_LOOP_KIND, "unknown")))
        self._recent[session.trace_id] = session
        while len(self._recent) > self.keep:
            self._recent.popitem(last=False)

    def shutdown(self) -> None:
        self.reset()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    # -- reading ---------------------------------------------------------------------------
    def recent(self, limit: int = 30) -> list[dict[str, Any]]:
        """The newest sessions first, summarized."""
        with self._lock:
            sessions = list(self._recent.values())[-limit:]
        return [s.summary() for s in reversed(sessions)]

    def waterfall(self, trace_id: str) -> dict[str, Any] | None:
        with self._lock:
            session = self._recent.get(trace_id)
        return None if session is None else session.waterfall()

    def load_latency_ms(self) -> dict[str, float | None]:
        """p50 / p95 / max of the recent loader runs (None before the first)."""
        with self._lock:
            values = sorted(self._load_ms)
        if not values:
            return {"p50": None, "p95": None, "max": None}

        def pick(q: float) -> float:
            return values[min(len(values) - 1, int(q * len(values)))]

        return {"p50": pick(0.5), "p95": pick(0.95), "max": values[-1]}

    def reset(self) -> None:
        with self._lock:
            self._open.clear()
            self._recent.clear()
            self.loops.clear()
            self._load_ms.clear()
            self.loads_seen = 0
            self.sessions_finished = 0


def install(processor: SessionSpans, service_name: str = "agent-cache-dashboard") -> str:
    """Attach ``processor`` to the global SDK tracer provider, installing one if there is none.

    Returns how it was attached (for the page's footer). A non-SDK provider cannot take a
    processor: then the dashboard runs without waterfalls and says so.
    """
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.add_span_processor(processor)
        return "attached to the application's OpenTelemetry SDK"
    from agent_cache.telemetry.setup import configure

    configure(service_name=service_name, span_processors=[processor])
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        return "installed an OpenTelemetry SDK (in-process spans only)"
    return "a non-SDK tracer provider is installed: no span trees"
