"""DataLoader batching: concurrent ``get(k, batch_loader=f)`` calls become one ``f(keys)``."""

from __future__ import annotations

import asyncio

import pytest

from agent_cache import AsyncCache, BatchLoadError
from helpers import guarded, settle


class Boom(Exception):
    pass


class BatchFn:
    """A batch function that records each batch and answers ``{key: key * 10}``."""

    def __init__(self, shape: str = "list", fail_on: object = None) -> None:
        self.batches: list[list] = []
        self.shape = shape
        self.fail_on = fail_on

    async def __call__(self, keys: list):
        self.batches.append(list(keys))
        if self.fail_on is not None and self.fail_on in keys:
            raise Boom(f"cannot load {self.fail_on}")
        if self.shape == "dict":
            return {k: k * 10 for k in reversed(keys)}  # order of a dict does not matter
        return [k * 10 for k in keys]


async def get_all(cache: AsyncCache, keys, fn) -> list:
    return await guarded(
        asyncio.gather(*(cache.get(k, batch_loader=fn) for k in keys), return_exceptions=True)
    )


@pytest.mark.parametrize("shape", ["list", "dict"])
async def test_concurrent_gets_become_one_batch_call(shape):
    cache = AsyncCache()
    fn = BatchFn(shape)
    assert await get_all(cache, [1, 2, 3], fn) == [10, 20, 30]
    assert fn.batches == [[1, 2, 3]]
    assert await cache.get(2, batch_loader=fn) == 20  # cached now
    assert len(fn.batches) == 1
    assert cache.get_metrics()["batches"] == 1


async def test_sync_batch_function_works():
    cache = AsyncCache()
    assert await get_all(cache, ["a", "b"], lambda keys: [k.upper() for k in keys]) == ["A", "B"]


async def test_calls_arriving_while_the_window_is_open_join_the_batch():
    # A long window that never elapses here: the batch is sent when it is full.
    cache = AsyncCache(batch_window_ms=60_000, max_batch_size=3)
    fn = BatchFn()
    first = asyncio.create_task(cache.get(1, batch_loader=fn))
    await settle()
    second = asyncio.create_task(cache.get(2, batch_loader=fn))
    await settle()
    assert fn.batches == []  # still collecting
    third = asyncio.create_task(cache.get(3, batch_loader=fn))
    assert await guarded(asyncio.gather(first, second, third)) == [10, 20, 30]
    assert fn.batches == [[1, 2, 3]]


async def test_zero_window_sends_on_the_next_loop_turn():
    cache = AsyncCache(batch_window_ms=0)
    fn = BatchFn()
    assert await get_all(cache, [1, 2], fn) == [10, 20]
    assert await get_all(cache, [3], fn) == [30]
    assert fn.batches == [[1, 2], [3]]


async def test_duplicate_keys_are_sent_once():
    cache = AsyncCache()
    fn = BatchFn()
    assert await get_all(cache, [1, 2, 1, 1, 2], fn) == [10, 20, 10, 10, 20]
    assert fn.batches == [[1, 2]]
    metrics = cache.get_metrics()
    assert (metrics["misses"], metrics["coalesced"]) == (5, 3)


async def test_cached_keys_are_not_sent():
    cache = AsyncCache()
    await cache.set(1, "cached")
    fn = BatchFn()
    assert await get_all(cache, [1, 2], fn) == ["cached", 20]
    assert fn.batches == [[2]]


async def test_batches_split_at_max_batch_size():
    cache = AsyncCache(max_batch_size=3)
    fn = BatchFn()
    assert await get_all(cache, range(1, 8), fn) == [10, 20, 30, 40, 50, 60, 70]
    assert fn.batches == [[1, 2, 3], [4, 5, 6], [7]]


