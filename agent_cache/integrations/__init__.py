"""Integrations with agent frameworks: one module per framework, each a thin layer over the
framework's public API, imported only when you import it (``agent_cache`` itself needs
``opentelemetry-api`` only).

* :mod:`agent_cache.integrations.openai_agents` — ``cached_tool`` (a ``FunctionTool``),
  ``LoopDetected``
* :mod:`agent_cache.integrations.langgraph` — ``cached_tool`` (a LangChain tool)
* :mod:`agent_cache.integrations.pydantic_ai` — ``cached_tool(agent, ...)``,
  ``AgentCacheCapability``
* :mod:`agent_cache.integrations.mcp` — ``cached_tool(server, ...)`` for the MCP SDK's
  ``MCPServer`` and fastmcp's ``FastMCP``
* :mod:`agent_cache.integrations.crewai` — ``cached_tool`` (a CrewAI tool)

Each registers the cache under the framework's decorator (the order that works), keys by the
model's arguments only (the framework's context parameters are left out), enters the
conversation's :class:`~agent_cache.AgentCacheSession` per call from the framework's own
conversation id (kept :attr:`Conversation.idle_timeout` seconds), and lets a caught loop stop
the framework's run.
"""

from ._common import Conversation, ConversationSession

__all__ = ["Conversation", "ConversationSession"]
