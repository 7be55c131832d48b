"""``AsyncLRU`` / ``AsyncTTL``: memoized functions and methods, ``use_cache=False``,
``invalidate_cache``, ``clear_cache`` and per-function metrics."""

from __future__ import annotations

import asyncio

import pytest

from agent_cache import AgentCache, AgentCacheInvalidator, AsyncLRU, AsyncTTL
from helpers import Gate, guarded


def counting(decorator):
    """Decorate a fresh ``double(x, scale=1)`` that counts its real runs in ``.runs``."""
    runs = []

    @decorator
    async def double(x, scale=1):
        runs.append(x)
        return x * 2 * scale

    double.runs = runs
    return double


DECORATORS = [AsyncLRU(), AsyncTTL(time_to_live=60), AsyncLRU(maxsize=None), AsyncTTL(time_to_live=None)]


@pytest.mark.parametrize("decorator", DECORATORS, ids=repr)
async def test_results_are_cached_per_arguments(decorator):
    double = counting(decorator)
    assert [await double(x) for x in (1, 2, 1, 2, 1)] == [2, 4, 2, 4, 2]
    assert double.runs == [1, 2]
    metrics = double.get_metrics()
    assert (metrics["hits"], metrics["misses"], metrics["size"]) == (3, 2, 2)
    assert metrics["hit_rate"] == pytest.approx(0.6)


async def test_wrapper_keeps_the_function_identity():
    @AsyncLRU()
    async def documented(x):
        """Docs."""
        return x

    assert documented.__name__ == "documented"
    assert documented.__doc__ == "Docs."
    assert asyncio.iscoroutinefunction(documented)


async def test_use_cache_false_forces_a_reload_and_stores_it():
    double = counting(AsyncLRU())
    assert await double(3) == 6
    assert await double(3, use_cache=False) == 6
    assert double.runs == [3, 3]
    assert await double(3) == 6
    assert double.runs == [3, 3]


async def test_use_cache_false_does_not_join_an_older_load():
    values = iter(["old", "new"])
    gate = Gate()

    @AsyncLRU()
    async def fetch(x):
        value = next(values)
        if value == "old":
            await gate()
        return value

    older = asyncio.create_task(fetch(1))
    await guarded(gate.started.wait())
    assert await guarded(fetch(1, use_cache=False)) == "new"
    gate.release.set()
    assert await guarded(older) == "old"
    assert await fetch(1) == "new"  # the older load did not overwrite the forced reload


async def test_invalidate_cache_drops_one_entry():
    double = counting(AsyncLRU())
    await double(1)
    await double(2)
    await double(1, scale=3)
    assert double.invalidate_cache(1) is True
    assert double.invalidate_cache(1) is False
    await double(1)
    await double(2)
    await double(1, scale=3)
    assert double.runs == [1, 2, 1, 1]
    assert double.invalidate_cache(1, scale=3) is True


async def test_clear_cache_drops_everything():
    double = counting(AsyncTTL(time_to_live=60))
    for x in range(5):
        await double(x)
    assert double.clear_cache() == 5
    assert double.get_metrics()["size"] == 0
    await double(0)
    assert double.runs == [0, 1, 2, 3, 4, 0]


class Repo:
    def __init__(self, name: str) -> None:
        self.name = name
        self.runs = 0

    @AsyncTTL(time_to_live=60, skip_args=1)
    async def find(self, item_id):
        self.runs += 1
        return f"{item_id}@{self.name}"

    @AsyncLRU(maxsize=8)
    async def per_instance(self, item_id):
        self.runs += 1
        return f"{item_id}@{self.name}"


async def test_skip_args_one_leaves_self_out_of_the_key():
    Repo.find.clear_cache()  # decorated once at import: shared by every run of this test
    a, b = Repo("a"), Repo("b")
    assert await a.find(1) == "1@a"
    assert await b.find(1) == "1@a"  # shared entry: self is not part of the key
    assert (a.runs, b.runs) == (1, 0)
    assert Repo.find.invalidate_cache(b, 1) is True  # the call's own arguments; self is skipped
    assert await b.find(1) == "1@b"


async def test_without_skip_args_each_instance_has_its_own_entries():
    a, b = Repo("a"), Repo("b")
    assert await a.per_instance(1) == "1@a"
    assert await b.per_instance(1) == "1@b"
    assert await a.per_instance(1) == "1@a"
    assert (a.runs, b.runs) == (1, 1)


async def test_skip_args_two():
    runs = []

    @AsyncLRU(skip_args=2)
    async def call(client, trace_id, path):
        runs.append((client, trace_id))
        return path.upper()

    assert await call("c1", "t1", "/a") == "/A"
    assert await call("c2", "t2", "/a") == "/A"
    assert runs == [("c1", "t1")]


async def test_each_decorated_function_has_its_own_cache():
    first, second = counting(AsyncLRU()), counting(AsyncLRU())
    await first(1)
    await second(1)
    assert first.runs == [1] and second.runs == [1]
    assert first.cache is not second.cache


class Shop:
    """An agent toolset as a class: the client instance is not part of the key."""

    def __init__(self) -> None:
        self.fetches = 0

    @AgentCache(resource="shop-cart", skip_args=1)
    async def get_cart(self, user_id):
        self.fetches += 1
        return [user_id]

    @AgentCacheInvalidator(resource="shop-cart")
    async def add(self, user_id, item):
        return item


async def test_agent_tool_on_a_method_with_skip_args():
    shop, other = Shop(), Shop()
    assert await shop.get_cart("u1") == ["u1"]
    assert await other.get_cart("u1") == ["u1"]  # same key: self is skipped
    assert (shop.fetches, other.fetches) == (1, 0)
    assert Shop.get_cart.tool_name == "Shop.get_cart"
    await shop.add("u1", "pen")
    await other.get_cart("u1")
    assert other.fetches == 1


async def test_a_forced_reload_is_stored_under_the_calls_own_key():
    from agent_cache import AsyncLRU

    runs = []

    @AsyncLRU()
    async def fetch(x, *, page=1):
        runs.append((x, page))
        return (x, page, len(runs))

    first = await fetch(1, page=2, use_cache=False)
    assert await fetch(1, page=2) == first  # a hit: use_cache is not part of the key
    assert runs == [(1, 2)]
