"""Exceptions raised by the core cache."""

from __future__ import annotations


class BatchLoadError(Exception):
    """A batch loader failed for some keys, or returned a result of the wrong shape."""
