"""``AgentCacheInvalidator``: a mutation tool that invalidates the reads of its resource.

The reference clears the resource once, before the mutation. That leaves a window: a read
that starts after the clear but before the mutation commits loads the old value and caches
it. Here the resource is cleared **before and after** the mutation (the second clear runs
even if the mutation raises or is cancelled), and each clear *fences* loads in flight so
their results are never stored. Once the mutation has returned or raised, no read returns
data loaded before it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.sync_bridge import is_async_callable, shim_for, sync_facade
from ..core.validation import check_callable
from ..core.wrappers import key_or_none
from ..errors import AgentCacheError
from ..telemetry import names as tn
from ..telemetry import runtime as tel
from ..telemetry import spans
from .context import live_session
from .registry import ResourceGroup, registry
from .signature import SignatureKey
from .tool_common import ToolBase

if TYPE_CHECKING:
    from .session import AgentCacheSession

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
logger = logging.getLogger("agent_cache")

KeyFn = Callable[[tuple[Any, ...], dict[str, Any]], Hashable]


class InvalidationKeyError(AgentCacheError):
    """An ``AgentCacheInvalidator`` ``key_fn`` raised: the mutation fails instead of the
    invalidation silently widening (or narrowing) to something else."""


class AgentCacheInvalidator:
    """Decorator for write tools: invalidate ``resource`` around the mutation.

    ::

        @AgentCacheInvalidator(resource="cart", scope="global")
        async def add_to_cart(user_id, item): ...

    :param resource: the resource whose cached reads become stale.
    :param scope: ``"global"`` clears the global caches of the resource; ``"session"`` clears
        the current session's.
    :param clear_all: clear every entry of the resource (default). With ``False``, ``key_fn``
        names the one read to drop.
    :param key_fn: ``(args, kwargs) -> key`` of the cached read to drop, e.g.
        ``lambda args, kwargs: call_key(args[0])`` (see :func:`agent_cache.call_key`); a tuple
        is taken as positional arguments. ``args``/``kwargs`` are bound to the mutation's
        signature, so ``args[0]`` is the first parameter however the caller passed it. If it
        raises, the mutation fails with :class:`InvalidationKeyError` (before the mutation
        runs, when it raises on the first clear) instead of clearing something else.
    :param name: the tool name on spans and metrics (default: the function's ``__qualname__``).
    """

    def __init__(
        self,
        resource: str,
        scope: str = "global",
        clear_all: bool = True,
        key_fn: KeyFn | None = None,
        skip_args: int = 0,
        *,
        name: str | None = None,
        record_arguments: bool | None = None,
    ) -> None:
        if skip_args:
            raise TypeError(
                "skip_args is not supported on AgentCacheInvalidator: it silently produces the "
                "wrong key. Use key_fn to map the mutation's arguments to the cached read's key."
            )
        ToolBase._check_labels(resource, scope)
        if not isinstance(clear_all, bool):
            raise TypeError(f"clear_all must be a bool, got {type(clear_all).__name__}")
        if key_fn is not None and not callable(key_fn):
            raise TypeError(f"key_fn must be callable (args, kwargs) -> key, got {type(key_fn).__name__}")
        if not clear_all and key_fn is None:
            raise ValueError("key_fn is required when clear_all=False (it names the entry to drop)")
        self.resource = resource
        self.scope = scope
        self.clear_all = clear_all
        self.key_fn = key_fn
        self.name = name
        self.record_arguments = record_arguments

    def __call__(self, func: F) -> F:
        """Wrap the mutation; a plain ``def`` gets a plain function back."""
        if is_async_callable(func):
            return MutationTool(func, self).wrapper  # type: ignore[return-value]
        check_callable("AgentCacheInvalidator", func)
        return sync_facade(func, MutationTool(shim_for(func), self).wrapper)  # type: ignore[no-any-return]


class MutationTool(ToolBase):
    """The state behind one ``@AgentCacheInvalidator`` function."""

    def __init__(self, func: Callable[..., Awaitable[Any]], config: AgentCacheInvalidator) -> None:
        super().__init__(
            func, "AgentCacheInvalidator", config.resource, config.scope, config.name, config.record_arguments
        )
        self.clear_all = config.clear_all
        self.key_fn = config.key_fn
        self.signature_key = SignatureKey(func, owner=f"mutation {self.tool_name!r}")
        self.signature = self.signature_key.signature

        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await self.execute(args, kwargs)

        self.wrapper = self.attach(wrapper)

    async def execute(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        session = live_session()
        tracer = tel.active_tracer()
        if tracer is None:
            return await self._execute(args, kwargs, session, None)
        attrs = self.span_attributes(session, args, kwargs)
        adopted = spans.adoptable_span(tn.OP_EXECUTE_TOOL, tn.GEN_AI_TOOL_NAME, self.tool_name)
        if adopted is not None:  # the framework's own span of this call: one span per call
            spans.annotate(adopted, attrs)
            return await self._execute(args, kwargs, session, adopted)
        with spans.current_span(tracer, self.span_name, attrs) as span:
            return await self._execute(args, kwargs, session, span)

    async def _execute(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], session: AgentCacheSession | None, span: Any
    ) -> Any:
        if session is not None:
            key = key_or_none(self, args, kwargs)
            if session.observe_call(self.tool_name, key if key is not None else (id(args),), span):
                session.stats.short_circuits += 1
                self.record_result(span, tn.RESULT_SHORT_CIRCUIT, None)
                return None
        if span is not None:  # set before the body runs: a mutation that raises keeps it
            spans.set_attribute(span, tn.ATTR_RESULT, tn.RESULT_BYPASS)
        group = self._target(session)
        removed = await self._invalidate(group, args, kwargs)
        try:
            value = await self.run_body(args, kwargs, tn.RESULT_BYPASS)
        finally:
            removed += await self._invalidate(group, args, kwargs)
            self._count(session, span, removed)
        self.record_result(span, tn.RESULT_BYPASS, value)
        return value

    always_key = True

    def key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The key this mutation's own call has in the session trace (loop checks)."""
        return self.signature_key(args, kwargs)

    def bound(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``(args, kwargs)`` bound to the mutation's signature: every positional-or-keyword
        parameter in ``args`` in declaration order (defaults applied), however the framework
        passed it, so ``key_fn``'s ``args[0]`` is always the first parameter."""
        if self.signature is None:
            return args, kwargs
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound.args, bound.kwargs

    def _target(self, session: AgentCacheSession | None) -> ResourceGroup | None:
        if self.scope == tn.SCOPE_GLOBAL:
            return registry.groups.get(self.resource)
        return session.group(self.resource) if session is not None else None

    async def _invalidate(self, group: ResourceGroup | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
        if group is None:
            return 0
        if self.clear_all:
            return await group.invalidate()
        bound_args, bound_kwargs = self.bound(args, kwargs)
        try:
            key = self.key_fn(bound_args, bound_kwargs)  # type: ignore[misc]
        except Exception as exc:
            # Loudly: a silent whole-resource clear hid key_fn bugs (and a partial clear
            # would leave stale entries). The mutation does not run / its caller sees it.
            raise InvalidationKeyError(
                f"key_fn of {self.tool_name} raised {type(exc).__name__}; nothing was invalidated by it"
            ) from exc
        if not isinstance(key, tuple):
            key = (key,)
        return await group.invalidate_key(key)

    def _count(self, session: AgentCacheSession | None, span: Any, removed: int) -> None:
        registry.invalidations += 1
        if session is not None:
            session.stats.invalidations += 1
        tel.count_invalidation(self.resource, self.scope)
        if span is not None:
            spans.add_event(
                span,
                tn.EVENT_INVALIDATION,
                {tn.ATTR_RESOURCE: self.resource, tn.ATTR_SCOPE: self.scope, tn.ATTR_ENTRIES_REMOVED: removed},
            )
