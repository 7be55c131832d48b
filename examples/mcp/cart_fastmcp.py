"""fastmcp: a tool with fastmcp's ``Context`` parameter, called twice, offline.

fastmcp's in-process client (``fastmcp.Client(server)``) calls ``get_cart(user_id="u1")``
twice, as a model host would on two turns. fastmcp passes every argument by keyword, the
context included (``ctx=<fastmcp.server.context.Context>``). A plain ``def`` tool would run
in an AnyIO worker thread.

Conversation id: ``ctx.session_id`` is a new value on every request of a 2026-07-28
connection (fastmcp's own docs say so), so the client sends the conversation id in the
request's ``_meta`` (``call_tool(..., meta={"conversation_id": ...})``) and the tool reads
``ctx.request_context.meta``.

``@server.tool`` registers the function it receives and returns it unchanged, so a
decorator meant to affect the call must sit *below* it.

Not yet wrapped by agent_cache: the body runs once per call. Prints one ``RESULT`` JSON
line that tests/frameworks/test_examples_run.py checks.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastmcp import Client, Context, FastMCP

server = FastMCP("shop")
BODY_RUNS = 0
CONVERSATION_IDS: list[str | None] = []
SESSION_IDS: list[str] = []


def _conversation_id(ctx: Context) -> str | None:
    """The id the client put in the request's ``_meta``, if any."""
    request_context = ctx.request_context
    meta = request_context.meta if request_context is not None else None
    if meta is None:
        return None
    value = meta.get("conversation_id") if isinstance(meta, dict) else getattr(meta, "conversation_id", None)
    return value if isinstance(value, str) else None


@server.tool
async def get_cart(user_id: str, ctx: Context) -> str:
    """Return the items in a user's cart."""
    global BODY_RUNS
    BODY_RUNS += 1
    CONVERSATION_IDS.append(_conversation_id(ctx))
    SESSION_IDS.append(ctx.session_id)
    return json.dumps({"user_id": user_id, "items": ["apple", "pear"]})


async def main() -> dict[str, Any]:
    texts = []
    async with Client(server) as client:
        for _ in range(2):
            result = await client.call_tool("get_cart", {"user_id": "u1"}, meta={"conversation_id": "conv-42"})
            texts.append(getattr(result.content[0], "text", ""))
    summary = {
        "framework": "fastmcp",
        "tool_name": "get_cart",
        "tool_calls": len(texts),
        "body_runs": BODY_RUNS,
        "conversation_ids": sorted({c for c in CONVERSATION_IDS if c}),
        "distinct_session_ids": len(set(SESSION_IDS)),
        "final_output": texts[-1],
    }
    print("RESULT " + json.dumps(summary))
    return summary


if __name__ == "__main__":
    asyncio.run(main())
