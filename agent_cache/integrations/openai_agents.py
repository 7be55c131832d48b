"""openai-agents: cached ``FunctionTool`` objects whose loops stop the run.

::

    from agent_cache.integrations.openai_agents import LoopDetected, cached_tool

    @cached_tool(resource="cart", ttl=60)        # instead of @function_tool
    def get_cart(ctx: RunContextWrapper[Deps], user_id: str) -> str: ...

    try:
        Runner.run_sync(agent, "...", run_config=RunConfig(group_id=conversation_id))
    except AgentLoopDetectedError as loop:       # LoopDetected is one
        ...

What it does, over openai-agents' public API:

* **Order.** ``function_tool`` returns a ``FunctionTool`` object, so the cache must sit
  *under* it; :func:`cached_tool` builds both in that order. The tool name
  (``name_override=`` or the function's name) is the name on agent_cache's spans and metrics.
* **Context.** The per-call ``ToolContext`` (``ctx``) is never part of the key.
* **Conversations.** Each call enters the session of the run's ``RunConfig(group_id=...)``
  (read from the ``ToolContext``, or from the current openai-agents trace for a tool without
  ``ctx``), kept ``idle_timeout`` seconds: a model repeating a call across runs of one
  conversation is caught. Without a group id, calls run in the session you opened, if any.
* **Loops stop the run.** The runner's default ``failure_error_function`` turns every tool
  exception into "An error occurred while running the tool" and the agent keeps looping; the
  function installed here lets a :class:`LoopDetected` (an ``AgentsException``, which the
  runner raises as is) out of ``Runner.run``/``run_sync`` and hands every other error to
  yours (or the SDK's default).
* **Handles.** ``tool.agent_cache.get_metrics()``, ``tool.agent_cache.cache``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from agents import FunctionTool, RunContextWrapper, function_tool
from agents.exceptions import AgentsException
from agents.tool import default_tool_error_function
from agents.tracing import get_current_trace

from ..agent.errors import AgentLoopDetectedError
from ._common import (
    CacheOptions,
    Conversation,
    MutationOptions,
    ToolOptions,
    first_of_type,
    rebrand,
    text_or_none,
    wrap_tool,
)

__all__ = ["LoopDetected", "cached_tool", "conversation_id", "invalidating_tool"]

ToolErrorFunction = Callable[[RunContextWrapper[Any], Exception], Any]
_DEFAULT: Any = object()


class LoopDetected(AgentLoopDetectedError, AgentsException):
    """A loop caught in an openai-agents run. An ``AgentsException``, so the runner raises it
    out of ``Runner.run``/``run_sync`` unwrapped; an :class:`AgentLoopDetectedError`, so
    ``except AgentLoopDetectedError`` around the run catches it."""


def _as_loop_detected(error: AgentLoopDetectedError) -> BaseException:
    return rebrand(error, LoopDetected, str(error))


def conversation_id(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The run's ``group_id``: from the call's ``ToolContext``, else the current trace."""
    ctx = first_of_type((*args, *kwargs.values()), lambda v: isinstance(v, RunContextWrapper))
    run_config = getattr(ctx, "run_config", None)  # the per-call ToolContext carries it
    if run_config is not None:
        return text_or_none(run_config.group_id)
    trace = get_current_trace()
    exported = trace.export() if trace is not None else None
    return text_or_none(exported.get("group_id")) if exported else None


def _stop_on_loops(inner: ToolErrorFunction | None) -> ToolErrorFunction | None:
    if inner is None:  # the runner re-raises every error (AgentsException unwrapped)
        return None

    def failure_error_function(ctx: RunContextWrapper[Any], error: Exception) -> Any:
        if isinstance(error, LoopDetected):
            raise error  # an AgentsException: the run stops and the caller gets it as is
        return inner(ctx, error)

    return failure_error_function


def cached_tool(
    *,
    resource: str,
    scope: str = "global",
    ttl: float | None = None,
    maxsize: int | None = 128,
    backend: Any = None,
    ignore: Iterable[str] = (),
    key: Callable[..., Any] | None = None,
    record_arguments: bool | None = None,
    name_override: str | None = None,
    conversation: Conversation = Conversation(),  # noqa: B008 - frozen, validated once
    failure_error_function: ToolErrorFunction | None = _DEFAULT,
    **function_tool_options: Any,
) -> Callable[[Callable[..., Any]], FunctionTool]:
    """``@function_tool`` over ``@AgentCache``, with conversations and loops that stop the run.

    Takes :class:`~agent_cache.AgentCache`'s options, :class:`Conversation`, and
    ``function_tool``'s (``name_override``, ``failure_error_function``, ...).
    """
    options = CacheOptions(resource, scope, ttl, maxsize, backend, tuple(ignore), key, record_arguments)
    return _decorator(options, name_override, conversation, failure_error_function, function_tool_options)


def invalidating_tool(
    *,
    resource: str,
    scope: str = "global",
    clear_all: bool = True,
    key_fn: Callable[[tuple[Any, ...], dict[str, Any]], Any] | None = None,
    record_arguments: bool | None = None,
    name_override: str | None = None,
    conversation: Conversation = Conversation(),  # noqa: B008 - frozen, validated once
    failure_error_function: ToolErrorFunction | None = _DEFAULT,
    **function_tool_options: Any,
) -> Callable[[Callable[..., Any]], FunctionTool]:
    """``@function_tool`` over ``@AgentCacheInvalidator``: a mutation tool that invalidates
    ``resource`` around its call, in the conversation's session."""
    options = MutationOptions(resource, scope, clear_all, key_fn, record_arguments)
    return _decorator(options, name_override, conversation, failure_error_function, function_tool_options)


def _decorator(
    options: ToolOptions,
    name_override: str | None,
    conversation: Conversation,
    failure_error_function: ToolErrorFunction | None,
    function_tool_options: dict[str, Any],
) -> Callable[[Callable[..., Any]], FunctionTool]:
    inner = default_tool_error_function if failure_error_function is _DEFAULT else failure_error_function

    def decorate(func: Callable[..., Any]) -> FunctionTool:
        name = name_override or func.__name__
        wrapped = wrap_tool(func, options, name, conversation, conversation_id, _as_loop_detected)
        tool = function_tool(
            wrapped,
            name_override=name,
            failure_error_function=_stop_on_loops(inner),
            **function_tool_options,
        )
        tool.agent_cache = wrapped.agent_cache  # type: ignore[attr-defined]
        return tool

    return decorate
