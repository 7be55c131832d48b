"""Setting and unsetting the OpenTelemetry API's global providers between tests.

The API lets a process set its providers only once. Tests that need the real SDK install
it, and afterwards put the globals back to "unset" so that every other test runs the
library's no-SDK path, as users without an SDK do.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import metrics as otel_metrics
from opentelemetry import trace as otel_trace
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.util._once import Once


def uninstall_providers(shutdown: bool = False) -> None:
    """Forget the global providers (shutting them down first when asked)."""
    if shutdown:
        for provider in (otel_trace._TRACER_PROVIDER, metrics_internal._METER_PROVIDER):
            if provider is not None and hasattr(provider, "shutdown"):
                provider.shutdown()
    otel_trace._TRACER_PROVIDER_SET_ONCE = Once()
    otel_trace._TRACER_PROVIDER = None
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None


def install_providers(tracer_provider: Any, meter_provider: Any) -> None:
    """Make these the global providers, whatever was installed before."""
    uninstall_providers()
    if tracer_provider is not None:
        otel_trace.set_tracer_provider(tracer_provider)
    if meter_provider is not None:
        otel_metrics.set_meter_provider(meter_provider)
