"""``AgentCache``: cache a read-only tool's results, tagged by resource, global or per session."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, cast, overload

from ..core.cache import AsyncCache
from ..core.keys import namespace_path
from ..core.resilience import build_policy
from ..core.stats import CacheStats
from ..core.store import Clock
from ..core.sync_bridge import is_async_callable, shim_for, sync_facade
from ..core.unkeyable import UnkeyableWarning
from ..core.validation import check_callable, check_maxsize, check_non_negative_int, check_ttl
from ..core.wrappers import build_tool_wrapper, key_or_none
from ..errors import ConfigurationTypeError, ReentrantLoadError, UnkeyableArgumentError
from ..telemetry import gate, spans
from ..telemetry import names as tn
from ..telemetry import runtime as tel
from .context import current_session, live_session
from .registry import registry
from .signature import SignatureKey
from .tool_common import ToolBase

if TYPE_CHECKING:
    from .loops import Finding
    from .session import AgentCacheSession

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
logger = logging.getLogger("agent_cache")


class CachedToolFunction(Protocol[P, R_co]):
    """What ``@AgentCache(...)`` returns: the tool, with the decorated function's
    parameters, plus its handles. (At run time a plain function carrying these attributes.)

    ::

        @AgentCache(resource="cart")
        async def get_cart(user_id: str) -> Cart: ...

        cart = await get_cart("u1")           # Cart
        get_cart.get_metrics()["hit_rate"]
        get_cart.cache                        # AsyncCache (None for scope="session")
    """

    @property
    def cache(self) -> AsyncCache | None:
        """The tool's cache for ``scope="global"``; ``None`` for ``scope="session"`` (one per session)."""
        ...

    @property
    def resource(self) -> str: ...

    @property
    def scope(self) -> str: ...

    @property
    def tool_name(self) -> str: ...

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Awaitable[R_co]: ...

    def get_metrics(self) -> dict[str, Any]:
        """The tool's counters across its caches (``hits``, ``misses``, ``hit_rate``, ...)."""
        ...

    def call_key(self, *args: P.args, **kwargs: P.kwargs) -> Hashable:
        """The key a call with these arguments is stored under (bound to the signature)."""
        ...

    # A tool that is a method binds like any function; a ParamSpec cannot drop ``self``,
    # so the bound form takes any arguments.
    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> CachedToolFunction[P, R_co]: ...
    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> BoundCachedToolFunction[R_co]: ...
    def __get__(self, instance: object, owner: type[Any] | None = None) -> Any: ...


class BoundCachedToolFunction(Protocol[R_co]):
    """A :class:`CachedToolFunction` reached through an instance (a tool method)."""

    @property
    def cache(self) -> AsyncCache | None: ...

    @property
    def resource(self) -> str: ...

    @property
    def scope(self) -> str: ...

    @property
    def tool_name(self) -> str: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[R_co]: ...

    def get_metrics(self) -> dict[str, Any]: ...


