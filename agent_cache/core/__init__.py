"""The async cache core: store, keys, single-flight, batching, decorators."""

from .cache import AsyncCache
from .decorators import AsyncLRU, AsyncTTL
from .errors import BatchLoadError
from .keys import call_key, make_key
from .sentinel import MISSING

__all__ = ["AsyncCache", "AsyncLRU", "AsyncTTL", "BatchLoadError", "MISSING", "call_key", "make_key"]
