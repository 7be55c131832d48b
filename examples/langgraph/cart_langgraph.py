"""LangGraph with agent_cache: a cached tool with injected state, config and runtime; one
conversation of three requests; a loop that stops the run — offline.

A two-node graph (model → ToolNode → model) driven by langchain-core's
``FakeMessagesListChatModel``. One conversation (``thread_id="conv-42"``) of three requests
through the sync entry point ``graph.invoke``; each calls ``get_cart(user_id="u1")`` twice,
then answers. ToolNode runs
a plain ``def`` tool in a thread-pool worker and passes every argument by keyword,
including the injected ones: ``state`` (a plain dict — only its annotation
``Annotated[..., InjectedState]`` marks it), ``config`` (a plain dict annotated
``RunnableConfig``) and ``runtime`` (a ``langgraph.prebuilt.tool_node.ToolRuntime``).
``config["configurable"]["thread_id"]`` is the conversation id.

* ``cached_tool`` = LangChain's ``@tool`` over ``@AgentCache``: the injected parameters are
  left out of the key, so the body runs once for all six calls (a ``def`` tool stays
  ``def``, so ``graph.invoke`` runs it).
* Each call enters the session of the ``thread_id`` (kept ``idle_timeout``): with
  ``max_tool_repeats=5`` the sixth call is caught; ToolNode re-raises it, so the third
  ``graph.invoke`` stops with ``AgentLoopDetectedError``.
* LangGraph opens no OpenTelemetry spans itself: agent_cache's ``execute_tool`` span is the
  one span per call, with ``gen_ai.conversation.id`` = the ``thread_id``.

Prints one ``RESULT`` JSON line that tests/frameworks/test_examples_run.py checks.
"""

from __future__ import annotations

import json
import threading
from typing import Annotated, Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import InjectedState, ToolNode, ToolRuntime, tools_condition
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agent_cache import AgentLoopDetectedError
from agent_cache.integrations import Conversation
from agent_cache.integrations.langgraph import cached_tool

# An in-memory exporter stands in for your OTLP exporter.
EXPORTER = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(_provider)

BODY_RUNS = 0
_LOCK = threading.Lock()
CONVERSATION_IDS: list[str | None] = []


@cached_tool(resource="cart", ttl=60, conversation=Conversation(idle_timeout=600, max_tool_repeats=5))
def get_cart(
    user_id: str,
    state: Annotated[dict[str, Any], InjectedState],
    config: RunnableConfig,
    runtime: ToolRuntime,
) -> str:
    """Return the items in a user's cart."""
    global BODY_RUNS
    with _LOCK:
        BODY_RUNS += 1
    CONVERSATION_IDS.append(config.get("configurable", {}).get("thread_id"))
    return json.dumps({"user_id": user_id, "items": ["apple", "pear"]})


def build_graph(turn: int) -> Any:
    model = FakeMessagesListChatModel(
        responses=[
            AIMessage("", tool_calls=[{"name": "get_cart", "args": {"user_id": "u1"}, "id": f"call-{turn}-1"}]),
            AIMessage("", tool_calls=[{"name": "get_cart", "args": {"user_id": "u1"}, "id": f"call-{turn}-2"}]),
            AIMessage("Your cart has an apple and a pear."),
        ]
    )

    def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", call_model)
    graph.add_node("tools", ToolNode([get_cart]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    return graph.compile(checkpointer=InMemorySaver())


def main() -> dict[str, Any]:
    outputs: list[str] = []
    loop: dict[str, Any] | None = None
    for turn in range(3):  # three requests of one conversation (a fresh graph each, as a server would)
        try:
            out = build_graph(turn).invoke(
                {"messages": [HumanMessage("What is in my cart?")]},
                {"configurable": {"thread_id": "conv-42"}},
            )
            outputs.append(str(out["messages"][-1].content))
            assert sum(1 for m in out["messages"] if isinstance(m, ToolMessage)) == 2
        except AgentLoopDetectedError as exc:  # the run stopped at the caught call
            loop = {"request": turn + 1, "kind": exc.kind, "tool": exc.tool, "session_id": exc.session_id,
                    "error_type": type(exc).__name__}
            break
    metrics = get_cart.agent_cache.get_metrics()  # type: ignore[attr-defined]
    spans = EXPORTER.get_finished_spans()
    tool_spans = [s for s in spans if (s.attributes or {}).get("gen_ai.operation.name") == "execute_tool"]
    summary = {
        "framework": "langgraph",
        "tool_name": get_cart.name,
        "body_runs": BODY_RUNS,
        "tool_calls": len(tool_spans),
        "calls_before_loop": metrics["hits"] + metrics["misses"],
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
