"""Shared fixtures: a clean slate per test and a fake monotonic clock (injected with ``clock=``).

Every test starts and ends with :func:`agent_cache.reset_global_state`, so global agent
caches and counters never leak from one test into the next.
"""

from __future__ import annotations

from typing import Any

import pytest

import agent_cache
from agent_cache.core.wrappers import REFERENCE_PATH_ENV
from helpers import FakeClock


@pytest.fixture(autouse=True)
def clean_slate():
    agent_cache.reset_global_state()
    yield
    agent_cache.reset_global_state()


@pytest.fixture
def clock() -> FakeClock:
    """A fake monotonic clock; tests inject it with ``clock=`` (no module patching)."""
    return FakeClock()


# --- the behaviour suite, three ways -------------------------------------------------------
#
# As CPython's test_functools runs the C and the Python lru_cache through one mixin, every
# behaviour test below runs on the fast path (the factory's inlined wrappers), on the
# reference path (AGENT_CACHE_REFERENCE_PATH=1: every call through Plan.general and
# Store.fresh) and with the OpenTelemetry SDK installed (traced path, real in-memory
# exporters). A test that is about one path only says so with @pytest.mark.paths("fast").

PATHS = ("fast", "reference", "sdk")
BEHAVIOUR_SUITE = {
    "test_batching", "test_cancel", "test_decorators", "test_exceptions",
    "test_invalidation_consistency", "test_keys", "test_loop_detection", "test_metrics",
    "test_seed_scenarios", "test_sessions", "test_singleflight", "test_ttl_lru",
    "test_validation", "test_warmup", "test_core_correctness", "test_async_cache_compat",
    "test_disk_agent_cache", "test_l2_remaining_ttl", "test_agent_signatures", "test_sync_tools",
    "test_conversations", "test_resilience",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "paths(*names): run this behaviour test only on these paths")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.module.__name__.rpartition(".")[2] not in BEHAVIOUR_SUITE:
        return
    marker = metafunc.definition.get_closest_marker("paths")
    paths = marker.args if marker else PATHS
    metafunc.parametrize("cache_path", paths, indirect=True)


@pytest.fixture(autouse=True)
def cache_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Which path this behaviour test runs on (tests outside the suite: the fast path)."""
    path = getattr(request, "param", "fast")
    if path == "reference":
        monkeypatch.setenv(REFERENCE_PATH_ENV, "1")
        yield path
    elif path == "sdk":
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from otel_globals import install_providers, uninstall_providers

        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
        install_providers(tracer_provider, MeterProvider(metric_readers=[InMemoryMetricReader()]))
        try:
            yield path
        finally:
            uninstall_providers(shutdown=True)
    else:
        yield path
