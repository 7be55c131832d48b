"""Exceptions of the agent layer."""

from __future__ import annotations

from ..errors import AgentCacheError


class AgentLoopDetectedError(AgentCacheError):
    """An agent session called tools in a loop (``on_loop="raise"``).

    ``kind`` is ``"repeat"``, ``"cycle"``, ``"max_depth"`` or ``"reentrant"``; ``tool`` is the
    tool whose call tripped the check; ``session_id`` the session's id.
    """

    def __init__(self, message: str, *, kind: str = "", tool: str = "", session_id: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.tool = tool
        self.session_id = session_id
