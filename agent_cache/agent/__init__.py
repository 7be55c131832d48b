"""The agent layer: cached tools, invalidating tools, sessions, loop detection."""

from .context import get_current_session
from .errors import AgentLoopDetectedError
from .invalidator import AgentCacheInvalidator
from .registry import get_metrics, reset_global_state
from .session import AgentCacheSession
from .tool_cache import AgentCache

__all__ = [
    "AgentCache",
    "AgentCacheInvalidator",
    "AgentCacheSession",
    "AgentLoopDetectedError",
    "get_current_session",
    "get_metrics",
    "reset_global_state",
]
