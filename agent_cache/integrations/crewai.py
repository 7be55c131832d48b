"""CrewAI: cached tools, CrewAI's own cache kept out of the way, loops that stop the crew.

::

    from agent_cache import AgentCacheSession
    from agent_cache.integrations.crewai import cached_tool

    @cached_tool("get_cart", resource="cart", ttl=60)   # instead of @tool("get_cart")
    def get_cart(user_id: str) -> str: ...

    with AgentCacheSession(session_id=conversation_id, idle_timeout=600):
        crew.kickoff()

* **Order.** CrewAI's ``@tool`` returns a ``Tool`` object; :func:`cached_tool` puts the cache
  under it (its name is the name on our spans and metrics).
* **CrewAI's own cache.** With ``Crew(cache=True)`` (off by default in CrewAI 1.15) CrewAI
  answers repeated calls from its own cache before agent_cache sees them, so our hit ratio
  understates the savings. :func:`cached_tool` sets the tool's ``cache_function`` to refuse
  CrewAI's cache for this tool; for other tools keep ``Crew(cache=False)`` (the default) or
  ``Agent(cache=False)``.
* **Conversations.** CrewAI has no conversation id: open an
  :class:`~agent_cache.AgentCacheSession` around ``kickoff()`` (``session_id=`` your
  conversation id, ``idle_timeout=`` to carry its loop state to the next kickoff). The
  session reaches the tool's worker thread.
* **Loops stop the crew.** CrewAI catches every exception a tool raises, re-runs the tool
  and feeds the error text to the model. The cached tool therefore returns the loop's
  message for the model instead of raising, and an ``after_tool_call`` hook registered by
  this module raises :class:`LoopDetected` — CrewAI's ``HookAborted``, which it lets out of
  ``kickoff()``, and an ``AgentLoopDetectedError``.
* **Handles.** ``get_cart.agent_cache.get_metrics()`` (also ``get_cart.func``).
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from crewai.hooks.dispatch import HookAborted
from crewai.hooks.tool_hooks import register_after_tool_call_hook
from crewai.tools import tool as crewai_tool

from ..agent.errors import AgentLoopDetectedError
from ..core.sync_bridge import is_async_callable
from ._common import CacheOptions, Conversation, MutationOptions, ToolOptions, wrap_tool

__all__ = ["LoopDetected", "cached_tool", "invalidating_tool"]


class LoopDetected(AgentLoopDetectedError, HookAborted):  # type: ignore[misc, unused-ignore]
    """A loop caught in a CrewAI tool call: CrewAI's ``HookAborted`` (let out of
    ``kickoff()``) and an :class:`AgentLoopDetectedError`."""

    def __init__(self, message: str, **details: Any) -> None:
        AgentLoopDetectedError.__init__(self, message, **details)
        self.reason = message
        self.source = "agent_cache"


class _Pending:
    """Loops caught inside tool calls, waiting for the ``after_tool_call`` hook of that call
    (keyed by tool name and arguments: the hook sees those, not the tool's frame)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loops: dict[tuple[str, str], LoopDetected] = {}
        self._registered = False

    @staticmethod
    def _key(tool: str, arguments: Any) -> tuple[str, str]:
        return tool, json.dumps(arguments, sort_keys=True, default=repr)

    def put(self, tool: str, arguments: dict[str, Any], loop: LoopDetected) -> None:
        with self._lock:
            self._loops[self._key(tool, arguments)] = loop
            if not self._registered:
                register_after_tool_call_hook(self.after_tool_call)
                self._registered = True

    def after_tool_call(self, context: Any) -> None:
        with self._lock:
            loop = self._loops.pop(self._key(context.tool_name, context.tool_input), None)
        if loop is not None:
            raise loop


pending = _Pending()


def _no_conversation(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    return None  # CrewAI has no conversation id: the session is the one around kickoff()


def _refuse_crewai_cache(_arguments: Any = None, _result: Any = None) -> bool:
    return False


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
    **tool_options: Any,
) -> Callable[[Callable[..., Any]], Any]:
    """CrewAI's ``@tool(name)`` over ``@AgentCache``; loops stop the crew (see the module)."""
    options = CacheOptions(resource, scope, ttl, maxsize, backend, tuple(ignore), key, record_arguments)
    return _decorator(options, name, tool_options)


def invalidating_tool(
    name: str | None = None,
    *,
    resource: str,
    scope: str = "global",
    clear_all: bool = True,
    key_fn: Callable[[tuple[Any, ...], dict[str, Any]], Any] | None = None,
    record_arguments: bool | None = None,
    **tool_options: Any,
) -> Callable[[Callable[..., Any]], Any]:
    """CrewAI's ``@tool(name)`` over ``@AgentCacheInvalidator``: a mutation tool that
    invalidates ``resource`` around its call."""
    options = MutationOptions(resource, scope, clear_all, key_fn, record_arguments)
    return _decorator(options, name, tool_options)


def _decorator(options: ToolOptions, name: str | None, tool_options: dict[str, Any]) -> Callable[..., Any]:
    def decorate(func: Callable[..., Any]) -> Any:
        if is_async_callable(func):
            raise TypeError(f"CrewAI runs tools synchronously; {func.__name__} must be a def function")
        tool_name = name or func.__name__
        cached = wrap_tool(func, options, tool_name, Conversation(enabled=False), _no_conversation)

        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return cached(*args, **kwargs)
            except AgentLoopDetectedError as error:
                loop = LoopDetected(
                    str(error), kind=error.kind, tool=error.tool, session_id=error.session_id,
                    for_model=error.for_model,
                )
                pending.put(tool_name, kwargs, loop)
                return error.for_model  # what the model reads if the crew is not stopped

        runner: Any = functools.wraps(cached)(run)  # CrewAI reads the schema through __wrapped__
        tool = crewai_tool(tool_name, **tool_options)(runner)
        tool.cache_function = _refuse_crewai_cache
        object.__setattr__(tool, "agent_cache", cached.agent_cache)  # a pydantic model: no extra fields
        return tool

    return decorate
