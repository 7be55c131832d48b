"""Run one framework under one OpenTelemetry bridge, two identical tool calls, and print the
spans as one ``RESULT`` JSON line (tests/frameworks/test_bridges.py runs it in a subprocess:
instrumentors patch the framework process-wide).

``python bridge_run.py <framework> <bridge> <integrated|plain>``
"""

import json
import sys
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agent_cache import AgentCache

framework, bridge, mode = sys.argv[1:4]
EXPORTER = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(provider)


def run_openai_agents() -> None:
    if bridge == "traceloop":
        from opentelemetry.instrumentation.openai_agents import OpenAIAgentsInstrumentor
    else:
        from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor
    OpenAIAgentsInstrumentor().instrument(tracer_provider=provider)
    from agents import Agent, RunConfig, RunContextWrapper, Runner, function_tool
    from agents.testing import ScriptedModel, assistant_message, function_call

    from agent_cache.integrations.openai_agents import cached_tool

    def get_cart(ctx: RunContextWrapper[Any], user_id: str) -> str:
        return "cart"

    if mode == "integrated":
        tool = cached_tool(resource="cart")(get_cart)
    else:
        tool = function_tool(AgentCache(resource="cart")(get_cart))
    calls = [[function_call("get_cart", {"user_id": "u1"}, call_id=f"c{i}")] for i in range(2)]
    model = ScriptedModel([*calls, [assistant_message("done")]])
    agent = Agent(name="shop", tools=[tool], model=model)
    Runner.run_sync(agent, "cart?", run_config=RunConfig(group_id="conv-42"))


def run_langgraph() -> None:
    if bridge == "traceloop":
        from opentelemetry.instrumentation.langchain import LangchainInstrumentor

        LangchainInstrumentor().instrument(tracer_provider=provider)
    else:
        from openinference.instrumentation.langchain import LangChainInstrumentor

        LangChainInstrumentor().instrument(tracer_provider=provider)
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.tools import tool
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode

    from agent_cache.integrations.langgraph import cached_tool

    def get_cart(user_id: str) -> str:
        """Return the cart."""
        return "cart"

    if mode == "integrated":
        wrapped = cached_tool(resource="cart")(get_cart)
    else:
        wrapped = tool(AgentCache(resource="cart")(get_cart))
    graph = StateGraph(MessagesState)
    graph.add_node("tools", ToolNode([wrapped]))
    graph.add_edge(START, "tools")
    app = graph.compile()
    for i in range(2):
        call = {"name": "get_cart", "args": {"user_id": "u1"}, "id": f"c{i}"}
        app.invoke({"messages": [HumanMessage("x"), AIMessage("", tool_calls=[call])]},
                   {"configurable": {"thread_id": "conv-42"}})


{"openai-agents": run_openai_agents, "langgraph": run_langgraph}[framework]()
spans = EXPORTER.get_finished_spans()
by_id = {s.context.span_id: s for s in spans}


def is_tool_span(s: Any) -> bool:
    attributes = s.attributes or {}
    return (attributes.get("gen_ai.operation.name") == "execute_tool"
            or attributes.get("openinference.span.kind") == "TOOL")


tool_spans = [s for s in spans if is_tool_span(s)]
ours = [s for s in tool_spans if s.instrumentation_scope.name == "agent_cache"]
print("RESULT " + json.dumps({
    "tool_spans": len(tool_spans),
    "agent_cache_tool_spans": len(ours),
    "results": sorted(str((s.attributes or {}).get("agent_cache.result")) for s in tool_spans),
    "traces": len({s.context.trace_id for s in spans}),
    "our_parents": sorted(by_id[s.parent.span_id].name if s.parent and s.parent.span_id in by_id else "-"
                          for s in ours),
    "conversation_ids": sorted({str(v) for s in tool_spans
                                if (v := (s.attributes or {}).get("gen_ai.conversation.id"))}),
}))
