"""agent_cache.integrations against the real frameworks (the ``frameworks`` venv).

The examples (test_examples_run.py) show each integration end to end; these tests pin what
the examples do not: the failures without the integration (baselines), tool names and
handles on the framework's tool objects, async tools, conversation ids from each framework's
own place, and bad options.
"""

import logging
from typing import Any

import pytest
from framework_support import require

from agent_cache import AgentCache, AgentCacheSession, AgentLoopDetectedError
from agent_cache.errors import ConfigurationValueError
from agent_cache.integrations import Conversation

# -- common ------------------------------------------------------------------------------------


def test_conversation_options_fail_at_construction_naming_the_parameter() -> None:
    with pytest.raises(ConfigurationValueError, match="idle_timeout"):
        Conversation(idle_timeout=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_tool_repeats"):
        Conversation(max_tool_repeats=0)
    with pytest.raises(ValueError, match="on_loop"):
        Conversation(on_loop="explode")


# -- openai-agents -------------------------------------------------------------------------------


def _openai_agents_run(tool: Any, turns: int, group_id: str = "conv-1") -> Any:
    from agents import Agent, RunConfig, Runner
    from agents.testing import ScriptedModel, assistant_message, function_call

    script = [[function_call("get_cart", {"user_id": "u1"}, call_id=f"c{i}")] for i in range(turns)]
    model = ScriptedModel([*script, [assistant_message("done")]])
    agent = Agent(name="shop", tools=[tool], model=model)
    return Runner.run_sync(agent, "cart?", run_config=RunConfig(group_id=group_id, tracing_disabled=True))


def test_openai_agents_plain_decorators_keep_looping_baseline() -> None:
    """Without the integration the runner turns the loop error into text and goes on."""
    require("agents")
    from agents import RunContextWrapper, function_tool

    @function_tool
    @AgentCache(resource="cart")
    def get_cart(ctx: RunContextWrapper[Any], user_id: str) -> str:
        return "cart"

    with AgentCacheSession(max_tool_repeats=2) as session:
        result = _openai_agents_run(get_cart, turns=4)
    assert result.final_output == "done"  # all turns ran
    assert session.loop_detections == 2


def test_openai_agents_cached_tool_stops_the_run_and_keeps_other_errors_as_text() -> None:
    require("agents")
    from agents import RunContextWrapper

    from agent_cache.integrations.openai_agents import LoopDetected, cached_tool

    @cached_tool(resource="cart", name_override="get_cart", conversation=Conversation(max_tool_repeats=2))
    def cart(ctx: RunContextWrapper[Any], user_id: str) -> str:
        return "cart"

    with pytest.raises(AgentLoopDetectedError) as caught:
        _openai_agents_run(cart, turns=4)
    assert isinstance(caught.value, LoopDetected)
    assert (caught.value.kind, caught.value.tool, caught.value.session_id) == ("repeat", "get_cart", "conv-1")
    assert cart.name == "get_cart"
    assert cart.agent_cache.tool_name == "get_cart"  # type: ignore[attr-defined]
    assert cart.agent_cache.get_metrics()["hits"] == 1  # type: ignore[attr-defined]

    @cached_tool(resource="cart", name_override="get_cart")
    def broken(ctx: RunContextWrapper[Any], user_id: str) -> str:
        raise RuntimeError("backend down")

    assert _openai_agents_run(broken, turns=1, group_id="conv-2").final_output == "done"  # other errors: text


async def test_openai_agents_async_tool_without_ctx_uses_the_trace_group_id() -> None:
    require("agents")
    from agents import Agent, RunConfig, Runner
    from agents.testing import ScriptedModel, assistant_message, function_call

    from agent_cache.integrations.openai_agents import cached_tool

    seen: list[str | None] = []

    @cached_tool(resource="cart")
    async def get_cart(user_id: str) -> str:
        from agent_cache import get_current_session

        session = get_current_session()
        seen.append(session.session_id if session else None)
        return "cart"

    model = ScriptedModel([[function_call("get_cart", {"user_id": "u1"}, call_id="c1")], [assistant_message("ok")]])
    agent = Agent(name="shop", tools=[get_cart], model=model)
    await Runner.run(agent, "cart?", run_config=RunConfig(group_id="conv-9", tracing_disabled=False))
    assert seen == ["conv-9"]


# -- LangGraph ------------------------------------------------------------------------------------


async def test_langgraph_async_tool_under_ainvoke_is_cached_per_thread() -> None:
    require("langgraph")
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.runnables import RunnableConfig
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode

    from agent_cache import get_current_session
    from agent_cache.integrations.langgraph import cached_tool

    runs: list[str | None] = []

    @cached_tool("get_cart", resource="cart")
    async def cart_tool(user_id: str, config: RunnableConfig) -> str:
        """Return the cart."""
        session = get_current_session()
        runs.append(session.session_id if session else None)
        return "cart"

    calls = [{"name": "get_cart", "args": {"user_id": "u1"}, "id": f"c{i}"} for i in range(2)]
    graph = StateGraph(MessagesState)
    graph.add_node("tools", ToolNode([cart_tool]))
    graph.add_edge(START, "tools")
    app = graph.compile()
    for i in range(2):
        await app.ainvoke({"messages": [HumanMessage("x"), AIMessage("", tool_calls=[calls[i]])]},
                          {"configurable": {"thread_id": "t-1"}})
    assert runs == ["t-1"]  # the second call hit, in the same conversation
    assert cart_tool.name == "get_cart"
    assert cart_tool.agent_cache.get_metrics()["hits"] == 1  # type: ignore[attr-defined]
    assert cart_tool.coroutine.get_metrics()["hits"] == 1  # type: ignore[union-attr]


# -- pydantic-ai ----------------------------------------------------------------------------------


def _pydantic_agent(tool_calls: int) -> Any:
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
    from pydantic_ai.models.function import FunctionModel

    def script(messages: list[Any], info: Any) -> Any:
        turn = sum(1 for m in messages if m.kind == "response")
        if turn < tool_calls:
            return ModelResponse(parts=[ToolCallPart("get_cart", {"user_id": "u1"}, tool_call_id=f"c{turn}")])
        return ModelResponse(parts=[TextPart("done")])

    return Agent(FunctionModel(script), name="shop")


def test_pydantic_ai_cache_written_above_the_registration_is_never_called_baseline() -> None:
    require("pydantic_ai")
    agent = _pydantic_agent(tool_calls=3)
    runs = []

    @AgentCache(resource="cart")
    @agent.tool_plain
    def get_cart(user_id: str) -> str:
        runs.append(user_id)
        return "cart"

    agent.run_sync("cart?")
    assert len(runs) == 3  # 3 calls, 3 runs: the cache above was never called


def test_pydantic_ai_plain_tool_registered_in_order_and_in_the_run_conversation() -> None:
    require("pydantic_ai")
    from agent_cache import get_current_session
    from agent_cache.integrations.pydantic_ai import cached_tool

    agent = _pydantic_agent(tool_calls=3)
    sessions: list[str | None] = []

    @cached_tool(agent, resource="cart")
    def get_cart(user_id: str) -> str:
        session = get_current_session()
        sessions.append(session.session_id if session else None)
        return "cart"

    agent.run_sync("cart?", conversation_id="conv-5")
    assert sessions == ["conv-5"]  # 3 calls, one body run, inside the run's conversation
    assert get_cart.get_metrics()["hits"] == 2  # type: ignore[attr-defined]
    assert "get_cart" in agent._function_toolset.tools  # the framework's tool name


# -- MCP -----------------------------------------------------------------------------------------


class _Tracebacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += bool(record.exc_info)


async def _call_mcp(server: Any, times: int, meta: dict[str, Any] | None) -> list[tuple[bool, str]]:
    from mcp import Client

    out = []
    async with Client(server) as client:
        for _ in range(times):
            result = await client.call_tool("get_cart", {"user_id": "u1"}, meta=meta)  # type: ignore[arg-type]
            out.append((bool(result.is_error), getattr(result.content[0], "text", "")))
    return out


async def test_mcp_plain_loop_error_is_generic_with_a_traceback_baseline() -> None:
    require("mcp")
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("shop")

    @server.tool()
    @AgentCache(resource="cart")
    async def get_cart(user_id: str) -> str:
        return "cart"

    handler = _Tracebacks()
    logging.getLogger().addHandler(handler)
    try:
        async with AgentCacheSession(max_tool_repeats=1):
            results = await _call_mcp(server, 2, None)
    finally:
        logging.getLogger().removeHandler(handler)
    assert results[1] == (True, "Error executing tool get_cart")  # the model learns nothing
    assert handler.count == 1


async def test_mcp_cached_tool_without_conversation_meta_runs_outside_sessions() -> None:
    require("mcp")
    from mcp.server.mcpserver import Context, MCPServer

    from agent_cache.integrations.mcp import cached_tool

    server = MCPServer("shop")

    @cached_tool(server, resource="cart", name="get_cart", conversation=Conversation(max_tool_repeats=1))
    async def cart(user_id: str, ctx: Context) -> str:
        return "cart"

    results = await _call_mcp(server, 3, None)
    assert [e for e, _ in results] == [False] * 3  # no conversation: no loop state, still cached
    assert cart.get_metrics()["hits"] == 2  # type: ignore[attr-defined]
    results = await _call_mcp(server, 2, {"conversation_id": "c"})
    assert results[1][0] and "stop repeating" in results[1][1]


async def test_fastmcp_tool_without_ctx_finds_the_conversation() -> None:
    require("fastmcp")
    from fastmcp import Client, FastMCP

    from agent_cache.integrations.mcp import cached_tool

    server = FastMCP("shop")

    @cached_tool(server, resource="cart", conversation=Conversation(max_tool_repeats=1))
    def get_cart(user_id: str) -> str:
        return "cart"

    async with Client(server) as client:
        first = await client.call_tool("get_cart", {"user_id": "u1"}, meta={"conversation_id": "c"})
        second = await client.call_tool(
            "get_cart", {"user_id": "u1"}, meta={"conversation_id": "c"}, raise_on_error=False
        )
    assert not first.is_error
    assert second.is_error and "stop repeating" in getattr(second.content[0], "text", "")


def test_mcp_cached_tool_rejects_other_objects() -> None:
    require("mcp")
    from agent_cache.integrations.mcp import cached_tool

    with pytest.raises(TypeError, match="server must be"):
        cached_tool(object(), resource="cart")


# -- mutations: invalidating tools registered the same way -------------------------------------


def test_openai_agents_invalidating_tool_drops_the_cached_read() -> None:
    require("agents")
    from agents import Agent, RunConfig, RunContextWrapper, Runner
    from agents.testing import ScriptedModel, assistant_message, function_call

    from agent_cache.integrations.openai_agents import cached_tool, invalidating_tool

    carts: dict[str, list[str]] = {"u1": []}

    @cached_tool(resource="cart")
    def get_cart(ctx: RunContextWrapper[Any], user_id: str) -> list[str]:
        return list(carts[user_id])

    @invalidating_tool(resource="cart")
    def add_item(ctx: RunContextWrapper[Any], user_id: str, item: str) -> str:
        carts[user_id].append(item)
        return "ok"

    turns = [
        [function_call("get_cart", {"user_id": "u1"}, call_id="c1")],
        [function_call("add_item", {"user_id": "u1", "item": "pear"}, call_id="c2")],
        [function_call("get_cart", {"user_id": "u1"}, call_id="c3")],
        [assistant_message("done")],
    ]
    agent = Agent(name="shop", tools=[get_cart, add_item], model=ScriptedModel(turns))
    result = Runner.run_sync(agent, "x", run_config=RunConfig(group_id="g", tracing_disabled=True))
    outputs = [item.output for item in result.new_items if type(item).__name__ == "ToolCallOutputItem"]
    assert outputs[-1] == ["pear"]  # the read after the mutation is fresh
    assert add_item.agent_cache.resource == "cart"  # type: ignore[attr-defined]
    assert get_cart.agent_cache.get_metrics()["misses"] == 2  # type: ignore[attr-defined]


def test_mcp_invalidating_tool_drops_the_cached_read() -> None:
    require("mcp")
    import asyncio

    from mcp import Client
    from mcp.server.mcpserver import MCPServer

    from agent_cache.integrations.mcp import cached_tool, invalidating_tool

    server = MCPServer("shop")
    carts: dict[str, list[str]] = {"u1": []}

    @cached_tool(server, resource="cart")
    def get_cart(user_id: str) -> str:
        return ",".join(carts[user_id])

    @invalidating_tool(server, resource="cart")
    def add_item(user_id: str, item: str) -> str:
        carts[user_id].append(item)
        return "ok"

    async def calls() -> list[str]:
        async with Client(server) as client:
            out = []
            for name, args in [("get_cart", {"user_id": "u1"}), ("add_item", {"user_id": "u1", "item": "pear"}),
                               ("get_cart", {"user_id": "u1"})]:
                result = await client.call_tool(name, args)
                out.append(getattr(result.content[0], "text", "") if result.content else "")
            return out

    assert asyncio.run(calls())[-1] == "pear"
    assert get_cart.get_metrics()["misses"] == 2  # type: ignore[attr-defined]


def test_sync_mcp_sdk_tool_is_cached() -> None:
    """A plain ``def`` tool on the SDK's server (an AnyIO worker thread) is cached."""
    require("mcp")
    import asyncio

    from mcp import Client
    from mcp.server.mcpserver import MCPServer

    from agent_cache.integrations.mcp import cached_tool

    server = MCPServer("shop")
    runs: list[str] = []

    @cached_tool(server, resource="cart")
    def get_cart(user_id: str) -> str:
        runs.append(user_id)
        return "cart"

    async def calls() -> None:
        async with Client(server) as client:
            for _ in range(3):
                await client.call_tool("get_cart", {"user_id": "u1"})

    asyncio.run(calls())
    assert runs == ["u1"]


def test_langgraph_and_pydantic_ai_invalidating_tools_register_like_cached_ones() -> None:
    require("langgraph")
    require("pydantic_ai")
    from agent_cache.integrations import langgraph, pydantic_ai

    @langgraph.invalidating_tool("add_item", resource="cart")
    def add_item(user_id: str, item: str) -> str:
        """Add an item."""
        return "ok"

    assert add_item.name == "add_item"
    assert add_item.invoke({"user_id": "u1", "item": "x"}) == "ok"
    assert add_item.agent_cache.resource == "cart"  # type: ignore[attr-defined]

    agent = _pydantic_agent(tool_calls=0)

    @pydantic_ai.invalidating_tool(agent, resource="cart")
    def remove_item(user_id: str, item: str) -> str:
        return "ok"

    assert "remove_item" in agent._function_toolset.tools
    assert remove_item.resource == "cart"  # type: ignore[attr-defined]
