"""``AgentCache``: cache a read-only tool's results, tagged by resource, global or per session."""

from __future__ import annotations

import functools
from functools import partial
import time
from typing import Any, Awaitable, Callable, Hashable, TypeVar

from ..core.cache import AsyncCache
from ..core.keys import freeze, make_key, namespace_path
from ..core.stats import CacheStats
from ..core.validation import check_maxsize, check_non_negative_int, check_ttl
from ..telemetry import names as tn
from ..telemetry import runtime as tel
from ..telemetry import spans
from .context import current_session
from .registry import registry
from .tool_common import ToolBase

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
_monotonic = time.monotonic


class AgentCache:
    """Decorator: cache an async read-only tool, tagged with the ``resource`` it reads.

    ::

        @AgentCache(resource="cart", scope="global", ttl=60)
        async def get_cart(user_id): ...

    :param resource: what the tool reads; an :class:`AgentCacheInvalidator` for the same
        resource drops these entries. Also the ``agent_cache.resource`` metric label.
    :param scope: ``"global"`` (shared by every session and by calls outside sessions) or
        ``"session"`` (one cache per :class:`AgentCacheSession`, dropped when it ends; calls
        outside a session run uncached).
    :param ttl: seconds an entry lives (``None``: until invalidated or evicted).
    :param maxsize: most entries for this tool (per session, for session scope).
    :param skip_args: leading positional arguments left out of the key (``self``, a client).
    :param backend: a second tier (:class:`~agent_cache.DiskBackend`, Redis) behind memory.
    :param name: the tool name on spans and metrics (default: the function's ``__qualname__``).
    :param record_arguments: put arguments and results on spans (default: off, or the
        ``AGENT_CACHE_RECORD_ARGUMENTS`` environment variable).
    """

    def __init__(
        self,
        resource: str,
        scope: str = "global",
        ttl: float | None = None,
        maxsize: int | None = 128,
        skip_args: int = 0,
        backend: Any = None,
        *,
        name: str | None = None,
        record_arguments: bool | None = None,
    ) -> None:
        self.resource = resource
        self.scope = scope
        self.ttl = check_ttl("ttl", ttl)
        self.maxsize = check_maxsize("maxsize", maxsize)
        self.skip_args = check_non_negative_int("skip_args", skip_args)
        self.backend = backend
        self.name = name
        self.record_arguments = record_arguments
        # Fail at decoration time, not at the first call.
        ToolBase._check_labels(resource, scope)

    def __call__(self, func: F) -> F:
        return CachedTool(func, self).wrapper  # type: ignore[return-value]


