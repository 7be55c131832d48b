"""The five agent scenarios of the seed README (000_df42cbcb5418d786.txt), run as written.

The tools are declared at module level exactly as in the seed, so their names (and the
loop-detection messages) match it. Each fake API lives in memory and counts its calls;
the ``# comments`` of the seed become assertions on those counts.
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

import pytest

from agent_cache import AgentCache, AgentCacheInvalidator, AgentCacheSession, AgentLoopDetectedError, get_metrics


class FakeAPI:
    """Base for the in-memory APIs: ``calls[method]`` counts every request."""

    def __init__(self) -> None:
        self.calls: Counter = Counter()

    def hit(self, method: str) -> None:
        self.calls[method] += 1


class ShopAPI(FakeAPI):
    PRICES: ClassVar[dict[str, float]] = {"laptop": 999.0, "mouse": 25.0}

    def __init__(self) -> None:
        super().__init__()
        self.carts: dict[str, list[str]] = {"user_1": ["mouse"]}
        self.orders: list[tuple[str, float]] = []

    def _cart(self, user_id):
        items = list(self.carts.get(user_id, []))
        return {"items": items, "total": sum(self.PRICES[i] for i in items)}

    async def get_cart(self, user_id):
        self.hit("get_cart")
        return self._cart(user_id)

    async def get_product(self, product_id):
        self.hit("get_product")
        return {"id": product_id, "price": self.PRICES[product_id]}

    async def add_to_cart(self, user_id, product_id):
        self.hit("add_to_cart")
        self.carts.setdefault(user_id, []).append(product_id)

    async def checkout(self, user_id):
        self.hit("checkout")
        self.orders.append((user_id, self._cart(user_id)["total"]))
        self.carts[user_id] = []


class SupportAPI(FakeAPI):
    def __init__(self) -> None:
        super().__init__()
        self.status = {"T-100": "open"}

    async def get_ticket(self, ticket_id):
        self.hit("get_ticket")
        return {"id": ticket_id, "status": self.status[ticket_id]}

    async def update_ticket(self, ticket_id, status):
        self.hit("update_ticket")
        self.status[ticket_id] = status


class SearchAPI(FakeAPI):
    async def search(self, query):
        self.hit("search")
        return [f"{query} #{i}" for i in range(3)]

    async def get(self, url):  # plays ``http.get`` too
        self.hit("get")
        return f"<html>{url}</html>"


class InventoryAPI(FakeAPI):
    def __init__(self) -> None:
        super().__init__()
        self.stock = {"SKU-42": 100}

    async def get_stock(self, item_id):
        self.hit("get_stock")
        return self.stock[item_id]

    async def adjust(self, item_id, delta):
        self.hit("adjust")
        self.stock[item_id] += delta


class PaymentError(Exception):
    pass


class FlakyPaymentAPI(FakeAPI):
    async def charge(self, order_id, amount):
        self.hit("charge")
        raise PaymentError("gateway timeout")


shop_api = ShopAPI()
support_api = SupportAPI()
search_api = http = SearchAPI()
inventory_api = InventoryAPI()
payment_api = FlakyPaymentAPI()


@pytest.fixture(autouse=True)
def fresh_apis():
    """New fake APIs per test (the tools read these module globals at call time)."""
    global shop_api, support_api, search_api, http, inventory_api, payment_api
    shop_api, support_api, inventory_api, payment_api = ShopAPI(), SupportAPI(), InventoryAPI(), FlakyPaymentAPI()
    search_api = http = SearchAPI()


# -- 1. E-commerce shopping agent ----------------------------------------------------------


@AgentCache(resource="cart", scope="global", ttl=120)
async def get_cart(user_id):
    return await shop_api.get_cart(user_id)


@AgentCache(resource="product", scope="global", ttl=300)
async def get_product(product_id):
    return await shop_api.get_product(product_id)


@AgentCacheInvalidator(resource="cart", scope="global")
async def add_to_cart(user_id, product_id):
    return await shop_api.add_to_cart(user_id, product_id)


@AgentCacheInvalidator(resource="cart", scope="global")
async def checkout(user_id):
    return await shop_api.checkout(user_id)


async def test_scenario_1_ecommerce_shopping_agent():
    async with AgentCacheSession(loop_detection=False) as session:
        cart = await get_cart("user_1")  # DB fetch
        assert shop_api.calls["get_cart"] == 1 and cart["total"] == 25.0
        product = await get_product("laptop")  # DB fetch
        assert shop_api.calls["get_product"] == 1 and product["price"] == 999.0
        await add_to_cart("user_1", "laptop")  # invalidates cart cache
        cart = await get_cart("user_1")  # re-fetched (correct total)
        assert shop_api.calls["get_cart"] == 2
        assert cart == {"items": ["mouse", "laptop"], "total": 1024.0}
        await checkout("user_1")  # invalidates cart cache
        assert shop_api.orders == [("user_1", 1024.0)]
        # Not in the seed, but what it promises: caching between steps, no stale cart after checkout.
        assert await get_product("laptop") == product
        assert (await get_cart("user_1"))["items"] == []
        assert await get_cart("user_1") == {"items": [], "total": 0}
    assert shop_api.calls == Counter(get_cart=3, get_product=1, add_to_cart=1, checkout=1)
    metrics = session.get_metrics()
    assert (metrics["hits"], metrics["misses"], metrics["invalidations"]) == (2, 4, 2)


# -- 2. Customer support agent (session-scoped) -----------------------------------------


@AgentCache(resource="ticket", scope="session")
async def get_ticket(ticket_id):
    return await support_api.get_ticket(ticket_id)


@AgentCacheInvalidator(resource="ticket", scope="session")
async def update_ticket(ticket_id, status):
    return await support_api.update_ticket(ticket_id, status)


async def test_scenario_2_customer_support_agents_session_scoped():
    # Agent A
    async with AgentCacheSession(session_id="agent-A"):
        ticket = await get_ticket("T-100")  # fetched
        assert support_api.calls["get_ticket"] == 1 and ticket["status"] == "open"
        assert await get_ticket("T-100") == ticket  # cache hit (the agent docs' variant)
        assert support_api.calls["get_ticket"] == 1
        await update_ticket("T-100", "in_progress")  # invalidates session cache
        ticket = await get_ticket("T-100")  # re-fetched
        assert support_api.calls["get_ticket"] == 2 and ticket["status"] == "in_progress"
    # Agent B — independent session, no stale data from Agent A
    async with AgentCacheSession(session_id="agent-B"):
        ticket = await get_ticket("T-100")  # fresh fetch
        assert support_api.calls["get_ticket"] == 3 and ticket["status"] == "in_progress"


# -- 3. Research agent: preventing search loops -----------------------------------------


@AgentCache(resource="search", scope="global", ttl=600)
async def search_web(query):
    return await search_api.search(query)


@AgentCache(resource="page", scope="global", ttl=600)
async def fetch_page(url):
    return await http.get(url)


async def test_scenario_3_research_agent_repeated_search_is_stopped():
    with pytest.raises(AgentLoopDetectedError) as info:
        async with AgentCacheSession(
            max_tool_repeats=3,
            max_execution_depth=20,
            on_loop="raise",
        ) as session:
            results = await search_web("async python caching")
            results = await search_web("async python caching")  # cache hit
            assert search_api.calls["search"] == 1 and len(results) == 3
            await search_web("async python caching")  # third call: still allowed
            await search_web("async python caching")  # the fourth raises
    assert "search_web" in str(info.value) and info.value.kind == "repeat"
    assert search_api.calls["search"] == 1
    assert session.get_metrics()["loop_detections"] == 1


async def test_scenario_3_research_agent_depth_limit():
    async with AgentCacheSession(max_tool_repeats=3, max_execution_depth=20, on_loop="raise"):
        for i in range(20):  # distinct queries: neither a repeat nor a cycle
            await search_web(f"query {i}")
        with pytest.raises(AgentLoopDetectedError) as info:
            await fetch_page("https://example.org/21")
    assert info.value.kind == "max_depth"
    assert (search_api.calls["search"], search_api.calls["get"]) == (20, 0)


# -- 4. Inventory management agent: oscillation detection ----------------------------------


@AgentCache(resource="stock", scope="global")
async def check_stock(item_id):
    return await inventory_api.get_stock(item_id)


@AgentCacheInvalidator(resource="stock", scope="global")
async def update_stock(item_id, delta):
    return await inventory_api.adjust(item_id, delta)


async def test_scenario_4_inventory_agent_oscillation():
    with pytest.raises(AgentLoopDetectedError) as info:
        async with AgentCacheSession(max_tool_repeats=100, on_loop="raise") as session:
            assert await check_stock("SKU-42") == 100
            await update_stock("SKU-42", -1)
            assert await check_stock("SKU-42") == 99  # re-fetched after the invalidation
            await update_stock("SKU-42", -1)
    assert str(info.value) == "Cycle detected: check_stock -> update_stock"
    assert info.value.kind == "cycle"
    assert inventory_api.calls == Counter(get_stock=2, adjust=1)  # the 4th call never ran
    assert inventory_api.stock["SKU-42"] == 99
    assert session.get_metrics()["loop_detections"] == 1


# -- 5. Multi-API orchestrator: retry storm detection --------------------------------------


@AgentCacheInvalidator(resource="payment", scope="global")
async def charge_payment(order_id, amount):
    return await payment_api.charge(order_id, amount)


async def test_scenario_5_orchestrator_retry_storm():
    attempts = 0
    with pytest.raises(AgentLoopDetectedError) as info:
        async with AgentCacheSession(max_tool_repeats=3, on_loop="raise") as session:
            for _ in range(10):
                attempts += 1
                try:
                    await charge_payment("ORD-1", 99.99)
                    break
                except PaymentError:
                    continue  # retry
    # After 4th attempt → AgentLoopDetectedError stops the retry storm
    assert attempts == 4
    assert payment_api.calls["charge"] == 3
    assert info.value.kind == "repeat" and "charge_payment" in str(info.value)
    assert session.get_metrics()["loop_detections"] == 1
    assert get_metrics()["loop_detections"] == 1
