"""``AgentCacheSession``: one agent run — its session-scoped caches, its tool-call trace and
its loop detection, and (with an SDK installed) its ``invoke_agent`` span.

Entering the session sets a context variable, so every decorated tool called from this task
(and tasks it spawns) sees it. Leaving it frees everything session-scoped: caches, trace,
loop state.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, ClassVar

from ..core.cache import AsyncCache
from ..core.keys import namespace_path
from ..core.stats import SessionStats
from ..core.sync_bridge import run_sync
from ..core.validation import check_choice, check_positive_int, check_ttl
from ..errors import ConfigurationTypeError, ConfigurationValueError
from ..telemetry import names as tn
from ..telemetry import runtime as tel
from ..telemetry import spans
from .context import current_session
from .conversations import ConversationState, conversations, digest_of, load_shared, save_shared
from .errors import AgentLoopDetectedError, SessionStateError
from .loops import CallLog, Finding
from .registry import ResourceGroup, registry

if TYPE_CHECKING:
    from .tool_cache import CachedTool

logger = logging.getLogger("agent_cache")

ON_LOOP_ACTIONS = ("raise", "warn", "short_circuit")


class AgentCacheSession:
    """Scope for one agent run: session caches, execution trace, loop detection.

    ::

        async with AgentCacheSession(session_id="agent-A", max_tool_repeats=3) as session:
            await get_ticket("T-100")
            session.get_metrics()        # {'hits': .., 'misses': .., 'invalidations': .., ...}
            session.get_execution_trace()

    :param session_id: the conversation id (default: a random UUID). On spans only, never
        on metrics.
    :param loop_detection: run the repeat / cycle / depth checks on each tool call.
    :param max_tool_repeats: most calls of one tool with the same arguments.
    :param max_execution_depth: most tool calls in the session.
    :param on_loop: ``"raise"`` (:class:`AgentLoopDetectedError`), ``"warn"`` (log and run the
        call), or ``"short_circuit"`` (skip the call, return the cached value or ``None``).
    :param name: the agent's name for the ``invoke_agent {name}`` span.
    :param max_cycle_length: longest tool cycle looked for (A→B is 2).
    :param trace_limit: most recent calls kept by :meth:`get_execution_trace` (and most
        distinct calls remembered for the repeat check).
    :param store: with ``idle_timeout``, a backend (``RedisBackend``) through which the
        conversation's calls are shared by every replica (bounded by ``trace_limit``,
        expiring with the idle timeout); see :mod:`agent_cache.agent.conversations`.
    :param idle_timeout: seconds a *conversation* outlives its requests: the loop state,
        trace and session-scoped caches stay under ``session_id`` after exit and continue
        when a session with the same id is entered again, until idle this long. Default
        ``None``: freed at exit. Concurrent entries of one conversation share its state.

    Use ``async with`` in async code and plain ``with`` around sync entry points
    (``run_sync``, ``graph.invoke``, ``crew.kickoff()``).
    """

    #: Whether entering opens (or adopts) an ``invoke_agent`` span. Integrations that
    #: enter a conversation per tool call, inside the framework's tool span, turn it off.
    _opens_span: ClassVar[bool] = True

    def __init__(
        self,
        session_id: str | None = None,
        loop_detection: bool = True,
        max_tool_repeats: int = 5,
        max_execution_depth: int = 50,
        on_loop: str = "raise",
        *,
        name: str | None = None,
        max_cycle_length: int = 10,
        trace_limit: int = 10_000,
        idle_timeout: float | None = None,
        store: Any = None,
    ) -> None:
        if session_id is not None and not isinstance(session_id, str):
            raise TypeError(f"session_id must be a str or None, got {type(session_id).__name__}")
        self.session_id = session_id or str(uuid.uuid4())
        self.loop_detection = bool(loop_detection)
        self.max_tool_repeats = check_positive_int("max_tool_repeats", max_tool_repeats)
        self.max_execution_depth = check_positive_int("max_execution_depth", max_execution_depth)
        self.on_loop = check_choice("on_loop", on_loop, ON_LOOP_ACTIONS)
        self.max_cycle_length = check_positive_int("max_cycle_length", max_cycle_length)
        self.name = name or "agent"
        self._trace_limit = check_positive_int("trace_limit", trace_limit)
        self.idle_timeout = check_ttl("idle_timeout", idle_timeout)
        if store is not None:
            if self.idle_timeout is None:
                raise ConfigurationValueError(
                    "store= shares a conversation between requests and replicas: give idle_timeout too"
                )
            if not (callable(getattr(store, "get", None)) and callable(getattr(store, "set", None))):
                raise ConfigurationTypeError("store must be a backend with async get/set (e.g. RedisBackend)")
        self.store = store
        self.stats = SessionStats()
        self.is_open = False  # between __aenter__ and __aexit__
        self._warned_depth = False
        self._bind(self._new_state())
        self._calls_at_entry = 0
        self._earlier_tool_calls = 0  # calls of earlier `with` blocks
        self._token: Any = None
        self._span: Any = None
        self._span_token: Any = None
        self._span_owned = True  # False: the framework's invoke_agent span, annotated

    def _new_state(self) -> ConversationState:
        calls = CallLog(
            self.loop_detection,
            self.max_tool_repeats,
            self.max_execution_depth,
            self.max_cycle_length,
            self._trace_limit,
        )
        return ConversationState(calls, self.idle_timeout)

    def _bind(self, state: ConversationState) -> None:
        """Point the attributes the tool wrappers read at ``state`` (no indirection per call)."""
        self._state = state
        self.calls = state.calls
        if self.store is None:
            self.record_call = state.calls.record  # bound once: tool wrappers call it per call
        else:  # shared with other replicas: recorded by argument digest
            record = state.calls.record
            self.record_call = lambda tool, key: record(tool, digest_of(key))
        self._caches = state.caches
        self._groups = state.groups

    # -- context manager ------------------------------------------------------------------------

    def _enter(self) -> AgentCacheSession:
        if self._token is not None:
            raise SessionStateError(
                "this AgentCacheSession is already active; enter another AgentCacheSession with the "
                "same session_id to share its conversation"
            )
        if self.idle_timeout is None:
            self._bind(self._new_state())
        else:
            self._bind(conversations.acquire(self.session_id, self._new_state))
        self._calls_at_entry = self.calls.count
        self._token = current_session.set(self)
        self.is_open = True
        tel.session_started()
        tracer = tel.active_tracer() if self._opens_span else None
        if tracer is not None:
            attributes = {
                tn.GEN_AI_OPERATION_NAME: tn.OP_INVOKE_AGENT,
                tn.GEN_AI_AGENT_NAME: self.name,
                tn.GEN_AI_CONVERSATION_ID: self.session_id,
            }
            adopted = spans.adoptable_span(tn.OP_INVOKE_AGENT, tn.GEN_AI_CONVERSATION_ID, self.session_id)
            self._span_owned = adopted is None
            if adopted is not None:  # inside the framework's own invoke_agent span: annotate it
                spans.annotate(adopted, {**attributes, tn.ATTR_SESSION_TOOL_CALLS: 0})
                self._span, self._span_token = adopted, None
            else:
                self._span, self._span_token = spans.open_span(
                    tracer, f"{tn.SPAN_INVOKE_AGENT} {self.name}", attributes
                )
        return self

    async def __aenter__(self) -> AgentCacheSession:
        self._enter()
        if self._rebuild_from_store():
            await load_shared(self.store, self.session_id, self.calls)
            self._calls_at_entry = self.calls.count
        return self

    def _rebuild_from_store(self) -> bool:
        """With a shared store and no other entry of this conversation open here, start the
        call log afresh: the store has every call this replica saw, and the others' too."""
        if self.store is None or self._state.active != 1:
            return False
        self._state.calls = self._new_state().calls
        self._bind(self._state)
        return True

    def __enter__(self) -> AgentCacheSession:
        """``with AgentCacheSession(...)`` for sync entry points (``run_sync``, ``invoke``,
        ``kickoff``): it works in threads, around sync and async tools alike."""
        self._enter()
        if self._rebuild_from_store():
            store, calls = self.store, self.calls
            run_sync(lambda: load_shared(store, self.session_id, calls))
            self._calls_at_entry = self.calls.count
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        caches = self._leave()
        try:
            if self.store is not None and self.idle_timeout is not None:
                await save_shared(self.store, self.session_id, self._state.calls, self.idle_timeout)
            for cache in caches:
                if cache.backend is not None:
                    await cache._backend_clear()
        finally:
            self._close(exc)
        return False

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        caches = self._leave()
        try:
            if self.store is not None and self.idle_timeout is not None:
                store, calls, idle = self.store, self._state.calls, self.idle_timeout
                run_sync(lambda: save_shared(store, self.session_id, calls, idle))
            tiered = [cache for cache in caches if cache.backend is not None]
            if tiered:
                run_sync(lambda: _clear_tiers(tiered))
        finally:
            self._close(exc)
        return False

    def _leave(self) -> list[AsyncCache]:
        """Stop serving this entry; return the caches whose state was freed."""
        self.is_open = False  # first: tasks that outlive the session stop using it now
        self._earlier_tool_calls += self.calls.count - self._calls_at_entry
        state = self._state
        if self.idle_timeout is None:
            freed = state.free()
            self._bind(self._new_state())  # the trace and loop state go with it
            self._calls_at_entry = 0
        else:  # the conversation lives on (until idle for idle_timeout)
            conversations.release(state)
            freed = []
        return freed

    def _close(self, exc: BaseException | None) -> None:
        try:
            current_session.reset(self._token)
        except ValueError:  # exited from another context than it entered
            current_session.set(None)
        self._token = None
        tel.session_ended()
        if self._span is not None:
            span, self._span = self._span, None
            spans.close_span(
                span,
                self._span_token,
                {
                    tn.ATTR_SESSION_TOOL_CALLS: self.tool_calls,
                    tn.ATTR_SESSION_HITS: self.stats.hits,
                    tn.ATTR_SESSION_MISSES: self.stats.misses + self.stats.coalesced,
                },
                exc,
                owned=self._span_owned,
            )

    # -- public -----------------------------------------------------------------------------------

    def get_execution_trace(self) -> list[tuple[str, Hashable]]:
        """The ``(tool_name, arguments_key)`` calls made so far in this session, oldest first."""
        trace = list(self.calls.trace)
        return trace[-self.calls.trace_limit :]

    def get_metrics(self) -> dict[str, Any]:
        """``{'hits', 'misses', 'coalesced', 'invalidations', 'loop_detections', 'hit_rate', ...}``
        (the same stats family and definitions as every cache's ``get_metrics()``)."""
        metrics = self.stats.as_dict()
        metrics["tool_calls"] = self.tool_calls
        return metrics

    # The session's counts, as attributes (kept for code written against earlier versions).
    hits = property(lambda self: self.stats.hits)
    misses = property(lambda self: self.stats.misses + self.stats.coalesced)
    coalesced = property(lambda self: self.stats.coalesced)
    short_circuits = property(lambda self: self.stats.short_circuits)
    invalidations = property(lambda self: self.stats.invalidations)
    loop_detections = property(lambda self: self.stats.loop_detections)

    @property
    def tool_calls(self) -> int:
        """Tool calls made in this session (kept after it ends, like the other counters)."""
        current = self.calls.count - self._calls_at_entry if self.is_open else 0
        return self._earlier_tool_calls + current

    @property
    def active(self) -> bool:
        return self._token is not None

    def __repr__(self) -> str:
        return f"<AgentCacheSession {self.session_id!r} calls={self.tool_calls} active={self.active}>"

    # -- used by the decorators ----------------------------------------------------------------------

    def cache_for(self, tool: CachedTool) -> AsyncCache:
        """This session's cache for a session-scoped tool (created on first use)."""
        cache = self._caches.get(tool)
        if cache is None:
            cache = tool.new_cache(
                f"{tool.namespace}/session/{namespace_path(self.session_id)}", tn.SCOPE_SESSION)
            self._caches[tool] = cache
            self.group(tool.resource).add(cache)
        return cache

    def group(self, resource: str) -> ResourceGroup:
        group = self._groups.get(resource)
        if group is None:
            group = self._groups[resource] = ResourceGroup(resource, tn.SCOPE_SESSION)
        return group

    def observe_call(self, tool: str, key: Hashable, span: Any) -> bool:
        """Record a tool call and run the loop checks.

        Returns True when the call must be short-circuited; raises
        :class:`AgentLoopDetectedError` when ``on_loop="raise"``.
        """
        finding = self.record_call(tool, key)
        return finding is not None and self.handle_loop(finding, tool, span)

    def report_reentrant(self, tool: str, span: Any) -> bool:
        """A tool call waited on its own in-flight result (it would deadlock): report it as
        a loop of kind ``reentrant``. Returns True to short-circuit, False to run uncached."""
        message = f"Tool '{tool}' called itself with the same arguments while computing them"
        for_model = f"{tool} called itself with the same arguments; do not call it from inside itself"
        return self.handle_loop(Finding(tn.LOOP_REENTRANT, message, for_model), tool, span)

    def handle_loop(self, finding: Finding, tool: str, span: Any) -> bool:
        if finding.kind == tn.LOOP_MAX_DEPTH and self.on_loop == "warn":
            # Past the depth limit every call trips the check: report the first only.
            if self._warned_depth:
                return False
            self._warned_depth = True
        self.stats.loop_detections += 1
        registry.loop_detections += 1
        tel.count_loop_detection(finding.kind, self.on_loop, tool)
        event = {
            tn.ATTR_LOOP_KIND: finding.kind,
            tn.ATTR_LOOP_ACTION: self.on_loop,
            tn.ATTR_LOOP_MESSAGE: finding.message,
            tn.GEN_AI_TOOL_NAME: tool,
        }
        for target in (span, self._span):
            if target is not None:
                spans.add_event(target, tn.EVENT_LOOP_DETECTED, event)
        if self.on_loop == "raise":
            raise AgentLoopDetectedError(
                finding.message, kind=finding.kind, tool=tool, session_id=self.session_id,
                for_model=finding.for_model,
            )
        if self.on_loop == "warn":
            logger.warning("Agent loop detected in session %s: %s", self.session_id, finding.message)
            return False
        return True


async def _clear_tiers(caches: list[AsyncCache]) -> None:
    for cache in caches:
        await cache._backend_clear()
