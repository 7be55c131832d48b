"""The core playground: one ``AsyncCache``, ``AsyncTTL`` or ``AsyncLRU`` to poke at from the page.

Every load takes :data:`LOAD_S` (100 ms, simulated), so the time of each call tells what
happened: about 0 ms is a hit, about 100 ms ran (or waited for) the loader. The playground
counts its own loader runs and batch calls, and shows the cache's ``get_metrics()``.

For the decorators, the memoized function is ``load(caller, key)``: ``caller`` is a fresh
number on every call, standing for a per-call argument such as ``self`` or a request
context. With ``skip_args=1`` the cache keys on ``key`` alone and calls share entries; with
``skip_args=0`` every call is a miss, which is exactly what ``skip_args`` is for.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

LOAD_S = 0.1
KINDS = ("AsyncCache", "AsyncTTL", "AsyncLRU")
MAX_N = 1000
CACHE_NAME = "playground"


@dataclass
class PlaygroundSettings:
    kind: str = "AsyncCache"
    maxsize: int | None = 128
    ttl: float | None = 60.0
    skip_args: int = 1
    batch_window_ms: float = 5.0
    max_batch_size: int = 100


def _optional_number(name: str, raw: Any, kind: type, low: float) -> Any:
    if raw is None or raw == "":
        return None
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or empty, got {raw!r}") from None
    if isinstance(raw, bool) or value < low:
        raise ValueError(f"{name} must be >= {low:g} or empty, got {raw!r}")
    return value


def parse_settings(raw: dict[str, Any]) -> PlaygroundSettings:
    """Settings from the page's form; ``ValueError`` names the bad field."""
    base = PlaygroundSettings()
    kind = raw.get("kind", base.kind)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    skip = _optional_number("skip_args", raw.get("skip_args", base.skip_args), int, 0)
    window = _optional_number("batch_window_ms", raw.get("batch_window_ms", base.batch_window_ms), float, 0)
    size = _optional_number("max_batch_size", raw.get("max_batch_size", base.max_batch_size), int, 1)
    return PlaygroundSettings(
        kind=kind,
        maxsize=_optional_number("maxsize", raw.get("maxsize", base.maxsize), int, 0),
        ttl=_optional_number("ttl", raw.get("ttl", base.ttl), float, 0.001),
        skip_args=skip if skip is not None else 0,
        batch_window_ms=window if window is not None else base.batch_window_ms,
        max_batch_size=size if size is not None else base.max_batch_size,
    )


