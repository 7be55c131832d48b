"""Names of decorated callables, for metrics, spans and messages."""

from __future__ import annotations

import functools
from typing import Any


def callable_name(func: Any) -> str:
    """A readable name for ``func``: its ``__qualname__`` (``Repo.find``), or its plain
    ``__name__`` when the qualname only adds ``<locals>`` noise (``make_tool.<locals>.f``);
    looks through ``functools.partial`` and callable objects."""
    while isinstance(func, functools.partial):
        func = func.func
    qualname = getattr(func, "__qualname__", None)
    name = getattr(func, "__name__", None)
    if qualname and "<locals>" not in qualname:
        return str(qualname)
    if name:
        return str(name)
    return str(qualname or type(func).__qualname__)


def qualified_name(func: Any) -> str:
    """``module.qualname`` of ``func`` (through partials), for metric labels."""
    target = func
    while isinstance(target, functools.partial):
        target = target.func
    module = getattr(target, "__module__", None) or type(target).__module__
    return f"{module}.{callable_name(func)}"
