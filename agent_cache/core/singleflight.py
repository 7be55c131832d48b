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

**Several event loops.** A cache may be shared by threads that each run their own loop
(``asyncio.run`` per thread, as CrewAI and ``run_sync`` helpers do). A waiter's future
always belongs to the *waiter's* loop, and is settled through that loop's
``call_soon_threadsafe`` when the leader runs elsewhere: nobody ever awaits another loop's
future. A flight whose loop has closed is *abandoned* (:meth:`Flight.abandoned`): newcomers
lead a fresh load, and foreign waiters poll for it so a dead loop never strands them.

**Re-entrancy.** A leader keeps a reference to the coroutine of its load (free). A caller
about to wait on a flight that it is itself part of — running inside that load, or awaited
by it through a sub-task — would wait forever; :func:`waits_for_itself` lets the cache
fail it at once instead. (A context variable would follow the load into sub-tasks too, but
setting one costs about 2,000 instructions on every miss.)

A flight marked ``stale`` (its key was invalidated while it ran) still answers its waiters,
who asked before the invalidation, but its value is not stored.

**Superseded flights** (``load_timeout``): a flight older than the timeout is abandoned
for newcomers, whose new flight keeps a link to it (``superseded``). Fencing a flight
fences that chain too — a timed-out load that finishes after an invalidation must not
store what it read before it — and a newer flight that stores fences the older ones, so
an old load finishing late never overwrites a newer value.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from threading import get_ident
from types import FrameType
from typing import Any

#: How often a waiter on another loop's flight checks that the loop is still alive.
FOREIGN_POLL_S = 0.05


class _Retry:
    __slots__ = ()

    def __repr__(self) -> str:
        return "RETRY"


RETRY: Any = _Retry()

_thread_loops: dict[int, asyncio.AbstractEventLoop] = {}


def running_loop() -> asyncio.AbstractEventLoop:
    """``asyncio.get_running_loop()`` without its cost on every miss.

    ``get_running_loop`` checks the process id with a ``getpid`` system call (fork safety),
    about 150 ns here — as much as the rest of a miss. A thread runs one loop at a time, so
    the loop last seen running on this thread, if it is running now, is the running loop.
    (Thread ids are reused, so this map stays as small as the number of live threads.)
    """
    loop = _thread_loops.get(get_ident())
    if loop is not None and loop.is_running():
        return loop
    loop = asyncio.get_running_loop()
    _thread_loops[get_ident()] = loop
    return loop


def waits_for_itself(flight: Flight) -> bool:
    """Whether the caller, by waiting for ``flight``, would wait for itself forever.

    True when the caller runs inside the flight's own load: the load's coroutine frame is on
    the caller's stack (a tool calling itself, directly or through helpers it awaits). A
    sub-*task* the load awaits is not on that stack and is not detected: telling it apart
    from an unrelated concurrent caller would cost every miss a context-variable write
    (about 2,000 instructions); a ``load_timeout`` bounds that wait instead. Costs nothing
    on the leader's path: the leader only keeps a reference to its load's coroutine.
    """
    body = flight.body
    if body is None:
        return False
    body_frame = getattr(body, "cr_frame", None)
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame is body_frame:
            return True
        frame = frame.f_back
    return False


def _settle(future: asyncio.Future[Any], value: Any, exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(value)
    else:
        future.set_exception(exc)


class Flight:
    """One in-progress load of one key.

    Lock-free across threads: the outcome is published *before* the waiter list is taken,
    and a joiner that appends after that settles its own future from the published outcome.
    """

    __slots__ = ("waiters", "stale", "span_context", "loop", "outcome", "body", "started", "superseded")

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.waiters: list[asyncio.Future[Any]] | None = None
        self.stale = False
        #: ``time.monotonic()`` when the flight started, set only when a load timeout applies
        self.started: float | None = None
        #: the older flight of the same key this one replaced (load timeouts), if any
        self.superseded: Flight | None = None
        self.span_context: Any = None
        if loop is None:  # running_loop(), inlined: this runs on every miss
            loop = _thread_loops.get(get_ident())
            if loop is None or not loop.is_running():
                loop = running_loop()
        self.loop = loop
        #: the coroutine the leader is awaiting (for :func:`waits_for_itself`)
        self.body: Any = None
        self.outcome: tuple[Any, BaseException | None] | None = None

    def fence(self) -> None:
        """Its key was invalidated: neither this flight nor any it superseded may store."""
        flight: Flight | None = self
        while flight is not None:
            flight.stale = True
            flight = flight.superseded

    def fence_older(self) -> None:
        """This flight stored its value: older flights it superseded must not overwrite it."""
        older, self.superseded = self.superseded, None
        if older is not None:
            older.fence()

    def abandoned(self) -> bool:
        """The leader's loop has closed: this flight will never settle by itself."""
        return self.loop.is_closed()

    def join(self) -> asyncio.Future[Any]:
        """A future on the caller's loop that settles with the outcome (or :data:`RETRY`)."""
        future: asyncio.Future[Any] = running_loop().create_future()
        waiters = self.waiters
        if waiters is None:
            self.waiters = waiters = []
        waiters.append(future)
        outcome = self.outcome
        if outcome is not None:  # settled while we joined: our future may have been missed
            _settle(future, *outcome)
        return future

    def waiting(self) -> Awaitable[Any]:
        """Join; an awaitable of the outcome, from this flight's loop or any other.

        On the flight's own loop it is the future itself (no extra coroutine frame)."""
        future = self.join()
        if future.get_loop() is self.loop:
            return future
        return self._wait_foreign(future)

    async def wait(self) -> Any:
        """Join and wait for the outcome (:meth:`waiting`, awaited)."""
        return await self.waiting()

    async def _wait_foreign(self, future: asyncio.Future[Any]) -> Any:
        while True:  # another loop leads: make sure it is alive while we wait
            done, _ = await asyncio.wait((future,), timeout=FOREIGN_POLL_S)
            if done:
                return future.result()
            if self.abandoned():
                future.cancel()
                return RETRY

    def _settle_all(self, value: Any, exc: BaseException | None) -> None:
        self.outcome = (value, exc)
        waiters, self.waiters = self.waiters, None
        if not waiters:
            return
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        for future in waiters:
            loop = future.get_loop()
            if loop is here:
                _settle(future, value, exc)
            else:
                try:
                    loop.call_soon_threadsafe(_settle, future, value, exc)
                except RuntimeError:  # that loop has closed: nobody is waiting there
                    pass

    def resolve(self, value: Any) -> None:
        self._settle_all(value, None)

    def fail(self, exc: BaseException) -> None:
        self._settle_all(None, exc)

    def handoff(self) -> None:
        """The leader went away without an outcome: let the waiters try again."""
        self._settle_all(RETRY, None)
