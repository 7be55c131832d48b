"""The one factory that builds every memoizing wrapper (``AsyncLRU``, ``AsyncTTL``,
``AgentCache``) — the way ``functools.lru_cache`` builds one wrapper per configuration.

A wrapper has two paths:

* the **reference path** — :meth:`Plan.general`, written for clarity: it finds the cache,
  asks :meth:`Store.fresh <agent_cache.core.store.Store.fresh>` for the hit (the one
  definition of a hit), and loads through single-flight. Calls take it whenever something
  needs more than a lookup: a tracer is active, an argument is unkeyable, ``use_cache=False``.
* the **fast path** — built here, inlining exactly the store's freshness rule
  (``expires_at is NEVER or expires_at > clock()``, see :func:`agent_cache.core.store.is_fresh`)
  so a hit costs about one dict lookup. Nothing about expiry is decided at decoration time.

Setting the environment variable ``AGENT_CACHE_REFERENCE_PATH=1`` when a wrapper is built
makes it take the reference path on every call (for debugging a suspected fast-path bug;
the test suite runs the whole behaviour suite both ways and with an OTel SDK installed).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Hashable
from functools import partial
from typing import Any, Protocol

from ..errors import UnkeyableArgumentError
from ..telemetry import gate
from .cache import AsyncCache
from .keys import freeze_safely
from .store import NEVER

REFERENCE_PATH_ENV = "AGENT_CACHE_REFERENCE_PATH"
_TRUTHY = {"1", "true", "yes", "on"}

Body = Callable[..., Awaitable[Any]]


def reference_path_forced() -> bool:
    """Whether wrappers built now must take the reference path on every call."""
    return os.environ.get(REFERENCE_PATH_ENV, "").lower() in _TRUTHY


class Keyer(Protocol):
    """What :func:`key_or_none` needs: whether a call always needs a key, and the key."""

    #: True when even a plain positional call needs :meth:`key` (skipped, context or
    #: ignored parameters, ``key=``): its argument tuple is not its key
    always_key: bool

    def key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
        """The key of a call that is not plain positional (raises UnkeyableArgumentError)."""


class Plan(Keyer, Protocol):
    """What a decorated callable supplies to :func:`build_memoizer` / :func:`build_tool_wrapper`."""

    def general(self, key: Hashable | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Awaitable[Any]:
        """The reference path for one call; ``key=None`` means: compute it (or bypass)."""

    def divert(self) -> bool:
        """True when this call must take the reference path (e.g. a tracer is active)."""


class SessionPlan(Plan, Protocol):
    """A plan whose caches and counts depend on the current agent session."""

    @property
    def global_cache(self) -> AsyncCache | None:
        """The tool's one cache for global scope, else ``None`` (one cache per session)."""
    tool_name: str

    def current_session(self) -> Any:
        """The session this call runs in (may have ended: check ``is_open``)."""

    def session_cache(self, session: Any) -> AsyncCache:
        """``session``'s cache for this tool (session scope)."""

    def on_loop(self, session: Any, finding: Any) -> bool:
        """A loop check fired: report it; True to short-circuit (raises for ``"raise"``)."""

    def short_circuit(self, cache: AsyncCache, key: Hashable, session: Any) -> Any:
        """The answer of a short-circuited call."""

    def miss(
        self, cache: AsyncCache, key: Hashable, args: tuple[Any, ...], kwargs: dict[str, Any], session: Any
    ) -> Awaitable[Any]:
        """Load a missed key through ``cache``'s single flight."""


