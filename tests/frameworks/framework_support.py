"""Which venv a framework test runs in, and "missing framework fails under CI=true"."""

from __future__ import annotations

import importlib.util
import os

import pytest

#: Which venv this run is in: "frameworks" (make test) or "crewai" (make test-crewai).
FRAMEWORK_ENV = os.environ.get("AGENT_CACHE_FRAMEWORK_ENV", "frameworks")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(module: str, venv: str = "frameworks") -> None:
    """Skip outside the framework's venv; without the framework skip, or fail under ``CI=true``."""
    if venv != FRAMEWORK_ENV:
        pytest.skip(f"runs in the {venv!r} venv (this is {FRAMEWORK_ENV!r})")
    if importlib.util.find_spec(module) is None:
        message = f"{module!r} is not installed: pip install -e '.[{venv}]'"
        if in_ci():
            pytest.fail(f"{message} (CI=true: failing, not skipping)")
        pytest.skip(message)
