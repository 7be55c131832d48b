"""Second-tier backends behind the in-memory store."""

from .base import Backend

__all__ = ["Backend"]