def build_memoizer(func: Body, cache: AsyncCache, plan: Plan, *, use_cache_keyword: bool = True) -> Body:
    """The wrapper of ``AsyncLRU``/``AsyncTTL``: one fixed cache, no sessions."""
    if reference_path_forced():
        return _reference(plan)
    data_get = cache._data.get
    stats = cache._stats
    clock = cache.clock
    flights = cache._flights
    load = cache.load
    # With resilience options a miss may answer a stale copy, so every non-hit goes through
    # cache.load (which decides); the hit rule inlined below is the same either way.
    lead = cache._lead if cache._policy is None else partial(_load_value, load)
    general = plan.general
    keyer = plan.key

    async def share(key: Hashable, loader: Callable[[], Any]) -> Any:
        value, _ = await load(key, loader)
        return value

    async def keyed(*args: Any, **kwargs: Any) -> Any:
        """Calls with keyword or skipped arguments: the key is built."""
        if use_cache_keyword and "use_cache" in kwargs:
            return await general(None, args, kwargs)
        try:
            key = keyer(args, kwargs)
            entry = data_get(key)
        except TypeError:  # UnkeyableArgumentError included: the reference path bypasses
            return await general(None, args, kwargs)
        if entry is not None and ((expires := entry[1]) is NEVER or expires > clock()):
            entry[2] = True
            stats.hits += 1
            return entry[0]
        loader = partial(func, *args, **kwargs)
        if key not in flights:
            return await lead(key, loader, None)
        return await share(key, loader)

    async def positional(*args: Any, **kwargs: Any) -> Any:
        """The common call, hashable positional arguments only: the key is ``args``."""
        if kwargs:
            return await keyed(*args, **kwargs)
        try:
            entry = data_get(args)
        except TypeError:  # an unhashable argument: the reference path freezes it
            return await general(None, args, kwargs)
        # THE hit rule, inlined (agent_cache.core.store.is_fresh)
        if entry is not None and ((expires := entry[1]) is NEVER or expires > clock()):
            entry[2] = True
            stats.hits += 1
            return entry[0]
        # partial, not a lambda: a closure over args/kwargs would make them cells, and
        # allocating those cells costs every call, hits included.
        if args not in flights:  # the leader calls func(*args) itself: no partial to build
            return await lead(args, func, None, True, None, None, args)
        return await share(args, partial(func, *args))

    async def positional_ttl(*args: Any, **kwargs: Any) -> Any:
        """:func:`positional` for a cache with a default TTL, where nearly every entry
        expires: ``expires > clock()`` alone is the same rule (``NEVER`` is infinity, later
        than any reading), without the ``is NEVER`` shortcut that only pays off without TTLs."""
        if kwargs:
            return await keyed(*args, **kwargs)
        try:
            entry = data_get(args)
        except TypeError:
            return await general(None, args, kwargs)
        if entry is not None and entry[1] > clock():
            entry[2] = True
            stats.hits += 1
            return entry[0]
        if args not in flights:  # the leader calls func(*args) itself: no partial to build
            return await lead(args, func, None, True, None, None, args)
        return await share(args, partial(func, *args))

    if plan.always_key:
        return keyed
    return positional if cache.default_ttl is None else positional_ttl


def build_tool_wrapper(plan: SessionPlan) -> Body:
    """The wrapper of ``AgentCache``: the cache depends on scope and session."""
    if reference_path_forced():
        return _reference(plan)
    general = plan.general
    current_session = plan.current_session
    session_cache = plan.session_cache
    on_loop = plan.on_loop
    short_circuit = plan.short_circuit
    miss = plan.miss
    always_key = plan.always_key
    keyer = plan.key
    tool_name = plan.tool_name
    global_cache = plan.global_cache
    tracer_probe = gate.tracer_probe
    active_tracer = gate.active_tracer

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if tracer_probe() is not None and active_tracer() is not None:
            return await general(None, args, kwargs)
        if kwargs or always_key:
            try:
                key = keyer(args, kwargs)
            except UnkeyableArgumentError:
                return await general(None, args, kwargs)
        else:
            key = args
        session = current_session()
        if session is not None and not session.is_open:
            session = None  # a task that outlived its session: as if outside it
        if global_cache is not None:
            cache = global_cache
        elif session is not None:
            cache = session_cache(session)
        else:
            return await general(key, args, kwargs)  # session scope outside a session
        try:
            entry = cache._data.get(key)
        except TypeError:
            return await general(None, args, kwargs)
        if session is not None:
            finding = session.record_call(tool_name, key)
            if finding is not None and on_loop(session, finding):
                return short_circuit(cache, key, session)
        # THE hit rule, inlined (agent_cache.core.store.is_fresh)
        if entry is not None and ((expires := entry[1]) is NEVER or expires > cache._store.clock()):
            entry[2] = True
            cache._stats.hits += 1
            if session is not None:
                session.stats.hits += 1
            return entry[0]
        return await miss(cache, key, args, kwargs, session)

    return wrapper


async def _load_value(
    load: Callable[..., Awaitable[tuple[Any, str]]], key: Hashable, loader: Callable[..., Any], ttl: float | None,
    lookup: bool = True, flight: Any = None, span: Any = None, args: tuple[Any, ...] = (),
) -> Any:
    """``cache._lead``'s signature over ``cache.load`` (caches with resilience options)."""
    value, _ = await load(key, partial(loader, *args) if args else loader, ttl)
    return value


def _reference(plan: Plan) -> Body:
    general = plan.general

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        return await general(None, args, kwargs)

    return wrapper


def key_or_none(plan: Keyer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable | None:
    """The call's key, or ``None`` when an argument cannot be keyed safely (bypass)."""
    try:
        key = plan.key(args, kwargs) if (kwargs or plan.always_key) else args
        try:
            hash(key)
        except TypeError:
            key = freeze_safely(key)
        return key
    except UnkeyableArgumentError:
        return None
