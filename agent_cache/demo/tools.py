"""The agent tools of the five seed scenarios, over the demo's SQLite database.

Each tool is a plain coroutine function with one job (a read or a mutation). With
``cached=True`` the reads are wrapped in :class:`~agent_cache.AgentCache` and the mutations
in :class:`~agent_cache.AgentCacheInvalidator`, exactly as an application would; with
``cached=False`` the same bodies run bare, which is the baseline the demo measures against.

``checkout`` calls the ``get_cart`` tool from inside its body, so a session's span tree
shows a tool span nested under another tool span. It then prices the whole cart the way a
real agent backend would: product details for every line through one
:class:`~agent_cache.AsyncCache` with a ``batch_loader`` (one ``SELECT ... IN`` for all the
lines that missed, however many checkouts ask at once). Uncached, the same step is one
``fetch_products`` query per checkout.

Every call also passes through a tiny counting shim (outside the cache decorators) so the
demo can check the library's own figures: each read that reaches the cache is one request.

``search_web`` and ``fetch_page`` call a remote web API (:mod:`.upstream`): cached, they get
the resilience options an agent gives such an API (short TTL, ``stale_while_revalidate``,
``stale_if_error``, ``load_timeout``), and ``--outage`` takes that API down for a while.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .db import Database
from .upstream import Upstream, UpstreamDown, UpstreamProfile

ToolFn = Callable[..., Awaitable[Any]]

SCOPES = ("seed", "global", "session")
DETAILS_CACHE = "product_details"
DETAILS_TTL_S = 5.0  # prices change: checkout trusts a product's details for a few seconds
DETAILS_BATCH_WINDOW_MS = 2.0


@dataclass(frozen=True)
class ToolSpec:
    """How one tool is cached: its resource tag, the scope the seed gives it, TTL, kind,
    and the resilience options (seconds; ``upstream`` tools take them from the run's
    :class:`~agent_cache.demo.upstream.UpstreamProfile`)."""

    name: str
    resource: str
    seed_scope: str
    ttl: float | None = None
    mutation: bool = False
    per_key: bool = False  # mutations only: drop just the first argument's entry
    upstream: bool = False  # calls the remote web API (see .upstream)
    stale_while_revalidate: float = 0.0
    stale_if_error: float = 0.0
    load_timeout: float | None = None

    def with_profile(self, profile: UpstreamProfile) -> ToolSpec:
        """This spec with an upstream profile's TTL and resilience options applied."""
        if not self.upstream:
            return self
        return dataclasses.replace(
            self, ttl=profile.ttl, stale_while_revalidate=profile.stale_while_revalidate,
            stale_if_error=profile.stale_if_error, load_timeout=profile.load_timeout,
        )


SPECS: tuple[ToolSpec, ...] = (
    # 1. shopping
    ToolSpec("get_cart", "cart", "global", ttl=120),
    ToolSpec("get_product", "product", "global", ttl=300),
    ToolSpec("add_to_cart", "cart", "global", mutation=True, per_key=True),
    ToolSpec("checkout", "cart", "global", mutation=True, per_key=True),
    # 2. support desk: session scope, so agents never share a ticket's cached state
    ToolSpec("get_ticket", "ticket", "session"),
    ToolSpec("update_ticket", "ticket", "session", mutation=True),
    # 3. research: a remote web API (TTL and resilience options from the run's UpstreamProfile)
    ToolSpec("search_web", "search", "global", upstream=True),
    ToolSpec("fetch_page", "page", "global", upstream=True),
    # 4. inventory
    ToolSpec("check_stock", "stock", "global"),
    ToolSpec("update_stock", "stock", "global", mutation=True, per_key=True),
    # 5. payments (a mutation only: never cached, but loop detection sees every retry)
    ToolSpec("charge_payment", "payment", "global", mutation=True),
)
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}
READ_TOOLS = frozenset(spec.name for spec in SPECS if not spec.mutation)
UPSTREAM_TOOLS = frozenset(spec.name for spec in SPECS if spec.upstream)


@dataclass
class ToolStats:
    """What the agents asked for, counted outside the cache: the check on its figures."""

    calls: Counter[str] = field(default_factory=Counter)
    stopped: Counter[str] = field(default_factory=Counter)  # refused by loop detection

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def cache_requests(self) -> int:
        """Reads that reached the cache: every read call not refused by loop detection."""
        return sum(self.calls[n] - self.stopped[n] for n in READ_TOOLS)


class Tools:
    """One set of tool callables bound to a database; attribute per tool name."""

    get_cart: ToolFn
    get_product: ToolFn
    add_to_cart: ToolFn
    checkout: ToolFn
    get_ticket: ToolFn
    update_ticket: ToolFn
    search_web: ToolFn
    fetch_page: ToolFn
    check_stock: ToolFn
    update_stock: ToolFn
    charge_payment: ToolFn

    def __init__(self, stats: ToolStats) -> None:
        self.stats = stats
        self._owned: dict[str, Any] = {}  # caches these tools own (not the agent layer's)

    def close(self) -> None:
        """Let go of the caches these tools own, now.

        The tools' closures form reference cycles; a cache left inside them would be
        finalized by the garbage collector at an arbitrary moment, and the telemetry
        runtime's finalizer takes a lock that may be held right then (a metrics collection
        in progress). Dropping the last reference here frees the cache at a known point.
        """
        self._owned.clear()

    def __getitem__(self, name: str) -> ToolFn:
        if name not in SPEC_BY_NAME:
            raise KeyError(name)
        fn: ToolFn = getattr(self, name)
        return fn


