"""agent_cache: an asyncio cache for AI-agent tool calls, instrumented with OpenTelemetry.

Core cache (``AsyncCache``, ``AsyncLRU``, ``AsyncTTL``) and the agent layer
(``AgentCache``, ``AgentCacheInvalidator``, ``AgentCacheSession``) in one import.
"""

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .agent import (
    AgentCache,
    AgentCacheInvalidator,
    AgentCacheSession,
    AgentLoopDetectedError,
    get_current_session,
    get_metrics,
    reset_global_state,
)
from .backends import DiskBackend, JsonCodec, MemoryBackend, SignedPickleCodec
from .core import MISSING, AsyncCache, AsyncLRU, AsyncTTL, BatchLoadError, call_key
from .errors import AgentCacheError, LoadTimeoutError, ReentrantLoadError, UnkeyableArgumentError

if TYPE_CHECKING:  # type checkers see the class; at run time it is imported on first use
    from .backends.redis import RedisBackend as RedisBackend

__all__ = [
    "AgentCacheError",
    "LoadTimeoutError",
    "ReentrantLoadError",
    "UnkeyableArgumentError",
    "AgentCache",
    "AgentCacheInvalidator",
    "AgentCacheSession",
    "AgentLoopDetectedError",
    "AsyncCache",
    "AsyncLRU",
    "AsyncTTL",
    "BatchLoadError",
    "DiskBackend",
    "JsonCodec",
    "MemoryBackend",
    "SignedPickleCodec",
    "MISSING",
    "__version__",
    "call_key",
    "get_current_session",
    "get_metrics",
    "reset_global_state",
]


def __getattr__(name: str) -> Any:
    # RedisBackend needs the optional `redis` extra: import it only when asked for.
    if name == "RedisBackend":
        from .backends.redis import RedisBackend

        return RedisBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
