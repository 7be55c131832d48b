"""One span per tool call under the frameworks' OpenTelemetry bridges (issue 14).

openai-agents has no OpenTelemetry of its own; its bridges (traceloop's and OpenInference's)
open a tool span per call and make it current in the tool. LangChain's traceloop
instrumentation does too; OpenInference's LangChain tracer keeps its tool span without making
it current (and buffers its attributes). Each scenario runs in a subprocess
(bridge_run.py): instrumentors patch the framework process-wide.

"plain" is ``@function_tool`` / ``@tool`` over ``@AgentCache`` (no integration): it shows
what the integration changes where it matters (OpenInference LangChain: a trace of its own
per call); adoption itself is in the core, so plain tools are annotated under the bridges
that make their span current.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from framework_support import require

RUNNER = Path(__file__).with_name("bridge_run.py")
BRIDGE_MODULES = {
    ("openai-agents", "traceloop"): "opentelemetry.instrumentation.openai_agents",
    ("openai-agents", "openinference"): "openinference.instrumentation.openai_agents",
    ("langgraph", "traceloop"): "opentelemetry.instrumentation.langchain",
    ("langgraph", "openinference"): "openinference.instrumentation.langchain",
}


def run(framework: str, bridge: str, mode: str) -> dict[str, object]:
    require(BRIDGE_MODULES[framework, bridge])
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, str(RUNNER), framework, bridge, mode], capture_output=True, text=True,
                          timeout=120, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    result: dict[str, object] = json.loads(line[len("RESULT "):])
    return result


@pytest.mark.parametrize("framework,bridge", sorted(BRIDGE_MODULES), ids=lambda v: str(v))
def test_integrated_tool_is_one_span_per_call_under_the_bridge(framework: str, bridge: str) -> None:
    result = run(framework, bridge, "integrated")
    assert result["tool_spans"] == 2, result  # the bridge's, annotated
    assert result["agent_cache_tool_spans"] == 0, result
    assert result["results"] == ["hit", "miss"], result
    assert result["conversation_ids"] == ["conv-42"], result


def test_openinference_langchain_plain_tool_starts_a_trace_per_call_baseline() -> None:
    """Without the integration agent_cache cannot see OpenInference's LangChain tool span."""
    result = run("langgraph", "openinference", "plain")
    assert result["agent_cache_tool_spans"] == 2, result
    assert result["our_parents"] == ["-", "-"], result  # roots: not under the framework's span
    assert result["tool_spans"] == 4, result
