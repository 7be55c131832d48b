"""Names of decorated callables, for metrics, spans and messages."""

from __future__ import annotations

import functools
from typing import Any


def callable_name(func: Any) -> str:
    """``func.__qualname__``, looking through ``functools.partial`` and callable objects."""
    while isinstance(func, functools.partial):
        func = func.func
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    if name is None:
        name = type(func).__qualname__
    return str(name)


def qualified_name(func: Any) -> str:
    """``module.qualname`` of ``func`` (through partials), for metric labels."""
    target = func
    while isinstance(target, functools.partial):
        target = target.func
    module = getattr(target, "__module__", None) or type(target).__module__
    return f"{module}.{callable_name(func)}"
