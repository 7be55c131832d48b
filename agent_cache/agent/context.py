"""The current agent session, carried by a context variable (one per task tree)."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .session import AgentCacheSession

current_session: contextvars.ContextVar[Optional["AgentCacheSession"]] = contextvars.ContextVar(
    "agent_cache_session", default=None
)


def get_current_session() -> Optional["AgentCacheSession"]:
    """The :class:`AgentCacheSession` active in this task, or ``None``."""
    return current_session.get()
