"""The five seed scenarios, seen through the real OpenTelemetry SDK: span trees and metrics."""

from __future__ import annotations

import pytest
from opentelemetry.trace import StatusCode
from otel_support import tree

from agent_cache import AgentCache, AgentCacheInvalidator, AgentCacheSession, AgentLoopDetectedError


class PaymentError(Exception):
    pass


def requests(otel) -> dict[tuple[str, str, str], int]:
    return {
        (a["agent_cache.resource"], a["agent_cache.scope"], a["agent_cache.result"]): p.value
        for a, p in otel.points("agent_cache.requests")
    }


async def test_shopping_agent_tree_and_metrics(otel):
    @AgentCache(resource="cart", scope="global", ttl=120)
    async def get_cart(user_id):
        return {"user": user_id}

    @AgentCache(resource="product", scope="global", ttl=300)
    async def get_product(product_id):
        return {"id": product_id}

    @AgentCacheInvalidator(resource="cart", scope="global")
    async def add_to_cart(user_id, product_id):
        return True

    @AgentCacheInvalidator(resource="cart", scope="global")
    async def checkout(user_id):
        return "ok"

    async with AgentCacheSession(loop_detection=False, name="shopper", session_id="s-1"):
        await get_cart("user_1")
        await get_cart("user_1")
        await get_product("laptop")
        await add_to_cart("user_1", "laptop")
        await get_cart("user_1")
        await checkout("user_1")

    assert tree(otel.spans()) == [
        "invoke_agent shopper",
        "  execute_tool get_cart [miss]",
        "    agent_cache.load cart",
        "  execute_tool get_cart [hit]",
        "  execute_tool get_product [miss]",
        "    agent_cache.load product",
        "  execute_tool add_to_cart [bypass]",
        "  execute_tool get_cart [miss]",
        "    agent_cache.load cart",
        "  execute_tool checkout [bypass]",
    ]
    session = otel.span("invoke_agent shopper")
    assert session.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert session.attributes["gen_ai.conversation.id"] == "s-1"
    assert session.attributes["agent_cache.session.tool_calls"] == 6
    assert session.attributes["agent_cache.session.hits"] == 1
    assert session.attributes["agent_cache.session.misses"] == 3
    tool = next(s for s in otel.spans() if s.name.endswith("add_to_cart"))
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["agent_cache.resource"] == "cart"
    assert tool.attributes["agent_cache.scope"] == "global"
    assert tool.attributes["gen_ai.conversation.id"] == "s-1"
    [event] = [e for e in tool.events if e.name == "agent_cache.invalidation"]
    assert event.attributes["agent_cache.resource"] == "cart"
    assert event.attributes["agent_cache.invalidation.entries_removed"] == 1

    assert requests(otel) == {
        ("cart", "global", "hit"): 1,
        ("cart", "global", "miss"): 2,
        ("product", "global", "miss"): 1,
    }
    assert otel.values("agent_cache.invalidations") == {
        (("agent_cache.resource", "cart"), ("agent_cache.scope", "global")): 2
    }
    durations = {
        (a["gen_ai.tool.name"].rsplit(".", 1)[-1], a["agent_cache.result"]): p.count
        for a, p in otel.points("gen_ai.execute_tool.duration")
    }
    assert durations == {("get_cart", "miss"): 2, ("get_product", "miss"): 1,
                         ("add_to_cart", "bypass"): 1, ("checkout", "bypass"): 1}


async def test_support_agent_session_scope(otel):
    @AgentCache(resource="ticket", scope="session")
    async def get_ticket(ticket_id):
        return {"id": ticket_id}

    @AgentCacheInvalidator(resource="ticket", scope="session")
    async def update_ticket(ticket_id, status):
        return status

    async with AgentCacheSession(session_id="agent-A", name="support"):
        await get_ticket("T-100")
        await update_ticket("T-100", "in_progress")
        await get_ticket("T-100")
    async with AgentCacheSession(session_id="agent-B", name="support"):
        await get_ticket("T-100")

    sessions = [s for s in otel.spans() if s.name == "invoke_agent support"]
    assert {s.attributes["gen_ai.conversation.id"] for s in sessions} == {"agent-A", "agent-B"}
    for s in otel.spans():
        if s.name.startswith("execute_tool"):
            assert s.attributes["agent_cache.scope"] == "session"
    assert requests(otel) == {("ticket", "session", "miss"): 3}
    assert otel.values("agent_cache.invalidations") == {
        (("agent_cache.resource", "ticket"), ("agent_cache.scope", "session")): 1
    }
    # No session id anywhere in metric attributes.
    for points in otel.all_metrics().values():
        for attrs, _ in points:
            assert "agent-A" not in attrs.values() and "agent-B" not in attrs.values()


