"""Framework tests are split between two venvs (CrewAI pins versions the others cannot
share): each run *deselects* the other venv's tests — they are not skipped, and a framework
missing from this run's venv fails under ``CI=true`` (see framework_support.require)."""

from __future__ import annotations

import pytest
from framework_support import FRAMEWORK_ENV

CREWAI_MODULES = {"test_integrations_crewai"}


def _venv_of(item: pytest.Item) -> str:
    module = item.module.__name__.rpartition(".")[2] if isinstance(item, pytest.Function) else ""
    if module in CREWAI_MODULES:
        return "crewai"
    callspec = getattr(item, "callspec", None)
    for value in (callspec.params.values() if callspec else ()):
        venv = getattr(value, "venv", None)
        if isinstance(venv, str):
            return venv
    if "crewai" in item.name:
        return "crewai"
    return "frameworks"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep, drop = [], []
    for item in items:
        in_frameworks_dir = "tests/frameworks" in str(item.path).replace("\\", "/")
        if in_frameworks_dir and _venv_of(item) != FRAMEWORK_ENV:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
