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

Each example uses ``agent_cache.integrations.<framework>`` as a user would and runs one
conversation (``conv-42``) of three requests with two identical ``get_cart(user_id="u1")``
calls each, under ``max_tool_repeats=5``, with an in-memory OpenTelemetry exporter. One test
per property the integrations promise (issue 14), each over every example that shows it:

* the tool takes the framework's context parameter and its body runs once for six calls;
* a ``def`` tool under the framework's sync entry point is cached (``run_sync``, ``invoke``,
  ``kickoff``; fastmcp: a ``def`` tool in AnyIO's worker thread);
* the sixth call is caught (the conversation's loop state spans the requests);
* the loop stops the run (``except AgentLoopDetectedError`` around the run call; MCP: an
  ``isError`` result whose text tells the model what it repeated, no traceback logged);
* one ``execute_tool`` span per call (the framework's own, annotated, where it has one);
* ``gen_ai.conversation.id`` on every span is the framework's conversation id.
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
    #: the cached tool is a ``def`` run from the framework's sync entry point / worker thread
    sync_tool: bool = True
    #: a tool failure reaches the client as an ``isError`` result (MCP), not an exception
    mcp: bool = False
    #: the tool has a framework context parameter (CrewAI tools have none)
    context_param: bool = True
    #: tool calls made, and body runs expected (CrewAI: u1, u2, u1 per kickoff, since it
    #: refuses back-to-back repeats itself; the sixth u1 is the ninth call)
    calls: int = 6
    body_runs: int = 1


CASES = [
    Example("openai_agents/cart_openai_agents.py", "agents", "openai-agents"),
    Example("langgraph/cart_langgraph.py", "langgraph", "langgraph"),
    Example("pydantic_ai/cart_pydantic_ai.py", "pydantic_ai", "pydantic-ai"),
    Example("mcp/cart_mcp_sdk.py", "mcp", "mcp", sync_tool=False, mcp=True),
    Example("mcp/cart_fastmcp.py", "fastmcp", "fastmcp", mcp=True),
    Example("crewai/cart_crewai.py", "crewai", "crewai", venv="crewai", context_param=False, calls=9, body_runs=2),
]
IDS = [c.path for c in CASES]

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


_RESULTS: dict[str, dict[str, object]] = {}


def run_example(example: Example) -> dict[str, object]:
    """Run the example once per test session (in its venv) and return its RESULT line."""
    if example.venv != FRAMEWORK_ENV:
        pytest.skip(f"runs in the {example.venv!r} venv (this is {FRAMEWORK_ENV!r})")
    _require(example.needs)
    if example.path in _RESULTS:
        return _RESULTS[example.path]
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
    _RESULTS[example.path] = result
    return result


@pytest.mark.parametrize("example", CASES, ids=IDS)
def test_example_runs_offline(example: Example) -> None:
    result = run_example(example)
    assert result["tool_calls"] == example.calls, result


WITH_CONTEXT = [c for c in CASES if c.context_param]
SYNC_TOOLS = [c for c in CASES if c.sync_tool]


@pytest.mark.parametrize("example", WITH_CONTEXT, ids=[c.path for c in WITH_CONTEXT])
def test_tool_with_context_parameter_runs_once(example: Example) -> None:
    """Six calls with the same model arguments (a different context object each): one body run."""
    result = run_example(example)
    assert (result["tool_calls"], result["body_runs"]) == (6, 1), result


@pytest.mark.parametrize("example", SYNC_TOOLS, ids=[c.path for c in SYNC_TOOLS])
def test_sync_tool_under_sync_entry_point_is_cached(example: Example) -> None:
    result = run_example(example)
    assert (result["tool_calls"], result["body_runs"]) == (example.calls, example.body_runs), result
    assert result["final_output"], result


@pytest.mark.parametrize("example", CASES, ids=IDS)
def test_conversation_of_three_requests_caught_on_sixth_call(example: Example) -> None:
    result = run_example(example)
    assert result["calls_before_loop"] == example.calls - 1, result  # caught on the last call
    loop = result["loop"]
    assert isinstance(loop, dict), result
    if example.mcp:
        assert loop["call"] == example.calls, result
    else:
        assert loop["request"] == 3, result
        assert (loop["kind"], loop["tool"], loop["session_id"]) == ("repeat", "get_cart", "conv-42"), result


@pytest.mark.parametrize("example", CASES, ids=IDS)
def test_loop_stops_the_run(example: Example) -> None:
    result = run_example(example)
    loop = result["loop"]
    assert isinstance(loop, dict), result
    if example.mcp:
        # the model reads what it repeated; the server logs no traceback for an expected loop
        assert result["error_results"] == 1, result
        assert "get_cart with the same arguments 6 times" in str(loop["text"]), result
        assert result["tracebacks_logged"] == 0, result
    else:
        # `except AgentLoopDetectedError` around the third run caught it; two runs completed
        assert result["completed_requests"] == 2, result


@pytest.mark.parametrize("example", CASES, ids=IDS)
def test_one_span_per_tool_call(example: Example) -> None:
    result = run_example(example)
    assert result["tool_spans"] == result["tool_calls"] == example.calls, result
    assert result["tool_spans_with_cache_result"] == example.calls, result
    if "agent_cache_tool_spans" in result:  # the framework has its own tool span: ours is not added
        assert result["agent_cache_tool_spans"] == 0, result
    if "agent_spans" in result:  # pydantic-ai's invoke_agent span per run, annotated, none of ours
        assert result["agent_spans"] == result["agent_spans_annotated"] == 3, result


@pytest.mark.parametrize("example", CASES, ids=IDS)
def test_conversation_id_agrees(example: Example) -> None:
    result = run_example(example)
    assert result["conversation_ids"] == ["conv-42"], result  # what the framework gave the tool
    assert result["span_conversation_ids"] == ["conv-42"], result  # every span, the framework's and ours
