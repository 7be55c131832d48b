"""The demo's seed data: the shop, the help desk, the web and the warehouse the agents use.

Everything here is generated from one ``random.Random`` so a ``--seed`` reproduces the same
world. Popularity follows a Zipf-like law (a few products, queries and SKUs are asked for
by many sessions), which is what makes a shared cache pay off in real agent traffic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

_WORDS = (
    "async", "python", "cache", "latency", "agent", "retry", "vector", "index", "sqlite",
    "tracing", "metrics", "budget", "planner", "tool", "prompt", "embedding", "queue",
    "backoff", "stampede", "eviction", "ttl", "session", "loop", "schema",
)
_TICKET_SUBJECTS = (
    "cannot log in", "refund request", "invoice missing", "slow checkout", "wrong size",
    "password reset", "delivery late", "double charge", "account locked", "app crashes",
)


@dataclass(frozen=True)
class Order:
    """An order awaiting payment; the payment API declines its first ``fail_attempts`` charges."""

    order_id: str
    amount: float
    fail_attempts: int


@dataclass
class Catalog:
    """The ids the database is seeded with and the scenarios pick from."""

    users: list[str]
    products: dict[str, float]  # product id -> price
    tickets: list[str]
    pages: dict[str, str]  # url -> text
    queries: list[str]
    skus: list[str]


def zipf_pick(rng: random.Random, items: list[str], skew: float = 1.1) -> str:
    """Pick from ``items`` with rank-based popularity: item ``i`` has weight ``1/(i+1)**skew``."""
    weights = _zipf_weights(len(items), skew)
    return rng.choices(items, cum_weights=weights, k=1)[0]


def zipf_distinct(rng: random.Random, items: list[str], k: int) -> list[str]:
    """``k`` different items (or all of them), each drawn with :func:`zipf_pick` popularity."""
    k = min(k, len(items))
    picked: dict[str, None] = {}
    while len(picked) < k:
        picked[zipf_pick(rng, items)] = None
    return list(picked)


_WEIGHT_CACHE: dict[tuple[int, float], list[float]] = {}


def _zipf_weights(n: int, skew: float) -> list[float]:
    key = (n, skew)
    cum = _WEIGHT_CACHE.get(key)
    if cum is None:
        total = 0.0
        cum = []
        for i in range(n):
            total += 1.0 / (i + 1) ** skew
            cum.append(total)
        _WEIGHT_CACHE[key] = cum
    return cum


def make_catalog(rng: random.Random, *, users: int = 120, products: int = 80) -> Catalog:
    """Build the world the agents work in (payment sessions bring their own orders)."""
    product_ids = {f"P-{i:03d}": round(rng.uniform(5, 900), 2) for i in range(products)}
    queries = [
        " ".join(rng.sample(_WORDS, 3)) for _ in range(60)
    ]
    pages = {}
    for i in range(150):
        words = rng.choices(_WORDS, k=40)
        pages[f"https://docs.example/{i:03d}"] = " ".join(words)
    return Catalog(
        users=[f"user-{i:03d}" for i in range(users)],
        products=product_ids,
        tickets=[f"T-{100 + i}" for i in range(200)],
        pages=pages,
        queries=list(dict.fromkeys(queries)),
        skus=[f"SKU-{i:02d}" for i in range(40)],
    )


def ticket_subject(rng: random.Random) -> str:
    """A plausible ticket subject line."""
    return rng.choice(_TICKET_SUBJECTS)
