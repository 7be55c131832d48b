"""Prometheus config and alert rules through Debian's promtool (installed by .ci/run)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from stack_support import PROMETHEUS_FILE, RULES_FILE, RULES_TEST_FILE, require_tool

pytestmark = pytest.mark.stack


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("promtool"), *args], capture_output=True, text=True, timeout=60)


def test_prometheus_config_is_valid() -> None:
    result = promtool("check", "config", str(PROMETHEUS_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout + result.stderr


def test_rules_are_valid() -> None:
    result = promtool("check", "rules", str(RULES_FILE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", str(RULES_TEST_FILE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_catch_a_wrong_expectation(tmp_path: Path) -> None:
    """The unit tests can fail: flip one expectation and promtool must reject it."""
    text = RULES_TEST_FILE.read_text(encoding="utf-8")
    broken = text.replace("gen_ai_tool_name: search_web", "gen_ai_tool_name: some_other_tool", 1)
    assert broken != text
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / RULES_FILE.name).write_text(RULES_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    tests_dir = tmp_path / "tests"
    tests_dir.mkdir()
    (tests_dir / RULES_TEST_FILE.name).write_text(broken, encoding="utf-8")
    result = promtool("test", "rules", str(tests_dir / RULES_TEST_FILE.name))
    assert result.returncode != 0
    assert "some_other_tool" in result.stdout + result.stderr
