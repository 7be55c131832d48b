"""Conversations that span requests (issue #13).

An MCP server or a chat backend sees one conversation as many requests. A session entered
with ``idle_timeout`` keeps its *conversation state* — the loop detector's call log, the
trace and the session-scoped caches — in this process-wide registry under its session id,
so the next ``AgentCacheSession`` with the same id continues it (a model repeating one call
once per request is caught). Two concurrent entries share it. The state is freed once it
has been idle (no entry open) for ``idle_timeout`` seconds; expired states are swept
lazily whenever a conversation is entered, so the registry holds only live conversations.

With ``store=`` (any second tier: a ``RedisBackend`` for replicas) the conversation's calls
are also shared: an entry that finds no live local state replays the calls the store holds,
and the last exit writes them back, expiring with the idle timeout. Calls are recorded by
an argument digest, so a repeat made on another replica counts here. Concurrent requests
of one conversation on two replicas each write what they saw; the last writer wins.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..core.cache import AsyncCache
from ..core.keys import stable_key
from .loops import CallLog
from .registry import ResourceGroup

logger = logging.getLogger("agent_cache")


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


# --- sharing a conversation between replicas ----------------------------------------------

#: Namespace of conversation records in a shared store (never a resource name: has a dot).
STORE_NAMESPACE = "agent_cache.conversation"


def digest_of(key: Any) -> Any:
    """The process-independent form a call's key is recorded under in a shared conversation
    (``key`` itself when it has no stable form: then that call is not shared)."""
    try:
        return stable_key(STORE_NAMESPACE, key)
    except Exception:
        return key


async def load_shared(store: Any, session_id: str, calls: CallLog) -> None:
    """Replay the conversation's calls recorded by other replicas into ``calls``.

    Loop checks see the replayed calls as they saw them there (repeats by argument digest,
    cycles by tool name); findings during the replay are not reported again.
    """
    try:
        recorded = await store.get(stable_key(STORE_NAMESPACE, session_id))
    except Exception:  # a store that cannot answer: this request starts from what it has
        logger.warning("agent_cache: conversation store read failed; continuing without shared state")
        return
    if not isinstance(recorded, list):
        return
    for record in recorded[-calls.trace_limit :]:
        if isinstance(record, list) and len(record) == 2 and all(isinstance(part, str) for part in record):
            calls.record(record[0], record[1])


async def save_shared(store: Any, session_id: str, calls: CallLog, idle_timeout: float) -> None:
    """Write the conversation's last ``trace_limit`` calls back, living ``idle_timeout`` s."""
    records = [[tool, key] for tool, key in list(calls.trace)[-calls.trace_limit :] if isinstance(key, str)]
    try:
        await store.set(stable_key(STORE_NAMESPACE, session_id), records, idle_timeout)
    except Exception:
        logger.warning("agent_cache: conversation store write failed; other replicas start this conversation afresh")
