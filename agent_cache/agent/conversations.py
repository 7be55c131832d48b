"""Conversations that span requests (issue #13).

An MCP server or a chat backend sees one conversation as many requests. A session entered
with ``idle_timeout`` keeps its *conversation state* — the loop detector's call log, the
trace and the session-scoped caches — in this process-wide registry under its session id,
so the next ``AgentCacheSession`` with the same id continues it (a model repeating one call
once per request is caught). Two concurrent entries share it. The state is freed once it
has been idle (no entry open) for ``idle_timeout`` seconds; expired states are swept
lazily whenever a conversation is entered, so the registry holds only live conversations.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ..core.cache import AsyncCache
from .loops import CallLog
from .registry import ResourceGroup


class ConversationState:
    """What a conversation keeps between requests."""

    __slots__ = ("calls", "caches", "groups", "active", "last_used", "idle_timeout")

    def __init__(self, calls: CallLog, idle_timeout: float | None) -> None:
        self.calls = calls
        self.caches: dict[Any, AsyncCache] = {}
        self.groups: dict[str, ResourceGroup] = {}
        self.active = 0  # entries open right now
        self.last_used = 0.0
        self.idle_timeout = idle_timeout

    def expired(self, now: float) -> bool:
        return (
            self.active == 0
            and self.idle_timeout is not None
            and now - self.last_used >= self.idle_timeout
        )

    def free(self) -> list[AsyncCache]:
        """Forget the session caches' entries; return the caches (their tiers need clearing)."""
        caches = list(self.caches.values())
        for cache in caches:
            cache.drop_all()
        self.caches.clear()
        self.groups.clear()
        return caches


class Conversations:
    """Process-wide ``session_id -> ConversationState`` for sessions with an idle timeout."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._states: dict[str, ConversationState] = {}
        self._lock = threading.Lock()
        self.clock = clock

    def __len__(self) -> int:
        return len(self._states)

    def acquire(self, session_id: str, make: Callable[[], ConversationState]) -> ConversationState:
        """The live state of ``session_id`` (or a new one), marked as entered once more."""
        now = self.clock()
        with self._lock:
            freed = self._sweep(now)
            state = self._states.get(session_id)
            if state is None:
                state = self._states[session_id] = make()
            state.active += 1
            state.last_used = now
        for dead in freed:
            dead.free()
        return state

    def release(self, state: ConversationState) -> None:
        with self._lock:
            state.active -= 1
            state.last_used = self.clock()

    def _sweep(self, now: float) -> list[ConversationState]:
        dead = [sid for sid, state in self._states.items() if state.expired(now)]
        return [self._states.pop(sid) for sid in dead]

    def clear(self) -> None:
        with self._lock:
            states = list(self._states.values())
            self._states.clear()
        for state in states:
            state.free()


conversations = Conversations()
