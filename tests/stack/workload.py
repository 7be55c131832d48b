"""A small, steady agent workload that serves its metrics for Prometheus to scrape.

Run as a process by the live stack test::

    python tests/stack/workload.py --port 9464 --profile faulty

It drives the real agent_cache API in rounds, forever (until killed): AgentCache tools in
global and session scope, an AgentCacheInvalidator, AgentCacheSessions, concurrent callers
that coalesce, and AsyncCache batch loads; metrics go out through
``agent_cache.telemetry.configure(prometheus_port=...)`` (SDK MeterProvider +
PrometheusMetricReader). It runs continuously because Prometheus needs a counter to grow
between two scrapes before rate()/increase() see anything.

Profiles:

* ``healthy`` — well-behaved agents: high hit ratio, no loader errors, no loops; two
  upstream APIs with short TTLs answer a few reads stale while a refresh runs
  (``stale_while_revalidate``), which is healthy and must not alert.
* ``faulty``  — the same, plus agents that loop (repeat, cycle, max depth), a payment tool
  whose loader fails a third of the time, a lookup that never hits, a tool on a shared
  Redis tier that is down (nothing listens on its port), so the tier's breaker opens, and
  an outage of both upstream APIs after the first round: the rates API refuses connections
  (loads raise), the weather API hangs (loads time out); both are answered stale.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import socket
import sys
from typing import Any

from agent_cache import (
    AgentCache,
    AgentCacheInvalidator,
    AgentCacheSession,
    AgentLoopDetectedError,
    AsyncCache,
    LoadTimeoutError,
)
from agent_cache.telemetry import configure

ROUND_PAUSE_S = 0.05  # pacing between rounds, so a 2-core CI machine stays responsive

rng = random.Random(7)
counter = itertools.count()


async def backend(latency_s: float = 0.001) -> None:
    """Stand-in for a database or API round trip."""
    await asyncio.sleep(latency_s)


@AgentCache(resource="inventory", scope="global", ttl=0.5, maxsize=64)
async def get_inventory(sku: str) -> int:
    await backend()
    return len(sku)


@AgentCacheInvalidator(resource="inventory", scope="global")
async def update_inventory(sku: str, quantity: int) -> None:
    await backend()


@AgentCache(resource="search", scope="global", maxsize=8)
async def search_web(query: str) -> list[str]:
    await backend(0.002)
    return [query]


@AgentCache(resource="documents", scope="global", maxsize=32)
async def fetch_page(url: str) -> str:
    await backend(0.002)
    return url


@AgentCache(resource="tickets", scope="session", maxsize=16)
async def get_ticket(ticket_id: str) -> dict:
    await backend()
    return {"id": ticket_id}


class PaymentGatewayTimeout(Exception):
    """The flaky dependency of the faulty profile."""


@AgentCache(resource="payments", scope="global", ttl=0.2, maxsize=16)
async def payment_status(payment_id: str, flaky: bool) -> str:
    await backend()
    if flaky and rng.random() < 0.35:
        raise PaymentGatewayTimeout("gateway timed out")
    return "settled"


@AgentCache(resource="fx_rates", scope="global", maxsize=4)
async def fx_quote(request_id: int) -> float:
    """Keyed by a fresh request id every time: a cache that never hits."""
    await backend()
    return 1.0


class UpstreamDown(ConnectionError):
    """An upstream API refusing connections (the faulty profile's outage)."""


upstream = {"down": False}  # the faulty profile turns its outage on after the first round
HANG_S = 0.5  # a hung upstream call: far past the weather tool's load_timeout
PAIRS = ("EUR/USD", "EUR/GBP")
CITIES = ("Oslo", "Lima")


@AgentCache(resource="exchange_rates", scope="global", ttl=0.02, stale_while_revalidate=0.2,
            stale_if_error=3600, load_timeout=1.0)
async def exchange_rate(pair: str) -> float:
    """An external API with a short TTL: stale answers ride out its outages."""
    await backend()
    if upstream["down"]:
        raise UpstreamDown("rates API refused the connection")
    return 1.1


@AgentCache(resource="weather", scope="global", ttl=0.02, stale_while_revalidate=0.2,
            stale_if_error=3600, load_timeout=0.1)
async def weather(city: str) -> str:
    """An external API that hangs when it is down: callers stop waiting after load_timeout."""
    await backend()
    if upstream["down"]:
        await asyncio.sleep(HANG_S)  # long past load_timeout: callers have stopped waiting
        raise UpstreamDown("weather API timed out")
    return "sunny"


products = AsyncCache(maxsize=256, default_ttl=0.5, batch_window_ms=2, name="products")


async def load_products(keys: list[int]) -> list[dict]:
    await backend(0.002)
    return [{"sku": key} for key in keys]


async def healthy_round() -> None:
    """Agents that read mostly warm data, write now and then, and share loads."""
    async with AgentCacheSession(name="shopper", max_tool_repeats=20):
        for _ in range(12):
            await get_inventory(f"sku-{rng.randrange(4)}")
        # five agents ask for the same cold item at once: one load, four coalesced
        cold = f"sku-new-{next(counter)}"
        await asyncio.gather(*(get_inventory(cold) for _ in range(5)))
        for _ in range(3):
            await search_web(f"query-{rng.randrange(10)}")
        for _ in range(3):
            await fetch_page(f"https://example.test/{rng.randrange(20)}")
        if rng.random() < 0.3:
            await update_inventory(f"sku-{rng.randrange(4)}", 1)
    async with AgentCacheSession(name="support", max_tool_repeats=20):
        ticket = f"T-{rng.randrange(100)}"
        for _ in range(3):
            await get_ticket(ticket)
    await asyncio.gather(*(products.get(rng.randrange(64), batch_loader=load_products) for _ in range(10)))
    for _ in range(2):
        try:
            await payment_status(f"P-{rng.randrange(3)}", False)
        except PaymentGatewayTimeout:
            pass


async def upstream_reads() -> None:
    """Every pair and city read twice, past the TTL but inside the revalidation window, so
    some reads are answered stale, and each has a value to answer stale in an outage."""
    for attempt in range(2):
        if attempt:
            await asyncio.sleep(0.03)
        for pair, city in zip(PAIRS, CITIES, strict=True):
            try:
                await exchange_rate(pair)
                await weather(city)
            except (UpstreamDown, LoadTimeoutError):
                pass  # an agent gets a tool error and carries on


async def healthy_round_with_upstreams() -> None:
    """A healthy round, with the upstream reads beside it (its pace, which the short TTLs
    of the other tools are tuned to, stays the same)."""
    await asyncio.gather(healthy_round(), upstream_reads())


async def faulty_round() -> None:
    """Everything a healthy round does, plus loops, failing loaders and a useless cache."""
    await healthy_round_with_upstreams()
    # repeat: the same search again and again
    async with AgentCacheSession(name="researcher", max_tool_repeats=3, on_loop="short_circuit"):
        for _ in range(5):
            await search_web("the same question")
    # cycle: inventory check <-> update, forever
    async with AgentCacheSession(name="inventory-bot", max_tool_repeats=50, on_loop="warn"):
        for _ in range(3):
            await get_inventory("sku-osc")
            await fetch_page("https://example.test/oscillate")
    # max depth: an agent that never stops
    try:
        async with AgentCacheSession(name="runaway", max_execution_depth=4, max_tool_repeats=50):
            for i in range(6):
                await fetch_page(f"https://example.test/deep/{i}")
    except AgentLoopDetectedError:
        pass
    # a retry storm against a failing gateway
    for _ in range(6):
        try:
            await payment_status(f"P-{rng.randrange(3)}", True)
        except PaymentGatewayTimeout:
            pass
    for _ in range(5):
        await fx_quote(next(counter))


def _port_nobody_listens_on() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_down_tier: dict[str, Any] = {}


def shipping_quote():  # type: ignore[no-untyped-def]
    """A tool whose shared tier is down: every replica would fall back to L1 and its loader."""
    tool = _down_tier.get("tool")
    if tool is None:
        from agent_cache.backends.redis import RedisBackend

        tier = RedisBackend(f"redis://127.0.0.1:{_port_nobody_listens_on()}/0", op_timeout=0.05,
                            failure_threshold=2, reset_timeout=30.0)

        @AgentCache(resource="shipping", scope="global", ttl=0.2, backend=tier)
        async def quote(zone: str) -> float:
            await backend()
            return 4.2

        _down_tier.update(tier=tier, tool=quote)
        tool = quote
    return tool


async def down_tier_round() -> None:
    for _ in range(3):
        await shipping_quote()(f"zone-{rng.randrange(3)}")


async def faulty_with_a_down_tier() -> None:
    await faulty_round()
    await down_tier_round()
    upstream["down"] = True  # after the first round has cached every pair and city


PROFILES = {"healthy": healthy_round_with_upstreams, "faulty": faulty_with_a_down_tier}


async def run(profile: str, rounds: int | None) -> None:
    step = PROFILES[profile]
    done = 0
    while rounds is None or done < rounds:
        await step()
        done += 1
        if done == 1:
            print("ready", flush=True)  # metrics now exist on the endpoint
        await asyncio.sleep(ROUND_PAUSE_S)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="serve /metrics on 127.0.0.1:PORT")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="healthy")
    parser.add_argument("--rounds", type=int, default=None, help="stop after N rounds (default: run until killed)")
    args = parser.parse_args(argv)
    telemetry = configure(service_name=f"agent-cache-workload-{args.profile}", otlp=False, prometheus_port=args.port)
    try:
        asyncio.run(run(args.profile, args.rounds))
    except KeyboardInterrupt:
        pass
    finally:
        telemetry.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
