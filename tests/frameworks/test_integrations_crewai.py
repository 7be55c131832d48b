"""agent_cache.integrations.crewai against real CrewAI (the ``crewai`` venv: make test-crewai).

CrewAI's own tool cache (``Crew(cache=True)``) answers repeated calls before agent_cache
sees them, so agent_cache's hit ratio understates the savings; ``cached_tool`` refuses
CrewAI's cache for its tools. And CrewAI swallows tool exceptions (re-running the tool), so
a loop stops the crew only through the integration's ``after_tool_call`` hook.
"""

import json
import os
from typing import Any

import pytest
from framework_support import require

from agent_cache import AgentCache, AgentCacheSession, AgentLoopDetectedError

os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")


def _crew(tool: Any, users: list[str], cache: bool) -> Any:
    from crewai import Agent, Crew, Task
    from crewai.llms.base_llm import BaseLLM
    from pydantic import Field

    class ScriptedLLM(BaseLLM):
        steps: list[str] = Field(default_factory=list)
        calls: int = 0

        def call(self, messages: Any, tools: Any = None, callbacks: Any = None, available_functions: Any = None,
                 from_task: Any = None, from_agent: Any = None, response_model: Any = None) -> str:
            step = self.steps[min(self.calls, len(self.steps) - 1)]
            self.calls += 1
            return step

        def supports_function_calling(self) -> bool:
            return False

    steps = [f"Thought: t\nAction: get_cart\nAction Input: {json.dumps({'user_id': u})}" for u in users]
    llm = ScriptedLLM(model="scripted", steps=[*steps, "Thought: k\nFinal Answer: done"])
    agent = Agent(role="shop", goal="carts", backstory="-", tools=[tool], llm=llm)
    task = Task(description="cart?", expected_output="items", agent=agent)
    return Crew(agents=[agent], tasks=[task], cache=cache)


def test_crewai_own_cache_hides_calls_from_ours_baseline() -> None:
    require("crewai", venv="crewai")
    from crewai.tools import tool

    @tool("get_cart")
    @AgentCache(resource="cart")
    def get_cart(user_id: str) -> str:
        """Return the cart."""
        return "cart"

    _crew(get_cart, ["u1", "u2", "u1"], cache=True).kickoff()
    metrics = get_cart.func.get_metrics()
    assert metrics["hits"] + metrics["misses"] == 2  # CrewAI answered the third call itself


def test_crewai_cached_tool_refuses_crewai_cache_so_every_call_is_counted() -> None:
    require("crewai", venv="crewai")
    from agent_cache.integrations.crewai import cached_tool

    @cached_tool("get_cart", resource="cart")
    def get_cart(user_id: str) -> str:
        """Return the cart."""
        return "cart"

    _crew(get_cart, ["u1", "u2", "u1"], cache=True).kickoff()
    assert get_cart.agent_cache.get_metrics()["hits"] == 1


def test_crewai_plain_loop_error_is_swallowed_baseline() -> None:
    require("crewai", venv="crewai")
    from crewai.tools import tool

    @tool("get_cart")
    @AgentCache(resource="cart")
    def get_cart(user_id: str) -> str:
        """Return the cart."""
        return "cart"

    with AgentCacheSession(max_tool_repeats=1) as session:
        output = _crew(get_cart, ["u1", "u2", "u1"], cache=False).kickoff()
    assert output.raw == "done"  # the crew went on
    assert session.loop_detections >= 1


def test_crewai_cached_tool_loop_stops_the_crew() -> None:
    require("crewai", venv="crewai")
    from agent_cache.integrations.crewai import LoopDetected, cached_tool

    @cached_tool("get_cart", resource="cart")
    def get_cart(user_id: str) -> str:
        """Return the cart."""
        return "cart"

    with pytest.raises(AgentLoopDetectedError) as caught, AgentCacheSession(session_id="c", max_tool_repeats=1):
        _crew(get_cart, ["u1", "u2", "u1"], cache=False).kickoff()
    assert isinstance(caught.value, LoopDetected)
    assert (caught.value.tool, caught.value.session_id) == ("get_cart", "c")


def test_crewai_cached_tool_rejects_async_functions() -> None:
    require("crewai", venv="crewai")
    from agent_cache.integrations.crewai import cached_tool

    async def get_cart(user_id: str) -> str:
        return "cart"

    with pytest.raises(TypeError, match="def function"):
        cached_tool("get_cart", resource="cart")(get_cart)


async def test_mcp_sdk1_fastmcp_in_the_crewai_venv_gets_the_loop_text() -> None:
    """CrewAI pins mcp<2: its venv has the SDK 1 ``FastMCP`` (meta is a pydantic model there)."""
    require("mcp.server.fastmcp", venv="crewai")
    import logging

    from mcp.server.fastmcp import Context, FastMCP
    from mcp.shared.memory import create_connected_server_and_client_session

    from agent_cache.integrations import Conversation
    from agent_cache.integrations.mcp import cached_tool

    server = FastMCP("shop")
    runs = []

    @cached_tool(server, resource="cart", conversation=Conversation(max_tool_repeats=2))
    async def get_cart(user_id: str, ctx: Context) -> str:  # type: ignore[type-arg]
        runs.append(user_id)
        return "cart"

    tracebacks = []
    handler = logging.Handler()
    handler.emit = lambda record: tracebacks.append(record) if record.exc_info else None  # type: ignore[method-assign]
    logging.getLogger().addHandler(handler)
    try:
        async with create_connected_server_and_client_session(server._mcp_server) as client:
            results = [await client.call_tool("get_cart", {"user_id": "u1"}, meta={"conversation_id": "c"})
                       for _ in range(3)]
    finally:
        logging.getLogger().removeHandler(handler)
    assert [r.isError for r in results] == [False, False, True]
    assert "stop repeating" in results[2].content[0].text
    assert runs == ["u1"] and tracebacks == []


def test_crewai_invalidating_tool_drops_the_cached_read() -> None:
    require("crewai", venv="crewai")
    from agent_cache.integrations.crewai import cached_tool, invalidating_tool

    carts: dict[str, list[str]] = {"u1": []}

    @cached_tool("get_cart", resource="cart")
    def get_cart(user_id: str) -> str:
        """Return the cart."""
        return ",".join(carts[user_id])

    @invalidating_tool("add_item", resource="cart")
    def add_item(user_id: str, item: str) -> str:
        """Add an item."""
        carts[user_id].append(item)
        return "ok"

    assert get_cart.run(user_id="u1") == ""
    assert add_item.run(user_id="u1", item="pear") == "ok"
    assert get_cart.run(user_id="u1") == "pear"
    assert add_item.agent_cache.resource == "cart"
