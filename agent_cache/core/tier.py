"""The seam between a cache and its second tier: the capabilities a tier may declare.

Every tier implements :class:`~agent_cache.backends.base.Backend` (``get`` / ``set`` /
``delete`` / ``clear`` / ``close``). A tier may also implement any of the protocols below;
:class:`ResolvedTier` looks them up **once**, when the cache is built, so the miss path
calls bound methods instead of probing the backend with ``getattr`` on every miss.

- :class:`RemainingTtl`: ``get_entry(key) -> (value, seconds left or None) | MISSING``,
  so an L1 copy never outlives the tier's entry;
- :class:`LoadThrough`: ``load_through(key, load, ttl) -> Loaded``: the tier reads, runs
  ``load`` on a miss (once across processes, for Redis) and stores the result itself,
  fenced against invalidations that happen meanwhile;
- :class:`L1Coherence`: ``attach_cache(cache)``: the tier keeps this cache's L1 coherent
  with other processes' writes through the cache's public L1 handle (``fence``,
  ``fence_all``, ``suspend``, ``resume``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class RemainingTtl(Protocol):
    async def get_entry(self, key: str) -> Any: ...


@runtime_checkable
class LoadThrough(Protocol):
    async def load_through(
        self, key: str, load: Callable[[], Awaitable[Any]], ttl: float | None
    ) -> Any: ...


@runtime_checkable
class L1Coherence(Protocol):
    def attach_cache(self, cache: Any) -> None: ...


class ResolvedTier:
    """A backend's optional capabilities, as bound methods or ``None``."""

    __slots__ = ("coherent", "get_entry", "load_through")

    def __init__(self, backend: Any) -> None:
        self.get_entry: Callable[[str], Awaitable[Any]] | None = (
            backend.get_entry if isinstance(backend, RemainingTtl) else None)
        self.load_through: Callable[..., Awaitable[Any]] | None = (
            backend.load_through if isinstance(backend, LoadThrough) else None)
        self.coherent = isinstance(backend, L1Coherence)


__all__ = ["L1Coherence", "LoadThrough", "RemainingTtl", "ResolvedTier"]
