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
- Optional: ``async get_entry(key) -> (value, remaining) | MISSING``, where ``remaining`` is
  how many seconds the stored entry still lives (``None``: no expiry). The cache then keeps
  an L2 answer in L1 for at most that long, so a value never outlives the TTL it was
  written with (without it, an L1 copy of an L2 entry could live up to twice the TTL).
  ``remaining`` must be measured no earlier than the read and counted down to the moment
  ``get_entry`` returns (a backend with a network round trip subtracts the time it took),
  because the caller adds it to its own clock right away. Backends without ``get_entry``
  still work: their values get the cache's full TTL.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ..core.sentinel import MISSING

#: What ``get_entry`` answers for a live entry: ``(value, remaining seconds or None)``.
Entry = tuple[Any, "float | None"]


def value_of(entry: Any) -> Any:
    """The value of a ``get_entry`` answer, or :data:`MISSING`: ``get`` built on ``get_entry``."""
    return entry if entry is MISSING else entry[0]


@runtime_checkable
class Backend(Protocol):
    """A second cache tier. All methods are coroutines; all are best-effort.

    ``get_entry`` (see the module docstring) is optional and therefore not a member here:
    the cache looks it up with ``getattr`` and falls back to ``get``.
    """

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


__all__ = ["Backend", "Entry", "MISSING", "value_of"]
