"""Every exception agent_cache raises on purpose derives from :class:`AgentCacheError`.

``except agent_cache.AgentCacheError`` catches them all (as ``httpx.HTTPError`` does for
httpx). Where a built-in category fits, the error also derives from it, so code written
against the built-in keeps working: a bad argument is a ``TypeError``/``ValueError``, a
re-entrant load is a ``RuntimeError``.
"""

from __future__ import annotations


class AgentCacheError(Exception):
    """The root of every error agent_cache raises deliberately."""


class ConfigurationTypeError(AgentCacheError, TypeError):
    """An argument of the wrong type, reported when the cache or decorator is built."""


class ConfigurationValueError(AgentCacheError, ValueError):
    """An argument with a value out of range, reported when the cache or decorator is built."""


class BatchLoadError(AgentCacheError):
    """A batch loader failed for some keys, or returned a result of the wrong shape."""


class ReentrantLoadError(AgentCacheError, RuntimeError):
    """A load waited on itself: the loader of a key asked the same cache for the same key.

    Without this check the call would join its own in-flight load and wait forever. Inside
    an :class:`~agent_cache.AgentCacheSession` the agent layer reports it as an
    :class:`~agent_cache.AgentLoopDetectedError` of kind ``"reentrant"`` instead.
    """


class LoadTimeoutError(AgentCacheError, TimeoutError):
    """A caller waited ``load_timeout`` seconds for a load (its own or one it joined) and no
    stale value was allowed to answer instead (see ``stale_if_error``).

    The load itself is not cancelled: it goes on in the background and its result is
    stored unless an invalidation (or a newer load that stored first) fenced it.
    """


class UnkeyableArgumentError(AgentCacheError, TypeError):
    """An argument cannot be turned into a cache key safely (no value equality, a cycle,
    nesting too deep). Decorated callables catch it and run the call uncached."""

    def __init__(self, message: str, *, path: str = "", type_name: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.type_name = type_name
