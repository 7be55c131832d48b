"""Fixtures for the demo's tests.

The demo installs a global OpenTelemetry SDK (that is its job). The API lets a process set
its providers only once, so after each in-process run we put them back to "unset": other
test modules then see the library's no-SDK path, as users without an SDK do.
"""

from __future__ import annotations

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.util._once import Once

import agent_cache
from agent_cache.demo import otel as demo_otel


@pytest.fixture(autouse=True)
def _clean_global_state():
    agent_cache.reset_global_state()
    yield
    agent_cache.reset_global_state()
    for provider in (otel_trace._TRACER_PROVIDER, metrics_internal._METER_PROVIDER):
        if provider is not None and hasattr(provider, "shutdown"):
            provider.shutdown()
    otel_trace._TRACER_PROVIDER_SET_ONCE = Once()
    otel_trace._TRACER_PROVIDER = None
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None
    demo_otel._attached_to = None
