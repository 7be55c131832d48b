"""What every framework integration shares: the cache options, the conversation a tool call
belongs to, and the wrapper that puts both around a cached tool.

Frameworks call a tool once per model turn, often in a worker thread, and know which
conversation the call belongs to (openai-agents ``group_id``, LangGraph ``thread_id``,
pydantic-ai ``conversation_id``, an MCP client's ``_meta``). The wrapper built here enters
that conversation's :class:`~agent_cache.AgentCacheSession` (with ``idle_timeout``, so its
loop state and session caches carry over from call to call and from request to request)
around the cached tool, unless a session is already open (the user's own, or one an
integration opened for the run), and turns a caught loop into the error type the framework
lets through.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from ..agent.context import live_session
from ..agent.errors import AgentLoopDetectedError
from ..agent.invalidator import AgentCacheInvalidator
from ..agent.session import ON_LOOP_ACTIONS, AgentCacheSession
from ..agent.tool_cache import AgentCache
from ..core.sync_bridge import is_async_callable
from ..core.validation import check_choice, check_positive_int, check_ttl
from ..errors import ConfigurationTypeError, ConfigurationValueError

#: ``(args, kwargs) -> conversation id or None``: where a framework keeps it for this call.
ConversationOf = Callable[[tuple[Any, ...], dict[str, Any]], "str | None"]
#: Turns a caught loop into the exception the framework lets out of its run.
Translate = Callable[[AgentLoopDetectedError], BaseException]

DEFAULT_IDLE_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Conversation:
    """How an integration scopes tool calls into sessions (one per conversation id).

    :param idle_timeout: seconds a conversation's loop state and session caches outlive its
        last call (must be a number: an integration enters the conversation once per call).
    :param max_tool_repeats: most calls of one tool with the same arguments per conversation.
    :param max_execution_depth: most tool calls per conversation.
    :param on_loop: ``"raise"`` (the framework's run stops), ``"warn"`` or ``"short_circuit"``.
    :param enabled: ``False``: no session is entered (only a session you open yourself).
    """

    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    max_tool_repeats: int = 5
    max_execution_depth: int = 50
    on_loop: str = "raise"
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.idle_timeout is None:
            raise ConfigurationValueError(
                "idle_timeout must be a number of seconds: an integration enters the conversation "
                "once per tool call, so without it every call would start an empty session"
            )
        check_ttl("idle_timeout", self.idle_timeout)
        check_positive_int("max_tool_repeats", self.max_tool_repeats)
        check_positive_int("max_execution_depth", self.max_execution_depth)
        check_choice("on_loop", self.on_loop, ON_LOOP_ACTIONS)

    def enter(self, conversation_id: str | None) -> AbstractContextManager[Any]:
        """The conversation's session for one call, or nothing when a session is already
        live in this context (it wins) or the framework gave no conversation id."""
        if not self.enabled or conversation_id is None or live_session() is not None:
            return nullcontext()
        return ConversationSession(
            session_id=conversation_id,
            idle_timeout=self.idle_timeout,
            max_tool_repeats=self.max_tool_repeats,
            max_execution_depth=self.max_execution_depth,
            on_loop=self.on_loop,
        )


    def enter_run(self, conversation_id: str | None, name: str | None = None) -> AbstractContextManager[Any]:
        """The conversation's session around a whole framework run: unlike :meth:`enter`, it
        has an ``invoke_agent`` span — the framework's own one, annotated, when its
        instrumentation opened one for this conversation (one span per run)."""
        if not self.enabled or conversation_id is None or live_session() is not None:
            return nullcontext()
        return AgentCacheSession(
            session_id=conversation_id,
            idle_timeout=self.idle_timeout,
            max_tool_repeats=self.max_tool_repeats,
            max_execution_depth=self.max_execution_depth,
            on_loop=self.on_loop,
            name=name,
        )


class ConversationSession(AgentCacheSession):
    """A session entered for one tool call of a conversation, inside the framework's tool
    span: it opens no ``invoke_agent`` span of its own (the call's ``execute_tool`` span
    carries ``gen_ai.conversation.id``)."""

    _opens_span = False


@dataclass(frozen=True)
class CacheOptions:
    """The :class:`~agent_cache.AgentCache` options an integration passes through."""

    resource: str
    scope: str = "global"
    ttl: float | None = None
    maxsize: int | None = 128
    backend: Any = None
    ignore: Iterable[str] = ()
    key: Callable[..., Any] | None = None
    record_arguments: bool | None = None

    def decorator(self, name: str) -> AgentCache:
        return AgentCache(
            self.resource,
            self.scope,
            self.ttl,
            self.maxsize,
            backend=self.backend,
            name=name,
            ignore=self.ignore,
            key=self.key,
            record_arguments=self.record_arguments,
        )


@dataclass(frozen=True)
class MutationOptions:
    """The :class:`~agent_cache.AgentCacheInvalidator` options an integration passes through."""

    resource: str
    scope: str = "global"
    clear_all: bool = True
    key_fn: Callable[[tuple[Any, ...], dict[str, Any]], Any] | None = None
    record_arguments: bool | None = None

    def decorator(self, name: str) -> AgentCacheInvalidator:
        return AgentCacheInvalidator(
            self.resource, self.scope, self.clear_all, self.key_fn, name=name, record_arguments=self.record_arguments
        )


ToolOptions = CacheOptions | MutationOptions

#: What the framework's tool object carries over from the cached (or invalidating) function.
HANDLES = ("get_metrics", "cache", "call_key", "resource", "scope", "tool_name")


def wrap_tool(
    func: Callable[..., Any],
    options: ToolOptions,
    name: str,
    conversation: Conversation,
    conversation_of: ConversationOf,
    translate: Translate | None = None,
    framework_span: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> Any:
    """``func`` cached (or invalidating, with :class:`MutationOptions`) as tool ``name``,
    entering its conversation per call.

    The result keeps ``func``'s name, signature and annotations (frameworks read them through
    ``__wrapped__`` to build the schema and inject their context) and is ``def`` for a
    ``def`` tool, ``async def`` for a coroutine one (frameworks pick the thread or the loop
    from that). It carries the cached tool's handles (``get_metrics``, ``cache``, ...).
    ``framework_span()`` is entered around each call: an integration whose framework keeps
    its tool span without making it current makes it current there, so it is annotated.
    """
    if not callable(func):
        raise ConfigurationTypeError(f"a tool must be a function, got {type(func).__name__}")
    if not isinstance(conversation, Conversation):
        raise ConfigurationTypeError(
            f"conversation must be agent_cache.integrations.Conversation, got {type(conversation).__name__}"
        )
    cached: Any = options.decorator(name)(func)

    if is_async_callable(func):

        @functools.wraps(func)
        async def tool(*args: Any, **kwargs: Any) -> Any:
            try:
                with framework_span(), conversation.enter(conversation_of(args, kwargs)):
                    return await cached(*args, **kwargs)
            except AgentLoopDetectedError as exc:
                if translate is None:
                    raise
                raise translate(exc) from exc

        wrapper: Any = tool
    else:

        @functools.wraps(func)
        def sync_tool(*args: Any, **kwargs: Any) -> Any:
            try:
                with framework_span(), conversation.enter(conversation_of(args, kwargs)):
                    return cached(*args, **kwargs)
            except AgentLoopDetectedError as exc:
                if translate is None:
                    raise
                raise translate(exc) from exc

        wrapper = sync_tool
    for handle in HANDLES:
        if hasattr(cached, handle):  # an invalidator has no cache of its own
            setattr(wrapper, handle, getattr(cached, handle))
    wrapper.agent_cache = cached
    return wrapper


def rebrand(error: AgentLoopDetectedError, cls: type[AgentLoopDetectedError], message: str) -> AgentLoopDetectedError:
    """``error`` as an instance of ``cls`` (a subclass that is also the framework's error
    type), with ``message`` as its text and the same ``kind``/``tool``/``session_id``."""
    return cls(message, kind=error.kind, tool=error.tool, session_id=error.session_id, for_model=error.for_model)


def first_of_type(values: Iterable[Any], predicate: Callable[[Any], bool]) -> Any:
    for value in values:
        if predicate(value):
            return value
    return None


def text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


__all__ = ["CacheOptions", "Conversation", "ConversationSession", "MutationOptions", "wrap_tool"]
