"""The shared Redis tier: L2 behind every replica's in-memory L1.

::

    from agent_cache import AgentCache, AgentCacheInvalidator
    from agent_cache.backends.redis import RedisBackend

    shared = RedisBackend("redis://redis:6379/0")   # one per process, shared by tools

    @AgentCache(resource="cart", ttl=60, backend=shared)
    async def get_cart(user_id): ...

    @AgentCacheInvalidator(resource="cart")          # every replica drops its copies
    async def add_to_cart(user_id, item): ...

A cache built with ``backend=shared`` attaches itself: its L1 is invalidated by the other
replicas' writes, and its misses are loaded once across all replicas.

:class:`RedisBackend` implements the :class:`~agent_cache.backends.base.Backend` protocol
(``get`` / ``set`` / ``delete`` / ``clear`` / ``close``) plus optional hooks the cache calls
when present:

- **backplane**: :meth:`~RedisBackend.subscribe`, :meth:`~RedisBackend.publish_invalidation`,
  :meth:`~RedisBackend.invalidate`, :meth:`~RedisBackend.l1_trusted`,
  :meth:`~RedisBackend.sync_backplane` (see :mod:`agent_cache.backends.redis.backplane`);
- **distributed single-flight**: :meth:`~RedisBackend.load_through` built on
  :meth:`~RedisBackend.acquire_load_lock`, :meth:`~RedisBackend.store_and_release`,
  :meth:`~RedisBackend.release_load_lock`, :meth:`~RedisBackend.wait_for_value`
  (see :mod:`agent_cache.backends.redis.lock`);
- **L1 coherence**: :meth:`~RedisBackend.attach_cache` (see
  :mod:`agent_cache.backends.redis.coherence`).

Failure policy (:mod:`~agent_cache.backends.redis.link`): Redis being down, slow or
refusing a command never raises into a tool call. Every round trip is bounded by
``op_timeout``; a failure is logged (rate-limited), counted, and answered as a miss / no-op.
A circuit breaker stops paying the timeout on reads once Redis is known to be down and
probes it again after ``reset_timeout``. Values go through a codec (JSON by default, or
HMAC-signed pickle); unsigned, tampered or foreign payloads are misses with a warning and
are never unpickled.

No stale reads (the promise of ``AgentCacheInvalidator``: once a mutation has returned, no
replica returns data loaded before it):

- **Generations, not an index** (:mod:`~agent_cache.backends.redis.scripts`): a clear gives
  the namespace a fresh random generation; every key embeds it and every script checks it,
  so an evicted key can only make entries unreachable, never keep them alive.
- **Failed invalidations** are never dropped: they are retried in the background until
  they land, and meanwhile this process fences the namespace (no L1, no Redis reads).
  Invalidations ignore the breaker: failing one costs a real attempt, so it only fails
  while Redis is unreachable for every replica (for ``clear_timeout``, longer than ``lease``).
- **Lease** (:mod:`~agent_cache.backends.redis.backplane`): a replica trusts its L1 only while a
  PING answered within ``lease`` (default ``clear_timeout / 2``) vouches that it has received
  every invalidation. When that lapses (Redis hangs, the link drops) its L1 is suspended at once;
  when Redis answers again it first gives every namespace it caches a fresh generation
  (*resync*) and only then reads Redis or caches in memory again, so a pre-outage entry is
  never served while another replica's failed invalidation is still being retried.
- **Permissions**: at first use the tier runs each command it needs once; if the Redis user
  lacks one (ACL), it logs an ERROR naming it, disables itself (loaders answer, no L1 is
  kept) and reports ``tier_disabled`` in ``get_metrics()``.

A replica cut off from Redis while the others still reach it (a partition of one) can
return before its invalidation lands; the others serve the old value until it does.

Redis layout: see :mod:`~agent_cache.backends.redis.keys` (``{namespace|stripe}`` hash tags,
so the tier works on Redis Cluster with a namespace spread over ``stripes`` slots).
"""

from __future__ import annotations

try:
    import redis as _redis_py  # noqa: F401  (the optional extra: checked before any part imports it)
except ModuleNotFoundError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise ModuleNotFoundError(
        "agent_cache's Redis tier needs the redis client library: "
        "pip install 'agent_cache[redis]'",
        name=_exc.name,
    ) from _exc

from .backend import RedisBackend, RedisStats
from .link import OUTAGE_ERRORS

__all__ = ["OUTAGE_ERRORS", "RedisBackend", "RedisStats"]
