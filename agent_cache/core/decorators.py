"""``AsyncLRU`` and ``AsyncTTL``: memoize an ``async def`` with an :class:`AsyncCache`.

The wrapper comes from the one factory, :func:`agent_cache.core.wrappers.build_memoizer`;
this module supplies its :class:`MemoPlan` (keys, the reference path) and the handles a
user reaches on the decorated function (``get_metrics``, ``invalidate_cache``,
``clear_cache``, ``cache``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Hashable
from functools import partial
from typing import Any, ParamSpec, Protocol, TypeVar, cast, overload

from ..errors import ConfigurationTypeError
from ..telemetry import names as tn
from .cache import AsyncCache
from .keys import make_key
from .naming import qualified_name
from .resilience import Policy, build_policy
from .store import Clock
from .sync_bridge import is_async_callable, shim_for, sync_facade
from .unkeyable import UnkeyableWarning
from .validation import check_callable, check_maxsize, check_non_negative_int, check_ttl
from .wrappers import build_memoizer, key_or_none

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class MemoPlan:
    """How ``AsyncLRU``/``AsyncTTL`` key a call and answer it on the reference path."""

    __slots__ = ("func", "cache", "skip", "always_key", "warn_unkeyable")

    def __init__(self, func: Callable[..., Awaitable[Any]], cache: AsyncCache, skip: int) -> None:
        self.func = func
        self.cache = cache
        self.skip = skip
        self.always_key = skip > 0
        self.warn_unkeyable = UnkeyableWarning(cache.name, func)

    def key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
        skip = self.skip
        return make_key(args[skip:] if skip else args, kwargs)

    def divert(self) -> bool:
        return False

    async def general(self, key: Hashable | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The reference path: ``use_cache``, unkeyable arguments, hit, single-flight load."""
        use_cache = True
        if "use_cache" in kwargs:
            kwargs = dict(kwargs)
            use_cache = bool(kwargs.pop("use_cache"))
        if key is None:
            key = key_or_none(self, args, kwargs)
        cache = self.cache
        if key is None:  # cannot be keyed safely: run uncached
            self.warn_unkeyable(args, kwargs)
            cache.stats.bypasses += 1
            return await self.func(*args, **kwargs)
        loader = partial(self.func, *args, **kwargs)
        if not use_cache:  # run now and store what it returns; never join an older load
            cache._fence(key)
            return await cache._lead(key, loader, None)
        entry = cache.store.fresh(key)
        if entry is not None:
            cache.stats.hits += 1
            return entry[0]
        value, _ = await cache.load(key, loader)
        return value


