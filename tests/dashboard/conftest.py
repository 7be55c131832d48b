"""Fixtures of the dashboard tests: an in-process SDK with the dashboard's span processor,
and the real dashboard process for the browser test."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from dashboard_support import DashboardProcess

import agent_cache
from otel_globals import install_providers, uninstall_providers


@pytest.fixture(autouse=True)
def _clean_global_state() -> Iterator[None]:
    agent_cache.reset_global_state()
    yield
    agent_cache.reset_global_state()
    # The playground's and workload's caches sit in reference cycles (closures); collect them
    # now, so their weakly tracked counters do not show up in a later test's metrics.
    gc.collect()


@pytest.fixture
def session_spans():
    """The dashboard's processor on a fresh global SDK tracer provider; unset afterwards."""
    from opentelemetry.sdk.trace import TracerProvider

    from agent_cache.dashboard.spans import SessionSpans

    processor = SessionSpans(keep=5)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    install_providers(provider, None)
    yield processor
    uninstall_providers(shutdown=True)


@pytest.fixture(scope="module")
def dashboard_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardProcess]:
    proc = DashboardProcess(tmp_path_factory.mktemp("dashboard") / "dashboard.log", "--latency-ms", "5")
    yield proc
    proc.stop()
