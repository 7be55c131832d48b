"""Agent session scripts for the five seed scenarios, and the interpreter that plays them.

A :class:`Plan` is decided by the random seed and the session's number (which scenario,
which user, which products, whether this agent misbehaves), so the cached run and the
uncached baseline replay exactly the same workload. A share of the plans misbehave on purpose:

================  =========================================  ======================
scenario          misbehaviour                               loop detection sees
================  =========================================  ======================
shopping          re-reads the same cart over and over       a repeat
support           wanders through ticket after ticket        too deep a session
research          repeats the same web search                a repeat
inventory         check -> update -> check -> update ...     an A -> B cycle
payment           retries a declined card again and again    a repeat (retry storm)
================  =========================================  ======================

Well-behaved scripts are written so that no tool-name pattern repeats back to back (what a
cycle detector looks for) and no identical call exceeds the session's repeat limit.
Without loop detection (the baseline) a misbehaving script runs to its scripted end.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from ..errors import LoadTimeoutError
from .catalog import Catalog, Order, zipf_distinct, zipf_pick
from .db import PaymentDeclined
from .tools import Tools
from .upstream import UpstreamDown

SCENARIOS = ("shopping", "support", "research", "inventory", "payment")
_WEIGHTS = (0.30, 0.15, 0.25, 0.15, 0.15)

MISBEHAVIOUR = {
    "shopping": "repeat loop",
    "support": "runaway depth",
    "research": "repeat loop",
    "inventory": "A->B cycle",
    "payment": "retry storm",
}

# Session limits per scenario, as the seed scenarios set them.
class SessionLimits(TypedDict):
    """The :class:`~agent_cache.AgentCacheSession` keyword arguments a scenario sets."""

    max_tool_repeats: int
    max_execution_depth: int


LIMITS: dict[str, SessionLimits] = {
    "shopping": {"max_tool_repeats": 5, "max_execution_depth": 50},
    "support": {"max_tool_repeats": 5, "max_execution_depth": 30},
    "research": {"max_tool_repeats": 3, "max_execution_depth": 20},
    "inventory": {"max_tool_repeats": 100, "max_execution_depth": 50},
    "payment": {"max_tool_repeats": 3, "max_execution_depth": 50},
}


@dataclass(frozen=True)
class Step:
    """One tool call of a script; ``retries`` extra attempts when a payment is declined."""

    tool: str
    args: tuple[Any, ...]
    retries: int = 0


@dataclass
class Plan:
    """What one simulated agent session will do."""

    index: int
    scenario: str
    misbehaviour: str | None
    steps: list[Step]
    order: Order | None = None  # the order a payment session charges (the shop creates it)

    @property
    def misbehaves(self) -> bool:
        return self.misbehaviour is not None

    @property
    def session_id(self) -> str:
        return f"{self.scenario}-{self.index:04d}"

    @property
    def limits(self) -> SessionLimits:
        return LIMITS[self.scenario]


@dataclass
class Outcome:
    """How one session went."""

    plan: Plan
    tool_calls: int = 0
    loop_kind: str | None = None
    loop_message: str = ""
    declined: int = 0
    upstream_errors: int = 0  # calls that failed because the web API was down (no stale value)
    metrics: dict[str, Any] = field(default_factory=dict)  # the session's get_metrics()
    trace_id: int = 0


# --- planning ---------------------------------------------------------------------------------
def plan_session(catalog: Catalog, seed: int, index: int, loop_rate: float) -> Plan:
    """Decide session ``index`` of the run with ``seed``.

    Each session has its own random stream, so any session can be (re)planned on its own:
    the baseline replays sessions without the run keeping every plan in memory.
    """
    rng = random.Random(f"{seed}/{index}")
    scenario = rng.choices(SCENARIOS, weights=_WEIGHTS, k=1)[0]
    bad = rng.random() < loop_rate
    plan = Plan(index, scenario, MISBEHAVIOUR[scenario] if bad else None, [])
    plan.steps = _SCRIPTS[scenario](catalog, rng, plan)
    return plan


def _shopping(catalog: Catalog, rng: random.Random, plan: Plan) -> list[Step]:
    # Users take turns, so no two sessions running at once share a cart (their races would
    # make the query count depend on timing, and the baseline must be the same workload).
    user = catalog.users[plan.index % len(catalog.users)]
    products = list(catalog.products)
    first = zipf_pick(rng, products)
    if plan.misbehaves:  # adds an item, then keeps re-reading the cart instead of checking out
        return [Step("get_cart", (user,)), Step("get_product", (first,)),
                Step("add_to_cart", (user, first))] + [Step("get_cart", (user,))] * 10
    browsed = [first, *[p for p in zipf_distinct(rng, products, 3) if p != first][: rng.randint(0, 2)]]
    return (
        [Step("get_cart", (user,))]
        + [Step("get_product", (p,)) for p in browsed]
        + [Step("get_cart", (user,)), Step("add_to_cart", (user, first)),
           Step("get_cart", (user,)), Step("checkout", (user,))]
    )


def _support(catalog: Catalog, rng: random.Random, plan: Plan) -> list[Step]:
    if plan.misbehaves:  # never settles: opens one ticket after another
        return [Step("get_ticket", (t,)) for t in rng.sample(catalog.tickets, 40)]
    ticket, related = rng.sample(catalog.tickets[:40], 2)
    return [
        Step("get_ticket", (ticket,)), Step("get_ticket", (ticket,)),
        Step("update_ticket", (ticket, "in_progress")), Step("get_ticket", (ticket,)),
        Step("get_ticket", (related,)), Step("get_ticket", (ticket,)),
        Step("update_ticket", (ticket, "resolved")),
    ]


def _research(catalog: Catalog, rng: random.Random, plan: Plan) -> list[Step]:
    urls = list(catalog.pages)
    query = zipf_pick(rng, catalog.queries)
    if plan.misbehaves:  # cannot make sense of the results and searches the same thing again
        return [Step("search_web", (query,)), Step("fetch_page", (zipf_pick(rng, urls),))] + [
            Step("search_web", (query,))
        ] * 8
    follow_up = zipf_pick(rng, catalog.queries)
    pages = zipf_distinct(rng, urls, 5)  # a careful agent never re-reads a page
    return (
        [Step("search_web", (query,))]
        + [Step("fetch_page", (url,)) for url in pages[:3]]
        + [Step("search_web", (follow_up,))]
        + [Step("fetch_page", (url,)) for url in pages[3:]]
    )


def _inventory(catalog: Catalog, rng: random.Random, plan: Plan) -> list[Step]:
    skus = rng.sample(catalog.skus[:12], 3)
    if plan.misbehaves:  # a planning bug: check, adjust, check, adjust, ...
        return [Step("check_stock", (skus[0],)), Step("update_stock", (skus[0], -1))] * 8
    return [Step("check_stock", (s,)) for s in skus] + [
        Step("update_stock", (skus[0], -1)), Step("check_stock", (skus[0],)),
    ]


def _payment(catalog: Catalog, rng: random.Random, plan: Plan) -> list[Step]:
    sku = zipf_pick(rng, catalog.skus)
    product = zipf_pick(rng, list(catalog.products))
    amount = catalog.products[product]
    fails = 99 if plan.misbehaves else (1 if rng.random() < 0.3 else 0)
    order = plan.order = Order(f"ORD-{plan.index:06d}", amount, fails)
    return [
        Step("check_stock", (sku,)), Step("get_product", (product,)),
        Step("charge_payment", (order.order_id, amount), retries=9 if plan.misbehaves else 2),
    ]


_SCRIPTS: dict[str, Callable[[Catalog, random.Random, Plan], list[Step]]] = {
    "shopping": _shopping,
    "support": _support,
    "research": _research,
    "inventory": _inventory,
    "payment": _payment,
}


# --- playing a plan ----------------------------------------------------------------------------
Think = Callable[[], Awaitable[None]]


async def play(
    plan: Plan,
    tools: Tools,
    think: Think,
    *,
    session_factory: Callable[[Plan], contextlib.AbstractAsyncContextManager[Any]] | None,
    loop_error: type[BaseException] | None,
) -> Outcome:
    """Run ``plan`` against ``tools``; ``session_factory`` is None for the uncached baseline.

    A loop detection halts the session, as an agent framework would stop a runaway agent.
    """
    outcome = Outcome(plan)
    enter = session_factory(plan) if session_factory is not None else _no_session()
    try:
        async with enter as session:
            try:
                for step in plan.steps:
                    await think()
                    outcome.declined += await _call(tools, step, think, outcome)
            finally:
                if session is not None:
                    outcome.metrics = dict(session.get_metrics())
    except Exception as exc:
        if loop_error is None or not isinstance(exc, loop_error):
            raise
        outcome.loop_kind = loop_kind(exc)
        outcome.loop_message = str(exc)
    return outcome


async def _call(tools: Tools, step: Step, think: Think, outcome: Outcome) -> int:
    """Make one step's call (with its retries); return 1 if a payment stayed declined.

    A web API that is down (or a cached read that gave up after ``load_timeout`` with no
    stale value to answer) is a tool error the agent sees and carries on from.
    """
    fn = tools[step.tool]
    for attempt in range(step.retries + 1):
        outcome.tool_calls += 1
        try:
            await fn(*step.args)
            return 0
        except (UpstreamDown, LoadTimeoutError):
            outcome.upstream_errors += 1
            return 0
        except PaymentDeclined:
            if attempt == step.retries:
                return 1
            await think()  # back off, then retry the same call
    return 0


@contextlib.asynccontextmanager
async def _no_session() -> AsyncIterator[None]:
    yield None


_KIND_PATTERNS = (
    ("cycle", re.compile(r"cycle|oscillat", re.I)),
    ("max_depth", re.compile(r"depth", re.I)),
    ("repeat", re.compile(r"repeat|times with same|called \d+ times", re.I)),
)


def loop_kind(exc: BaseException) -> str:
    """The detection kind (``repeat`` / ``cycle`` / ``max_depth``) of a loop error."""
    kind = getattr(exc, "kind", None)
    if isinstance(kind, str) and kind:
        return kind
    text = str(exc)
    for name, pattern in _KIND_PATTERNS:
        if pattern.search(text):
            return name
    return "unknown"


async def sleep_think(rng: random.Random, mean_s: float) -> None:
    """An agent's thinking time between tool calls (uniform 0.5x .. 1.5x the mean)."""
    if mean_s > 0:
        await asyncio.sleep(mean_s * rng.uniform(0.5, 1.5))
