"""Keeps every in-memory L1 in front of one :class:`RedisBackend` coherent across processes.

An :class:`~agent_cache.AsyncCache` built with ``backend=RedisBackend(...)`` attaches itself
(``backend.attach_cache(cache)``). This module then applies the backplane's events to the
attached caches through the cache's public L1 handle (``fence``, ``fence_all``, ``suspend``,
``resume``):

- ``clear(namespace)`` from another process: drop that namespace's L1 and fence its loads
  in flight (their results are not stored);
- ``delete(namespace, key)``: drop (and fence) the one entry whose shared key is ``key``;
- the backplane cannot vouch for the L1 (subscription lost, lease lapsed, tier disabled):
  *suspend* every L1 — drop it and store nothing until trusted again;
- a namespace with an invalidation that has not reached Redis yet: suspend the caches of
  that namespace until it has.

Suspending costs the hot path nothing: an L1 with nothing in it simply misses.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from ...core.keys import stable_key
from ...errors import UnkeyableArgumentError
from .backplane import KIND_CLEAR, KIND_DELETE, KIND_RESET

if TYPE_CHECKING:  # pragma: no cover
    from ...core.cache import AsyncCache


class L1Registry:
    """The L1 caches attached to one backend (held weakly: a dropped cache just goes)."""

    def __init__(self) -> None:
        self._caches: weakref.WeakSet[AsyncCache] = weakref.WeakSet()
        self.suspended = False
        #: namespaces fenced until their pending invalidation reaches Redis.
        self.fenced: set[str] = set()
        self.entries_dropped = 0  # L1 entries removed on other processes' behalf

    def __len__(self) -> int:
        return len(self._caches)

    def attach(self, cache: AsyncCache) -> None:
        self._caches.add(cache)
        self._apply(cache)

    def namespaces(self) -> set[str]:
        """Every namespace an attached cache uses."""
        return {c.namespace for c in list(self._caches)}

    # -- backplane events ---------------------------------------------------------------------
    def on_event(self, kind: str, namespace: str, key: str | None) -> None:
        """The backplane callback: apply one invalidation to the matching caches."""
        if kind == KIND_RESET:
            for cache in list(self._caches):
                self.entries_dropped += cache.fence_all()
        elif kind == KIND_CLEAR:
            for cache in self._in_namespace(namespace):
                self.entries_dropped += cache.fence_all()
        elif kind == KIND_DELETE and key is not None:
            for cache in self._in_namespace(namespace):
                self.entries_dropped += _drop_shared_key(cache, key)

    def on_batch(self, events: list[tuple[str, str, str | None]]) -> None:
        """Apply a coalesced batch: each namespace's deletes together, hashing each L1 key
        at most once per batch (a burst of deletes costs one pass over the L1)."""
        deletes: dict[str, set[str]] = {}
        for kind, namespace, key in events:
            if kind == KIND_DELETE and key is not None:
                deletes.setdefault(namespace, set()).add(key)
            else:
                self.on_event(kind, namespace, key)
        for namespace, skeys in deletes.items():
            for cache in self._in_namespace(namespace):
                self.entries_dropped += _drop_shared_keys(cache, skeys)

    def _in_namespace(self, namespace: str) -> list[AsyncCache]:
        return [c for c in list(self._caches) if c.namespace == namespace]

    # -- trust --------------------------------------------------------------------------------
    def suspend(self) -> None:
        """No L1 may serve or keep anything until :meth:`resume`."""
        self.suspended = True
        for cache in list(self._caches):
            self._apply(cache)

    def resume(self) -> None:
        """Trusted again (every L1 was emptied when suspended): cache again, except the
        fenced namespaces."""
        self.suspended = False
        for cache in list(self._caches):
            self._apply(cache)

    def fence_namespace(self, namespace: str) -> None:
        """Suspend the caches of ``namespace`` until :meth:`unfence_namespace`."""
        self.fenced.add(namespace)
        for cache in self._in_namespace(namespace):
            self._apply(cache)

    def unfence_namespace(self, namespace: str) -> None:
        self.fenced.discard(namespace)
        for cache in self._in_namespace(namespace):
            self._apply(cache)

    def _apply(self, cache: AsyncCache) -> None:
        if self.suspended or cache.namespace in self.fenced:
            if not cache.suspended:
                self.entries_dropped += cache.suspend()
        elif cache.suspended:
            cache.resume()


#: Above this many L1 entries + loads in flight, a single-key invalidation from another
#: process drops the cache's whole namespace instead of hashing every key to find it.
MAX_KEYS_SCANNED = 512


def _drop_shared_key(cache: AsyncCache, skey: str) -> int:
    """Remove and fence the entry of ``cache`` whose shared key is ``skey``."""
    return _drop_shared_keys(cache, {skey})


def _drop_shared_keys(cache: AsyncCache, skeys: set[str]) -> int:
    """Remove and fence the entries of ``cache`` whose shared keys are in ``skeys``.

    L1 keys are Python values and the shared key is a digest of one, so match by hashing
    each key (a few µs each); a big cache is cleared instead, which is never wrong, only
    colder.
    """
    if len(cache._data) + len(cache._flights) > MAX_KEYS_SCANNED:
        return cache.fence_all()
    namespace = cache.namespace
    removed = 0
    for key in {k for k in [*cache._data, *cache._flights] if _shared_key(namespace, k) in skeys}:
        removed += cache.fence(key)
    return removed


def l1_summary(registry: L1Registry) -> dict[str, Any]:
    """For ``get_metrics()``."""
    return {
        "l1_caches": len(registry),
        "l1_suspended": registry.suspended,
        "l1_fenced_namespaces": len(registry.fenced),
        "l1_entries_dropped": registry.entries_dropped,
    }


__all__ = ["L1Registry", "l1_summary"]


def _shared_key(namespace: str, key: Any) -> str | None:
    """The shared key of an L1 key, or ``None`` for a key kept in memory only."""
    try:
        return stable_key(namespace, key)
    except UnkeyableArgumentError:
        return None
