"""Small helpers shared by the test modules (imported as ``helpers``; pytest puts tests/ on sys.path)."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

# How long a test waits for something that must happen "promptly" before calling it a hang.
GUARD_S = 2.0


async def guarded(awaitable: Awaitable[Any]) -> Any:
    """Await with a timeout: a hang fails the test instead of stalling the suite."""
    return await asyncio.wait_for(awaitable, GUARD_S)


async def settle(rounds: int = 3) -> None:
    """Let every ready task run until it blocks (a few event-loop turns, no sleeping)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class FakeClock:
    """A monotonic clock the test moves by hand, so TTL tests never sleep."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Gate:
    """A loader that blocks until released: counts calls, reports when it has started."""

    def __init__(self, value: Any = "value") -> None:
        self.value = value
        self.calls = 0
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self) -> Any:
        self.calls += 1
        self.started.set()
        await self.release.wait()
        return self.value


async def allocated_growth(action: Callable[[], Awaitable[None]]) -> int:
    """Bytes still allocated after ``action`` ran (net growth, measured by tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await action()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after - before


def counted(result: Callable[..., Any] = lambda run, *args, **kwargs: run, *, hang_first: bool = False):
    """An ``async def`` body for a decorator under test that counts its runs in ``.runs``.

    It returns ``result(run_number, *args, **kwargs)`` (which may raise). With
    ``hang_first``, the first run sets ``.started`` and then never finishes, so a test
    can cancel it.
    """

    async def body(*args: Any, **kwargs: Any) -> Any:
        body.runs += 1
        if hang_first and body.runs == 1:
            body.started.set()
            await asyncio.Event().wait()
        return result(body.runs, *args, **kwargs)

    body.runs = 0
    body.started = asyncio.Event()
    return body
