"""Bad parameters fail at construction / decoration time, naming the parameter.

The reference accepts anything and fails (or silently misbehaves) at the first call:
a negative ttl caches nothing, an unknown ``on_loop`` ignores loops, a sync function
decorated as a tool returns a non-awaitable.
"""

from __future__ import annotations

import pytest

from agent_cache import (
    AgentCache,
    AgentCacheInvalidator,
    AgentCacheSession,
    AsyncCache,
    AsyncLRU,
    AsyncTTL,
)


def sync_tool(x):
    return x


async def async_tool(x):
    return x


def decorate(factory):
    """Build the decorator and apply it: an error in either step is 'at decoration time'."""
    return lambda: factory()(async_tool)


@pytest.mark.parametrize(
    "make, error, param",
    [
        (lambda: AsyncCache(maxsize=-1), ValueError, "maxsize"),
        (lambda: AsyncCache(maxsize=1.5), TypeError, "maxsize"),
        (lambda: AsyncCache(maxsize=True), TypeError, "maxsize"),
        (lambda: AsyncCache(default_ttl=-1), ValueError, "default_ttl"),
        (lambda: AsyncCache(default_ttl=0), ValueError, "default_ttl"),
        (lambda: AsyncCache(default_ttl="60"), TypeError, "default_ttl"),
        (lambda: AsyncCache(batch_window_ms=-5), ValueError, "batch_window_ms"),
        (lambda: AsyncCache(max_batch_size=0), ValueError, "max_batch_size"),
        (lambda: AsyncCache(backend=object()), TypeError, "backend"),
        (decorate(lambda: AsyncLRU(maxsize=-1)), ValueError, "maxsize"),
        (decorate(lambda: AsyncLRU(skip_args=-1)), ValueError, "skip_args"),
        (decorate(lambda: AsyncTTL(time_to_live=-1)), ValueError, "time_to_live"),
        (decorate(lambda: AsyncTTL(maxsize=-3)), ValueError, "maxsize"),
        (decorate(lambda: AgentCache(resource="r", maxsize=-1)), ValueError, "maxsize"),
        (decorate(lambda: AgentCache(resource="r", ttl=-1)), ValueError, "ttl"),
        (decorate(lambda: AgentCache(resource="r", ttl="soon")), TypeError, "ttl"),
        (decorate(lambda: AgentCache(resource="r", scope="team")), ValueError, "scope"),
        (decorate(lambda: AgentCache(resource="r", skip_args=-1)), ValueError, "skip_args"),
        (decorate(lambda: AgentCache(resource="")), TypeError, "resource"),
        (decorate(lambda: AgentCache(resource=None)), TypeError, "resource"),
        (decorate(lambda: AgentCacheInvalidator(resource="r", scope="everywhere")), ValueError, "scope"),
        (decorate(lambda: AgentCacheInvalidator(resource="r", skip_args=1)), TypeError, "skip_args"),
        (decorate(lambda: AgentCacheInvalidator(resource="r", clear_all=False)), ValueError, "key_fn"),
        (decorate(lambda: AgentCacheInvalidator(resource="r", key_fn="k")), TypeError, "key_fn"),
        (lambda: AgentCacheSession(on_loop="explode"), ValueError, "on_loop"),
        (lambda: AgentCacheSession(max_tool_repeats=0), ValueError, "max_tool_repeats"),
        (lambda: AgentCacheSession(max_tool_repeats=-1), ValueError, "max_tool_repeats"),
        (lambda: AgentCacheSession(max_execution_depth=-1), ValueError, "max_execution_depth"),
        (lambda: AgentCacheSession(session_id=42), TypeError, "session_id"),
    ],
)
def test_bad_parameter_raises_naming_it(make, error, param):
    with pytest.raises(error, match=param):
        make()


@pytest.mark.parametrize(
    "decorator",
    [
        AsyncLRU(),
        AsyncTTL(),
        AgentCache(resource="r"),
        AgentCache(resource="r", scope="session"),
        AgentCacheInvalidator(resource="r"),
    ],
    ids=lambda d: type(d).__name__,
)
@pytest.mark.parametrize("target", [42, "get_cart"], ids=["int", "str"])
def test_a_target_that_is_not_a_function_raises_type_error_at_decoration(decorator, target):
    with pytest.raises(TypeError, match="must decorate a function"):
        decorator(target)


async def test_bad_per_call_ttl_raises():
    cache = AsyncCache()
    with pytest.raises(ValueError, match="ttl"):
        await cache.set("k", 1, ttl=-1)
    with pytest.raises(ValueError, match="ttl"):
        await cache.get("k", loader=lambda: 1, ttl=0)
    with pytest.raises(TypeError, match="loader"):
        await cache.get("k", loader="not callable")


async def test_good_parameters_are_accepted():
    AsyncCache(maxsize=None, default_ttl=0.5, batch_window_ms=0, max_batch_size=1)
    AsyncCache(maxsize=0)
    AsyncTTL(time_to_live=None, maxsize=None)(async_tool)
    AgentCache(resource="r", scope="session", ttl=1, maxsize=None, skip_args=1)(async_tool)
    AgentCacheInvalidator(resource="r", clear_all=False, key_fn=lambda a, kw: a)(async_tool)
    for mode in ("raise", "warn", "short_circuit"):
        async with AgentCacheSession(on_loop=mode):
            pass
