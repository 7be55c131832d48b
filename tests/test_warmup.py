"""``warmup({key: loader})`` preloads hot keys so the first real request is a hit."""

from __future__ import annotations

import logging

from agent_cache import AsyncCache


async def load_user(user_id):
    return {"id": user_id}


async def test_warmup_stores_every_key_and_later_gets_hit():
    cache = AsyncCache()
    failures = await cache.warmup(
        {
            "user:1": lambda: load_user(1),  # a lambda returning a coroutine
            "config:global": lambda: {"debug": False},  # a plain value
            "async-fn": lambda: load_user("fn"),
        }
    )
    assert failures == {}
    loader_calls = 0

    def never():
        nonlocal loader_calls
        loader_calls += 1

    assert await cache.get("user:1", loader=never) == {"id": 1}
    assert await cache.get("config:global", loader=never) == {"debug": False}
    assert await cache.get("async-fn", loader=never) == {"id": "fn"}
    assert loader_calls == 0
    metrics = cache.get_metrics()
    assert (metrics["hits"], metrics["misses"], metrics["size"]) == (3, 0, 3)


async def test_a_failing_warmup_loader_is_reported_not_raised(caplog):
    cache = AsyncCache()

    async def broken():
        raise ConnectionError("cold db")

    with caplog.at_level(logging.WARNING, logger="agent_cache"):
        failures = await cache.warmup({"bad": broken, "good": lambda: "ok"})
    assert set(failures) == {"bad"} and isinstance(failures["bad"], ConnectionError)
    assert "good" in cache and "bad" not in cache
    assert "warmup" in caplog.text


async def test_warmup_ttl_applies(clock):
    cache = AsyncCache(clock=clock)
    await cache.warmup({"k": lambda: 1}, ttl=10)
    clock.advance(10)
    assert "k" not in cache


async def test_warmup_respects_maxsize():
    cache = AsyncCache(maxsize=2)
    await cache.warmup({i: (lambda i=i: i) for i in range(5)})
    assert len(cache) == 2

