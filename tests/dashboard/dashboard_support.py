"""Helpers of the dashboard tests: the system Chromium, and the dashboard as a process.

(Not in conftest.py: test modules import these by name, and every test folder has a
``conftest`` module, so that name is ambiguous on ``sys.path``.)"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


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
