"""MCP SDK (mcp 2.x ``MCPServer``): a tool with the ``Context`` parameter, called twice, offline.

The official SDK's in-process client (``mcp.Client(server)``, an in-memory transport) calls
``get_cart(user_id="u1")`` twice, as a model host would on two turns. The SDK passes every
argument by keyword, the context included (``ctx=<mcp.server.mcpserver.context.Context>``);
it is recognised by its annotation. A plain ``def`` tool would run in an AnyIO worker
thread; this one is ``async def`` because the context's methods are coroutines.

Conversation id: on the 2026-07-28 protocol every request is its own connection, so there
is no stable session id to read; the client sends one in the request's ``_meta``
(``call_tool(..., meta={"conversation_id": ...})``) and the tool reads
``ctx.request_context.meta``.

``@server.tool()`` registers the function it receives and returns it unchanged, so a
decorator meant to affect the call must sit *below* it.

Not yet wrapped by agent_cache: the body runs once per call. Prints one ``RESULT`` JSON
line that tests/frameworks/test_examples_run.py checks.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from mcp import Client
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import RequestParamsMeta

server = MCPServer("shop")
BODY_RUNS = 0
CONVERSATION_IDS: list[str | None] = []


def _conversation_id(ctx: Context) -> str | None:
    """The id the client put in the request's ``_meta``, if any."""
    meta = ctx.request_context.meta
    if meta is None:
        return None
    value = meta.get("conversation_id") if isinstance(meta, dict) else getattr(meta, "conversation_id", None)
    return value if isinstance(value, str) else None


@server.tool()
async def get_cart(user_id: str, ctx: Context) -> str:
    """Return the items in a user's cart."""
    global BODY_RUNS
    BODY_RUNS += 1
    CONVERSATION_IDS.append(_conversation_id(ctx))
    return json.dumps({"user_id": user_id, "items": ["apple", "pear"]})


META = cast(RequestParamsMeta, {"conversation_id": "conv-42"})  # an open map of extra keys


async def main() -> dict[str, Any]:
    texts = []
    async with Client(server) as client:
        for _ in range(2):
            result = await client.call_tool("get_cart", {"user_id": "u1"}, meta=META)
            texts.append(result.content[0].text)  # type: ignore[union-attr]
    summary = {
        "framework": "mcp",
        "tool_name": "get_cart",
        "tool_calls": len(texts),
        "body_runs": BODY_RUNS,
        "conversation_ids": sorted({c for c in CONVERSATION_IDS if c}),
        "final_output": texts[-1],
    }
    print("RESULT " + json.dumps(summary))
    return summary


if __name__ == "__main__":
    asyncio.run(main())
