"""Exceptions of the agent layer."""

from __future__ import annotations

from ..errors import AgentCacheError


class AgentLoopDetectedError(AgentCacheError):
    """An agent session called tools in a loop (``on_loop="raise"``).

    ``kind`` is ``"repeat"``, ``"cycle"``, ``"max_depth"`` or ``"reentrant"``; ``tool`` is the
    tool whose call tripped the check; ``session_id`` the session's id; ``for_model`` a short
    instruction for the model, which framework integrations return as the tool's result.
    """

    def __init__(
        self, message: str, *, kind: str = "", tool: str = "", session_id: str = "", for_model: str = ""
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.tool = tool
        self.session_id = session_id
        #: a short instruction meant for the model ("you called get_cart with the same
        #: arguments 6 times; stop repeating it"); ``str(error)`` is the developer's message
        self.for_model = for_model or message


class SessionStateError(AgentCacheError, RuntimeError):
    """A session was used in a way its lifecycle does not allow (entered twice at once)."""
