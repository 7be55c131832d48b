"""An in-process second tier: a dict with expiry, for testing tier logic without a file.

With ``codec=`` it stores encoded bytes, so it behaves like a real shared tier: values the
codec refuses are skipped (and warned about once), and every read returns a fresh copy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ..core.sentinel import MISSING
from ._support import BackendSupport, namespace_of
from .base import Entry, value_of
from .codec import Codec

logger = logging.getLogger("agent_cache.backends.memory")


class MemoryBackend(BackendSupport):
    """A :class:`~agent_cache.backends.base.Backend` kept in a dict in this process."""

    def __init__(self, *, codec: Codec | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(codec, logger)  # codec None: store the objects themselves
        self._clock = clock
        self._data: dict[str, tuple[Any, float | None]] = {}

    def __repr__(self) -> str:
        return f"MemoryBackend({len(self._data)} entries)"

    def __len__(self) -> int:
        return len(self._data)

    async def get(self, key: str) -> Any:
        return value_of(await self.get_entry(key))

    async def get_entry(self, key: str) -> Entry | Any:
        """``(value, seconds left or None)``, or ``MISSING`` (absent, expired, unreadable)."""
        self.stats["reads"] += 1
        entry = self._data.get(key)
        if entry is None:
            return MISSING
        stored, expires_at = entry
        remaining = None
        if expires_at is not None:
            remaining = expires_at - self._clock()
            if remaining <= 0:
                del self._data[key]
                return MISSING
        if self.codec is not None:
            ok, stored = self._decode_or_none(stored)
            if not ok:
                del self._data[key]
                return MISSING
        self.stats["hits"] += 1
        return stored, remaining

    async def set(self, key: str, value: Any, ttl: float | None) -> None:
        stored = value
        if self.codec is not None:
            stored = self._encode_or_skip(value)
        if (self.codec is not None and stored is None) or (ttl is not None and ttl <= 0):
            self._data.pop(key, None)  # never leave an older value behind a refused one
            return
        self._data[key] = (stored, None if ttl is None else self._clock() + ttl)
        self.stats["writes"] += 1

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def clear(self, namespace: str) -> int:
        doomed = [k for k in self._data if namespace_of(k) == namespace]
        for k in doomed:
            del self._data[k]
        return len(doomed)

    async def close(self) -> None:
        """Nothing to release."""


__all__ = ["MemoryBackend"]
