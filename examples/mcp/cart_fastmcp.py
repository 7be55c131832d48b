"""fastmcp with agent_cache: a cached tool with fastmcp's ``Context`` parameter; one
conversation of three requests; a loop answered with a message for the model; one server
span per call — offline.

fastmcp's in-process client (``fastmcp.Client(server)``) connects three times, as a model
host would on three turns, and calls ``get_cart(user_id="u1")`` twice per connection.
fastmcp passes every argument by keyword, the context included
(``ctx=<fastmcp.server.context.Context>``); it is left out of the key. Here the tool is a
plain ``def`` (fastmcp runs it in an AnyIO worker thread).

* ``@server.tool`` registers the function it receives and returns it unchanged, so a cache
  written *above* it is never called: ``cached_tool(server, ...)`` registers the cached
  function (the order that works). The body runs once for all six calls.
* ``ctx.session_id`` is a new value on every request of a 2026-07-28 connection, so the
  client names the conversation in the request's ``_meta``; each call enters that
  conversation's session (kept ``idle_timeout``). With ``max_tool_repeats=5`` the sixth
  call is caught: the client gets an ``isError`` result whose text tells the model what it
  repeated; the server logs no traceback.
* fastmcp's ``tools/call`` SERVER span is current in the tool: agent_cache annotates it
  instead of opening another ``execute_tool`` span (the in-process client adds its own
  CLIENT spans, which are the client's view of the call).

Prints one ``RESULT`` JSON line that tests/frameworks/test_examples_run.py checks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

from fastmcp import Client, Context, FastMCP
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

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


for _name in ("", "fastmcp"):
    logging.getLogger(_name).addHandler(CountTracebacks())

server = FastMCP("shop")
BODY_RUNS = 0
_LOCK = threading.Lock()
CONVERSATION_IDS: list[str | None] = []


def _conversation_id(ctx: Context) -> str | None:
    """The id the client put in the request's ``_meta``, if any."""
    request_context = ctx.request_context
    meta = request_context.meta if request_context is not None else None
    value = meta.get("conversation_id") if isinstance(meta, dict) else None
    return value if isinstance(value, str) else None


@cached_tool(server, resource="cart", ttl=60, conversation=Conversation(idle_timeout=600, max_tool_repeats=5))
def get_cart(user_id: str, ctx: Context) -> str:
    """Return the items in a user's cart."""
    global BODY_RUNS
    with _LOCK:
        BODY_RUNS += 1
    CONVERSATION_IDS.append(_conversation_id(ctx))
    return json.dumps({"user_id": user_id, "items": ["apple", "pear"]})


async def main() -> dict[str, Any]:
    results: list[tuple[bool, str]] = []
    for _ in range(3):  # three requests of one conversation
        async with Client(server) as client:
            for _ in range(2):
                result = await client.call_tool(
                    "get_cart", {"user_id": "u1"}, meta={"conversation_id": "conv-42"}, raise_on_error=False
                )
                results.append((bool(result.is_error), getattr(result.content[0], "text", "")))
    metrics = get_cart.get_metrics()  # type: ignore[attr-defined]
    errors = [text for is_error, text in results if is_error]
    spans = EXPORTER.get_finished_spans()
    tool_spans = [
        s for s in spans
        if (s.attributes or {}).get("gen_ai.operation.name") == "execute_tool" and s.kind != SpanKind.CLIENT
    ]
    summary = {
        "framework": "fastmcp",
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
