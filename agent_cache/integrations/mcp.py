"""MCP servers (the official SDK's ``MCPServer``, its 1.x ``FastMCP``, and fastmcp's
``FastMCP``): cached tools registered in the order that works, a conversation per client id,
loops answered with a message for the model.

::

    from agent_cache.integrations.mcp import cached_tool

    server = MCPServer("shop")                     # or fastmcp.FastMCP("shop")

    @cached_tool(server, resource="cart", ttl=60)  # instead of @server.tool()
    async def get_cart(user_id: str, ctx: Context) -> str: ...

* **Order.** ``@server.tool()`` registers the function it receives and returns it unchanged,
  so a cache written *above* it is never called; :func:`cached_tool` registers the cached
  function (``name=`` is the MCP tool name and the name on our spans and metrics).
* **Context.** ``Context`` is never part of the key.
* **Conversations.** On the 2026-07-28 protocol every request is its own connection, so the
  server has no stable session id: the client names the conversation in the request's
  ``_meta`` (``call_tool(..., meta={"conversation_id": ...})``), read from the ``Context``
  (declare a ``ctx: Context`` parameter; fastmcp also finds it without one). Each call
  enters that conversation's session, kept ``idle_timeout`` seconds — a model that repeats
  a call once per request is caught across requests. ``meta_key=`` names another key.
* **Loops.** A caught loop becomes the server's ``ToolError`` (also an
  ``AgentLoopDetectedError``) whose text is ``for_model`` ("you called get_cart with the
  same arguments 6 times; stop repeating it"): the client gets an ``isError`` result the
  model can act on, and the server logs one line at INFO, no traceback.
* **One span per call.** The SDK's and fastmcp's ``tools/call`` server span is current in
  the tool body; agent_cache adds its attributes and events to it.
* **Handles.** ``get_cart.get_metrics()`` (the decorator returns the cached function).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

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

__all__ = ["cached_tool", "conversation_id", "invalidating_tool", "loop_error_class"]

META_KEY = "conversation_id"

# The three server flavours, by the module their class lives in: (ToolError, Context) paths.
_SDK2 = "mcp.server.mcpserver"
_SDK1 = "mcp.server.fastmcp"
_FASTMCP = "fastmcp"
_TOOL_ERRORS = {
    _SDK2: ("mcp.server.mcpserver.exceptions", "ToolError"),
    _SDK1: ("mcp.server.fastmcp.exceptions", "ToolError"),
    _FASTMCP: ("fastmcp.exceptions", "ToolError"),
}


def _flavour(server: Any) -> str:
    module = type(server).__module__
    for flavour in (_SDK2, _SDK1, _FASTMCP):
        if module == flavour or module.startswith(flavour + "."):
            return flavour
    raise TypeError(
        f"server must be an MCP SDK MCPServer/FastMCP or a fastmcp.FastMCP, got {type(server).__name__}"
    )


@functools.cache
def loop_error_class(flavour: str) -> type[AgentLoopDetectedError]:
    """``AgentLoopDetectedError`` that is also this server flavour's ``ToolError``."""
    import importlib

    module, name = _TOOL_ERRORS[flavour]
    tool_error = getattr(importlib.import_module(module), name)

    class LoopDetected(AgentLoopDetectedError, tool_error):  # type: ignore[misc, valid-type]
        """A loop caught in an MCP tool call: the client gets its text (``for_model``)."""

        def __init__(self, message: str, **details: Any) -> None:
            super().__init__(message, **details)
            self.log_level = logging.INFO  # fastmcp's ToolError logs at this level; expected, no traceback

    LoopDetected.__qualname__ = f"LoopDetected[{flavour}]"
    return LoopDetected


def _meta_value(ctx: Any, key: str) -> Any:
    """``_meta[key]`` of the request: a mapping in SDK 2 and fastmcp, a pydantic model with
    extra fields in SDK 1."""
    request_context = getattr(ctx, "request_context", None)
    meta = getattr(request_context, "meta", None) if request_context is not None else None
    if meta is None:
        return None
    if isinstance(meta, Mapping):
        return meta.get(key)
    return getattr(meta, key, None)


def _is_context(value: Any) -> bool:
    cls = type(value)
    return cls.__name__ == "Context" and cls.__module__.startswith(("mcp.server", "fastmcp"))


def conversation_id(args: tuple[Any, ...], kwargs: dict[str, Any], meta_key: str = META_KEY,
                    flavour: str = _SDK2) -> str | None:
    """The conversation id the client put in the request's ``_meta[meta_key]``."""
    ctx = first_of_type((*kwargs.values(), *args), _is_context)
    if ctx is None and flavour == _FASTMCP:
        from fastmcp.server.dependencies import get_context

        try:
            ctx = get_context()
        except RuntimeError:
            return None
    return text_or_none(_meta_value(ctx, meta_key)) if ctx is not None else None


def cached_tool(
    server: Any,
    *,
    resource: str,
    scope: str = "global",
    ttl: float | None = None,
    maxsize: int | None = 128,
    backend: Any = None,
    ignore: Iterable[str] = (),
    key: Callable[..., Any] | None = None,
    record_arguments: bool | None = None,
    name: str | None = None,
    meta_key: str = META_KEY,
    conversation: Conversation = Conversation(),  # noqa: B008 - frozen, validated once
    **tool_options: Any,
) -> Callable[[Callable[..., Any]], Any]:
    """Register ``@AgentCache(...)(func)`` as an MCP tool of ``server``.

    Takes :class:`~agent_cache.AgentCache`'s options, :class:`Conversation`, ``meta_key``
    (the ``_meta`` key holding the conversation id) and ``server.tool``'s (``title``,
    ``description``, ``annotations``, ...).
    """
    options = CacheOptions(resource, scope, ttl, maxsize, backend, tuple(ignore), key, record_arguments)
    return _decorator(server, options, name, meta_key, conversation, tool_options)


def invalidating_tool(
    server: Any,
    *,
    resource: str,
    scope: str = "global",
    clear_all: bool = True,
    key_fn: Callable[[tuple[Any, ...], dict[str, Any]], Any] | None = None,
    record_arguments: bool | None = None,
    name: str | None = None,
    meta_key: str = META_KEY,
    conversation: Conversation = Conversation(),  # noqa: B008 - frozen, validated once
    **tool_options: Any,
) -> Callable[[Callable[..., Any]], Any]:
    """Register ``@AgentCacheInvalidator(...)(func)`` as an MCP tool of ``server``: a
    mutation tool that invalidates ``resource`` around its call."""
    options = MutationOptions(resource, scope, clear_all, key_fn, record_arguments)
    return _decorator(server, options, name, meta_key, conversation, tool_options)


def _decorator(
    server: Any,
    options: ToolOptions,
    name: str | None,
    meta_key: str,
    conversation: Conversation,
    tool_options: dict[str, Any],
) -> Callable[[Callable[..., Any]], Any]:
    flavour = _flavour(server)
    if not isinstance(meta_key, str) or not meta_key:
        raise TypeError("meta_key must be a non-empty str")
    error_class = loop_error_class(flavour)

    def find_conversation(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        return conversation_id(args, kwargs, meta_key, flavour)

    def translate(error: AgentLoopDetectedError) -> BaseException:
        return rebrand(error, error_class, error.for_model)

    def decorate(func: Callable[..., Any]) -> Any:
        tool_name = name or func.__name__
        wrapped = wrap_tool(func, options, tool_name, conversation, find_conversation, translate)
        server.tool(name=tool_name, **tool_options)(wrapped)
        return wrapped

    return decorate
