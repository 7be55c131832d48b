"""Second cache tiers behind the in-memory L1: the protocol, the codecs, disk and memory."""

from typing import TYPE_CHECKING, Any

from .base import MISSING, Backend
from .codec import Codec, CodecError, JsonCodec, SignedPickleCodec, default_codec
from .disk import DiskBackend
from .memory import MemoryBackend

if TYPE_CHECKING:  # type checkers see the class; at run time it is imported on first use
    from .redis import RedisBackend as RedisBackend

__all__ = [
    "MISSING",
    "Backend",
    "Codec",
    "CodecError",
    "DiskBackend",
    "JsonCodec",
    "MemoryBackend",
    "SignedPickleCodec",
    "default_codec",
]


def __getattr__(name: str) -> Any:
    # RedisBackend needs the optional `redis` extra: import it only when asked for.
    if name == "RedisBackend":
        from .redis import RedisBackend

        return RedisBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
