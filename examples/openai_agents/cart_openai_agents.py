"""openai-agents: a tool with the framework's context parameter, called twice, offline.

The agent is driven by the SDK's own scripted test model (``agents.testing.ScriptedModel``):
turn 1 and turn 2 both call ``get_cart(user_id="u1")``, turn 3 answers. The run goes
through the sync entry point ``Runner.run_sync``; the SDK runs a plain ``def`` tool in a
worker thread (``asyncio.to_thread``) and passes ``(ctx, *args)`` positionally, where
``ctx`` is an ``agents.tool_context.ToolContext`` (a ``RunContextWrapper`` subclass) whose
``tool_call_id`` differs per call. ``RunConfig(group_id=...)`` is the conversation id.

Not yet wrapped by agent_cache: the body runs once per call. Prints one ``RESULT`` JSON
line that tests/frameworks/test_examples_run.py checks.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from agents import Agent, RunConfig, RunContextWrapper, Runner, function_tool
from agents.testing import ScriptedModel, assistant_message, function_call

BODY_RUNS = 0
_LOCK = threading.Lock()
CONVERSATION_IDS: list[str | None] = []


@function_tool
def get_cart(ctx: RunContextWrapper[dict[str, Any]], user_id: str) -> str:
    """Return the items in a user's cart."""
    global BODY_RUNS
    with _LOCK:
        BODY_RUNS += 1
    run_config = getattr(ctx, "run_config", None)  # set on the per-call ToolContext
    CONVERSATION_IDS.append(run_config.group_id if run_config is not None else None)
    return json.dumps({"user_id": user_id, "items": ["apple", "pear"]})


def main() -> dict[str, Any]:
    model = ScriptedModel(
        [
            [function_call("get_cart", {"user_id": "u1"}, call_id="call-1")],
            [function_call("get_cart", {"user_id": "u1"}, call_id="call-2")],
            [assistant_message("Your cart has an apple and a pear.")],
        ]
    )
    agent = Agent(name="shop", instructions="Answer about carts.", tools=[get_cart], model=model)
    result = Runner.run_sync(
        agent,
        "What is in my cart?",
        context={"user": "alice"},
        run_config=RunConfig(group_id="conv-42", tracing_disabled=True),
    )
    tool_calls = sum(1 for item in result.new_items if type(item).__name__ == "ToolCallItem")
    summary = {
        "framework": "openai-agents",
        "tool_name": get_cart.name,
        "tool_calls": tool_calls,
        "body_runs": BODY_RUNS,
        "conversation_ids": sorted({c for c in CONVERSATION_IDS if c}),
        "final_output": result.final_output,
    }
    print("RESULT " + json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
