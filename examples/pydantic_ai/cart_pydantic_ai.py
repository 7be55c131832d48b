"""pydantic-ai: a tool with ``RunContext`` as its first parameter, called twice, offline.

The agent is driven by pydantic-ai's ``FunctionModel`` (a scripted model): turn 1 and
turn 2 both call ``get_cart(user_id="u1")``, turn 3 answers. The run goes through the sync
entry point ``agent.run_sync`` with ``conversation_id=``. pydantic-ai passes the context
positionally and the model's arguments by keyword: ``get_cart(ctx, user_id="u1")``; ``ctx``
is a ``pydantic_ai._run_context.RunContext`` (public as ``pydantic_ai.RunContext``) with a
per-call ``tool_call_id`` and the run's ``conversation_id``. A plain ``def`` tool runs in an
AnyIO worker thread.

``@agent.tool`` registers the function it receives and returns it unchanged, so any
decorator meant to affect the call must sit *below* ``@agent.tool``.

Not yet wrapped by agent_cache: the body runs once per call. Prints one ``RESULT`` JSON
line that tests/frameworks/test_examples_run.py checks.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from pydantic_ai import Agent, RunContext
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

BODY_RUNS = 0
_LOCK = threading.Lock()
CONVERSATION_IDS: list[str | None] = []


def script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Turn 1 and 2 call get_cart with the same arguments; turn 3 answers."""
    turn = sum(1 for m in messages if m.kind == "response")
    if turn < 2:
        return ModelResponse(parts=[ToolCallPart("get_cart", {"user_id": "u1"}, tool_call_id=f"call-{turn + 1}")])
    return ModelResponse(parts=[TextPart("Your cart has an apple and a pear.")])


agent = Agent(FunctionModel(script), deps_type=dict, name="shop")


@agent.tool
def get_cart(ctx: RunContext[dict[str, Any]], user_id: str) -> str:
    """Return the items in a user's cart."""
    global BODY_RUNS
    with _LOCK:
        BODY_RUNS += 1
    CONVERSATION_IDS.append(ctx.conversation_id)
    return json.dumps({"user_id": user_id, "items": ["apple", "pear"]})


def main() -> dict[str, Any]:
    result = agent.run_sync("What is in my cart?", deps={"user": "alice"}, conversation_id="conv-42")
    tool_calls = sum(
        1
        for message in result.all_messages()
        if message.kind == "response"
        for part in message.parts
        if isinstance(part, ToolCallPart)
    )
    summary = {
        "framework": "pydantic-ai",
        "tool_name": "get_cart",
        "tool_calls": tool_calls,
        "body_runs": BODY_RUNS,
        "conversation_ids": sorted({c for c in CONVERSATION_IDS if c}),
        "final_output": result.output,
    }
    print("RESULT " + json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
