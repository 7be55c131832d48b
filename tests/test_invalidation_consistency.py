"""Once a mutation has returned (or raised), no read returns data loaded before it.

The reference clears the resource once, *before* the mutation, and leaves loads in flight
alone. Two races beat that: a load in flight when the mutation starts finishes later and
stores the old value (or later readers join it), and a read that runs *during* the
mutation loads the not-yet-changed value and caches it. Each test below stages one race
with events (no sleeps) and fails on the reference.
"""

from __future__ import annotations

import asyncio

import pytest

from agent_cache import (
    AgentCache,
    AgentCacheInvalidator,
    AgentCacheSession,
    AsyncCache,
    call_key,
    get_current_session,
)
from agent_cache.agent.invalidator import InvalidationKeyError
from helpers import Gate, counted, guarded, settle


class Boom(Exception):
    pass


class CartWorld:
    """A fake cart store with a read tool and a mutation tool whose steps can be paused.

    ``version`` is the store's state; a read returns the version it saw when it started.
    ``read_pauses`` pause successive reads after they read; ``before_commit`` /
    ``after_commit`` pause the mutation around its write.
    """

    def __init__(self, scope: str = "global", clear_all: bool = True) -> None:
        self.version = 0
        self.reads = 0
        self.read_pauses: list[Gate] = []
        self.before_commit: Gate | None = None
        self.after_commit: Gate | None = None
        key_fn = None if clear_all else (lambda args, kwargs: call_key(args[0]))

        @AgentCache(resource="cart", scope=scope)
        async def get_cart(user_id):
            seen = self.version
            self.reads += 1
            if self.read_pauses:
                await self.read_pauses.pop(0)()
            return seen

        @AgentCacheInvalidator(resource="cart", scope=scope, clear_all=clear_all, key_fn=key_fn)
        async def add_item(user_id, fail=False):
            if self.before_commit is not None:
                await self.before_commit()
            self.version += 1
            if self.after_commit is not None:
                await self.after_commit()
            if fail:
                raise Boom("mutation failed after committing")
            return self.version

        self.get_cart = get_cart
        self.add_item = add_item

    def pause_next_read(self) -> Gate:
        gate = Gate()
        self.read_pauses.append(gate)
        return gate

    async def fresh(self) -> bool:
        """Whether a read now returns the current version."""
        assert get_current_session() is not None or self.get_cart.scope == "global"
        return await guarded(self.get_cart("u1")) == self.version


VARIANTS = [
    pytest.param(("global", True), id="global-clear_all"),
    pytest.param(("global", False), id="global-key_fn"),
    pytest.param(("session", True), id="session-clear_all"),
    pytest.param(("session", False), id="session-key_fn"),
]


@pytest.fixture(params=VARIANTS)
async def world(request):
    scope, clear_all = request.param
    async with AgentCacheSession(loop_detection=False):
        yield CartWorld(scope, clear_all)


async def test_load_in_flight_when_the_mutation_starts(world):
    read = world.pause_next_read()
    early = asyncio.create_task(world.get_cart("u1"))
    await guarded(read.started.wait())  # the early read has seen version 0 and is still loading
    assert await guarded(world.add_item("u1")) == 1
    assert await world.fresh()  # a read after the mutation does not join the early load
    read.release.set()
    assert await guarded(early) == 0  # the early caller gets what it loaded...
    assert await world.fresh()  # ...but it was not stored


async def test_read_during_the_mutation_is_not_kept(world):
    world.before_commit = Gate()
    mutation = asyncio.create_task(world.add_item("u1"))
    await guarded(world.before_commit.started.wait())  # invalidated, not yet committed
    assert await guarded(world.get_cart("u1")) == 0  # loads and caches the old value
    world.before_commit.release.set()
    assert await guarded(mutation) == 1
    assert await world.fresh()


async def test_read_started_during_the_mutation_finishing_after_it(world):
    world.before_commit = Gate()
    mutation = asyncio.create_task(world.add_item("u1"))
    await guarded(world.before_commit.started.wait())
    read = world.pause_next_read()
    during = asyncio.create_task(world.get_cart("u1"))
    await guarded(read.started.wait())  # saw version 0
    world.before_commit.release.set()
    await guarded(mutation)
    assert await world.fresh()
    read.release.set()
    assert await guarded(during) == 0
    assert await world.fresh()


async def test_mutation_that_raises_still_leaves_no_stale_read(world):
    world.before_commit = Gate()
    mutation = asyncio.create_task(world.add_item("u1", fail=True))
    await guarded(world.before_commit.started.wait())
    assert await guarded(world.get_cart("u1")) == 0
    world.before_commit.release.set()
    with pytest.raises(Boom):
        await guarded(mutation)
    assert await world.fresh()


