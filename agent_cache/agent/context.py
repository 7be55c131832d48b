"""The current agent session, carried by a context variable (one per task tree)."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .session import AgentCacheSession

current_session: contextvars.ContextVar[AgentCacheSession | None] = contextvars.ContextVar(
    "agent_cache_session", default=None
)

_get = current_session.get


def live_session() -> AgentCacheSession | None:
    """The session this call runs in, or ``None`` — also when the session has already
    ended (a task that outlived its ``async with`` block calls as if outside it)."""
    session = _get()
    if session is not None and session.is_open:
        return session
    return None


def get_current_session() -> AgentCacheSession | None:
    """The :class:`AgentCacheSession` active in this task, or ``None``."""
    return live_session()
