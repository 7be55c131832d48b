"""The one small interface every second-tier backend implements.

The in-memory LRU+TTL store inside each cache is always the first tier (L1). A backend is
an optional tier behind it: the disk file that survives a restart, or the Redis tier that
replicas share. The cache calls a backend only on the slow path (an L1 miss, a store, an
invalidation), never on an L1 hit.

Contract:
- Keys are ``str``: ``"{namespace}\\x1f{digest}"`` built by :func:`agent_cache.core.keys.stable_key`.
  ``namespace`` names the resource (and the session, for session scope).
- A backend must never raise into the caller's tool call for an outage: it logs a warning,
  counts the failure, and answers ``MISSING`` (for ``get``) or does nothing (for writes).
  Programming errors (wrong types) may raise.
- Values that cannot be encoded safely are not stored (warning once per cache); nothing
  read back may execute code (see :mod:`agent_cache.backends.codec`).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ..core.sentinel import MISSING


@runtime_checkable
class Backend(Protocol):
    """A second cache tier. All methods are coroutines; all are best-effort."""

    async def get(self, key: str) -> Any:
        """The stored value, or :data:`MISSING` when absent, expired, corrupt or unreachable."""
        ...

    async def set(self, key: str, value: Any, ttl: float | None) -> None:
        """Store ``value`` for ``ttl`` seconds (``None``: no expiry)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove one key."""
        ...

    async def clear(self, namespace: str) -> int:
        """Remove every key of ``namespace``; return how many were removed (best effort)."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...


__all__ = ["Backend", "MISSING"]
