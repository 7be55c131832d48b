"""pydantic-ai with agent_cache: a cached tool with ``RunContext``; one conversation of three
runs; a loop that stops the run; one span per call — offline.

The agent is driven by pydantic-ai's ``FunctionModel`` (a scripted model). One conversation
(``conversation_id="conv-42"``) of three runs through the sync entry point
``agent.run_sync``; each calls ``get_cart(user_id="u1")`` twice, then answers. pydantic-ai
passes the context positionally and the model's arguments by keyword:
``get_cart(ctx, user_id="u1")``; ``ctx`` is a ``RunContext`` with a per-call
``tool_call_id``. A plain ``def`` tool runs in an AnyIO worker thread.

* ``@agent.tool`` registers the function it receives and returns it unchanged, so a cache
  written *above* it is never called: ``cached_tool(agent, ...)`` registers the cached
  function (the order that works). ``RunContext`` is left out of the key: the body runs
  once for all six calls.
* ``AgentCacheCapability`` enters the conversation's session around each run (kept
  ``idle_timeout``): with ``max_tool_repeats=5`` the sixth call is caught and the third
  ``run_sync`` stops with ``AgentLoopDetectedError`` (pydantic-ai lets it out as is).
* With ``instrument`` on, pydantic-ai opens ``invoke_agent`` and ``execute_tool`` spans;
  agent_cache annotates them instead of adding its own (one span per call and per run), and
  both carry the same ``gen_ai.conversation.id``.

Prints one ``RESULT`` JSON line that tests/frameworks/test_examples_run.py checks.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic_ai import Agent, RunContext
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from agent_cache import AgentLoopDetectedError
from agent_cache.integrations import Conversation
from agent_cache.integrations.pydantic_ai import AgentCacheCapability, cached_tool

# An in-memory exporter stands in for your OTLP exporter.
EXPORTER = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(_provider)

BODY_RUNS = 0
_LOCK = threading.Lock()
CONVERSATION_IDS: list[str | None] = []
CONVERSATION = Conversation(idle_timeout=600, max_tool_repeats=5)


def script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Turn 1 and 2 call get_cart with the same arguments; turn 3 answers."""
    turn = sum(1 for m in messages if m.kind == "response")
    if turn < 2:
        return ModelResponse(parts=[ToolCallPart("get_cart", {"user_id": "u1"}, tool_call_id=f"call-{turn + 1}")])
    return ModelResponse(parts=[TextPart("Your cart has an apple and a pear.")])


agent = Agent(FunctionModel(script), deps_type=dict, name="shop", capabilities=[AgentCacheCapability(CONVERSATION)])
agent.instrument = True  # pydantic-ai's own OpenTelemetry spans


@cached_tool(agent, resource="cart", ttl=60, conversation=CONVERSATION)
def get_cart(ctx: RunContext[dict[str, Any]], user_id: str) -> str:
    """Return the items in a user's cart."""
    global BODY_RUNS
    with _LOCK:
        BODY_RUNS += 1
    CONVERSATION_IDS.append(ctx.conversation_id)
    return json.dumps({"user_id": user_id, "items": ["apple", "pear"]})


def main() -> dict[str, Any]:
    outputs: list[str] = []
    loop: dict[str, Any] | None = None
    for turn in range(3):
        try:
            result = agent.run_sync("What is in my cart?", deps={"user": "alice"}, conversation_id="conv-42")
            outputs.append(result.output)
        except AgentLoopDetectedError as exc:  # the run stopped at the caught call
            loop = {"request": turn + 1, "kind": exc.kind, "tool": exc.tool, "session_id": exc.session_id,
                    "error_type": type(exc).__name__}
            break
    metrics = get_cart.get_metrics()  # type: ignore[attr-defined]
    spans = EXPORTER.get_finished_spans()
    tool_spans = [s for s in spans if (s.attributes or {}).get("gen_ai.operation.name") == "execute_tool"]
    agent_spans = [s for s in spans if (s.attributes or {}).get("gen_ai.operation.name") == "invoke_agent"]
    summary = {
        "framework": "pydantic-ai",
        "tool_name": get_cart.tool_name,  # type: ignore[attr-defined]
        "body_runs": BODY_RUNS,
        "tool_calls": len(tool_spans),
        "calls_before_loop": metrics["hits"] + metrics["misses"],
        "completed_requests": len(outputs),
        "loop": loop,
        "tool_spans": len(tool_spans),
        "tool_spans_with_cache_result": sum(1 for s in tool_spans if "agent_cache.resource" in (s.attributes or {})),
        "agent_spans": len(agent_spans),
        "agent_spans_annotated": sum(
            1 for s in agent_spans if "agent_cache.session.tool_calls" in (s.attributes or {})
        ),
        "conversation_ids": sorted({c for c in CONVERSATION_IDS if c}),
        "span_conversation_ids": sorted({str(v) for s in spans
                                         if (v := (s.attributes or {}).get("gen_ai.conversation.id"))}),
        "final_output": outputs[-1] if outputs else None,
    }
    print("RESULT " + json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
