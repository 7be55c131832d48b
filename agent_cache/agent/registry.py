"""Process-wide state of the agent layer: resource groups and aggregate counters.

A *resource group* is every cache that holds data of one resource in one scope — one
cache per cached tool — so an invalidation of ``"cart"`` reaches ``get_cart`` and
``get_cart_total`` alike. Global groups live here; session groups live in their session.
The registry is bounded by code (one group per resource name written in the program), and
:func:`reset_global_state` gives tests a clean slate.
"""

from __future__ import annotations

import weakref
from typing import Any

from ..core.cache import AsyncCache
from ..core.stats import CacheStats, Counters
from ..telemetry import runtime as tel


class ResourceGroup:
    """The caches holding one resource in one scope."""

    __slots__ = ("resource", "scope", "caches")

    def __init__(self, resource: str, scope: str) -> None:
        self.resource = resource
        self.scope = scope
        # Weak: a tool defined in a short-lived scope (a test, a plugin) must not keep its
        # cache alive here, nor slow down every later invalidation of the resource.
        self.caches: weakref.WeakSet[AsyncCache] = weakref.WeakSet()

    def add(self, cache: AsyncCache) -> None:
        self.caches.add(cache)

    async def invalidate(self) -> int:
        """Clear every cache of the group (memory, in-flight loads, backend); return entries removed."""
        caches = list(self.caches)
        removed = 0
        for cache in caches:
            removed += cache._clear_memory()
        for cache in caches:
            if cache.backend is not None:
                await cache._backend_clear()
        return removed

    async def invalidate_key(self, key: Any) -> int:
        removed = 0
        for cache in list(self.caches):
            removed += await cache.delete(key)
        return removed


class AgentRegistry:
    """Global resource groups, every cached tool's stats, and agent-level counters."""

    def __init__(self) -> None:
        self.groups: dict[str, ResourceGroup] = {}
        self.tool_stats: weakref.WeakSet[CacheStats] = weakref.WeakSet()
        self.invalidations = 0
        self.loop_detections = 0

    def group(self, resource: str, scope: str) -> ResourceGroup:
        group = self.groups.get(resource)
        if group is None:
            group = self.groups[resource] = ResourceGroup(resource, scope)
        return group

    def metrics(self) -> dict[str, Any]:
        """Every cached tool's counts summed (one stats family), plus agent-level counts."""
        metrics = Counters.total(list(self.tool_stats))
        metrics["invalidations"] = self.invalidations
        metrics["loop_detections"] = self.loop_detections
        return metrics

    def reset(self) -> None:
        for group in self.groups.values():
            for cache in list(group.caches):
                cache.drop_all()
        for stats in list(self.tool_stats):
            stats.zero()
        self.invalidations = 0
        self.loop_detections = 0
        tel.reset_counters()
        from .conversations import conversations  # (imports the registry itself)

        conversations.clear()


registry = AgentRegistry()


def get_metrics() -> dict[str, Any]:
    """Aggregate agent-layer metrics across every session and cached tool.

    ``{'hits', 'misses', 'coalesced', 'invalidations', 'loop_detections', 'hit_rate'}``.
    """
    return registry.metrics()


def reset_global_state() -> None:
    """Empty every global agent cache and zero every agent counter. Meant for tests::

        @pytest.fixture(autouse=True)
        def clean_cache():
            agent_cache.reset_global_state()
    """
    registry.reset()
