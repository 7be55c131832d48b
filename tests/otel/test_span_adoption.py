"""One span per tool call and per run (issue 14): when a framework's own instrumentation
already opened the ``execute_tool`` / ``invoke_agent`` span of this call and made it current,
agent_cache annotates that span instead of nesting a second one under it.

The "framework" here is another tracer of the same real SDK provider, opening spans with
the attributes the frameworks use (pydantic-ai / MCP SDK: ``gen_ai.operation.name``;
OpenInference bridges: ``openinference.span.kind``). tests/frameworks runs the real
frameworks.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace

from agent_cache import AgentCache, AgentCacheInvalidator, AgentCacheSession, AgentLoopDetectedError
from agent_cache.telemetry import spans as span_helpers

FRAMEWORK = "some.framework.instrumentation"


def framework_tool_span(tool: str, **extra: Any) -> Any:
    attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool, **extra}
    return trace.get_tracer(FRAMEWORK).start_as_current_span(f"execute_tool {tool}", attributes=attributes)


def ours(otel: Any) -> list[Any]:
    return [s for s in otel.spans() if s.instrumentation_scope.name == "agent_cache" and
            s.attributes.get("gen_ai.operation.name") in ("execute_tool", "invoke_agent")]


async def test_tool_call_annotates_the_framework_tool_span(otel: Any) -> None:
    @AgentCache(resource="cart", name="get_cart")
    async def get_cart(user_id: str) -> str:
        return "cart"

    for _ in range(2):
        with framework_tool_span("get_cart"):
            await get_cart("u1")
    assert ours(otel) == []  # fails without adoption: one agent_cache execute_tool per call
    framework = [s for s in otel.spans() if s.instrumentation_scope.name == FRAMEWORK]
    assert [s.attributes["agent_cache.result"] for s in framework] == ["miss", "hit"]
    assert {s.attributes["agent_cache.resource"] for s in framework} == {"cart"}


async def test_framework_values_win_over_ours(otel: Any) -> None:
    @AgentCache(resource="cart", name="get_cart")
    async def get_cart(user_id: str) -> str:
        return "cart"

    async with AgentCacheSession(session_id="ours"):
        with framework_tool_span("get_cart", **{"gen_ai.conversation.id": "theirs"}):
            await get_cart("u1")
    (framework,) = [s for s in otel.spans() if s.instrumentation_scope.name == FRAMEWORK]
    assert framework.attributes["gen_ai.conversation.id"] == "theirs"
    assert framework.attributes["agent_cache.result"] == "miss"


async def test_tool_called_inside_a_tool_keeps_its_own_child_span(otel: Any) -> None:
    @AgentCache(resource="price", name="get_price")
    async def get_price(item: str) -> int:
        return 1

    @AgentCache(resource="cart", name="get_cart")
    async def get_cart(user_id: str) -> int:
        return await get_price("apple")

    with framework_tool_span("get_cart"):
        await get_cart("u1")
    (inner,) = ours(otel)
    framework = next(s for s in otel.spans() if s.instrumentation_scope.name == FRAMEWORK)
    assert inner.name == "execute_tool get_price"
    load = next(s for s in otel.spans() if s.context.span_id == inner.parent.span_id)
    assert load.name == "agent_cache.load cart"  # the outer call's load, under the framework span
    assert load.parent.span_id == framework.context.span_id
    assert framework.attributes["agent_cache.result"] == "miss"  # the outer call adopted it


async def test_recursive_call_of_the_same_tool_is_not_adopted_twice(otel: Any) -> None:
    @AgentCache(resource="tree", name="walk")
    async def walk(depth: int) -> int:
        return 0 if depth == 0 else 1 + await walk(depth - 1)

    with framework_tool_span("walk"):
        assert await walk(1) == 1
    assert [s.name for s in ours(otel)] == ["execute_tool walk"]  # the inner call's own span


async def test_a_span_of_another_operation_or_tracer_state_is_not_adopted(otel: Any) -> None:
    @AgentCache(resource="cart", name="get_cart")
    async def get_cart(user_id: str) -> str:
        return "cart"

    with trace.get_tracer(FRAMEWORK).start_as_current_span("chat model", attributes={"gen_ai.operation.name": "chat"}):
        await get_cart("u1")
    with trace.get_tracer(FRAMEWORK).start_as_current_span("tool", attributes={"gen_ai.tool.name": "get_cart"}):
        await get_cart("u2")
    with framework_tool_span("other_tool"):
        await get_cart("u3")
    non_recording = trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)
    with trace.use_span(non_recording):
        await get_cart("u4")
    assert len(ours(otel)) == 4


async def test_openinference_tool_span_is_adopted(otel: Any) -> None:
    @AgentCache(resource="cart", name="get_cart")
    async def get_cart(user_id: str) -> str:
        return "cart"

    with trace.get_tracer(FRAMEWORK).start_as_current_span("get_cart", attributes={"openinference.span.kind": "TOOL"}):
        await get_cart("u1")
    assert ours(otel) == []
    (framework,) = [s for s in otel.spans() if s.instrumentation_scope.name == FRAMEWORK]
    assert framework.attributes["agent_cache.result"] == "miss"


async def test_loop_event_lands_on_the_framework_span(otel: Any) -> None:
    @AgentCache(resource="cart", name="get_cart")
    async def get_cart(user_id: str) -> str:
        return "cart"

    async with AgentCacheSession(session_id="c1", max_tool_repeats=1):
        with framework_tool_span("get_cart"):
            await get_cart("u1")
        with pytest.raises(AgentLoopDetectedError), framework_tool_span("get_cart"):
            await get_cart("u1")
    framework = [s for s in otel.spans() if s.instrumentation_scope.name == FRAMEWORK]
    assert [e.name for e in framework[1].events if e.name.startswith("agent_cache")] == ["agent_cache.loop_detected"]
    assert [s.name for s in ours(otel)] == ["invoke_agent agent"]


async def test_mutation_annotates_the_framework_span_with_its_invalidation(otel: Any) -> None:
    @AgentCacheInvalidator(resource="cart", name="add_item")
    async def add_item(user_id: str, item: str) -> str:
        return "ok"

    with framework_tool_span("add_item"):
        await add_item("u1", "pear")
    assert ours(otel) == []
    (framework,) = [s for s in otel.spans() if s.instrumentation_scope.name == FRAMEWORK]
    assert framework.attributes["agent_cache.result"] == "bypass"
    assert [e.name for e in framework.events] == ["agent_cache.invalidation"]


def framework_run_span(conversation_id: str) -> Any:
    attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "shop",
                  "gen_ai.conversation.id": conversation_id}
    return trace.get_tracer(FRAMEWORK).start_as_current_span("invoke_agent shop", attributes=attributes)


async def test_session_annotates_the_framework_run_span(otel: Any) -> None:
    @AgentCache(resource="cart", name="get_cart")
    async def get_cart(user_id: str) -> str:
        return "cart"

    with framework_run_span("conv-42"):
        async with AgentCacheSession(session_id="conv-42"):
            await get_cart("u1")
            await get_cart("u1")
    assert [s.name for s in ours(otel)] == ["execute_tool get_cart"] * 2  # no invoke_agent of ours
    run = next(s for s in otel.spans() if s.instrumentation_scope.name == FRAMEWORK)
    assert run.attributes["agent_cache.session.tool_calls"] == 2
    assert run.attributes["agent_cache.session.hits"] == 1
    assert run.attributes["gen_ai.agent.name"] == "shop"  # the framework's value stays
    tool_parents = {s.parent.span_id for s in ours(otel)}
    assert tool_parents == {run.context.span_id}


def test_sync_session_annotates_the_framework_run_span(otel: Any) -> None:
    with framework_run_span("conv-42"), AgentCacheSession(session_id="conv-42"):
        pass
    assert ours(otel) == []


async def test_session_of_another_conversation_opens_its_own_span(otel: Any) -> None:
    with framework_run_span("conv-42"):
        async with AgentCacheSession(session_id="conv-7"):
            pass
    assert [s.attributes["gen_ai.conversation.id"] for s in ours(otel)] == ["conv-7"]


def test_adoptable_span_without_a_current_span_is_none(otel: Any) -> None:
    assert span_helpers.adoptable_span("execute_tool", "gen_ai.tool.name", "x") is None