async def test_mutation_that_is_cancelled_still_leaves_no_stale_read(world):
    world.before_commit, world.after_commit = Gate(), Gate()
    mutation = asyncio.create_task(world.add_item("u1"))
    await guarded(world.before_commit.started.wait())
    assert await guarded(world.get_cart("u1")) == 0
    world.before_commit.release.set()
    await guarded(world.after_commit.started.wait())  # committed, then stuck
    mutation.cancel()
    with pytest.raises(asyncio.CancelledError):
        await mutation
    assert world.version == 1
    assert await world.fresh()


async def test_sequential_reads_and_mutations_stay_fresh(world):
    for _ in range(3):
        assert await world.fresh()
        assert await world.fresh()
        await world.add_item("u1")
    assert world.reads == 3  # one load per version, hits in between


async def test_every_tool_of_the_resource_is_invalidated():
    totals = {"u1": 10}

    @AgentCache(resource="basket")
    async def get_basket(user_id):
        return dict(totals)

    @AgentCache(resource="basket")
    async def get_basket_total(user_id):
        return totals[user_id]

    @AgentCache(resource="wishlist")
    async def get_wishlist(user_id):
        return ["book"]

    @AgentCacheInvalidator(resource="basket")
    async def add(user_id, amount):
        totals[user_id] += amount

    await get_basket("u1"), await get_basket_total("u1"), await get_wishlist("u1")
    await add("u1", 5)
    assert await get_basket("u1") == {"u1": 15}
    assert await get_basket_total("u1") == 15
    assert len(get_wishlist.cache) == 1  # another resource is untouched


async def test_key_fn_drops_only_the_named_entry():
    world = CartWorld(clear_all=False)
    await world.get_cart("u1")
    await world.get_cart("u2")
    await world.add_item("u1")
    assert call_key("u2") in world.get_cart.cache._data
    assert world.reads == 2
    assert await world.fresh()
    assert world.reads == 3


async def test_key_fn_that_raises_fails_the_mutation_loudly():
    get_order = AgentCache(resource="orders")(counted())
    ran = []

    def broken_key_fn(args, kwargs):
        raise KeyError("no such argument")

    @AgentCacheInvalidator(resource="orders", clear_all=False, key_fn=broken_key_fn)
    async def cancel_order(order_id):
        ran.append(order_id)

    await get_order("o1")
    with pytest.raises(InvalidationKeyError, match="key_fn") as caught:
        await cancel_order("o1")
    assert isinstance(caught.value.__cause__, KeyError)
    assert ran == []  # the mutation never ran, so the cached read is still true
    assert await get_order("o1") == 1


async def test_session_invalidation_leaves_other_sessions_alone():
    get_notes = AgentCache(resource="notes", scope="session")(counted())

    @AgentCacheInvalidator(resource="notes", scope="session")
    async def edit_notes(owner):
        return None

    a_loaded, a_edited = asyncio.Event(), asyncio.Event()

    async def agent_a():
        async with AgentCacheSession(session_id="A"):
            await get_notes("x")
            a_loaded.set()
            await guarded(a_edited.wait())
            return await get_notes("x")

    async def agent_b():
        async with AgentCacheSession(session_id="B"):
            await guarded(a_loaded.wait())
            first = await get_notes("x")
            await edit_notes("x")  # clears B's session cache only
            a_edited.set()
            return first, await get_notes("x")

    a_result, b_results = await guarded(asyncio.gather(agent_a(), agent_b()))
    assert a_result == 1  # A still hits its own entry
    assert b_results == (2, 3)


# -- the core cache fences too ----------------------------------------------------------------


@pytest.mark.parametrize("mutate", ["delete", "clear", "set"])
async def test_core_invalidation_fences_a_load_in_flight(mutate):
    cache = AsyncCache()
    old = Gate("old")
    loading = asyncio.create_task(cache.get("k", loader=old))
    await guarded(old.started.wait())
    if mutate == "delete":
        await cache.delete("k")
    elif mutate == "clear":
        cache.clear()
    else:
        await cache.set("k", "set")
    after = "set" if mutate == "set" else "new"
    assert await guarded(cache.get("k", loader=lambda: "new")) == after
    old.release.set()
    assert await guarded(loading) == "old"
    await settle()
    assert await cache.get("k", loader=lambda: "unexpected") == after
    assert not cache._flights
