"""The core playground: what each button does to a real cache, with the 100 ms simulated load."""

from __future__ import annotations

import pytest

from agent_cache.dashboard.playground import Playground, parse_settings


async def test_n_concurrent_calls_on_one_key_run_the_loader_once() -> None:
    pg = Playground()
    result = await pg.run("herd", key="k", n=20)
    assert result["loader_runs"] == 1
    assert result["metrics"]["loads"] == 1 and result["metrics"]["coalesced"] == 19
    again = await pg.run("call", key="k")
    assert again["loader_runs"] == 0 and again["metrics"]["hits"] == 1


async def test_distinct_keys_through_the_batch_loader_make_one_batch() -> None:
    pg = Playground()
    pg.configure({"kind": "AsyncCache", "max_batch_size": 8, "batch_window_ms": 20})
    result = await pg.run("batch", key="item", n=20)
    assert sorted(result["batches"]) == [4, 8, 8]
    assert all("batch of" in call["value"] for call in result["calls"])


async def test_set_get_delete_on_an_async_cache() -> None:
    pg = Playground()
    await pg.run("set", key="a", value="hello")
    got = await pg.run("get", key="a")
    assert got["calls"][0]["value"] == "hello" and got["loader_runs"] == 0
    await pg.run("delete", key="a")
    assert (await pg.run("get", key="a"))["calls"][0]["value"] is None


@pytest.mark.parametrize("kind", ["AsyncTTL", "AsyncLRU"])
async def test_skip_args_decides_whether_callers_share_entries(kind: str) -> None:
    pg = Playground()
    pg.configure({"kind": kind, "skip_args": 1})
    await pg.run("call", key="x")
    assert (await pg.run("call", key="x"))["loader_runs"] == 0  # the caller argument is skipped
    pg.configure({"kind": kind, "skip_args": 0})
    await pg.run("call", key="x")
    assert (await pg.run("call", key="x"))["loader_runs"] == 1  # every caller is a new key


async def test_warmup_then_calls_are_hits() -> None:
    pg = Playground()
    warm = await pg.run("warmup", key="w", n=5)
    assert warm["loader_runs"] == 5
    assert (await pg.run("call", key="w-3"))["loader_runs"] == 0


async def test_decorators_refuse_what_they_do_not_have() -> None:
    pg = Playground()
    pg.configure({"kind": "AsyncLRU"})
    with pytest.raises(ValueError, match="needs kind AsyncCache"):
        await pg.run("set", key="a")


@pytest.mark.parametrize("field,value", [("kind", "Redis"), ("maxsize", "-1"), ("ttl", "abc"),
                                         ("skip_args", "-2"), ("max_batch_size", "0")])
def test_bad_settings_name_the_field(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=field):
        parse_settings({field: value})


async def test_bad_operations_name_the_parameter() -> None:
    pg = Playground()
    with pytest.raises(ValueError, match="op must be"):
        await pg.run("explode")
    with pytest.raises(ValueError, match="n must be"):
        await pg.run("herd", n=0)
