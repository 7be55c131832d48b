"""Installs the OpenTelemetry SDK for the telemetry scenario, once, after the no-SDK ones.

The global providers can be set only once per process, so every scenario that must see the
plain API (no SDK: agent_cache must build no telemetry objects) runs first. The span
pipeline is the production one (BatchSpanProcessor) ending in an exporter that counts and
drops, so exporting costs nothing measurable and the figure is the in-process span cost.
"""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator, Sequence

import contenders as C
import floors


class _DropExporter:
    """A SpanExporter that counts spans and throws them away."""

    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[Any]):
        from opentelemetry.sdk.trace.export import SpanExportResult

        self.count += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class SDK:
    """The installed providers plus the floor contenders that use the same processor."""

    def __init__(self) -> None:
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self._exporter = _DropExporter()
        # A queue big enough that no span is silently dropped: both sides pay in full.
        self._processor = BatchSpanProcessor(self._exporter, max_queue_size=1 << 16)
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(self._processor)
        self.metric_reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metric_reader])
        trace.set_tracer_provider(self.tracer_provider)
        metrics.set_meter_provider(self.meter_provider)
        self.tracer = trace.get_tracer("bench.floor")

    def flush(self) -> None:
        self._processor.force_flush()

    def exported(self) -> int:
        return self._exporter.count

    @contextlib.asynccontextmanager
    async def parent_span(self) -> AsyncIterator[None]:
        """What an agent session contributes around its tool calls: one current parent."""
        with self.tracer.start_as_current_span("invoke_agent bench"):
            yield

    def metric_names(self) -> set[str]:
        data = self.metric_reader.get_metrics_data()
        names: set[str] = set()
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                names.update(m.name for m in sm.metrics)
        return names

    def floor_contenders(self, scenario: str) -> list[C.Contender]:
        """``sdk-span`` (current span, the floor) and ``sdk-span-raw`` (not made current)."""
        from agent_cache.telemetry import names as N

        def attrs(tool: str) -> dict[str, Any]:
            return {
                N.GEN_AI_OPERATION_NAME: N.OP_EXECUTE_TOOL,
                N.GEN_AI_TOOL_NAME: tool,
                N.GEN_AI_CONVERSATION_ID: "bench-session",
                N.ATTR_RESULT: N.RESULT_HIT,
                N.ATTR_SCOPE: N.SCOPE_GLOBAL,
                N.ATTR_RESOURCE: tool,
            }

        def make(wrap):
            def build(body, maxsize):
                tool = body.__name__
                return wrap(body, self.tracer, f"{N.SPAN_EXECUTE_TOOL} {tool}", attrs(tool))

            return build

        return [
            C.Contender("sdk-span-raw", C.FLOOR, make(floors.sdk_span_raw),
                        "start_span/end, not made current"),
            C.Contender("sdk-span", C.FLOOR, make(floors.sdk_span),
                        "body inside start_as_current_span, same attributes"),
        ]
