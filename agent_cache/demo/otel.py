"""Telemetry wiring for the demo: OTLP and Prometheus when asked, in-process always.

:func:`agent_cache.telemetry.configure` installs the SDK: OTLP when the standard
``OTEL_EXPORTER_OTLP_*`` variables say so, a Prometheus scrape endpoint for
``--prometheus-port``, and in every case the demo's :class:`TraceCollector` (a
``SimpleSpanProcessor``), so the summary can print one session's span tree.

A process can install a global provider only once. When an SDK is already there (the user
configured one, or an earlier run in the same process), the collector is attached to that
provider instead, once; it is a module-level singleton that later runs reuse.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .spans import TraceCollector

SERVICE_NAME = "agent-cache-demo"

_collector: TraceCollector | None = None
_attached_to: object | None = None


@dataclass
class Telemetry:
    """What the demo set up: where telemetry goes, and the in-process span collector."""

    collector: TraceCollector | None
    destinations: list[str] = field(default_factory=list)
    note: str = ""
    handle: Any = None  # agent_cache.telemetry.setup.Telemetry, when configure() installed one

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Push buffered spans and metrics out (OTLP exporters batch), waiting at most about
        ``timeout_s`` per provider; False when something could not be delivered. Never raises:
        an unreachable collector must not fail (or hang) the demo."""
        from opentelemetry import metrics, trace

        delivered = True
        for provider in (trace.get_tracer_provider(), metrics.get_meter_provider()):
            flush = getattr(provider, "force_flush", None)
            if flush is None:
                continue
            try:
                delivered = flush(timeout_millis=int(timeout_s * 1000)) is not False and delivered
            except Exception:
                delivered = False
        return delivered

    def shutdown(self) -> None:
        """Stop the exporters configure() installed (a no-op when it installed none)."""
        if self.handle is not None:
            self.handle.shutdown()


def setup(prometheus_port: int | None = None, prometheus_host: str = "127.0.0.1") -> Telemetry:
    """Install the SDK (unless present) with the exporters asked for, plus the span collector.

    Raises ``OSError`` when the Prometheus port cannot be bound and ``ImportError`` when an
    exporter asked for is not installed.
    """
    global _collector, _attached_to
    from agent_cache.telemetry.setup import otlp_requested

    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    except ImportError:
        if prometheus_port is not None or otlp_requested():
            raise ImportError(
                "exporting telemetry needs the OpenTelemetry SDK: pip install 'agent_cache[otlp]'"
            ) from None
        return Telemetry(None, note="opentelemetry-sdk is not installed (pip install 'agent_cache[otlp]')")
    from agent_cache.telemetry import configure

    if _collector is None:
        _collector = TraceCollector()
    _collector.reset()
    provider = trace.get_tracer_provider()
    processors = [SimpleSpanProcessor(_collector)] if _attached_to is not provider else []
    handle = configure(
        # OTEL_SERVICE_NAME, when set, wins: the compose stack names the service itself.
        service_name=None if os.environ.get("OTEL_SERVICE_NAME") else SERVICE_NAME,
        prometheus_port=prometheus_port,
        prometheus_host=prometheus_host,
        span_processors=processors,
    )
    telemetry = Telemetry(_collector, handle=handle)
    provider = trace.get_tracer_provider()
    if handle.installed:
        _attached_to = provider
    elif isinstance(provider, TracerProvider):
        if _attached_to is not provider:  # the user's own SDK: add our collector to it
            provider.add_span_processor(SimpleSpanProcessor(_collector))
            _attached_to = provider
        if prometheus_port is not None:
            telemetry.note = "an OpenTelemetry SDK was already installed: --prometheus-port ignored"
    else:
        return Telemetry(None, note="a non-SDK tracer provider is installed")
    if handle.installed and otlp_requested():
        telemetry.destinations.append("OTLP (" + ", ".join(handle.exporters) + ")")
    if handle.prometheus_port is not None:
        telemetry.destinations.append(
            f"Prometheus http://{prometheus_host}:{handle.prometheus_port}/metrics"
        )
    telemetry.destinations.append("in-process span tree")
    return telemetry
