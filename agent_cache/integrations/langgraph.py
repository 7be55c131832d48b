"""LangGraph / LangChain: cached tools for ``ToolNode``, one session per ``thread_id``.

::

    from agent_cache.integrations.langgraph import cached_tool

    @cached_tool(resource="cart", ttl=60)          # instead of @tool
    def get_cart(user_id: str, state: Annotated[dict, InjectedState], config: RunnableConfig) -> str: ...

    graph.invoke(inputs, {"configurable": {"thread_id": conversation_id}})

* **Order.** LangChain's ``@tool`` returns a ``StructuredTool``, so the cache sits under it;
  :func:`cached_tool` builds both (``@tool``'s name is the name on our spans and metrics).
* **Context.** ``InjectedState``, ``InjectedStore``, ``InjectedToolCallId``,
  ``RunnableConfig`` and ``ToolRuntime`` parameters are never part of the key.
* **Sync and async.** A ``def`` tool stays ``def`` (``graph.invoke`` can run it); an
  ``async def`` one needs ``ainvoke``, as LangChain requires.
* **Conversations.** Each call enters the session of the run's
  ``config["configurable"]["thread_id"]`` (``langgraph.config.get_config()``), kept
  ``idle_timeout`` seconds.
* **Loops stop the run.** ``ToolNode`` re-raises a tool's own exception by default, so
  ``AgentLoopDetectedError`` comes out of ``invoke``/``ainvoke`` as is (with
  ``handle_tool_errors=True`` it becomes a ``ToolMessage`` and the graph goes on).
* **One span per call.** traceloop's LangChain instrumentation makes its ``execute_tool``
  span current in the tool, and agent_cache annotates it. OpenInference's instrumentor keeps
  its tool span without making it current (the tool body sees no span); it exposes it
  (``openinference.instrumentation.langchain.get_current_span()``), so the cached tool makes
  it current for the call and annotates it, instead of starting a trace of its own.
  (Without the integration, ``@tool`` over ``@AgentCache`` starts one trace per tool call.)
* **Handles.** ``tool.func.agent_cache`` (``tool.coroutine`` for an async tool), also as
  ``tool.agent_cache``.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from langchain_core.tools import BaseTool
from langchain_core.tools import tool as langchain_tool
from langgraph.config import get_config
from opentelemetry import trace

from ..telemetry.names import OP_EXECUTE_TOOL
from ..telemetry.spans import vouched_span
from ._common import CacheOptions, Conversation, MutationOptions, ToolOptions, text_or_none, wrap_tool

__all__ = ["cached_tool", "conversation_id", "invalidating_tool"]


def conversation_id(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The run's ``thread_id``, from the config LangGraph makes current for the run."""
    try:
        config = get_config()
    except RuntimeError:  # called outside a runnable (a test calling the function directly)
        return None
    configurable = config.get("configurable") or {}
    return text_or_none(configurable.get("thread_id"))


_OPENINFERENCE = "openinference.instrumentation.langchain"


def openinference_tool_span(tool_name: str) -> AbstractContextManager[Any]:
    """OpenInference's tool span of this call, made current for it (or nothing).

    Only when OpenInference's LangChain instrumentation is loaded (it is never imported
    here otherwise) and nothing else is current in the tool body. Its attributes are
    buffered until the run ends, so the span cannot say what it is: this vouches for it.
    """
    module = sys.modules.get(_OPENINFERENCE)
    if module is None or trace.get_current_span().is_recording():
        return nullcontext()
    span = module.get_current_span()
    if span is None or not span.is_recording():
        return nullcontext()
    return vouched_span(span, OP_EXECUTE_TOOL, tool_name)


def cached_tool(
    name: str | None = None,
    *,
    resource: str,
    scope: str = "global",
    ttl: float | None = None,
    maxsize: int | None = 128,
    backend: Any = None,
    ignore: Iterable[str] = (),
    key: Callable[..., Any] | None = None,
    record_arguments: bool | None = None,
    conversation: Conversation = Conversation(),  # noqa: B008 - frozen, validated once
    **tool_options: Any,
) -> Callable[[Callable[..., Any]], BaseTool]:
    """LangChain's ``@tool(name)`` over ``@AgentCache``, with a session per ``thread_id``.

    Takes :class:`~agent_cache.AgentCache`'s options, :class:`Conversation`, and ``@tool``'s
    (``description``, ``return_direct``, ``parse_docstring``, ...).
    """
    options = CacheOptions(resource, scope, ttl, maxsize, backend, tuple(ignore), key, record_arguments)
    return _decorator(options, name, conversation, tool_options)


def invalidating_tool(
    name: str | None = None,
    *,
    resource: str,
    scope: str = "global",
    clear_all: bool = True,
    key_fn: Callable[[tuple[Any, ...], dict[str, Any]], Any] | None = None,
    record_arguments: bool | None = None,
    conversation: Conversation = Conversation(),  # noqa: B008 - frozen, validated once
    **tool_options: Any,
) -> Callable[[Callable[..., Any]], BaseTool]:
    """LangChain's ``@tool(name)`` over ``@AgentCacheInvalidator``: a mutation tool that
    invalidates ``resource`` around its call, in the ``thread_id``'s session."""
    options = MutationOptions(resource, scope, clear_all, key_fn, record_arguments)
    return _decorator(options, name, conversation, tool_options)


def _decorator(
    options: ToolOptions, name: str | None, conversation: Conversation, tool_options: dict[str, Any]
) -> Callable[[Callable[..., Any]], BaseTool]:
    def decorate(func: Callable[..., Any]) -> BaseTool:
        tool_name = name or func.__name__
        wrapped = wrap_tool(func, options, tool_name, conversation, conversation_id,
                            framework_span=functools.partial(openinference_tool_span, tool_name))
        tool: BaseTool = langchain_tool(tool_name, **tool_options)(wrapped)
        object.__setattr__(tool, "agent_cache", wrapped.agent_cache)  # a pydantic model: no extra fields
        return tool

    return decorate