class CachedTool(ToolBase):
    """The state behind one ``@AgentCache`` function."""

    def __init__(self, func: Callable, config: AgentCache) -> None:
        super().__init__(func, "AgentCache", config.resource, config.scope, config.name, config.record_arguments)
        self.ttl = config.ttl
        self.maxsize = config.maxsize
        self.skip_args = config.skip_args
        self.backend = config.backend
        self.namespace = namespace_path(self.resource, self.tool_name)
        self.stats = CacheStats(self.resource, self.scope)
        registry.tool_stats.add(self.stats)
        self.cache: AsyncCache | None = None
        if self.scope == tn.SCOPE_GLOBAL:
            self.cache = AsyncCache(
                maxsize=self.maxsize,
                default_ttl=self.ttl,
                name=self.resource,
                namespace=self.namespace,
                backend=self.backend,
                scope=self.scope,
                stats=self.stats,
            )
            registry.group(self.resource, self.scope).add(self.cache)
        self.wrapper = self._build_wrapper()
        tel.track(self.stats, self.wrapper)

    def _build_wrapper(self) -> Callable:
        skip = self.skip_args
        stats = self.stats
        tool_name = self.tool_name
        func = self.func
        execute = self.execute
        run = self._execute
        miss = self._miss
        short_circuit = self._short_circuit
        get_session = current_session.get
        active_tracer = tel.active_tracer
        metrics_enabled = tel.metrics_enabled
        trace_api = tel.otel_trace
        global_cache = self.cache
        tool = self
        # Entries only expire with a ttl, or when a tier hands back its remaining lifetime.
        checks_expiry = self.ttl is not None or self.backend is not None

        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = make_key(args[skip:], kwargs) if (kwargs or skip) else args
            session = get_session()
            if trace_api._TRACER_PROVIDER is not None and active_tracer() is not None:
                return await execute(key, args, kwargs, session)
            # The hot path, inlined: no span, no extra coroutine, no key object.
            if global_cache is not None:
                cache = global_cache
            elif session is not None:
                cache = session._caches.get(tool)  # not `or`: that would call len(cache)
                if cache is None:
                    cache = session.cache_for(tool)
            else:  # session scope outside a session: runs uncached
                return await run(key, args, kwargs, None, None)
            data = cache._data
            try:
                entry = data.get(key)
            except TypeError:
                key = freeze(key)
                entry = data.get(key)
            if session is not None:
                finding = session.record_call(tool_name, key)
                if finding is not None and session.handle_loop(finding, tool_name, None):
                    return short_circuit(key, session, None)
            if entry is not None and (not checks_expiry or entry[1] > _monotonic()):
                entry[2] = True
                stats.hits += 1
                if session is not None:
                    session.hits += 1
                return entry[0]
            if session is None and key not in cache._flights and not metrics_enabled():
                # A plain miss, nobody listening: lead the load with the bare tool.
                return await cache._lead(key, partial(func, *args, **kwargs), None)
            return await miss(cache, key, args, kwargs, session, None)

        wrapper.get_metrics = stats.as_dict  # type: ignore[attr-defined]
        wrapper.cache = global_cache  # type: ignore[attr-defined]
        return self.attach(wrapper)

    async def execute(self, key: Hashable, args: tuple, kwargs: dict, session: Any) -> Any:
        tracer = tel.active_tracer()
        if tracer is None:
            return await self._execute(key, args, kwargs, session, None)
        # Not a @contextmanager: one generator layer less on every traced call.
        span, token = spans.open_span(tracer, self.span_name, self.span_attributes(session, args, kwargs))
        error = None
        try:
            return await self._execute(key, args, kwargs, session, span)
        except BaseException as exc:
            error = exc
            raise
        finally:
            spans.close_span(span, token, None, error)

    async def _execute(self, key: Hashable, args: tuple, kwargs: dict, session: Any, span: Any) -> Any:
        try:
            hash(key)
        except TypeError:
            key = freeze(key)
        cache = self.cache
        if session is not None:
            if session.observe_call(self.tool_name, key, span):
                return self._short_circuit(key, session, span)
            if cache is None:
                cache = session.cache_for(self)
        elif cache is None:  # session scope, but no session: nothing to scope the entry to
            self.stats.bypasses += 1
            if span is not None:
                span.set_attribute(tn.ATTR_RESULT, tn.RESULT_BYPASS)
            value = await self.run_body(args, kwargs, tn.RESULT_BYPASS)
            self.record_result(span, tn.RESULT_BYPASS, value)
            return value
        entry = cache._data.get(key)
        if entry is not None and entry[1] > _monotonic():
            entry[2] = True
            self.stats.hits += 1
            if session is not None:
                session.hits += 1
            self.record_result(span, tn.RESULT_HIT, entry[0])
            return entry[0]
        return await self._miss(cache, key, args, kwargs, session, span)

    async def _miss(self, cache: AsyncCache, key: Hashable, args: tuple, kwargs: dict, session: Any, span: Any) -> Any:
        if span is not None:  # known now, so a load that raises still says what it was
            span.set_attribute(tn.ATTR_RESULT, tn.RESULT_MISS)
        # partial, not a lambda: closing over args/kwargs would cost every call cells.
        loader = partial(self.run_body, args, kwargs, tn.RESULT_MISS)
        if key not in cache._flights:  # nobody is loading it: lead directly, one coroutine less
            value, led = await cache._lead(key, loader, None), True
        else:
            value, led = await cache.load(key, loader, span=span)
        if session is not None:
            if led:
                session.misses += 1
            else:
                session.coalesced += 1
        self.record_result(span, tn.RESULT_MISS if led else tn.RESULT_COALESCED, value)
        return value

    def _short_circuit(self, key: Hashable, session: Any, span: Any) -> Any:
        self.stats.short_circuits += 1
        cache = self.cache if self.cache is not None else session.cache_for(self)
        value = cache.peek(key, None)
        self.record_result(span, tn.RESULT_SHORT_CIRCUIT, value)
        return value

