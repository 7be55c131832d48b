"""LangGraph: a tool with injected state, config and runtime, called twice, offline.

A two-node graph (model → ToolNode → model) driven by langchain-core's
``FakeMessagesListChatModel``: turn 1 and turn 2 both call ``get_cart(user_id="u1")``,
turn 3 answers. The run goes through the sync entry point ``graph.invoke``; ToolNode runs
a plain ``def`` tool in a thread-pool worker and passes every argument by keyword,
including the injected ones: ``state`` (a plain dict — only its annotation
``Annotated[..., InjectedState]`` marks it), ``config`` (a plain dict annotated
``RunnableConfig``) and ``runtime`` (a ``langgraph.prebuilt.tool_node.ToolRuntime``).
``config["configurable"]["thread_id"]`` is the conversation id.

Not yet wrapped by agent_cache: the body runs once per call. Prints one ``RESULT`` JSON
line that tests/frameworks/test_examples_run.py checks.
"""

from __future__ import annotations

import json
import threading
from typing import Annotated, Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import InjectedState, ToolNode, ToolRuntime, tools_condition

BODY_RUNS = 0
_LOCK = threading.Lock()
CONVERSATION_IDS: list[str | None] = []


@tool
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


def build_graph() -> Any:
    model = FakeMessagesListChatModel(
        responses=[
            AIMessage("", tool_calls=[{"name": "get_cart", "args": {"user_id": "u1"}, "id": "call-1"}]),
            AIMessage("", tool_calls=[{"name": "get_cart", "args": {"user_id": "u1"}, "id": "call-2"}]),
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
    graph = build_graph()
    out = graph.invoke(
        {"messages": [HumanMessage("What is in my cart?")]},
        {"configurable": {"thread_id": "conv-42"}},
    )
    summary = {
        "framework": "langgraph",
        "tool_name": get_cart.name,
        "tool_calls": sum(1 for m in out["messages"] if isinstance(m, ToolMessage)),
        "body_runs": BODY_RUNS,
        "conversation_ids": sorted({c for c in CONVERSATION_IDS if c}),
        "final_output": out["messages"][-1].content,
    }
    print("RESULT " + json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