async def test_a_raising_batch_fails_only_its_own_waiters_and_is_not_cached():
    cache = AsyncCache(max_batch_size=3)
    fn = BatchFn(fail_on=5)
    results = await get_all(cache, range(1, 7), fn)
    assert results[:3] == [10, 20, 30]
    assert all(isinstance(r, Boom) for r in results[3:])
    assert not cache._flights
    assert [k for k in range(1, 7) if k in cache] == [1, 2, 3]
    fn.fail_on = None
    assert await get_all(cache, [4, 5, 6], fn) == [40, 50, 60]  # failures were not cached


async def test_other_batch_functions_are_unaffected_by_a_failing_one():
    cache = AsyncCache()
    good, bad = BatchFn(), BatchFn(fail_on="x")
    results = await guarded(
        asyncio.gather(
            cache.get(1, batch_loader=good),
            cache.get("x", batch_loader=bad),
            return_exceptions=True,
        )
    )
    assert results[0] == 10 and isinstance(results[1], Boom)


@pytest.mark.parametrize(
    "result, expected_words",
    [
        ([1], "1 values for 2 keys"),
        (None, "NoneType"),
        ("ab", "str"),
        (42, "int"),
    ],
)
async def test_wrong_shape_fails_the_batch_with_batch_load_error(result, expected_words):
    cache = AsyncCache()

    async def wrong(keys):
        return result

    results = await get_all(cache, ["a", "b"], wrong)
    for r in results:
        assert isinstance(r, BatchLoadError)
        assert expected_words in str(r)
    assert len(cache) == 0 and not cache._flights


async def test_a_key_missing_from_a_dict_fails_only_that_key():
    cache = AsyncCache()

    async def partial(keys):
        return {k: k.upper() for k in keys if k != "missing"}

    results = await get_all(cache, ["a", "missing", "b", "missing"], partial)
    assert results[0] == "A" and results[2] == "B"
    for r in (results[1], results[3]):
        assert isinstance(r, BatchLoadError) and "'missing'" in str(r)
    assert "a" in cache and "missing" not in cache


async def test_a_cancelled_requester_does_not_disturb_the_batch():
    cache = AsyncCache(batch_window_ms=60_000, max_batch_size=3)
    fn = BatchFn()
    quitter = asyncio.create_task(cache.get(1, batch_loader=fn))
    stayer = asyncio.create_task(cache.get(2, batch_loader=fn))
    await settle()
    quitter.cancel()
    await settle()
    last = asyncio.create_task(cache.get(3, batch_loader=fn))
    assert await guarded(asyncio.gather(stayer, last)) == [20, 30]
    assert quitter.cancelled()
    assert fn.batches == [[1, 2, 3]]
    assert 1 in cache  # the batch still stored the cancelled caller's key


async def test_ttl_applies_to_batched_values(clock):
    cache = AsyncCache(clock=clock)
    fn = BatchFn()
    assert await get_all(cache, [1], fn) == [10]
    await guarded(cache.get(2, batch_loader=fn, ttl=5))
    clock.advance(5)
    assert 1 in cache and 2 not in cache


@pytest.mark.parametrize("invalidate", ["delete", "clear", "set"])
async def test_a_key_invalidated_and_requested_again_inside_the_window_does_not_hang(invalidate):
    """The first caller's pending entry must not be silently replaced by the second's."""
    cache = AsyncCache(batch_window_ms=60_000, max_batch_size=2)
    fn = BatchFn()
    first = asyncio.create_task(cache.get(1, batch_loader=fn))
    await settle()
    if invalidate == "delete":
        await cache.delete(1)
    elif invalidate == "clear":
        cache.clear()
    else:
        await cache.set(1, "set")
        await cache.delete(1)
    second = asyncio.create_task(cache.get(1, batch_loader=fn))
    await settle()
    other = asyncio.create_task(cache.get(2, batch_loader=fn))  # fills the batch
    assert await guarded(asyncio.gather(first, second, other)) == [10, 10, 20]
    assert fn.batches == [[1, 2]]
    assert not cache._flights
