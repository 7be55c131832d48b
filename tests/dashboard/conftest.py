"""Fixtures of the dashboard tests: an in-process SDK with the dashboard's span processor,
and the real dashboard process for the browser test."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from otel_globals import install_providers, uninstall_providers

import agent_cache

REPO = Path(__file__).resolve().parents[2]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _clean_global_state() -> Iterator[None]:
    agent_cache.reset_global_state()
    yield
    agent_cache.reset_global_state()


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


def chromium_path() -> str:
    """The system Chromium (Debian's ``chromium``); skip without it locally, fail in CI."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    message = "chromium is not installed (.ci/run installs it: apt-get install chromium)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


class DashboardProcess:
    """``python -m agent_cache.dashboard --port 0`` as a user starts it."""

    def __init__(self, log: Path, *args: str) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "agent_cache.dashboard", "--port", "0", *args],
                stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
            )
        self.url = self._wait_for_url()

    def _wait_for_url(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # another process: poll its output
            found = re.search(r"(http://\S+/)", self.log.read_text(errors="replace"))
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                raise RuntimeError(f"the dashboard exited:\n{self.log.read_text()}")
            time.sleep(0.1)
        raise TimeoutError(f"the dashboard printed no URL:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def dashboard_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardProcess]:
    proc = DashboardProcess(tmp_path_factory.mktemp("dashboard") / "dashboard.log", "--latency-ms", "5")
    yield proc
    proc.stop()
