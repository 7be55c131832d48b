"""Fixtures of the observability-stack tests (run them alone with ``pytest -m stack``).

The live fixtures start every workload and its Prometheus at once, in one session-scoped
fixture, so the several seconds each needs before its first useful scrape overlap.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from live_prometheus import (
    PrometheusServer,
    Workload,
    demo_workload,
    fixture_workload,
    running_stacks,
)
from stack_support import free_port, require_tool


def outage(mode: str) -> tuple[str, ...]:
    """Demo options for a run whose web API is down while Prometheus scrapes it.

    A counter series that appears between two scrapes shows its first value as a baseline,
    not as an increase: errors that all happened before the first scrape would be invisible
    to rate(). Prometheus starts after the demo serves metrics, a few seconds on a busy CI
    machine, so the outage starts 6 s in, lasts 8 s, and the run lasts 16 s (enough
    sessions to keep agents busy that long).
    """
    return ("--sessions", "8000", "--duration", "16", "--outage", f"6:8:{mode}")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port, for the demo's shared tier."""
    binary = require_tool("redis-server")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while True:  # another process: poll until it accepts connections
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def live_report() -> Iterator[dict[str, Any]]:
    """Each live query and what it returned; written to $STACK_LIVE_REPORT when set."""
    report: dict[str, Any] = {}
    yield report
    target = os.environ.get("STACK_LIVE_REPORT")
    if target:
        Path(target).write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")


@pytest.fixture(scope="session")
def live_stacks(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[dict[str, tuple[Workload, PrometheusServer]]]:
    """name -> (workload, prometheus): the ``faulty`` and ``healthy`` fixture workloads, the
    demo with misbehaving agents and a web API that refuses calls for a while, the demo with
    neither, and the demo on a shared Redis tier whose web API hangs for a while."""
    require_tool("prometheus")
    root = tmp_path_factory.mktemp("live")
    runs: dict[str, Callable[[], Workload]] = {
        "faulty": partial(fixture_workload, "faulty", root),
        "healthy": partial(fixture_workload, "healthy", root),
        "demo": partial(demo_workload, "demo", root, *outage("raise")),
        "demo-no-loops": partial(demo_workload, "demo-no-loops", root, "--loop-rate", "0"),
        "demo-redis": partial(demo_workload, "demo-redis", root, "--redis", redis_url, *outage("hang")),
    }
    with running_stacks(runs, root) as stacks:
        yield stacks
