"""Fixtures for telemetry tests: the real OpenTelemetry SDK with in-memory exporters.

The API's global providers can be set only once per process; between tests we put them
back to "unset" so every other test runs the library's no-SDK path, as users without an
SDK do.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agent_cache
from otel_globals import install_providers, uninstall_providers


@dataclass
class Otel:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans()]}"
        return found[0]

    def points(self, metric: str) -> list[tuple[dict, Any]]:
        """``[(attributes, point)]`` for one metric, from a fresh collection."""
        data = self.reader.get_metrics_data()
        out = []
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == metric:
                        out.extend((dict(p.attributes), p) for p in m.data.data_points)
        return out

    def values(self, metric: str) -> dict[tuple, Any]:
        """``{sorted attribute items: value}`` for a sum metric."""
        return {tuple(sorted(a.items())): p.value for a, p in self.points(metric)}

    def all_metrics(self) -> dict[str, list[tuple[dict, Any]]]:
        data = self.reader.get_metrics_data()
        out: dict[str, list] = {}
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    out.setdefault(m.name, []).extend((dict(p.attributes), p) for p in m.data.data_points)
        return out


@pytest.fixture
def otel():
    # The SDK reports process-wide cumulative counters, so a test asserting exact values
    # must not see caches earlier tests dropped. Those may still be registered: redis-py
    # leaves a self-cycle per ResponseError (error -> traceback -> frame -> error), and from
    # 3.12, where asyncio.wait_for runs the command in the caller's task, the frames' f_back
    # chain reaches our frames holding the caches, so they live until the cyclic collector
    # runs. 3.13 also raised the first-generation threshold from 700 to 2000: it had not run
    # yet when test_scenario_spans started. Collect now, then forget what the collected
    # caches retired, so every version starts from the same slate.
    gc.collect()
    agent_cache.reset_global_state()
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    install_providers(tracer_provider, meter_provider)
    try:
        yield Otel(exporter, reader, tracer_provider, meter_provider)
    finally:
        uninstall_providers()
        tracer_provider.shutdown()
        meter_provider.shutdown()
