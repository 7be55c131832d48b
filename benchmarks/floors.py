"""Reference floors: the cheapest code that could do each job, measured beside the contenders.

A ratio is only meaningful against something measured in the same process, on the same
machine, in the same minute. These floors are deliberately minimal: they do the one thing a
cache must do on the path being measured and nothing else (no metrics, no TTL, no locking).

- ``bare``: no cache at all, the undecorated coroutine.
- ``ideal``: ``d.get(args)`` and a store on miss (with a FIFO bound when the
  scenario has a ``maxsize``, so memory comparisons are fair).
- ``ideal-kw``: the same for keyword and dict arguments, with the least freezing that makes
  them hashable.
- ``ideal-kw-ordered``: like ``ideal-kw`` but keyword arguments stay in call order (no sort).
- ``dataloader``: a minimal hand-written DataLoader (collect keys, flush on size or window).
- ``sdk-span``: the body awaited inside one OpenTelemetry span with the same attributes a
  cached tool hit carries.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Hashable

AsyncFn = Callable[..., Awaitable[Any]]
_MISS = object()


def ideal(fn: AsyncFn, maxsize: int | None = None) -> AsyncFn:
    """Memoize positional, hashable arguments with a plain dict (FIFO-bounded if maxsize)."""
    # Bounded: OrderedDict, because ``del d[next(iter(d))]`` on a plain dict rescans the
    # deleted slots at its front and costs microseconds per eviction once it churns.
    d: dict[tuple, Any] = {} if maxsize is None else OrderedDict()
    get = d.get

    if maxsize is None:

        async def wrapper(*args: Any) -> Any:
            value = get(args, _MISS)
            if value is _MISS:
                value = d[args] = await fn(*args)
            return value

    else:

        async def wrapper(*args: Any) -> Any:
            value = get(args, _MISS)
            if value is _MISS:
                value = await fn(*args)
                if len(d) >= maxsize:
                    d.popitem(last=False)  # type: ignore[call-arg]
                d[args] = value
            return value

    return wrapper


def _freeze(value: Any) -> Hashable:
    """Just enough to hash JSON-like arguments: dicts and lists become tuples."""
    if type(value) is dict:
        return tuple(sorted([(k, _freeze(v)) for k, v in value.items()]))
    if type(value) is list:
        return tuple([_freeze(v) for v in value])
    return value


def ideal_kw(fn: AsyncFn) -> AsyncFn:
    """Memoize calls with keyword and dict arguments, freezing them minimally."""
    d: dict[Hashable, Any] = {}
    get = d.get

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = (tuple([_freeze(a) for a in args]), _freeze(kwargs))
        value = get(key, _MISS)
        if value is _MISS:
            value = d[key] = await fn(*args, **kwargs)
        return value

    return wrapper


def ideal_kw_ordered(fn: AsyncFn) -> AsyncFn:
    """The least freezing that keeps keyword arguments in call order (no sort at all)."""
    d: dict[Hashable, Any] = {}
    get = d.get

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = (tuple([_freeze(a) for a in args]), tuple([(k, _freeze(v)) for k, v in kwargs.items()]))
        value = get(key, _MISS)
        if value is _MISS:
            value = d[key] = await fn(*args, **kwargs)
        return value

    return wrapper


class DataLoader:
    """A minimal DataLoader: queue keys, run one batch call per ``max_batch_size`` keys or
    after ``window_ms``, resolve each caller's future. No caching, no dedup, no errors."""

    def __init__(
        self,
        batch_fn: Callable[[list], Awaitable[dict]],
        window_ms: float = 5,
        max_batch_size: int = 100,
    ) -> None:
        self._batch_fn = batch_fn
        self._window = window_ms / 1000
        self._max = max_batch_size
        self._keys: list = []
        self._futures: list[asyncio.Future] = []
        self._timer: asyncio.TimerHandle | None = None

    def load(self, key: Hashable) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._keys.append(key)
        self._futures.append(fut)
        if len(self._keys) >= self._max:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._window, self._flush)
        return fut

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        keys, futures = self._keys, self._futures
        self._keys, self._futures = [], []
        if keys:
            asyncio.ensure_future(self._dispatch(keys, futures))

    async def _dispatch(self, keys: list, futures: list[asyncio.Future]) -> None:
        results = await self._batch_fn(keys)
        for key, fut in zip(keys, futures):
            fut.set_result(results[key])


def sdk_span(fn: AsyncFn, tracer: Any, name: str, attributes: dict[str, Any]) -> AsyncFn:
    """Await ``fn`` inside one current span carrying ``attributes`` (the telemetry floor)."""
    start = tracer.start_as_current_span

    async def wrapper(*args: Any) -> Any:
        with start(name, attributes=attributes):
            return await fn(*args)

    return wrapper


def sdk_span_raw(fn: AsyncFn, tracer: Any, name: str, attributes: dict[str, Any]) -> AsyncFn:
    """Like :func:`sdk_span` but without making the span current: the cheapest possible span."""
    start = tracer.start_span

    async def wrapper(*args: Any) -> Any:
        span = start(name, attributes=attributes)
        try:
            return await fn(*args)
        finally:
            span.end()

    return wrapper
