"""Fixtures for the demo's tests.

The demo installs a global OpenTelemetry SDK (that is its job). The API lets a process set
its providers only once, so after each in-process run we put them back to "unset": other
test modules then see the library's no-SDK path, as users without an SDK do.
"""

from __future__ import annotations

import gc

import pytest

import agent_cache
from agent_cache.demo import otel as demo_otel
from otel_globals import uninstall_providers


@pytest.fixture(autouse=True)
def _clean_global_state():
    agent_cache.reset_global_state()
    yield
    agent_cache.reset_global_state()
    uninstall_providers(shutdown=True)
    demo_otel._attached_to = None
    # The demo's tool caches (the checkout's product-details AsyncCache among them) sit in
    # reference cycles; collect them, so their weakly tracked counters leave with the test.
    gc.collect()
