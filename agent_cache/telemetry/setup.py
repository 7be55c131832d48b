"""Opt-in OpenTelemetry SDK setup, for applications that do not configure one themselves.

Needs the ``otlp`` extra (``pip install 'agent_cache[otlp]'``) for OTLP, and the
``prometheus`` extra for a scrape endpoint. Library code never imports this module.

Configuration follows the standard environment variables, so the same code runs locally
and under a collector:

* ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES`` — the resource;
* ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the ``_TRACES_``/``_METRICS_`` variants) — turns OTLP on;
* ``OTEL_EXPORTER_OTLP_PROTOCOL`` — ``http/protobuf`` (default) or ``grpc``;
* ``OTEL_METRIC_EXPORT_INTERVAL`` — milliseconds between metric exports.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics as otel_metrics
from opentelemetry import trace as otel_trace

from .runtime import settings

logger = logging.getLogger("agent_cache.telemetry")

_ENDPOINT_VARS = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
)


@dataclass
class Telemetry:
    """What :func:`configure` set up. ``installed`` is False when an SDK was already there."""

    installed: bool
    tracer_provider: Any = None
    meter_provider: Any = None
    prometheus_port: int | None = None
    exporters: list[str] = field(default_factory=list)

    def shutdown(self) -> None:
        """Flush and stop what :func:`configure` installed (nothing if it installed nothing)."""
        if not self.installed:
            return
        for provider in (self.tracer_provider, self.meter_provider):
            if provider is not None:
                try:
                    provider.shutdown()
                except Exception:
                    logger.warning("agent_cache: telemetry shutdown failed", exc_info=True)


def _sdk_installed() -> bool:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    return isinstance(otel_trace.get_tracer_provider(), TracerProvider) or isinstance(
        otel_metrics.get_meter_provider(), MeterProvider
    )


def otlp_requested() -> bool:
    """Whether the environment asks for OTLP export."""
    return any(os.environ.get(var) for var in _ENDPOINT_VARS)


def configure(
    *,
    service_name: str | None = None,
    otlp: bool | None = None,
    prometheus_port: int | None = None,
    prometheus_host: str = "127.0.0.1",
    span_processors: list[Any] | None = None,
    metric_readers: list[Any] | None = None,
    record_arguments: bool | None = None,
) -> Telemetry:
    """Install an OpenTelemetry SDK for this process unless one is already installed.

    :param service_name: overrides ``OTEL_SERVICE_NAME`` (default ``agent_cache``).
    :param otlp: export over OTLP; default: when an ``OTEL_EXPORTER_OTLP_*ENDPOINT`` is set.
    :param prometheus_port: also serve ``/metrics`` for Prometheus on this port (0: any free).
    :param span_processors: extra span processors (e.g. an in-memory exporter for a demo).
    :param metric_readers: extra metric readers.
    :param record_arguments: put tool arguments and results on spans (off by default).
    :returns: a :class:`Telemetry` handle; call ``shutdown()`` at exit to flush.
    """
    if record_arguments is not None:
        settings.record_arguments = record_arguments
    if _sdk_installed():
        logger.info("agent_cache: an OpenTelemetry SDK is already installed; configure() left it as is")
        return Telemetry(installed=False)

    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes = {}
    if service_name or not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = service_name or "agent_cache"
    resource = Resource.create(attributes)
    tracer_provider = TracerProvider(resource=resource)
    readers: list[Any] = list(metric_readers or [])
    handle = Telemetry(installed=True)

    if otlp if otlp is not None else otlp_requested():
        span_exporter, metric_exporter, protocol = _otlp_exporters()
        tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
        readers.append(PeriodicExportingMetricReader(metric_exporter))
        handle.exporters.append(f"otlp/{protocol}")

    if prometheus_port is not None:
        readers.append(_prometheus_reader(prometheus_host, prometheus_port, handle))

    for processor in span_processors or ():
        tracer_provider.add_span_processor(processor)
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    otel_trace.set_tracer_provider(tracer_provider)
    otel_metrics.set_meter_provider(meter_provider)
    handle.tracer_provider = tracer_provider
    handle.meter_provider = meter_provider
    return handle


def _otlp_exporters() -> tuple[Any, Any, str]:
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf").strip().lower()
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        elif protocol == "http/protobuf":
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        else:
            raise ValueError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported; use 'grpc' or 'http/protobuf'"
            )
    except ImportError as exc:
        raise ImportError(
            f"OTLP over {protocol} needs the otlp extra: pip install 'agent_cache[otlp]' ({exc})"
        ) from exc
    return OTLPSpanExporter(), OTLPMetricExporter(), protocol


def _prometheus_reader(host: str, port: int, handle: Telemetry) -> Any:
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server
    except ImportError as exc:
        raise ImportError(
            f"a Prometheus endpoint needs the prometheus extra: pip install 'agent_cache[prometheus]' ({exc})"
        ) from exc
    reader = PrometheusMetricReader()
    server, _thread = start_http_server(port, addr=host)
    handle.prometheus_port = server.server_address[1]
    return reader
