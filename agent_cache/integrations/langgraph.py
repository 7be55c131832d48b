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
* **Handles.** ``tool.func.agent_cache`` (``tool.coroutine`` for an async tool), also as
  ``tool.agent_cache``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from langchain_core.tools import BaseTool
from langchain_core.tools import tool as langchain_tool
from langgraph.config import get_config

from ._common import CacheOptions, Conversation, text_or_none, wrap_tool

__all__ = ["cached_tool", "conversation_id"]


def conversation_id(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The run's ``thread_id``, from the config LangGraph makes current for the run."""
    try:
        config = get_config()
    except RuntimeError:  # called outside a runnable (a test calling the function directly)
        return None
    configurable = config.get("configurable") or {}
    return text_or_none(configurable.get("thread_id"))


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

    def decorate(func: Callable[..., Any]) -> BaseTool:
        tool_name = name or func.__name__
        wrapped = wrap_tool(func, options, tool_name, conversation, conversation_id)
        tool: BaseTool = langchain_tool(tool_name, **tool_options)(wrapped)
        object.__setattr__(tool, "agent_cache", wrapped.agent_cache)  # a pydantic model: no extra fields
        return tool

    return decorate
