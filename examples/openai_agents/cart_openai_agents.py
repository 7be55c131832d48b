"""openai-agents with agent_cache: a cached tool with the context parameter, one conversation
of three runs, a loop that stops the run — offline.

The agent is driven by the SDK's own scripted test model (``agents.testing.ScriptedModel``).
One conversation (``RunConfig(group_id="conv-42")``) of three runs through the sync entry
point ``Runner.run_sync``; each run calls ``get_cart(user_id="u1")`` twice, then answers.
The SDK passes ``(ctx, user_id)`` positionally, where ``ctx`` is a per-call ``ToolContext``
(left out of the key), and runs the ``def`` tool in a worker thread.

* ``cached_tool`` = ``@function_tool`` over ``@AgentCache`` (in the order that works): the
  body runs once for all six calls.
* Each call enters the conversation's session (``group_id``, kept ``idle_timeout``): with
  ``max_tool_repeats=5`` the sixth call is caught and the third run stops with
  ``AgentLoopDetectedError`` (``LoopDetected``, an ``AgentsException`` the runner lets out).
* openai-agents has no OpenTelemetry spans of its own: agent_cache's ``execute_tool`` span is
  the one span per call, with ``gen_ai.conversation.id`` = the ``group_id``.

Prints one ``RESULT`` JSON line that tests/frameworks/test_examples_run.py checks.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from agents import Agent, RunConfig, RunContextWrapper, Runner
from agents.testing import ScriptedModel, assistant_message, function_call
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agent_cache import AgentLoopDetectedError
from agent_cache.integrations import Conversation
from agent_cache.integrations.openai_agents import cached_tool

# An in-memory exporter stands in for your OTLP exporter.
EXPORTER = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(_provider)

BODY_RUNS = 0
_LOCK = threading.Lock()
CONVERSATION_IDS: set[str | None] = set()


@cached_tool(resource="cart", ttl=60, conversation=Conversation(idle_timeout=600, max_tool_repeats=5))
def get_cart(ctx: RunContextWrapper[dict[str, Any]], user_id: str) -> str:
    """Return the items in a user's cart."""
    global BODY_RUNS
    with _LOCK:
        BODY_RUNS += 1
    run_config = getattr(ctx, "run_config", None)  # set on the per-call ToolContext
    CONVERSATION_IDS.add(run_config.group_id if run_config is not None else None)
    return json.dumps({"user_id": user_id, "items": ["apple", "pear"]})


def one_request(turn: int) -> str:
    model = ScriptedModel(
        [
            [function_call("get_cart", {"user_id": "u1"}, call_id=f"call-{turn}-1")],
            [function_call("get_cart", {"user_id": "u1"}, call_id=f"call-{turn}-2")],
            [assistant_message("Your cart has an apple and a pear.")],
        ]
    )
    agent = Agent(name="shop", instructions="Answer about carts.", tools=[get_cart], model=model)
    result = Runner.run_sync(
        agent,
        "What is in my cart?",
        context={"user": "alice"},
        run_config=RunConfig(group_id="conv-42", tracing_disabled=True),
    )
    return str(result.final_output)


def main() -> dict[str, Any]:
    outputs: list[str] = []
    loop: dict[str, Any] | None = None
    for turn in range(3):
        try:
            outputs.append(one_request(turn))
        except AgentLoopDetectedError as exc:  # the run stopped at the caught call
            loop = {"request": turn + 1, "kind": exc.kind, "tool": exc.tool, "session_id": exc.session_id,
                    "error_type": type(exc).__name__}
            break
    metrics = get_cart.agent_cache.get_metrics()  # type: ignore[attr-defined]
    calls_before_loop = metrics["hits"] + metrics["misses"]
    spans = EXPORTER.get_finished_spans()
    tool_spans = [s for s in spans if (s.attributes or {}).get("gen_ai.operation.name") == "execute_tool"]
    summary = {
        "framework": "openai-agents",
        "tool_name": get_cart.name,
        "body_runs": BODY_RUNS,
        "tool_calls": len(tool_spans),
        "calls_before_loop": calls_before_loop,
        "completed_requests": len(outputs),
        "loop": loop,
        "tool_spans": len(tool_spans),
        "tool_spans_with_cache_result": sum(1 for s in tool_spans if "agent_cache.resource" in (s.attributes or {})),
        "conversation_ids": sorted({c for c in CONVERSATION_IDS if c}),
        "span_conversation_ids": sorted({str(v) for s in spans
                                         if (v := (s.attributes or {}).get("gen_ai.conversation.id"))}),
        "final_output": outputs[-1] if outputs else None,
    }
    print("RESULT " + json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