class Playground:
    """One cache at a time, rebuilt by :meth:`configure`; each operation returns its timings."""

    def __init__(self) -> None:
        self.settings = PlaygroundSettings()
        self.loader_runs = 0
        self.batch_calls: list[int] = []
        self._callers = itertools.count(1)
        self._cache: Any = None
        self._fn: Any = None
        self.configure({})

    def configure(self, raw: dict[str, Any]) -> dict[str, Any]:
        from agent_cache import AsyncCache, AsyncLRU, AsyncTTL

        settings = parse_settings(raw)
        self.settings = settings
        self.loader_runs = 0
        self.batch_calls = []
        self._cache = self._fn = None
        if settings.kind == "AsyncCache":
            self._cache = AsyncCache(maxsize=settings.maxsize, default_ttl=settings.ttl,
                                     batch_window_ms=settings.batch_window_ms,
                                     max_batch_size=settings.max_batch_size, name=CACHE_NAME)
        else:
            async def load(caller: int, key: str) -> str:
                return await self._load(key)

            if settings.kind == "AsyncTTL":
                decorator: Any = AsyncTTL(time_to_live=settings.ttl, maxsize=settings.maxsize,
                                          skip_args=settings.skip_args, name=CACHE_NAME)
            else:
                decorator = AsyncLRU(maxsize=settings.maxsize, skip_args=settings.skip_args, name=CACHE_NAME)
            self._fn = decorator(load)
        return self.state()

    # -- the simulated source ------------------------------------------------------------------
    async def _load(self, key: str) -> str:
        self.loader_runs += 1
        await asyncio.sleep(LOAD_S)
        return f"value of {key} (loaded at {time.strftime('%H:%M:%S')})"

    async def _load_many(self, keys: list[Any]) -> list[str]:
        self.batch_calls.append(len(keys))
        await asyncio.sleep(LOAD_S)
        return [f"value of {k} (batch of {len(keys)})" for k in keys]

    # -- operations ----------------------------------------------------------------------------
    async def _timed(self, what: str, call: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            value = await call()
            return {"call": what, "ms": round((time.perf_counter() - started) * 1000, 2), "value": value}
        except Exception as exc:  # the page shows whatever the call raised
            return {"call": what, "ms": round((time.perf_counter() - started) * 1000, 2),
                    "error": f"{type(exc).__name__}: {exc}"}

    def _call(self, key: str) -> Callable[[], Awaitable[Any]]:
        if self._cache is not None:
            cache = self._cache
            return lambda: cache.get(key, loader=lambda: self._load(key))
        caller = next(self._callers)
        return lambda: self._fn(caller, key)

    async def run(self, op: str, key: str = "k1", value: str = "", n: int = 10) -> dict[str, Any]:
        """Do ``op`` and return the per-call timings plus the cache's state afterwards."""
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_N:
            raise ValueError(f"n must be an integer between 1 and {MAX_N}, got {n!r}")
        if not isinstance(key, str) or not key:
            raise ValueError("key must be a non-empty string")
        runs_before = self.loader_runs
        batches_before = len(self.batch_calls)
        calls: list[dict[str, Any]]
        if op == "call":
            calls = [await self._timed(f"call {key}", self._call(key))]
        elif op == "herd":  # n concurrent calls on one key: one load, n-1 waiters
            calls = list(await asyncio.gather(*(self._timed(f"call {key}", self._call(key)) for _ in range(n))))
        elif op == "warmup":
            keys = [f"{key}-{i}" for i in range(n)]
            if self._cache is not None:
                cache = self._cache
                calls = [await self._timed(f"warmup {len(keys)} keys", lambda: cache.warmup(
                    {k: (lambda k=k: self._load(k)) for k in keys}))]
            else:
                calls = list(await asyncio.gather(*(self._timed(f"call {k}", self._call(k)) for k in keys)))
        elif op == "batch":  # n distinct keys through a batch loader
            cache = self._need_cache(op)
            keys = [f"{key}-{i}" for i in range(n)]
            calls = list(await asyncio.gather(*(
                self._timed(f"get {k}", functools.partial(cache.get, k, batch_loader=self._load_many))
                for k in keys)))
        elif op == "set":
            cache = self._need_cache(op)
            calls = [await self._timed(f"set {key}", lambda: cache.set(key, value or f"set by hand: {key}"))]
        elif op == "get":
            cache = self._need_cache(op)
            calls = [await self._timed(f"get {key} (no loader)", lambda: cache.get(key))]
        elif op == "delete":
            if self._cache is not None:
                cache = self._cache
                calls = [await self._timed(f"delete {key}", lambda: cache.delete(key))]
            else:
                fn = self._fn

                async def drop() -> Any:  # the caller argument is skipped (skip_args=1) or unique
                    return fn.invalidate_cache(0, key)

                calls = [await self._timed(f"invalidate_cache {key}", drop)]
        elif op == "clear":
            if self._cache is not None:
                cache = self._cache
                calls = [await self._timed("clear", lambda: _now(cache.clear()))]
            else:
                fn = self._fn
                calls = [await self._timed("clear_cache", lambda: _now(fn.clear_cache()))]
        else:
            raise ValueError(f"op must be one of call/herd/warmup/batch/set/get/delete/clear, got {op!r}")
        return {
            "op": op,
            "calls": calls,
            "loader_runs": self.loader_runs - runs_before,
            "batches": self.batch_calls[batches_before:],
            **self.state(),
        }

    def _need_cache(self, op: str) -> Any:
        if self._cache is None:
            raise ValueError(f"{op} needs kind AsyncCache (the decorators have no {op})")
        return self._cache

    def state(self) -> dict[str, Any]:
        metrics = self._cache.get_metrics() if self._cache is not None else self._fn.get_metrics()
        return {
            "settings": asdict(self.settings),
            "metrics": {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool)) or v is None},
            "loader_runs_total": self.loader_runs,
            "batch_calls_total": len(self.batch_calls),
        }


async def _now(value: Any) -> Any:
    return value
