"""Exceptions raised by the core cache (defined in :mod:`agent_cache.errors`)."""

from __future__ import annotations

from ..errors import BatchLoadError, ReentrantLoadError, UnkeyableArgumentError

__all__ = ["BatchLoadError", "ReentrantLoadError", "UnkeyableArgumentError"]
