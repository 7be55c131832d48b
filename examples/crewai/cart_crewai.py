"""CrewAI: a plain tool called twice with the same arguments, offline.

CrewAI has no context parameter for tools. The crew is driven by a scripted LLM (a
``crewai.llms.base_llm.BaseLLM`` subclass answering in CrewAI's ReAct text format):
``get_cart(u1)``, ``get_cart(u2)``, ``get_cart(u1)``, then a final answer. The call in the
middle matters: CrewAI itself refuses a call identical to the *previous* one
(``ToolUsage._check_tool_repeated_usage``), so two back-to-back identical calls would run
the body once without any cache. CrewAI passes the arguments by keyword and runs the
``def`` tool in a worker thread under the sync ``crew.kickoff()``. CrewAI's own tool cache
is off unless ``Crew(cache=True)`` / ``Agent(cache=True)``.

CrewAI cannot share a venv with the ``frameworks`` extra (it pins ``openai<3``, ``mcp<2``):
install ``.[dev,crewai]`` in a venv of its own (``make test-crewai``).

Not yet wrapped by agent_cache: the body runs once per call. Prints one ``RESULT`` JSON
line that tests/frameworks/test_examples_run.py checks.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

# Offline: no usage telemetry, no trace upload.
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")

from crewai import Agent, Crew, CrewOutput, Task
from crewai.llms.base_llm import BaseLLM
from crewai.tools import tool
from pydantic import Field

BODY_RUNS = 0
_LOCK = threading.Lock()


@tool("get_cart")
def get_cart(user_id: str) -> str:
    """Return the items in a user's cart."""
    global BODY_RUNS
    with _LOCK:
        BODY_RUNS += 1
    return json.dumps({"user_id": user_id, "items": ["apple", "pear"]})


def _action(tool_name: str, args: dict[str, Any]) -> str:
    return f"Thought: I need the cart\nAction: {tool_name}\nAction Input: {json.dumps(args)}"


class ScriptedLLM(BaseLLM):
    """Answers with the next scripted ReAct step; never calls a provider."""

    steps: list[str] = Field(default_factory=list)
    calls: int = 0

    def call(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: Any = None,
        available_functions: Any = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> str:
        step = self.steps[min(self.calls, len(self.steps) - 1)]
        self.calls += 1
        return step

    def supports_function_calling(self) -> bool:
        return False


def main() -> dict[str, Any]:
    llm = ScriptedLLM(
        model="scripted",
        steps=[
            _action("get_cart", {"user_id": "u1"}),
            _action("get_cart", {"user_id": "u2"}),
            _action("get_cart", {"user_id": "u1"}),
            "Thought: I know it\nFinal Answer: Your cart has an apple and a pear.",
        ],
    )
    agent = Agent(role="shop assistant", goal="answer about carts", backstory="-", tools=[get_cart], llm=llm)
    task = Task(description="What is in my cart?", expected_output="the items", agent=agent)
    output = Crew(agents=[agent], tasks=[task]).kickoff()
    assert isinstance(output, CrewOutput)  # not streaming
    summary = {
        "framework": "crewai",
        "tool_name": get_cart.name,
        "tool_calls": 3,
        "body_runs": BODY_RUNS,
        "final_output": output.raw,
    }
    print("RESULT " + json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
