"""Keeps every in-memory L1 in front of one :class:`RedisBackend` coherent across processes.

An :class:`~agent_cache.AsyncCache` built with ``backend=RedisBackend(...)`` attaches itself
(``backend.attach_cache(cache)``). This module then applies the backplane's events to the
attached caches:

- ``clear(namespace)`` from another process: drop that namespace's L1 and fence its loads
  in flight (their results are not stored);
- ``delete(namespace, key)``: drop (and fence) the one entry whose shared key is ``key``;
- subscription lost: *suspend* every L1 — drop it and store nothing until the subscription
  is back, so no hit can be served from a copy an unseen invalidation would have dropped;
- subscription (re-)established (``reset``): drop every L1 once more, then resume.

Suspending costs the hot path nothing: an L1 with nothing in it simply misses, and the
miss goes to Redis (or to the loader when Redis is away).

This is the only module that reaches into ``AsyncCache`` internals (``_data``, ``_flights``,
``_store.maxsize``, ``_clear_memory``, ``_fence``); keep it in step with the core.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from ..core.keys import stable_key
from .backplane import KIND_CLEAR, KIND_DELETE, KIND_RESET

if TYPE_CHECKING:  # pragma: no cover
    from ..core.cache import AsyncCache


class L1Registry:
    """The L1 caches attached to one backend (held weakly: a dropped cache just goes)."""

    def __init__(self) -> None:
        self._caches: weakref.WeakSet[AsyncCache] = weakref.WeakSet()
        self._saved_maxsize: weakref.WeakKeyDictionary[AsyncCache, int | None] = (
            weakref.WeakKeyDictionary()
        )
        self.suspended = False
        self.entries_dropped = 0  # L1 entries removed on other processes' behalf

    def __len__(self) -> int:
        return len(self._caches)

    def attach(self, cache: AsyncCache) -> None:
        self._caches.add(cache)
        if self.suspended:
            self._suspend(cache)

    # -- backplane events ---------------------------------------------------------------------
    def on_event(self, kind: str, namespace: str, key: str | None) -> None:
        """The backplane callback: apply one invalidation to the matching caches."""
        if kind == KIND_RESET:
            for cache in list(self._caches):
                self.entries_dropped += cache._clear_memory()
        elif kind == KIND_CLEAR:
            for cache in self._in_namespace(namespace):
                self.entries_dropped += cache._clear_memory()
        elif kind == KIND_DELETE and key is not None:
            for cache in self._in_namespace(namespace):
                self.entries_dropped += _drop_shared_key(cache, key)

    def _in_namespace(self, namespace: str) -> list[AsyncCache]:
        return [c for c in list(self._caches) if c.namespace == namespace]

    # -- trust --------------------------------------------------------------------------------
    def suspend(self) -> None:
        """The subscription is down: no L1 may serve or keep anything until it is back."""
        self.suspended = True
        for cache in list(self._caches):
            self._suspend(cache)

    def resume(self) -> None:
        """The subscription is back (and a reset has dropped every L1): cache again."""
        self.suspended = False
        for cache, maxsize in list(self._saved_maxsize.items()):
            cache._store.maxsize = maxsize
        self._saved_maxsize.clear()

    def _suspend(self, cache: AsyncCache) -> None:
        if cache not in self._saved_maxsize:
            self._saved_maxsize[cache] = cache._store.maxsize
        cache._store.maxsize = 0  # the store keeps nothing while 0
        self.entries_dropped += cache._clear_memory()


#: Above this many L1 entries + loads in flight, a single-key invalidation from another
#: process drops the cache's whole namespace instead of hashing every key to find it.
MAX_KEYS_SCANNED = 512


def _drop_shared_key(cache: AsyncCache, skey: str) -> int:
    """Remove and fence the entry of ``cache`` whose shared key is ``skey``.

    L1 keys are Python values and the shared key is a digest of one, so match by hashing
    each key (a few µs each); a big cache is cleared instead, which is never wrong, only
    colder.
    """
    if len(cache._data) + len(cache._flights) > MAX_KEYS_SCANNED:
        return cache._clear_memory()
    namespace = cache.namespace
    removed = 0
    for key in [k for k in list(cache._data) if stable_key(namespace, k) == skey]:
        removed += cache._store.discard(key)
    for key in [k for k in list(cache._flights) if stable_key(namespace, k) == skey]:
        cache._fence(key)
    return removed


def l1_summary(registry: L1Registry) -> dict[str, Any]:
    """For ``get_metrics()``."""
    return {
        "l1_caches": len(registry),
        "l1_suspended": registry.suspended,
        "l1_entries_dropped": registry.entries_dropped,
    }


__all__ = ["L1Registry", "l1_summary"]