async def test_research_agent_repeat_raises_with_error_status(otel):
    calls = []

    @AgentCache(resource="search", scope="global", ttl=600)
    async def search_web(query):
        calls.append(query)
        return ["result"]

    with pytest.raises(AgentLoopDetectedError):
        async with AgentCacheSession(max_tool_repeats=3, max_execution_depth=20, on_loop="raise", name="research"):
            for _ in range(4):
                await search_web("async python caching")

    assert calls == ["async python caching"]
    lines = tree(otel.spans())
    assert lines[0] == "invoke_agent research"
    results = [line.split(" [")[-1] for line in lines if "execute_tool" in line]
    assert results == ["miss]", "hit]", "hit]", lines[-1].split(" [")[-1]]
    failing = [s for s in otel.spans() if s.name.startswith("execute_tool")][-1]
    assert failing.status.status_code is StatusCode.ERROR
    assert failing.attributes["error.type"] == "agent_cache.agent.errors.AgentLoopDetectedError"
    [event] = [e for e in failing.events if e.name == "agent_cache.loop_detected"]
    assert event.attributes["agent_cache.loop.kind"] == "repeat"
    assert event.attributes["agent_cache.loop.action"] == "raise"
    session = otel.span("invoke_agent research")
    assert session.status.status_code is StatusCode.ERROR
    assert [e.name for e in session.events] == ["agent_cache.loop_detected"]
    [(attrs, point)] = otel.points("agent_cache.loop.detections")
    assert point.value == 1
    assert attrs["agent_cache.loop.kind"] == "repeat"
    assert attrs["agent_cache.loop.action"] == "raise"
    assert attrs["gen_ai.tool.name"].endswith("search_web")


async def test_inventory_agent_cycle(otel):
    @AgentCache(resource="stock", scope="global")
    async def check_stock(item_id):
        return 5

    @AgentCacheInvalidator(resource="stock", scope="global")
    async def update_stock(item_id, delta):
        return None

    with pytest.raises(AgentLoopDetectedError, match="Cycle detected"):
        async with AgentCacheSession(max_tool_repeats=100, on_loop="raise", name="inventory"):
            await check_stock("SKU-42")
            await update_stock("SKU-42", -1)
            await check_stock("SKU-42")
            await update_stock("SKU-42", -1)

    kinds = [e.attributes["agent_cache.loop.kind"] for s in otel.spans() for e in s.events
             if e.name == "agent_cache.loop_detected"]
    assert kinds == ["cycle", "cycle"]  # on the tool span and on the session span
    assert {a["agent_cache.loop.kind"] for a, _ in otel.points("agent_cache.loop.detections")} == {"cycle"}


async def test_payment_retry_storm_warn_keeps_running(otel):
    attempts = []

    @AgentCacheInvalidator(resource="payment", scope="global")
    async def charge_payment(order_id, amount):
        attempts.append(order_id)
        raise PaymentError("card declined for alice@example.com")

    async with AgentCacheSession(max_tool_repeats=3, on_loop="warn", name="payments"):
        for _ in range(5):
            with pytest.raises(PaymentError):
                await charge_payment("ORD-1", 99.99)

    assert len(attempts) == 5
    tool_spans = [s for s in otel.spans() if s.name.startswith("execute_tool")]
    assert all(s.status.status_code is StatusCode.ERROR for s in tool_spans)
    assert {s.attributes["error.type"] for s in tool_spans} == {f"{__name__}.PaymentError"}
    assert sum(1 for s in tool_spans for e in s.events if e.name == "agent_cache.loop_detected") == 2
    [(attrs, point)] = otel.points("agent_cache.loop.detections")
    assert (attrs["agent_cache.loop.action"], point.value) == ("warn", 2)
    errors = {a.get("error.type") for a, _ in otel.points("gen_ai.execute_tool.duration")}
    assert errors == {f"{__name__}.PaymentError"}
