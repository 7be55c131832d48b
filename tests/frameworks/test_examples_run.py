"""Every framework example under examples/ runs offline, as a user would run it.

Each example drives its framework with the framework's own fake or test model (or the MCP
SDK's in-process client), calls one tool twice with the same arguments, and prints one
``RESULT {json}`` line. The example runs in a subprocess — a fresh interpreter, like
``python examples/<framework>/<file>.py`` — so a framework's global state (tracer
providers, loggers, event-loop policy) cannot leak into the rest of the suite.

The frameworks come from the ``frameworks`` extra; CrewAI, which cannot share that venv,
from the ``crewai`` extra in a venv of its own (``make test-crewai`` sets
``AGENT_CACHE_FRAMEWORK_ENV=crewai``). Each example runs in the venv it belongs to and is
skipped, by design, in the other. In its own venv, a missing framework skips on a
developer machine and FAILS under ``CI=true``: CI must install the extra, never skip it.

These examples are not yet wrapped by agent_cache, so the body runs once per call
(``body_runs == tool_calls``); once the integrations land, the expectation becomes
``body_runs == 1`` for the cached tool.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@dataclass(frozen=True)
class Example:
    """One example script and the importable module its framework must provide."""

    path: str
    needs: str
    framework: str
    venv: str = "frameworks"


CASES = [
    Example("openai_agents/cart_openai_agents.py", "agents", "openai-agents"),
    Example("langgraph/cart_langgraph.py", "langgraph", "langgraph"),
    Example("pydantic_ai/cart_pydantic_ai.py", "pydantic_ai", "pydantic-ai"),
    Example("mcp/cart_mcp_sdk.py", "mcp", "mcp"),
    Example("mcp/cart_fastmcp.py", "fastmcp", "fastmcp"),
    Example("crewai/cart_crewai.py", "crewai", "crewai", venv="crewai"),
]

#: Which venv this run is in: "frameworks" (make test) or "crewai" (make test-crewai).
FRAMEWORK_ENV = os.environ.get("AGENT_CACHE_FRAMEWORK_ENV", "frameworks")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _require(module: str) -> None:
    """Skip without the framework, or fail under ``CI=true``."""
    if importlib.util.find_spec(module) is None:
        message = f"{module!r} is not installed: pip install -e '.[frameworks]'"
        if _in_ci():
            pytest.fail(f"{message} (CI=true: failing, not skipping)")
        pytest.skip(message)


def _result_line(stdout: str) -> dict[str, object]:
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, f"expected one RESULT line, got: {stdout!r}"
    parsed = json.loads(lines[0][len("RESULT ") :])
    assert isinstance(parsed, dict)
    return parsed


@pytest.mark.parametrize("example", CASES, ids=[c.path for c in CASES])
def test_example_runs_offline(example: Example) -> None:
    if example.venv != FRAMEWORK_ENV:
        pytest.skip(f"runs in the {example.venv!r} venv (this is {FRAMEWORK_ENV!r})")
    _require(example.needs)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["OPENAI_AGENTS_DISABLE_TRACING"] = "1"  # no exporter to reach; keeps stderr quiet
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / example.path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=EXAMPLES.parent,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    result = _result_line(proc.stdout)
    assert result["framework"] == example.framework
    assert result["tool_name"] == "get_cart"
    if example.framework == "crewai":
        # get_cart(u1), get_cart(u2), get_cart(u1): CrewAI refuses back-to-back repeats itself.
        assert result["tool_calls"] == 3, result
        assert result["body_runs"] == 3, result  # becomes 2 once wrapped by agent_cache
        return
    assert result["tool_calls"] == 2, result
    assert result["body_runs"] == 2, result  # becomes 1 once wrapped by agent_cache
    assert result["conversation_ids"] == ["conv-42"], result
