"""Cache keys built by value, cheaply.

The hot path never calls into this module for the common case: a call with positional,
hashable arguments uses the ``args`` tuple itself as the key, so a hit costs one dict
lookup. Only when that tuple is unhashable (a dict, list or set argument) or keyword
arguments are present do we build a key here.

Semantics (by value, like :func:`functools.lru_cache` with ``typed=False`` for numbers):

- ``f(1)`` and ``f("1")`` are different keys; ``f(a=1, b=2)`` and ``f(b=2, a=1)`` are equal.
- dicts, lists, sets and dataclass instances are frozen recursively into hashable tuples
  tagged with their kind, so ``[1, 2]`` and ``(1, 2)`` stay distinct.
- any other hashable object is its own key (its ``__eq__``/``__hash__`` decide; an object
  compared by identity is kept alive by the key, so its identity cannot be reused).
- **nothing is ever keyed by ``repr``**: a default repr embeds a reusable memory address and
  many reprs summarise (numpy arrays). An unhashable object we cannot freeze by value, a
  self-referencing structure, or nesting deeper than the interpreter can recurse raises
  :class:`~agent_cache.errors.UnkeyableArgumentError`; decorated callables then run the
  call uncached (result ``bypass``) and warn once.
- ``f(1, b=2)`` and ``f(1, 2)`` are different keys (Python cannot know they bind alike
  without inspecting the signature, which would cost every call).

:func:`stable_key` turns a key into a process-independent string for shared tiers
(disk, Redis).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import fractions
import hashlib
import uuid
from collections.abc import Hashable
from typing import Any

from ..errors import UnkeyableArgumentError


class _Mark:
    """A tag inside key tuples that no argument can equal (compared by identity)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"

    def __reduce__(self) -> str:
        return self.name.upper() + "_MARK"


KW_MARK = _Mark("kw")  # separates positional from keyword parts
DICT_MARK = _Mark("dict")
LIST_MARK = _Mark("list")
SET_MARK = _Mark("set")
DATACLASS_MARK = _Mark("dataclass")
FROZENSET_ITEMS_MARK = _Mark("dict-unordered")


# Types whose values are hashable and compare by value: returned as they are.
_ATOMIC = frozenset({str, int, float, bool, bytes, complex, type(None)})


def freeze(value: Any) -> Hashable:
    """Return a hashable stand-in for ``value`` that compares equal iff the values do.

    Exact built-in types are dispatched on ``type()`` first (one set lookup for a leaf), so
    freezing a JSON-like argument costs little more than copying it into tuples.
    """
    kind = type(value)
    if kind in _ATOMIC:
        return value  # type: ignore[no-any-return]  # an _ATOMIC type is hashable
    if kind is dict:
        return _freeze_dict(value)
    if kind is tuple:
        return tuple([v if type(v) in _ATOMIC else freeze(v) for v in value])
    if kind is list:
        return (LIST_MARK, tuple([v if type(v) in _ATOMIC else freeze(v) for v in value]))
    return _freeze_other(value)


def _freeze_dict(value: dict[Any, Any]) -> Hashable:
    items = [
        (k if type(k) in _ATOMIC else freeze(k), v if type(v) in _ATOMIC else freeze(v))
        for k, v in value.items()
    ]
    try:
        items.sort()
    except TypeError:  # keys of mixed, unorderable types: an order-free, exact form
        return (FROZENSET_ITEMS_MARK, frozenset(items))
    return (DICT_MARK, tuple(items))


def _freeze_other(value: Any) -> Hashable:
    """Subclasses of the built-ins, sets, dataclasses, and anything else."""
    if isinstance(value, dict):
        return _freeze_dict(value)
    if isinstance(value, (list, tuple)):
        frozen = tuple([freeze(v) for v in value])
        return (LIST_MARK, frozen) if isinstance(value, list) else frozen
    if isinstance(value, (set, frozenset)):
        return (SET_MARK, frozenset([freeze(v) for v in value]))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = tuple((f.name, freeze(getattr(value, f.name))) for f in dataclasses.fields(value))
        return (DATACLASS_MARK, type(value).__qualname__, fields)
    try:
        hash(value)
    except TypeError:
        raise UnkeyableArgumentError(
            f"an argument of type {type(value).__qualname__} is unhashable and has no by-value form",
            type_name=f"{type(value).__module__}.{type(value).__qualname__}",
        ) from None
    return value  # type: ignore[no-any-return]  # hash() just succeeded


def freeze_safely(value: Any) -> Hashable:
    """:func:`freeze`, turning runaway recursion (a cycle, absurd nesting) into
    :class:`~agent_cache.errors.UnkeyableArgumentError`."""
    try:
        return freeze(value)
    except RecursionError:
        raise UnkeyableArgumentError(
            "an argument refers to itself or is nested too deeply to key by value",
            type_name=f"{type(value).__module__}.{type(value).__qualname__}",
        ) from None


