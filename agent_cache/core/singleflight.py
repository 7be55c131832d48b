"""Single-flight bookkeeping: one load per key, shared by every concurrent caller.

The caller that misses first (the *leader*) runs the loader inline — no task is created on
the common, uncontended miss path. Callers that arrive while it runs (*waiters*) each get
their own future from :meth:`Flight.join`, so cancelling one waiter never cancels another.

Outcomes:

* the load succeeds → every waiter gets the value;
* the loader raises an ``Exception`` → every waiter gets that exception; nothing is cached;
* the leader is cancelled (or interrupted) → every waiter is told to :data:`RETRY`: one of
  them becomes the new leader and runs its own loader. Nobody hangs, nobody inherits the
  leader's cancellation.

A flight marked ``stale`` (its key was invalidated while it ran) still answers its waiters,
who asked before the invalidation, but its value is not stored.
"""

from __future__ import annotations

import asyncio
from typing import Any


class _Retry:
    __slots__ = ()

    def __repr__(self) -> str:
        return "RETRY"


RETRY: Any = _Retry()


class Flight:
    """One in-progress load of one key."""

    __slots__ = ("waiters", "stale", "span_context")

    def __init__(self) -> None:
        self.waiters: list[asyncio.Future] | None = None
        self.stale = False
        self.span_context: Any = None

    def join(self) -> asyncio.Future:
        """A future that settles with the flight's outcome (or :data:`RETRY`)."""
        future = asyncio.get_running_loop().create_future()
        if self.waiters is None:
            self.waiters = [future]
        else:
            self.waiters.append(future)
        return future

    def resolve(self, value: Any) -> None:
        for future in self.waiters or ():
            if not future.done():
                future.set_result(value)
        self.waiters = None

    def fail(self, exc: BaseException) -> None:
        for future in self.waiters or ():
            if not future.done():
                future.set_exception(exc)
        self.waiters = None

    def handoff(self) -> None:
        """The leader went away without an outcome: let the waiters try again."""
        self.resolve(RETRY)
