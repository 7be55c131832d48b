"""Fixtures of the observability-stack tests (run them alone with ``pytest -m stack``).

The live fixtures start every workload and its Prometheus at once, in one session-scoped
fixture, so the several seconds each needs before its first useful scrape overlap.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from live_prometheus import PrometheusServer, Workload, demo_workload, fixture_workload, running_stacks
from stack_support import require_tool


@pytest.fixture(scope="session")
def live_report() -> Iterator[dict[str, Any]]:
    """Each live query and what it returned; written to $STACK_LIVE_REPORT when set."""
    report: dict[str, Any] = {}
    yield report
    target = os.environ.get("STACK_LIVE_REPORT")
    if target:
        Path(target).write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")


@pytest.fixture(scope="session")
def live_stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Workload, PrometheusServer]]]:
    """name -> (workload, prometheus): the ``faulty`` and ``healthy`` fixture workloads, and
    the demo with and without misbehaving agents."""
    require_tool("prometheus")
    root = tmp_path_factory.mktemp("live")
    runs: dict[str, Callable[[], Workload]] = {
        "faulty": partial(fixture_workload, "faulty", root),
        "healthy": partial(fixture_workload, "healthy", root),
        "demo": partial(demo_workload, "demo", root),
        "demo-no-loops": partial(demo_workload, "demo-no-loops", root, "--loop-rate", "0"),
    }
    with running_stacks(runs, root) as stacks:
        yield stacks
