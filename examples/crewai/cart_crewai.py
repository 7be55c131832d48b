"""CrewAI with agent_cache: a cached ``def`` tool under the sync ``crew.kickoff()``; one
conversation of three kickoffs; a loop that stops the crew — offline.

The crew is driven by a scripted LLM (a ``crewai.llms.base_llm.BaseLLM`` subclass answering
in CrewAI's ReAct text format). Each of three kickoffs calls ``get_cart(u1)``,
``get_cart(u2)``, ``get_cart(u1)``, then answers. The call in the middle matters: CrewAI
itself refuses a call identical to the *previous* one (``ToolUsage._check_tool_repeated_usage``).
CrewAI passes the arguments by keyword and runs the ``def`` tool in a worker thread. CrewAI
tools have no context parameter.

* ``cached_tool("get_cart", ...)`` = CrewAI's ``@tool`` over ``@AgentCache``: the body runs
  once per distinct argument (twice for nine calls). It also keeps CrewAI's own tool cache
  (``Crew(cache=True)``, off by default) from answering for this tool.
* CrewAI has no conversation id: the conversation is an ``AgentCacheSession(session_id=...,
  idle_timeout=...)`` around each ``kickoff()``. With ``max_tool_repeats=5`` the sixth
  ``get_cart(u1)`` (in the third kickoff) is caught, and the crew stops: ``kickoff()`` raises
  ``AgentLoopDetectedError`` (CrewAI otherwise swallows tool errors and re-runs the tool).
* CrewAI's own ``call tool`` spans are never current in the tool, so agent_cache's
  ``execute_tool`` span is the one span per call here (under our ``invoke_agent``).

CrewAI cannot share a venv with the ``frameworks`` extra (it pins ``openai<3``, ``mcp<2``):
install ``.[dev,crewai]`` in a venv of its own (``make test-crewai``).

Prints one ``RESULT`` JSON line that tests/frameworks/test_examples_run.py checks.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

# Offline: no usage telemetry, no trace upload.
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")

from crewai import Agent, Crew, CrewOutput, Task
from crewai.llms.base_llm import BaseLLM
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import Field

from agent_cache import AgentCacheSession, AgentLoopDetectedError
from agent_cache.integrations.crewai import cached_tool

# An in-memory exporter stands in for your OTLP exporter.
EXPORTER = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(_provider)

BODY_RUNS = 0
_LOCK = threading.Lock()


@cached_tool("get_cart", resource="cart", ttl=60)
def get_cart(user_id: str) -> str:
    """Return the items in a user's cart."""
    global BODY_RUNS
    with _LOCK:
        BODY_RUNS += 1
    return json.dumps({"user_id": user_id, "items": ["apple", "pear"]})


def _action(tool_name: str, args: dict[str, Any]) -> str:
    return f"Thought: I need the cart\nAction: {tool_name}\nAction Input: {json.dumps(args)}"


class ScriptedLLM(BaseLLM):
    """Answers with the next scripted ReAct step; never calls a provider."""

    steps: list[str] = Field(default_factory=list)
    calls: int = 0

    def call(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: Any = None,
        available_functions: Any = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> str:
        step = self.steps[min(self.calls, len(self.steps) - 1)]
        self.calls += 1
        return step

    def supports_function_calling(self) -> bool:
        return False


def one_request() -> str:
    llm = ScriptedLLM(
        model="scripted",
        steps=[
            _action("get_cart", {"user_id": "u1"}),
            _action("get_cart", {"user_id": "u2"}),
            _action("get_cart", {"user_id": "u1"}),
            "Thought: I know it\nFinal Answer: Your cart has an apple and a pear.",
        ],
    )
    agent = Agent(role="shop assistant", goal="answer about carts", backstory="-", tools=[get_cart], llm=llm)
    task = Task(description="What is in my cart?", expected_output="the items", agent=agent)
    with AgentCacheSession(session_id="conv-42", idle_timeout=600, max_tool_repeats=5, name="shop"):
        output = Crew(agents=[agent], tasks=[task]).kickoff()
    assert isinstance(output, CrewOutput)  # not streaming
    return output.raw


def main() -> dict[str, Any]:
    outputs: list[str] = []
    loop: dict[str, Any] | None = None
    for turn in range(3):
        try:
            outputs.append(one_request())
        except AgentLoopDetectedError as exc:  # the crew stopped at the caught call
            loop = {"request": turn + 1, "kind": exc.kind, "tool": exc.tool, "session_id": exc.session_id,
                    "error_type": type(exc).__name__}
            break
    metrics = get_cart.agent_cache.get_metrics()
    spans = EXPORTER.get_finished_spans()
    tool_spans = [s for s in spans if (s.attributes or {}).get("gen_ai.operation.name") == "execute_tool"
                  and s.instrumentation_scope.name == "agent_cache"]
    summary = {
        "framework": "crewai",
        "tool_name": get_cart.name,
        "body_runs": BODY_RUNS,
        "tool_calls": len(tool_spans),
        "calls_before_loop": metrics["hits"] + metrics["misses"],
        "completed_requests": len(outputs),
        "loop": loop,
        "tool_spans": len(tool_spans),
        "tool_spans_with_cache_result": sum(1 for s in tool_spans if "agent_cache.resource" in (s.attributes or {})),
        "conversation_ids": ["conv-42"],  # CrewAI has none: the id is the session's
        "span_conversation_ids": sorted({str(v) for s in spans
                                         if (v := (s.attributes or {}).get("gen_ai.conversation.id"))}),
        "final_output": outputs[-1] if outputs else None,
    }
    print("RESULT " + json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
