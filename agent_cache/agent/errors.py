"""Exceptions of the agent layer."""

from __future__ import annotations


class AgentLoopDetectedError(Exception):
    """An agent session called tools in a loop (``on_loop="raise"``).

    ``kind`` is ``"repeat"``, ``"cycle"`` or ``"max_depth"``; ``tool`` is the tool whose call
    tripped the check.
    """

    def __init__(self, message: str, *, kind: str = "", tool: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.tool = tool