def effective_scope(spec: ToolSpec, scope: str) -> str:
    """The scope a tool is cached in under the ``--scope`` option."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, not {scope!r}")
    return spec.seed_scope if scope == "seed" else scope


def build_tools(
    db: Database,
    *,
    cached: bool,
    scope: str = "seed",
    loop_error: type[BaseException] | None = None,
    backend: Any = None,
    upstream: Upstream | None = None,
    profile: UpstreamProfile | None = None,
) -> Tools:
    """The eleven seed tools over ``db``; decorated with agent_cache when ``cached``.

    ``loop_error`` is the exception loop detection raises, so the counting shim can tell a
    refused call from one that ran. ``backend`` (a shared tier such as ``RedisBackend``) goes
    behind every cached read tool. ``upstream`` is the web API of the research tools (with
    its outage, if any); ``profile`` how they cache it (default :class:`UpstreamProfile`).
    """
    profile = profile if profile is not None else UpstreamProfile()
    tools = Tools(ToolStats())
    order_numbers = itertools.count(1)
    owned = tools._owned
    if cached:
        owned[DETAILS_CACHE] = _details_cache()

    async def price_lines(items: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
        ids = [item["product_id"] for item in items]
        details = owned.get(DETAILS_CACHE)
        if details is None:
            rows = await db.fetch_products(ids)
            return [rows.get(pid) for pid in ids]
        return list(await asyncio.gather(*(details.get(pid, batch_loader=db.fetch_products) for pid in ids)))

    async def get_cart(user_id: str) -> dict[str, Any]:
        return await db.fetch_cart(user_id)

    async def get_product(product_id: str) -> dict[str, Any] | None:
        return await db.fetch_product(product_id)

    async def add_to_cart(user_id: str, product_id: str) -> dict[str, Any]:
        await db.add_to_cart(user_id, product_id)
        return {"user_id": user_id, "added": product_id}

    async def checkout(user_id: str) -> dict[str, Any]:
        cart = await tools.get_cart(user_id)  # a tool inside a tool: a nested span
        if not cart["items"]:
            return {"user_id": user_id, "status": "empty"}
        lines = await price_lines(cart["items"])  # product details for the receipt, one batch
        order_id = f"ORD-{user_id}-{next(order_numbers)}"
        await db.place_order(order_id, user_id, cart["total"])
        return {"order_id": order_id, "total": cart["total"], "lines": len(lines), "status": "placed"}

    async def get_ticket(ticket_id: str) -> dict[str, Any] | None:
        return await db.fetch_ticket(ticket_id)

    async def update_ticket(ticket_id: str, status: str) -> dict[str, Any]:
        await db.update_ticket(ticket_id, status)
        return {"id": ticket_id, "status": status}

    async def search_web(query: str) -> list[str]:
        if upstream is not None:
            await upstream.guard()
        return await db.search(query)

    async def fetch_page(url: str) -> str | None:
        if upstream is not None:
            await upstream.guard()
        return await db.fetch_page(url)

    async def check_stock(item_id: str) -> int | None:
        return await db.stock_level(item_id)

    async def update_stock(item_id: str, delta: int) -> int:
        return await db.adjust_stock(item_id, delta)

    async def charge_payment(order_id: str, amount: float) -> dict[str, Any]:
        return await db.charge(order_id, amount)

    bodies: dict[str, ToolFn] = {fn.__name__: fn for fn in (
        get_cart, get_product, add_to_cart, checkout, get_ticket, update_ticket,
        search_web, fetch_page, check_stock, update_stock, charge_payment,
    )}
    for spec in SPECS:
        fn = bodies[spec.name]
        if cached:
            fn = _decorate(fn, spec.with_profile(profile), effective_scope(spec, scope), backend)
        gate = upstream if spec.upstream else None
        setattr(tools, spec.name, _counted(fn, spec.name, tools.stats, loop_error, gate))
    return tools


def _details_cache() -> Any:
    from agent_cache import AsyncCache

    return AsyncCache(maxsize=4096, default_ttl=DETAILS_TTL_S, batch_window_ms=DETAILS_BATCH_WINDOW_MS,
                      name=DETAILS_CACHE)


def _decorate(fn: ToolFn, spec: ToolSpec, scope: str, backend: Any = None) -> ToolFn:
    from agent_cache import AgentCache, AgentCacheInvalidator, call_key

    # name= gives spans and loop messages the bare tool name ("execute_tool get_cart").
    if not spec.mutation:
        return AgentCache(
            resource=spec.resource, scope=scope, ttl=spec.ttl, name=spec.name, backend=backend,
            stale_while_revalidate=spec.stale_while_revalidate, stale_if_error=spec.stale_if_error,
            load_timeout=spec.load_timeout,
        )(fn)
    if spec.per_key:
        # Drop only the entry this mutation touches: reads are keyed by their first argument.
        return AgentCacheInvalidator(
            resource=spec.resource,
            scope=scope,
            clear_all=False,
            key_fn=lambda args, kwargs: call_key(args[0]),
            name=spec.name,
        )(fn)
    return AgentCacheInvalidator(resource=spec.resource, scope=scope, name=spec.name)(fn)


def _counted(
    fn: ToolFn, name: str, stats: ToolStats, loop_error: type[BaseException] | None,
    upstream: Upstream | None = None,
) -> ToolFn:
    """Count the call; for an upstream tool, note whether it meets the outage (the cached
    run records it; the uncached replay fails the same calls here, as the API would)."""

    async def call(*args: Any, **kwargs: Any) -> Any:
        stats.calls[name] += 1
        if upstream is not None and upstream.meets_outage() and upstream.replaying:
            raise UpstreamDown("web API down (the same outage as in the cached run)")
        try:
            return await fn(*args, **kwargs)
        except BaseException as exc:
            if loop_error is not None and isinstance(exc, loop_error):
                stats.stopped[name] += 1
            raise

    call.__name__ = call.__qualname__ = name
    return call
