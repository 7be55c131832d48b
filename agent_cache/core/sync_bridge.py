"""Plain ``def`` functions under the same decorators (issue #13).

Every framework's docs lead with ``def`` tools, run in worker threads (openai-agents
``asyncio.to_thread``, LangGraph's executor, AnyIO workers, CrewAI). Rather than a second,
drifting implementation of caching, single-flight, fencing, sessions, loop detection and
telemetry, a ``def`` function is wrapped in an ``async`` shim and the decorated callable
drives the very same async path to completion:

* in a thread with no running event loop (the framework case) on that thread's own private
  loop, created once and reused;
* in a thread whose loop is running (a ``def`` tool called straight from ``async`` code) on
  a short-lived helper thread, with the caller's context, while the caller blocks — which
  is what calling a blocking function from a coroutine means anyway.

Waiting for another thread's load crosses loops safely (see
:mod:`agent_cache.core.singleflight`), so two threads missing one key run the body once.

A private loop runs only while a call is in progress. Work that must outlive the call or
run beside it — a stale-while-revalidate refresh, a load a caller waits for with a
``load_timeout`` (issue 15) — therefore does not go on it: :func:`on_private_loop` tells the
cache so, and :func:`run_detached` runs that work on a loop of its own in a worker thread
(a blocking ``def`` body there cannot hold up the caller's timeout, and nothing waits for
the thread that started it to call again).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_local = threading.local()
_helpers = ThreadPoolExecutor(thread_name_prefix="agent_cache-sync")
_detached = ThreadPoolExecutor(thread_name_prefix="agent_cache-detached")


def is_async_callable(func: Any) -> bool:
    """``async def`` functions, partials of them and objects with an ``async __call__``."""
    target = func
    while isinstance(target, functools.partial):
        target = target.func
    target = inspect.unwrap(target) if callable(target) else target
    return (
        inspect.iscoroutinefunction(func)
        or inspect.iscoroutinefunction(target)
        or inspect.iscoroutinefunction(getattr(target, "__call__", None))  # noqa: B004
    )


def async_shim(func: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """An ``async`` function that runs ``func`` (a plain function) in place."""

    async def shim(*args: Any, **kwargs: Any) -> T:
        return func(*args, **kwargs)

    return shim


def _thread_loop() -> asyncio.AbstractEventLoop:
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
    return loop


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run the coroutine ``make()`` returns to completion from synchronous code."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _thread_loop().run_until_complete(_await(make))
    # Called from a coroutine on a running loop: run on a helper thread (own loop, the
    # caller's context) and block, as any blocking call from a coroutine does.
    context = contextvars.copy_context()
    return _helpers.submit(context.run, lambda: _thread_loop().run_until_complete(_await(make))).result()


def on_private_loop() -> bool:
    """Whether the running loop is this thread's private sync loop (it stops when the
    current call returns), so work that outlives the call needs :func:`run_detached`."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        return False
    return running is getattr(_local, "loop", None)


def run_detached(coro: Coroutine[Any, Any, Any], loop: asyncio.AbstractEventLoop) -> None:
    """Run ``coro`` to completion on ``loop`` (new, not running) in a worker thread, with the
    caller's context, then close ``loop``. Returns at once."""
    context = contextvars.copy_context()

    def work() -> None:
        try:
            loop.run_until_complete(coro)
        finally:
            loop.close()

    _detached.submit(context.run, work)


async def _await(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


def sync_facade(func: Callable[..., Any], async_wrapper: Callable[..., Awaitable[Any]]) -> Any:
    """A plain function with ``func``'s name and signature that runs ``async_wrapper`` to
    completion, carrying the async wrapper's handles (``get_metrics``, ``cache``, ...)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return run_sync(lambda: async_wrapper(*args, **kwargs))

    for name, value in vars(async_wrapper).items():
        if name != "__wrapped__":
            setattr(wrapper, name, value)
    return wrapper


def shim_for(func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """``async_shim(func)`` that keeps ``func``'s name, signature and annotations."""
    return functools.wraps(func)(async_shim(func))