class AgentCache:
    """Decorator: cache an async read-only tool, tagged with the ``resource`` it reads.

    ::

        @AgentCache(resource="cart", scope="global", ttl=60)
        async def get_cart(user_id): ...

    :param resource: what the tool reads; an :class:`AgentCacheInvalidator` for the same
        resource drops these entries. Also the ``agent_cache.resource`` metric label.
    :param scope: ``"global"`` (shared by every session and by calls outside sessions) or
        ``"session"`` (one cache per :class:`AgentCacheSession`, dropped when it ends; calls
        outside a session run uncached, counted as ``bypass``).
    :param ttl: seconds an entry lives (``None``: until invalidated or evicted).
    :param maxsize: most entries for this tool (per session, for session scope).
    :param skip_args: leading positional arguments left out of the key (``self``, a client).
    :param backend: a second tier (:class:`~agent_cache.DiskBackend`, Redis) behind memory.
    :param name: the tool name on spans and metrics (default: the function's ``__qualname__``).
    :param record_arguments: put arguments and results on spans (default: off, or the
        ``AGENT_CACHE_RECORD_ARGUMENTS`` environment variable).
    :param ignore: names of parameters left out of the key however they are passed
        (``("request_id",)``). Unknown names fail at decoration.
    :param key: ``key(**arguments) -> key``: the callable receives the call's arguments by
        name (bound to the tool's signature) and returns the key, e.g.
        ``key=lambda city, units="c": city.lower()``. It may name a context parameter to
        key by something the context carries (the caller's identity).
    :param clock: the monotonic clock TTLs are measured with (tests inject a fake one).
    :param stale_while_revalidate: seconds past ``ttl`` during which a call answers the old
        result at once (``agent_cache.result="stale"``) and refreshes it in the background.
    :param stale_if_error: seconds past ``ttl`` during which a call whose tool run raises or
        times out answers the old result instead.
    :param load_timeout: most seconds a call waits for the tool to run (its own run or one
        it shares), then the stale result or :class:`~agent_cache.errors.LoadTimeoutError`.
        Session-scoped tools honour all three (see :mod:`agent_cache.core.resilience`).

    Keys follow the signature: ``get_cart("u1")`` and ``get_cart(user_id="u1")`` are one
    entry, and framework context parameters (openai-agents ``RunContextWrapper``, pydantic-ai
    ``RunContext``, LangGraph ``InjectedState``/``RunnableConfig``/``ToolRuntime``, MCP and
    fastmcp ``Context``) are never part of a key. A tool whose result depends on the context
    (per-user ``deps``, the caller's identity) must say so with ``key=``, or one user's
    result is served to another.
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
        ignore: Iterable[str] = (),
        key: Callable[..., Any] | None = None,
        clock: Clock | None = None,
        stale_while_revalidate: float = 0,
        stale_if_error: float = 0,
        load_timeout: float | None = None,
    ) -> None:
        if isinstance(ignore, str):
            raise ConfigurationTypeError("ignore must be a tuple of parameter names, e.g. ignore=('request_id',)")
        self.ignore = tuple(ignore)
        if key is not None and not callable(key):
            raise ConfigurationTypeError(f"key must be callable, got {type(key).__name__}")
        self.key = key
        self.resource = resource
        self.scope = scope
        self.ttl = check_ttl("ttl", ttl)
        self.policy = build_policy(stale_while_revalidate, stale_if_error, load_timeout, ttl=self.ttl, ttl_name="ttl")
        self.maxsize = check_maxsize("maxsize", maxsize)
        self.skip_args = check_non_negative_int("skip_args", skip_args)
        self.backend = backend
        self.name = name
        self.record_arguments = record_arguments
        self.clock = clock
        # Fail at decoration time, not at the first call.
        ToolBase._check_labels(resource, scope)

    def __call__(self, func: Callable[P, Awaitable[R]]) -> CachedToolFunction[P, R]:
        """Cache ``func``; a plain ``def`` tool gets a plain function back with the same
        behaviour (caching, single-flight across threads, sessions, loop checks, spans)."""
        if is_async_callable(func):
            return cast("CachedToolFunction[P, R]", CachedTool(func, self).wrapper)
        check_callable("AgentCache", func)
        return cast("CachedToolFunction[P, R]", sync_facade(func, CachedTool(shim_for(func), self).wrapper))


class CachedTool(ToolBase):
    """The state behind one ``@AgentCache`` function: its plan for the wrapper factory."""

    def __init__(self, func: Callable[..., Awaitable[Any]], config: AgentCache) -> None:
        super().__init__(func, "AgentCache", config.resource, config.scope, config.name, config.record_arguments)
        self.ttl = config.ttl
        self.maxsize = config.maxsize
        self.skip = config.skip_args
        self.backend = config.backend
        self.clock = config.clock
        self.policy = config.policy
        self.namespace = namespace_path(self.resource, self.tool_name)
        self.stats = CacheStats(self.resource, self.scope)
        self.warn_unkeyable = UnkeyableWarning(f"tool {self.tool_name!r}", func)
        self.key = SignatureKey(func, owner=f"tool {self.tool_name!r}", skip=self.skip,
                                ignore=config.ignore, key_fn=config.key)
        #: a plain positional call cannot use its argument tuple as the key
        self.always_key = not self.key.plain
        self.warned_outside_session = False
        registry.tool_stats.add(self.stats)
        self.cache: AsyncCache | None = None
        if self.scope == tn.SCOPE_GLOBAL:
            self.cache = self.new_cache(self.namespace, self.scope)
            registry.group(self.resource, self.scope).add(self.cache)
        # Any: the handles are plain function attributes (see CachedToolFunction).
        wrapper: Any = functools.wraps(func)(build_tool_wrapper(self))
        wrapper.get_metrics = self.stats.as_dict
        wrapper.cache = self.cache
        wrapper.call_key = self.call_key
        self.wrapper = self.attach(wrapper)
        tel.track(self.stats, self.wrapper)

    def call_key(self, *args: Any, **kwargs: Any) -> Hashable:
        """The key ``tool(*args, **kwargs)`` is stored under (bound to the signature), for
        ``AgentCacheInvalidator(key_fn=...)`` or ``tool.cache.delete(...)``."""
        key = key_or_none(self, args, kwargs)
        if key is None:
            raise UnkeyableArgumentError(f"tool {self.tool_name!r}: these arguments have no key (calls bypass)")
        return key

    def new_cache(self, namespace: str, scope: str) -> AsyncCache:
        """A cache for this tool's entries (the global one, or one session's)."""
        return AsyncCache(
            maxsize=self.maxsize,
            default_ttl=self.ttl,
            name=self.resource,
            namespace=namespace,
            backend=self.backend,
            scope=scope,
            stats=self.stats,
            clock=self.clock,
            **self.policy.options() if self.policy is not None else {},
        )

    # -- the plan the wrapper factory builds from ------------------------------------------

    @property
    def global_cache(self) -> AsyncCache | None:
        return self.cache

    current_session = staticmethod(current_session.get)

    def session_cache(self, session: AgentCacheSession) -> AsyncCache:
        return session.cache_for(self)

    def on_loop(self, session: AgentCacheSession, finding: Finding) -> bool:
        return bool(session.handle_loop(finding, self.tool_name, None))

    def divert(self) -> bool:
        return gate.active_tracer() is not None

    async def general(self, key: Hashable | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The reference path of a tool call (and the traced one, with an SDK installed)."""
        session = live_session()
        tracer = gate.active_tracer()
        if tracer is None:
            return await self._call(key, args, kwargs, session, None)
        attributes = self.span_attributes(session, args, kwargs)
        adopted = spans.adoptable_span(tn.OP_EXECUTE_TOOL, tn.GEN_AI_TOOL_NAME, self.tool_name)
        if adopted is not None:  # the framework's own span of this call: one span per call
            spans.annotate(adopted, attributes)
            return await self._call(key, args, kwargs, session, adopted)
        # Not a @contextmanager: one generator layer less on every traced call.
        span, token = spans.open_span(tracer, self.span_name, attributes)
        error = None
        try:
            return await self._call(key, args, kwargs, session, span)
        except BaseException as exc:
            error = exc
            raise
        finally:
            spans.close_span(span, token, None, error)

    async def _call(
        self,
        key: Hashable | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        session: AgentCacheSession | None,
        span: Any,
    ) -> Any:
        if key is None:
            key = key_or_none(self, args, kwargs)
            if key is None:  # an argument cannot be keyed safely: run uncached
                self.warn_unkeyable(args, kwargs)
                return await self._bypass(args, kwargs, session, span)
        cache = self.cache
        if session is not None:
            if session.observe_call(self.tool_name, key, span):
                return self.short_circuit(cache if cache is not None else session.cache_for(self), key, session, span)
            if cache is None:
                cache = session.cache_for(self)
        elif cache is None:  # session scope, but no session: nothing to scope the entry to
            if not self.warned_outside_session:
                self.warned_outside_session = True
                logger.warning(
                    "agent_cache: session-scoped tool %r called outside any open AgentCacheSession "
                    "(or after its session ended); it runs uncached (counted as bypass)",
                    self.tool_name,
                )
            return await self._bypass(args, kwargs, session, span)
        entry = cache.store.fresh(key)
        if entry is not None:
            self.stats.hits += 1
            if session is not None:
                session.stats.hits += 1
            self.record_result(span, tn.RESULT_HIT, entry[0])
            return entry[0]
        return await self.miss(cache, key, args, kwargs, session, span)

    async def _bypass(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], session: AgentCacheSession | None, span: Any
    ) -> Any:
        self.stats.bypasses += 1
        if session is not None:
            session.stats.bypasses += 1
        if span is not None:
            spans.set_attribute(span, tn.ATTR_RESULT, tn.RESULT_BYPASS)
        value = await self.run_body(args, kwargs, tn.RESULT_BYPASS)
        self.record_result(span, tn.RESULT_BYPASS, value)
        return value

    async def miss(
        self,
        cache: AsyncCache,
        key: Hashable,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        session: AgentCacheSession | None,
        span: Any = None,
    ) -> Any:
        if span is not None:  # known now, so a load that raises still says what it was
            spans.set_attribute(span, tn.ATTR_RESULT, tn.RESULT_MISS)
        # partial, not a lambda: closing over args/kwargs would cost every call cells.
        loader = partial(self.run_body, args, kwargs, tn.RESULT_MISS)
        try:
            value, result = await cache.load(key, loader, span=span)
        except ReentrantLoadError:
            if session is None:
                raise
            return await self._reentrant(cache, key, args, kwargs, session, span)
        if session is not None:
            session.stats.count(result)
        self.record_result(span, result, value)
        return value

    async def _reentrant(
        self,
        cache: AsyncCache,
        key: Hashable,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        session: AgentCacheSession,
        span: Any,
    ) -> Any:
        """The tool asked for its own in-flight result: a loop, reported through the session."""
        if session.report_reentrant(self.tool_name, span):  # short_circuit
            return self.short_circuit(cache, key, session, span)
        return await self._bypass(args, kwargs, session, span)  # warn: run it, uncached

    def short_circuit(self, cache: AsyncCache, key: Hashable, session: AgentCacheSession, span: Any = None) -> Any:
        self.stats.short_circuits += 1
        session.stats.short_circuits += 1
        value = cache.peek(key, None)
        self.record_result(span, tn.RESULT_SHORT_CIRCUIT, value)
        return value