def make_key(args: tuple[Any, ...], kwargs: dict[str, Any] | None = None) -> Hashable:
    """The cache key for a call with ``args`` and ``kwargs`` (arguments already skipped).

    Raises :class:`~agent_cache.errors.UnkeyableArgumentError` for an argument that cannot
    be keyed by value safely.
    """
    try:
        return _make_key(args, kwargs)
    except RecursionError:
        raise UnkeyableArgumentError("an argument refers to itself or is nested too deeply to key by value") from None


def _make_key(args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> Hashable:
    if kwargs:
        items = sorted(kwargs.items()) if len(kwargs) > 1 else kwargs.items()
        # freeze() of a tuple is a tuple, which its declared return type (Hashable) cannot say.
        return (  # type: ignore[no-any-return]
            (args if not args else freeze(args))  # type: ignore[operator]
            + (KW_MARK,)
            + tuple([(k, v if type(v) in _ATOMIC else freeze(v)) for k, v in items])
        )
    try:
        hash(args)
    except TypeError:
        return freeze(args)
    return args


def call_key(*args: Any, **kwargs: Any) -> Hashable:
    """The key a cached tool stores for ``tool(*args, **kwargs)``.

    Use it in an :class:`~agent_cache.AgentCacheInvalidator` ``key_fn`` to name the exact
    read to drop::

        @AgentCacheInvalidator(resource="cart", clear_all=False,
                               key_fn=lambda args, kwargs: call_key(args[0]))
        async def add_to_cart(user_id, item): ...
    """
    return make_key(args, kwargs)


def _canonical(value: Any, out: list[str]) -> None:
    if value is None or isinstance(value, bool):
        out.append(repr(value))
    elif isinstance(value, int):
        out.append(f"i{value}")
    elif isinstance(value, float):
        # 1 == 1.0 in memory; keep shared tiers consistent with that.
        out.append(f"i{int(value)}" if value.is_integer() else f"f{value!r}")
    elif isinstance(value, str):
        out.append(f"s{len(value)}:{value}")
    elif isinstance(value, bytes):
        out.append(f"b{len(value)}:{value.hex()}")
    elif isinstance(value, _Mark):
        out.append(f"<{value.name}>")
    elif isinstance(value, tuple):
        out.append("(")
        for v in value:
            _canonical(v, out)
            out.append(",")
        out.append(")")
    elif isinstance(value, frozenset):
        parts = []
        for v in value:
            sub: list[str] = []
            _canonical(v, sub)
            parts.append("".join(sub))
        out.append("{" + ",".join(sorted(parts)) + "}")
    elif isinstance(value, enum.Enum):
        out.append(f"e{type(value).__module__}.{type(value).__qualname__}.{value.name}")
    elif isinstance(value, _STABLE_REPR):
        # Value types whose repr is their value, the same in every process.
        out.append(f"o{type(value).__module__}.{type(value).__qualname__}:{value!r}")
    else:
        # A repr may embed a memory address (reused across objects and processes) or
        # summarise: two different arguments must never share a shared-tier key.
        raise UnkeyableArgumentError(
            f"{type(value).__qualname__} has no process-independent form; its calls stay in memory",
            type_name=f"{type(value).__module__}.{type(value).__qualname__}",
        )


_STABLE_REPR = (complex, datetime.date, datetime.time, datetime.timedelta, decimal.Decimal, fractions.Fraction,
                uuid.UUID)


def namespace_path(*parts: str) -> str:
    """Join namespace parts with ``/`` so that no two different part lists give the same
    string: ``%`` and ``/`` inside a part are escaped (``%25``, ``%2F``). Without this,
    resource ``"a/b"`` with tool ``"c"`` and resource ``"a"`` with tool ``"b/c"`` would share
    one disk/Redis namespace (and clear each other, or read each other's values)."""
    return "/".join(p.replace("%", "%25").replace("/", "%2F") for p in parts)


def stable_key(namespace: str, key: Hashable) -> str:
    """A process-independent string for ``key`` under ``namespace`` (for disk and Redis).

    Raises :class:`~agent_cache.errors.UnkeyableArgumentError` for a key holding an object
    without a process-independent form (never a ``repr`` with an address in it): the cache
    then keeps that key in memory only."""
    out: list[str] = []
    _canonical(freeze(key), out)
    digest = hashlib.blake2b("".join(out).encode("utf-8", "surrogatepass"), digest_size=16)
    return f"{namespace}\x1f{digest.hexdigest()}"
