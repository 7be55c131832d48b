"""``AsyncLRU`` and ``AsyncTTL``: memoize an ``async def`` with an :class:`AsyncCache`.

The wrapper's hit path is inlined (no extra coroutine, no key object for positional
hashable arguments) so a hit costs little more than the dict lookup itself; misses go
through the cache's single-flight loader.
"""

from __future__ import annotations

import functools
from functools import partial
import time
from typing import Any, Awaitable, Callable, Hashable, TypeVar

from ..telemetry import names as tn
from .cache import AsyncCache
from .keys import freeze, make_key
from .validation import check_coroutine_function, check_maxsize, check_non_negative_int, check_ttl

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

_monotonic = time.monotonic


def _key_for(args: tuple, kwargs: dict, skip: int) -> Hashable:
    """The key for a call (the slow path: keyword or unhashable arguments)."""
    return make_key(args[skip:] if skip else args, kwargs)


def memoize(func: Callable, cache: AsyncCache, skip_args: int) -> Callable:
    """Wrap ``func`` so calls are answered from ``cache``; shared by both decorators."""
    data = cache._data
    stats = cache._stats
    load = cache.load
    lead = cache._lead
    flights = cache._flights

    checks_expiry = cache.default_ttl is not None  # AsyncLRU entries never expire

    get = data.get

    async def reload(key: Hashable, args: tuple, kwargs: dict) -> Any:
        """``use_cache=False``: run the function now and store what it returns."""
        cache._fence(key)  # must not join (or be overwritten by) an older load
        return await lead(key, partial(func, *args, **kwargs), None)

    async def share(key: Hashable, loader: Callable) -> Any:
        value, _ = await load(key, loader)
        return value

    def start_miss(key: Hashable, args: tuple, kwargs: dict) -> Awaitable[Any]:
        # A plain function returning the coroutine to await: no frame of its own.
        # partial, not a lambda: a closure over args/kwargs would make them cells, and
        # allocating those cells costs every call, hits included.
        loader = partial(func, *args, **kwargs)
        if key not in flights:  # nobody is loading it: lead directly
            return lead(key, loader, None)
        return share(key, loader)

    async def general(*args: Any, **kwargs: Any) -> Any:
        """Any call: keyword arguments, skipped arguments, unhashable arguments."""
        if kwargs:
            use_cache = kwargs.pop("use_cache", True)
            key = _key_for(args, kwargs, skip_args)
            if not use_cache:
                return await reload(key, args, kwargs)
        else:
            key = args[skip_args:] if skip_args else args
        try:
            entry = get(key)
        except TypeError:  # an unhashable argument: freeze it
            key = freeze(key)
            entry = get(key)
        if entry is not None and (not checks_expiry or entry[1] > _monotonic()):
            entry[2] = True
            stats.hits += 1
            return entry[0]
        return await start_miss(key, args, kwargs)

    async def positional(*args: Any, **kwargs: Any) -> Any:
        """The common call, hashable positional arguments only: the key is ``args``."""
        if kwargs:
            return await general(*args, **kwargs)
        try:
            entry = get(args)
        except TypeError:
            return await general(*args)
        if entry is not None and (not checks_expiry or entry[1] > _monotonic()):
            entry[2] = True
            stats.hits += 1
            return entry[0]
        return await start_miss(args, args, kwargs)

    wrapper = functools.wraps(func)(positional if skip_args == 0 else general)

    def invalidate_cache(*args: Any, **kwargs: Any) -> bool:
        """Drop the entry for these arguments (the ones that make the key, after skip_args)."""
        key = make_key(args, kwargs)
        cache._fence(key)
        return cache._store.discard(key)

    def clear_cache() -> int:
        """Drop every entry; return how many."""
        return cache.clear()

    wrapper.get_metrics = cache.get_metrics  # type: ignore[attr-defined]
    wrapper.invalidate_cache = invalidate_cache  # type: ignore[attr-defined]
    wrapper.clear_cache = clear_cache  # type: ignore[attr-defined]
    wrapper.cache = cache  # type: ignore[attr-defined]
    return wrapper


def _qualname(func: Callable) -> str:
    return f"{func.__module__}.{getattr(func, '__qualname__', func.__name__)}"


class AsyncLRU:
    """Memoize an ``async def`` keeping the ``maxsize`` most recently used results.

    ::

        @AsyncLRU(maxsize=128)
        async def fetch(user_id): ...

        await fetch(1)                    # loads
        await fetch(1)                    # cached
        await fetch(1, use_cache=False)   # forces a reload
        fetch.invalidate_cache(1); fetch.clear_cache(); fetch.get_metrics()

    ``skip_args=1`` leaves ``self`` out of the key for methods. ``name`` labels metrics
    (default: the function's qualified name).
    """

    __slots__ = ("maxsize", "skip_args", "name", "ttl")

    def __init__(self, maxsize: int | None = 128, skip_args: int = 0, *, name: str | None = None) -> None:
        self.maxsize = check_maxsize("maxsize", maxsize)
        self.skip_args = check_non_negative_int("skip_args", skip_args)
        self.name = name
        self.ttl: float | None = None

    def __call__(self, func: F) -> F:
        check_coroutine_function(type(self).__name__, func)
        cache = AsyncCache(
            maxsize=self.maxsize, default_ttl=self.ttl, name=self.name or _qualname(func), scope=tn.SCOPE_CACHE
        )
        return memoize(func, cache, self.skip_args)  # type: ignore[return-value]


class AsyncTTL(AsyncLRU):
    """Memoize an ``async def``; each result lives ``time_to_live`` seconds (``None``: forever).

    ::

        @AsyncTTL(time_to_live=60, maxsize=1024, skip_args=1)
        async def method(self, arg): ...
    """

    __slots__ = ()

    def __init__(
        self,
        time_to_live: float | None = 60,
        maxsize: int | None = 1024,
        skip_args: int = 0,
        *,
        name: str | None = None,
    ) -> None:
        super().__init__(maxsize=maxsize, skip_args=skip_args, name=name)
        self.ttl = check_ttl("time_to_live", time_to_live)
