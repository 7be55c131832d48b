"""MCP SDK (mcp 2.x ``MCPServer``) with agent_cache: a cached tool with the ``Context``
parameter; one conversation of three requests; a loop answered with a message for the
model; one span per call — offline.

The SDK's in-process client (``mcp.Client(server)``, an in-memory transport) connects three
times, as a model host would on three turns, and calls ``get_cart(user_id="u1")`` twice per
connection. The SDK passes every argument by keyword, the context included
(``ctx=<mcp.server.mcpserver.context.Context>``); it is left out of the key.

* ``@server.tool()`` registers the function it receives and returns it unchanged, so a cache
  written *above* it is never called: ``cached_tool(server, ...)`` registers the cached
  function (the order that works). The body runs once for all six calls.
* On the 2026-07-28 protocol every request is its own connection, so the client names the
  conversation in the request's ``_meta`` (``call_tool(..., meta={"conversation_id": ...})``);
  each call enters that conversation's session (kept ``idle_timeout``). With
  ``max_tool_repeats=5`` the sixth call is caught: the client gets an ``isError`` result
  whose text tells the model what it repeated, and the server logs one INFO line, no
  traceback.
* The SDK's ``tools/call`` SERVER span is current in the tool: agent_cache annotates it
  (``agent_cache.result``, ``gen_ai.conversation.id``) instead of opening a second one.

Prints one ``RESULT`` JSON line that tests/frameworks/test_examples_run.py checks.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, cast

from mcp import Client
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import RequestParamsMeta
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agent_cache.integrations import Conversation
from agent_cache.integrations.mcp import cached_tool

# An in-memory exporter stands in for your OTLP exporter.
EXPORTER = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(_provider)


class CountTracebacks(logging.Handler):
    """Counts log records that carry a traceback (an expected loop must log none)."""

    count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            CountTracebacks.count += 1


logging.getLogger().addHandler(CountTracebacks())

server = MCPServer("shop")
BODY_RUNS = 0
CONVERSATION_IDS: list[str | None] = []


def _conversation_id(ctx: Context) -> str | None:
    """The id the client put in the request's ``_meta``, if any."""
    meta = ctx.request_context.meta
    value = meta.get("conversation_id") if isinstance(meta, dict) else None
    return value if isinstance(value, str) else None


@cached_tool(server, resource="cart", ttl=60, conversation=Conversation(idle_timeout=600, max_tool_repeats=5))
async def get_cart(user_id: str, ctx: Context) -> str:
    """Return the items in a user's cart."""
    global BODY_RUNS
    BODY_RUNS += 1
    CONVERSATION_IDS.append(_conversation_id(ctx))
    return json.dumps({"user_id": user_id, "items": ["apple", "pear"]})


META = cast(RequestParamsMeta, {"conversation_id": "conv-42"})  # an open map of extra keys


async def main() -> dict[str, Any]:
    results: list[tuple[bool, str]] = []
    for _ in range(3):  # three requests of one conversation
        async with Client(server) as client:
            for _ in range(2):
                result = await client.call_tool("get_cart", {"user_id": "u1"}, meta=META)
                results.append((bool(result.is_error), getattr(result.content[0], "text", "")))
    metrics = get_cart.get_metrics()  # type: ignore[attr-defined]
    errors = [text for is_error, text in results if is_error]
    spans = EXPORTER.get_finished_spans()
    tool_spans = [s for s in spans if (s.attributes or {}).get("gen_ai.operation.name") == "execute_tool"]
    summary = {
        "framework": "mcp",
        "tool_name": get_cart.tool_name,  # type: ignore[attr-defined]
        "body_runs": BODY_RUNS,
        "tool_calls": len(results),
        "calls_before_loop": metrics["hits"] + metrics["misses"],
        "loop": {"call": 1 + next(i for i, (e, _) in enumerate(results) if e), "text": errors[0]} if errors else None,
        "error_results": len(errors),
        "tracebacks_logged": CountTracebacks.count,
        "tool_spans": len(tool_spans),
        "tool_spans_with_cache_result": sum(1 for s in tool_spans if "agent_cache.resource" in (s.attributes or {})),
        "agent_cache_tool_spans": sum(1 for s in tool_spans if s.instrumentation_scope.name == "agent_cache"),
        "conversation_ids": sorted({c for c in CONVERSATION_IDS if c}),
        "span_conversation_ids": sorted({str(v) for s in spans
                                         if (v := (s.attributes or {}).get("gen_ai.conversation.id"))}),
        "final_output": results[0][1],
    }
    print("RESULT " + json.dumps(summary))
    return summary


if __name__ == "__main__":
    asyncio.run(main())