class CachedFunction(Protocol[P, R_co]):
    """What ``@AsyncLRU``/``@AsyncTTL`` return: the memoized coroutine function, with the
    decorated function's parameters, plus its cache handles.

    At run time the wrapper is a plain function carrying these attributes (no per-call
    indirection); this protocol is how type checkers see it::

        @AsyncLRU(maxsize=128)
        async def square(x: int) -> int: ...

        await square(3)              # int
        square.invalidate_cache(3)   # bool
        square.get_metrics()["hits"]
    """

    @property
    def cache(self) -> AsyncCache:
        """The :class:`AsyncCache` behind the function."""
        ...

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Awaitable[R_co]: ...

    def get_metrics(self) -> dict[str, Any]:
        """The cache's counters (``hits``, ``misses``, ``hit_rate``, ...)."""
        ...

    def invalidate_cache(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Drop the entry a call with these arguments would hit; whether one was removed."""
        ...

    def clear_cache(self) -> int:
        """Drop every entry; how many were dropped."""
        ...

    # Used as a method, the wrapper binds like any function (``obj.method(x)``), and the
    # handles stay reachable through the bound method. A ParamSpec cannot drop ``self``,
    # so the bound form takes any arguments.
    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> CachedFunction[P, R_co]: ...
    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> BoundCachedFunction[R_co]: ...
    def __get__(self, instance: object, owner: type[Any] | None = None) -> Any: ...


class BoundCachedFunction(Protocol[R_co]):
    """A :class:`CachedFunction` reached through an instance (a memoized method)."""

    @property
    def cache(self) -> AsyncCache: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[R_co]: ...

    def get_metrics(self) -> dict[str, Any]: ...

    def invalidate_cache(self, *args: Any, **kwargs: Any) -> bool: ...

    def clear_cache(self) -> int: ...


def memoize(func: Callable[P, Awaitable[R]], cache: AsyncCache, skip_args: int) -> CachedFunction[P, R]:
    """Wrap ``func`` so calls are answered from ``cache``; shared by both decorators."""
    plan = MemoPlan(func, cache, skip_args)
    # Any: the handles below are set as plain function attributes (see CachedFunction).
    wrapper: Any = functools.wraps(func)(build_memoizer(func, cache, plan))

    def invalidate_cache(*args: Any, **kwargs: Any) -> bool:
        """Drop the entry this call would hit — the same arguments as the call, with
        ``skip_args`` applied; return whether something was removed."""
        key = key_or_none(plan, args, kwargs)
        if key is None:
            return False
        cache._fence(key)
        return cache.store.discard(key)

    def clear_cache() -> int:
        """Drop every entry (and restart the counters ``get_metrics`` reports); return how many."""
        return cache.clear()

    wrapper.get_metrics = cache.get_metrics
    wrapper.invalidate_cache = invalidate_cache
    wrapper.clear_cache = clear_cache
    wrapper.cache = cache
    return cast("CachedFunction[P, R]", wrapper)


def _check_no_use_cache_parameter(decorator: str, func: Callable[..., Any]) -> None:
    try:
        parameters = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return
    if "use_cache" in parameters:
        raise ConfigurationTypeError(
            f"{decorator} reserves the keyword 'use_cache' (use_cache=False forces a reload), "
            f"but the decorated function has a parameter named 'use_cache'; rename that parameter"
        )


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
    (default: the function's qualified name). ``clock`` is the monotonic clock TTLs are
    measured with (tests inject a fake one). ``load_timeout`` is the most seconds a call
    waits for the function to run (its own run or one it shares) before
    :class:`~agent_cache.errors.LoadTimeoutError` (see :mod:`agent_cache.core.resilience`).
    """

    __slots__ = ("maxsize", "skip_args", "name", "ttl", "clock", "policy")

    def __init__(
        self,
        maxsize: int | None = 128,
        skip_args: int = 0,
        *,
        name: str | None = None,
        clock: Clock | None = None,
        load_timeout: float | None = None,
    ) -> None:
        self.maxsize = check_maxsize("maxsize", maxsize)
        self.skip_args = check_non_negative_int("skip_args", skip_args)
        self.name = name
        self.ttl: float | None = None
        self.clock = clock
        self.policy: Policy | None = build_policy(0, 0, load_timeout, ttl=None, ttl_name="time_to_live")

    def __call__(self, func: Callable[P, Awaitable[R]]) -> CachedFunction[P, R]:
        """Memoize ``func``; a plain ``def`` function gets a plain function back, with the
        same caching, single-flight across threads, and handles."""
        decorator = type(self).__name__
        check_callable(decorator, func)
        _check_no_use_cache_parameter(decorator, func)
        cache = AsyncCache(
            maxsize=self.maxsize,
            default_ttl=self.ttl,
            name=self.name or qualified_name(func),
            scope=tn.SCOPE_CACHE,
            clock=self.clock,
            **self.policy.options() if self.policy is not None else {},
        )
        if is_async_callable(func):
            return memoize(func, cache, self.skip_args)
        return cast("CachedFunction[P, R]", sync_facade(func, memoize(shim_for(func), cache, self.skip_args)))


class AsyncTTL(AsyncLRU):
    """Memoize an ``async def``; each result lives ``time_to_live`` seconds (``None``: forever).

    ::

        @AsyncTTL(time_to_live=60, maxsize=1024, skip_args=1)
        async def method(self, arg): ...

        # keep answering for 5 more minutes while the upstream is down, refresh in the
        # background for 30 s past the TTL, and never wait more than 2 s for it
        @AsyncTTL(time_to_live=60, stale_while_revalidate=30, stale_if_error=300, load_timeout=2)
        async def quote(symbol): ...
    """

    __slots__ = ()

    def __init__(
        self,
        time_to_live: float | None = 60,
        maxsize: int | None = 1024,
        skip_args: int = 0,
        *,
        name: str | None = None,
        clock: Clock | None = None,
        stale_while_revalidate: float = 0,
        stale_if_error: float = 0,
        load_timeout: float | None = None,
    ) -> None:
        super().__init__(maxsize=maxsize, skip_args=skip_args, name=name, clock=clock, load_timeout=load_timeout)
        self.ttl = check_ttl("time_to_live", time_to_live)
        self.policy = build_policy(
            stale_while_revalidate, stale_if_error, load_timeout, ttl=self.ttl, ttl_name="time_to_live"
        )
