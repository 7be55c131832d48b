"""A realistic agent demo: what agent_cache saves, in one command.

``python -m agent_cache.demo`` (or ``agent-cache-demo``, or ``make demo``) runs concurrent
simulated agent sessions of the five seed scenarios over an embedded SQLite database, once
with agent_cache and once without, and prints what the cache saved. See README.md, "The demo".
The same tools inside real agent frameworks (openai-agents, LangGraph, pydantic-ai, MCP,
CrewAI), through ``agent_cache.integrations``: ``examples/<framework>/``.

Modules, one job each: ``catalog`` (seed data), ``db`` (SQLite with latency and query
counting), ``tools`` (the decorated tools), ``scenarios`` (session scripts), ``runner`` (the
two phases), ``progress`` / ``view`` (live terminal view), ``report`` (summary and span
tree), ``otel`` / ``spans`` (telemetry wiring), ``options`` (command line).
"""
