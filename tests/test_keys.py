"""Keys by value: equal arguments share an entry, different ones never do.

The reference builds keys from a ``repr``-like walk, where ``f(1)`` and ``f("1")`` can
collide and unhashable arguments need special handling per call. Here keys are Python
values: hashable arguments are the key as they are (a hit is a dict lookup), unhashable
ones are frozen into tagged tuples.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest

from agent_cache import AgentCache, AgentCacheInvalidator, AsyncCache, AsyncLRU, call_key
from agent_cache.agent.signature import SignatureKey
from agent_cache.core import decorators, keys


@dataclass
class Query:  # eq=True and not frozen: instances are unhashable
    text: str
    filters: list


@dataclass(frozen=True)
class Point:
    x: int
    y: int


class Recorder:
    """Wrap a fresh ``AsyncLRU`` function that records every real call."""

    def __init__(self) -> None:
        self.calls: list = []

        @AsyncLRU(maxsize=None)
        async def fn(*args, **kwargs):
            self.calls.append((args, kwargs))
            return len(self.calls)

        self.fn = fn

    async def loads(self, *calls) -> int:
        """Make each ``(args, kwargs)`` call; return how many really ran."""
        for args, kwargs in calls:
            await self.fn(*args, **kwargs)
        return len(self.calls)


def c(*args, **kwargs):
    return args, kwargs


@pytest.mark.parametrize(
    "first, second",
    [
        (c(1), c("1")),
        (c(b"1"), c("1")),
        (c(None), c("None")),
        (c([1, 2]), c((1, 2))),
        (c({"a": 1}), c({"a": 2})),
        (c({"a": 1}), c([("a", 1)])),
        (c({1, 2}), c({1, 3})),
        (c(Query("q", [1])), c(Query("q", [2]))),
        (c(Point(1, 2)), c(Point(2, 1))),
        (c(1, 2), c((1, 2))),
        (c(x=1), c(y=1)),
        (c(1, b=2), c(1, 2)),
        (c([[1], 2]), c([[1, 2]])),
    ],
)
async def test_different_arguments_never_share_an_entry(first, second):
    rec = Recorder()
    assert await rec.loads(first, second, first, second) == 2


@pytest.mark.parametrize(
    "first, second",
    [
        (c(a=1, b=2), c(b=2, a=1)),
        (c({"a": 1, "b": 2}), c({"b": 2, "a": 1})),
        (c([1, {"k": [2, 3]}]), c([1, {"k": [2, 3]}])),
        (c({3, 1, 2}), c({1, 2, 3})),
        (c(Query("q", [1, 2])), c(Query("q", [1, 2]))),
        (c(Point(1, 2)), c(Point(1, 2))),
        (c({1: "int key", "s": "str key"}), c({"s": "str key", 1: "int key"})),
        (c(filters={"tags": {"x", "y"}}), c(filters={"tags": {"y", "x"}})),
    ],
)
async def test_equal_arguments_share_one_entry(first, second):
    rec = Recorder()
    assert await rec.loads(first, second) == 1


async def test_mutating_an_argument_after_the_call_does_not_corrupt_the_entry():
    rec = Recorder()
    arg = [1, 2]
    await rec.fn(arg)
    arg.append(3)
    assert await rec.loads(c([1, 2])) == 1  # still a hit for the old value
    assert await rec.loads(c(arg)) == 2  # the new value is a new key


async def test_agent_tool_keys_by_value():
    calls = []

    @AgentCache(resource="user")
    async def get_user(user_id, *, fields=None):
        calls.append((user_id, fields))
        return user_id

    await get_user(1)
    await get_user("1")
    await get_user(1, fields=["name", "email"])
    await get_user(1, fields=["name", "email"])
    await get_user(1)
    assert calls == [(1, None), ("1", None), (1, ["name", "email"])]


async def test_async_cache_get_accepts_unhashable_keys_by_value():
    cache = AsyncCache()
    await cache.set({"user": 1, "tags": ["a"]}, "v")
    assert await cache.get({"tags": ["a"], "user": 1}) == "v"
    assert await cache.get(1, loader=lambda: "int") == "int"
    assert await cache.get("1", loader=lambda: "str") == "str"
    assert await cache.delete({"user": 1, "tags": ["a"]}) is True


async def test_call_key_names_the_entry_a_tool_stores():
    @AgentCache(resource="cart")
    async def get_cart(user_id, currency="EUR"):
        return [user_id, currency]

    @AgentCacheInvalidator(resource="cart", clear_all=False, key_fn=lambda a, kw: call_key(a[0]))
    async def add_to_cart(user_id, item):
        return item

    await get_cart("u1")
    await get_cart("u2")
    await get_cart("u1", currency="USD")
    assert call_key("u1") in get_cart.cache._data
    # Tool keys follow the signature: the positional form names the keyword-called entry,
    # and the tool's own call_key binds keywords like the call did.
    assert call_key("u1", "USD") in get_cart.cache._data
    assert get_cart.call_key("u1", currency="USD") == call_key("u1", "USD")
    assert get_cart.call_key(user_id="u2") == call_key("u2")
    await add_to_cart("u1", "laptop")
    assert call_key("u1") not in get_cart.cache._data
    assert call_key("u2") in get_cart.cache._data


async def test_a_hit_with_hashable_arguments_builds_no_key(monkeypatch):
    """The hit path looks the argument tuple up as it is: no key building, no freezing."""

    @AsyncLRU()
    async def lru(a, b):
        return a + b

    @AgentCache(resource="sum")
    async def tool(a, b):
        return a + b

    assert await lru(1, 2) == 3 and await tool(1, 2) == 3

    def forbidden(*args, **kwargs):
        raise AssertionError("key building on the hit path")

    monkeypatch.setattr(decorators, "make_key", forbidden)
    monkeypatch.setattr(SignatureKey, "__call__", forbidden)
    monkeypatch.setattr(keys, "freeze", forbidden)
    for _ in range(3):
        assert await lru(1, 2) == 3 and await tool(1, 2) == 3
    assert lru.get_metrics()["hits"] == 3 and tool.get_metrics()["hits"] == 3


def test_stable_key_is_the_same_in_another_process():
    key = ("q", {"b": [1, 2], "a": {3, 4}}, frozenset({"x", "y"}))
    here = keys.stable_key("ns", key)
    code = (
        "from agent_cache.core.keys import stable_key;"
        "print(stable_key('ns', ('q', {'a': {4, 3}, 'b': [1, 2]}, frozenset({'y', 'x'}))))"
    )
    there = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345"},
    ).stdout.strip()
    assert here == there
    assert keys.stable_key("ns", (1,)) != keys.stable_key("ns", ("1",))
    assert keys.stable_key("ns", (1,)) != keys.stable_key("other", (1,))


def test_a_tuple_that_looks_like_a_frozen_dict_is_a_different_key():
    from agent_cache.core.keys import make_key, stable_key

    as_dict = make_key(({"a": 1},))
    look_alike = make_key((("__dict__", (("a", 1),)),))
    assert as_dict != look_alike
    assert stable_key("ns", as_dict) != stable_key("ns", look_alike)


def test_a_repr_never_names_a_shared_tier_key():
    """An identity-compared object's repr embeds an address that another object (or another
    process) reuses: such keys stay in memory, never reach a shared tier."""
    import pytest as _pytest

    from agent_cache.errors import UnkeyableArgumentError

    class Token:
        pass

    with _pytest.raises(UnkeyableArgumentError):
        keys.stable_key("ns", (Token(),))
    import datetime
    import enum
    import uuid

    class Color(enum.Enum):
        RED = 1

    stable = (Color.RED, datetime.date(2026, 1, 2), uuid.UUID(int=7), 1 + 2j)
    assert keys.stable_key("ns", stable) == keys.stable_key("ns", stable)


async def test_a_key_without_a_shared_form_is_served_from_memory_only():
    from agent_cache import MemoryBackend

    class Token:
        pass

    tier = MemoryBackend()
    runs = []

    @AgentCache(resource="tokens", backend=tier)
    async def use(token):
        runs.append(token)
        return id(token)

    token = Token()
    assert await use(token) == await use(token) == id(token)
    assert len(runs) == 1 and len(tier) == 0  # cached in L1, never written to the tier
