"""One Redis connection pool behind a timeout and a circuit breaker.

Every round trip the Redis tier makes goes through :meth:`RedisLink.call`, which turns an
outage into the :data:`FAILED` sentinel instead of an exception: Redis being down, hung or
refusing a command must never raise into a tool call. The breaker stops paying the timeout
once Redis is known to be down and lets one probe through after ``reset_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError
from redis.retry import Retry

from ..core.sentinel import MISSING
from . import breaker as _breaker
from .backplane import describe_error

log = logging.getLogger("agent_cache.backends.redis")

T = TypeVar("T")

#: Errors that mean "Redis is unreachable or too slow", answered as a miss / no-op.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)


#: What :meth:`RedisLink.call` answers for a round trip that did not happen (outage,
#: timeout, open breaker). No Redis reply is ever this object.
FAILED: Any = MISSING


class RedisLink:
    """A redis-py asyncio client without retries, guarded by ``op_timeout`` and a breaker."""

    def __init__(
        self, url: str, *, op_timeout: float, failure_threshold: int, reset_timeout: float
    ) -> None:
        self.url = url
        self.op_timeout = op_timeout
        # No redis-py retries: a failure must surface here, fast, to feed the breaker
        # (and, on the pub/sub connection, to mark the L1 stale rather than reconnect
        # silently with messages lost in between).
        self.client = self._new_client()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.breaker = _breaker.CircuitBreaker(failure_threshold, reset_timeout)
        self.closed = False
        self.errors = 0  # round trips that failed or timed out
        self.short_circuits = 0  # round trips skipped: breaker open, or closed link
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_warning: dict[str, float] = {}

    @property
    def failures(self) -> int:
        """Round trips that did not happen, for any reason (a monotonic count)."""
        return self.errors + self.short_circuits

    def _new_client(self) -> Redis:
        return Redis.from_url(
            self.url,
            socket_timeout=self.op_timeout,
            socket_connect_timeout=self.op_timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
        )

    def current_client(self) -> Redis:
        """The client for the running event loop.

        redis-py connections belong to the loop that opened them; a backend built at import
        time and used by successive ``asyncio.run`` calls gets a fresh client per loop (the
        old one's connections died with their loop).
        """
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._loop is not None:
                self.client = self._new_client()
            self._loop = loop
        return self.client

    async def call(
        self, op: str, fn: Callable[..., Awaitable[T]], *args: Any, timeout: float | None = None,
        **kwargs: Any,
    ) -> T | Any:
        """``fn(client, *args, **kwargs)`` under the breaker and a timeout; :data:`FAILED`
        on outage. ``fn`` takes the client first, e.g. ``Redis.get``."""
        if self.closed or not self.breaker.allow():
            self.short_circuits += 1
            return FAILED
        client = self.current_client()
        try:
            result = await asyncio.wait_for(fn(client, *args, **kwargs), timeout or self.op_timeout)
        except asyncio.CancelledError:
            self.breaker.cancel_probe()
            raise
        except ResponseError as exc:  # Redis answered, with an error: not an outage
            self._succeeded()
            self.warn(f"response:{op}", "agent_cache: Redis refused %s: %s", op, exc)
            return FAILED
        except OUTAGE_ERRORS as exc:
            self._failed(op, exc)
            return FAILED
        self._succeeded()
        return result

    def _succeeded(self) -> None:
        if self.breaker.state != _breaker.CLOSED:
            log.warning("agent_cache: Redis tier %s reachable again; circuit breaker closed",
                        self.url)
        self.breaker.record_success()

    def _failed(self, op: str, exc: BaseException) -> None:
        self.errors += 1
        if self.breaker.record_failure():
            self.warn(
                "open",
                "agent_cache: Redis tier %s unavailable (%s on %s); circuit breaker open, "
                "answering from L1 and loaders for %.1fs before probing again",
                self.url, describe_error(exc), op, self.breaker.reset_timeout,
            )
            # Idle pooled connections predate the outage: after a restart each would fail
            # once more and re-open the breaker. Drop them; new ones are made on demand.
            self.spawn(self.client.connection_pool.disconnect(inuse_connections=False))
        else:
            self.warn("outage", "agent_cache: Redis %s failed: %s", op, describe_error(exc))

    def warn(self, kind: str, msg: str, *args: Any) -> None:
        """A warning at most every 10 s per kind: an outage must not flood the log."""
        now = time.monotonic()
        if now - self._last_warning.get(kind, -math.inf) >= 10.0:
            self._last_warning[kind] = now
            log.warning(msg, *args)
        else:
            log.debug(msg, *args)

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """A background task that is kept referenced until it finishes (or :meth:`close`)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Refuse further calls, cancel background tasks, close every connection."""
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        try:
            await self.client.aclose()
        except Exception:  # closing a dead connection must not raise either
            pass


__all__ = ["RedisLink", "Redis", "FAILED", "OUTAGE_ERRORS"]
