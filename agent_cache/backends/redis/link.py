"""One Redis connection pool behind a timeout and a circuit breaker.

Every round trip the Redis tier makes goes through :meth:`RedisLink.call`, which turns an
outage into the :data:`FAILED` sentinel instead of an exception: Redis being down, hung or
refusing a command must never raise into a tool call. The breaker stops paying the timeout
once Redis is known to be down and lets one probe through after ``reset_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import NoPermissionError, RedisError, ResponseError
from redis.retry import Retry

from ...core.sentinel import MISSING
from . import breaker as _breaker
from .backplane import describe_error

log = logging.getLogger("agent_cache.backends.redis")

T = TypeVar("T")

_timeout = getattr(asyncio, "timeout", None)  # asyncio.timeout exists from Python 3.11

#: Errors that mean "Redis is unreachable or too slow", answered as a miss / no-op.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)


#: What :meth:`RedisLink.call` answers for a round trip that did not happen (outage,
#: timeout, open breaker). No Redis reply is ever this object.
FAILED: Any = MISSING


def redact_url(url: str) -> str:
    """``url`` with its password (and a user given without one) replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***" if parts.password is not None and parts.username else "***"
    query = "&".join(
        f"{k}=***" if k.lower() in _SECRET_PARAMS else f"{k}={v}" for k, v in parse_qsl(parts.query)
    )
    return urlunsplit((parts.scheme, f"{user}@{host}", parts.path, query, parts.fragment))


_SECRET_PARAMS = frozenset({"password", "ssl_password"})


def is_refusal(exc: BaseException) -> bool:
    """Did Redis refuse for lack of a permission (ACL), as opposed to an outage?"""
    text = str(exc)
    return (isinstance(exc, NoPermissionError) or "NOPERM" in text
            or "can't run this command" in text or "no permissions" in text)


class RedisLink:
    """A redis-py asyncio client without retries, guarded by ``op_timeout`` and a breaker.

    The URL's credentials never reach a log line: :attr:`safe_url` is what is shown, and
    every logged text is scrubbed of the password (redis-py error messages can echo it).
    ``on_refused(op, exc)`` hears of every permission error (NOPERM).
    """

    def __init__(
        self, url: str, *, op_timeout: float, failure_threshold: int, reset_timeout: float,
        on_refused: Callable[[str, BaseException], None] | None = None,
        client_kwargs: dict[str, Any] | None = None, cluster: bool = False,
    ) -> None:
        self.url = url
        self.safe_url = redact_url(url)
        parts = urlsplit(url)
        self._secrets = [p for p in (parts.password, unquote(parts.password or "")) if p]
        self._secrets += [v for k, v in parse_qsl(parts.query) if k.lower() in _SECRET_PARAMS and v]
        self.on_refused = on_refused
        self._client_kwargs = dict(client_kwargs or {})
        self.cluster = cluster
        self.op_timeout = op_timeout
        # No redis-py retries: a failure must surface here, fast, to feed the breaker
        # (and, on the pub/sub connection, to mark the L1 stale rather than reconnect
        # silently with messages lost in between).
        self.client = self._new_client()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pubsub_client: Redis | None = None
        self._pubsub_loop: asyncio.AbstractEventLoop | None = None
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

    def scrub(self, text: str) -> str:
        """``text`` without the URL's secrets."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _new_client(self) -> Any:
        kwargs: dict[str, Any] = {
            "socket_timeout": self.op_timeout,
            "socket_connect_timeout": self.op_timeout,
            "retry": Retry(NoBackoff(), 0),
        }
        kwargs.update(self._client_kwargs)
        if self.cluster:
            from redis.asyncio.cluster import RedisCluster

            return RedisCluster.from_url(self.url, **kwargs)
        return Redis.from_url(self.url, retry_on_timeout=False, **kwargs)

    def pubsub_client(self) -> Redis:
        """The client pub/sub runs on: the data client, or on a cluster a plain client of
        the URL's node (Redis Cluster forwards every PUBLISH to every node, so one node's
        subscription hears all of them)."""
        client = self.current_client()
        if not self.cluster:
            return client
        if self._pubsub_client is None or self._pubsub_loop is not self._loop:
            kwargs: dict[str, Any] = {
                "socket_timeout": self.op_timeout, "socket_connect_timeout": self.op_timeout,
                "retry": Retry(NoBackoff(), 0), "retry_on_timeout": False,
            }
            kwargs.update(self._client_kwargs)
            self._pubsub_client = Redis.from_url(self.url, **kwargs)
            self._pubsub_loop = self._loop
        return self._pubsub_client

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
        client: Redis = self.client
        return client

    async def call(
        self, op: str, fn: Callable[..., Awaitable[T]], *args: Any, timeout: float | None = None,
        force: bool = False, **kwargs: Any,
    ) -> T | Any:
        """``fn(client, *args, **kwargs)`` under the breaker and a timeout; :data:`FAILED`
        on outage. ``fn`` takes the client first, e.g. ``Redis.get``. ``force``: try even
        while the breaker is open (invalidations: failing one must cost a real attempt)."""
        if self.closed or not (self.breaker.allow() or force):
            self.short_circuits += 1
            return FAILED
        client = self.current_client()
        try:
            if _timeout is not None:  # no extra task per round trip (3.11+)
                async with _timeout(timeout or self.op_timeout):
                    result = await fn(client, *args, **kwargs)
            else:  # pragma: no cover - Python 3.10
                result = await asyncio.wait_for(fn(client, *args, **kwargs), timeout or self.op_timeout)
        except asyncio.CancelledError:
            self.breaker.cancel_probe()
            raise
        except ResponseError as exc:  # Redis answered, with an error: not an outage
            self._succeeded()
            if is_refusal(exc) and self.on_refused is not None:
                self.on_refused(op, exc)
            else:
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
                        self.safe_url)
        self.breaker.record_success()

    def _failed(self, op: str, exc: BaseException) -> None:
        self.errors += 1
        if self.breaker.record_failure():
            self.warn(
                "open",
                "agent_cache: Redis tier %s unavailable (%s on %s); circuit breaker open, "
                "answering from L1 and loaders for %.1fs before probing again",
                self.safe_url, describe_error(exc), op, self.breaker.reset_timeout,
            )
            # Idle pooled connections predate the outage: after a restart each would fail
            # once more and re-open the breaker. Drop them; new ones are made on demand.
            pool = getattr(self.client, "connection_pool", None)  # a cluster client has one per node
            if pool is not None:
                self.spawn(pool.disconnect(inuse_connections=False))
        else:
            self.warn("outage", "agent_cache: Redis %s failed: %s", op, describe_error(exc))

    def warn(self, kind: str, msg: str, *args: Any) -> None:
        """A warning at most every 10 s per kind: an outage must not flood the log."""
        now = time.monotonic()
        text = self.scrub(msg % args)
        if now - self._last_warning.get(kind, -math.inf) >= 10.0:
            self._last_warning[kind] = now
            log.warning("%s", text)
        else:
            log.debug("%s", text)

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
        for client in (self.client, self._pubsub_client):
            if client is not None:
                with contextlib.suppress(Exception):  # a dead connection must not raise either
                    await asyncio.wait_for(client.aclose(), 2 * self.op_timeout + 1.0)


__all__ = ["FAILED", "OUTAGE_ERRORS", "Redis", "RedisLink", "is_refusal", "redact_url"]
