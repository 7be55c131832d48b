"""Telemetry wiring for the demo: OTLP and Prometheus when asked, in-process otherwise.

- ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or a per-signal endpoint) set, or ``--prometheus-port``
  given: :func:`agent_cache.telemetry.configure` sets up the SDK and its exporters.
- In every case, when the OpenTelemetry SDK is importable, a :class:`TraceCollector` is
  attached to the SDK tracer provider (the demo installs one if nobody did), so the summary
  can print one session's span tree.

A process can install a global provider only once, so the collector is a module-level
singleton that later runs in the same process (tests) reuse.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .spans import TraceCollector

SERVICE_NAME = "agent-cache-demo"
_OTLP_ENV = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
)

_collector: TraceCollector | None = None
_attached_to: object | None = None


@dataclass
class Telemetry:
    """What the demo set up: where telemetry goes, and the in-process span collector."""

    collector: TraceCollector | None
    destinations: list[str]
    note: str = ""

    def flush(self) -> None:
        """Push buffered spans and metrics out (OTLP exporters batch)."""
        from opentelemetry import metrics, trace

        for provider in (trace.get_tracer_provider(), metrics.get_meter_provider()):
            flush = getattr(provider, "force_flush", None)
            if flush is not None:
                try:
                    flush()
                except Exception:  # an unreachable collector must not fail the demo
                    pass


def otlp_requested() -> bool:
    """True when the standard OTEL_* variables ask for OTLP export."""
    return any(os.environ.get(name) for name in _OTLP_ENV)


def setup(prometheus_port: int | None = None) -> Telemetry:
    """Configure exporters as asked and attach the in-process span collector.

    Raises ``OSError`` when the Prometheus port cannot be bound.
    """
    destinations = []
    if otlp_requested() or prometheus_port is not None:
        from agent_cache.telemetry import configure

        configure(prometheus_port=prometheus_port)
        if otlp_requested():
            destinations.append("OTLP (" + _otlp_endpoint() + ")")
        if prometheus_port is not None:
            destinations.append(f"Prometheus scrape endpoint http://127.0.0.1:{prometheus_port}/metrics")
    collector, note = _attach_collector()
    if collector is not None:
        destinations.append("in-process span tree")
    return Telemetry(collector, destinations, note)


def _otlp_endpoint() -> str:
    for name in _OTLP_ENV:
        if os.environ.get(name):
            return os.environ[name]
    return "?"


def _attach_collector() -> tuple[TraceCollector | None, str]:
    global _collector, _attached_to
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    except ImportError:
        return None, "opentelemetry-sdk is not installed: no span tree (pip install 'agent_cache[otlp]')"
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
        trace.set_tracer_provider(provider)
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):  # someone else won the race
            return None, "a non-SDK tracer provider is installed: no span tree"
    if _collector is None:
        _collector = TraceCollector()
    if _attached_to is not provider:
        provider.add_span_processor(SimpleSpanProcessor(_collector))
        _attached_to = provider
    _collector.reset()
    return _collector, ""
