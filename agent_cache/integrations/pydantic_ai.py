"""pydantic-ai: cached tools registered in the order that works, one session per
``conversation_id``.

::

    from agent_cache.integrations.pydantic_ai import AgentCacheCapability, cached_tool

    agent = Agent(model, deps_type=Deps, capabilities=[AgentCacheCapability()])

    @cached_tool(agent, resource="cart", ttl=60)   # instead of @agent.tool / @agent.tool_plain
    def get_cart(ctx: RunContext[Deps], user_id: str) -> str: ...

    agent.run_sync("...", conversation_id=conversation_id)

* **Order.** ``@agent.tool`` / ``@agent.tool_plain`` register the function they receive and
  return it unchanged, so a cache written *above* them is never called. :func:`cached_tool`
  registers the cached function (``agent.tool`` when the first parameter is a
  ``RunContext``, else ``agent.tool_plain``); the tool's name is the name on our spans.
* **Context.** ``RunContext`` is never part of the key (its ``deps`` are not either: a tool
  whose result depends on them says so with ``key=``).
* **Conversations.** :class:`AgentCacheCapability` enters the session of the run's
  ``conversation_id`` around the whole run, inside pydantic-ai's ``invoke_agent`` span
  (which it annotates rather than opening a second). Without it, each call enters the
  conversation's session itself (from ``ctx.conversation_id``). Kept ``idle_timeout``.
* **Loops stop the run.** pydantic-ai lets a tool's exception out of ``run``/``run_sync``
  as is (only ``ModelRetry`` goes back to the model): ``except AgentLoopDetectedError``.
* **One span per call.** With ``instrument`` on, pydantic-ai's ``execute_tool`` span is
  current in the tool body; agent_cache adds its attributes and events to it.
* **Handles.** ``get_cart.get_metrics()`` (the decorator returns the cached function).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai import Agent, RunContext
from pydantic_ai._run_context import get_current_run_context  # documented, not re-exported
from pydantic_ai.capabilities import AbstractCapability

from ._common import (
    CacheOptions,
    Conversation,
    MutationOptions,
    ToolOptions,
    first_of_type,
    text_or_none,
    wrap_tool,
)

__all__ = ["AgentCacheCapability", "cached_tool", "conversation_id", "invalidating_tool", "takes_run_context"]


def conversation_id(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The run's ``conversation_id``: from the call's ``RunContext``, else the current run's."""
    ctx = first_of_type((*args, *kwargs.values()), lambda v: isinstance(v, RunContext))
    if ctx is None:
        ctx = get_current_run_context()
    return text_or_none(ctx.conversation_id) if ctx is not None else None


def takes_run_context(func: Callable[..., Any]) -> bool:
    """Whether ``func``'s first parameter is annotated ``RunContext[...]`` (``agent.tool``)."""
    parameters = list(inspect.signature(func).parameters.values())
    if not parameters:
        return False
    try:
        hint = typing.get_type_hints(func).get(parameters[0].name)
    except Exception:
        annotation = parameters[0].annotation
        return isinstance(annotation, str) and annotation.split("[")[0].rsplit(".")[-1] == "RunContext"
    return (typing.get_origin(hint) or hint) is RunContext


@dataclass
class AgentCacheCapability(AbstractCapability[Any]):
    """Enter the conversation's :class:`~agent_cache.AgentCacheSession` around each run
    (``conversation_id``), inside pydantic-ai's ``invoke_agent`` span."""

    conversation: Conversation = field(default_factory=Conversation)

    async def wrap_run(self, ctx: RunContext[Any], *, handler: Any) -> Any:
        agent = getattr(ctx, "agent", None)
        with self.conversation.enter_run(text_or_none(ctx.conversation_id), getattr(agent, "name", None)):
            return await handler()


def cached_tool(
    agent: Agent[Any, Any],
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
    takes_ctx: bool | None = None,
    conversation: Conversation = Conversation(),  # noqa: B008 - frozen, validated once
    **tool_options: Any,
) -> Callable[[Callable[..., Any]], Any]:
    """Register ``@AgentCache(...)(func)`` on ``agent`` (``agent.tool`` or ``agent.tool_plain``).

    Takes :class:`~agent_cache.AgentCache`'s options, :class:`Conversation`, and the
    registration's (``retries``, ``prepare``, ``docstring_format``, ...). ``takes_ctx``
    (default: detected from the first parameter's annotation) picks ``agent.tool``.
    """
    options = CacheOptions(resource, scope, ttl, maxsize, backend, tuple(ignore), key, record_arguments)
    return _decorator(agent, options, name, takes_ctx, conversation, tool_options)


def invalidating_tool(
    agent: Agent[Any, Any],
    *,
    resource: str,
    scope: str = "global",
    clear_all: bool = True,
    key_fn: Callable[[tuple[Any, ...], dict[str, Any]], Any] | None = None,
    record_arguments: bool | None = None,
    name: str | None = None,
    takes_ctx: bool | None = None,
    conversation: Conversation = Conversation(),  # noqa: B008 - frozen, validated once
    **tool_options: Any,
) -> Callable[[Callable[..., Any]], Any]:
    """Register ``@AgentCacheInvalidator(...)(func)`` on ``agent``: a mutation tool that
    invalidates ``resource`` around its call."""
    options = MutationOptions(resource, scope, clear_all, key_fn, record_arguments)
    return _decorator(agent, options, name, takes_ctx, conversation, tool_options)


def _decorator(
    agent: Agent[Any, Any],
    options: ToolOptions,
    name: str | None,
    takes_ctx: bool | None,
    conversation: Conversation,
    tool_options: dict[str, Any],
) -> Callable[[Callable[..., Any]], Any]:
    if not isinstance(agent, Agent):
        raise TypeError(f"agent must be a pydantic_ai.Agent, got {type(agent).__name__}")

    def decorate(func: Callable[..., Any]) -> Any:
        tool_name = name or func.__name__
        wrapped = wrap_tool(func, options, tool_name, conversation, conversation_id)
        with_ctx = takes_run_context(func) if takes_ctx is None else takes_ctx
        register: Any = agent.tool if with_ctx else agent.tool_plain
        register(name=tool_name, **tool_options)(wrapped)
        return wrapped

    return decorate
