"""Second cache tiers behind the in-memory L1: the protocol, the codecs, disk and memory."""

from .base import MISSING, Backend
from .codec import Codec, CodecError, JsonCodec, SignedPickleCodec, default_codec
from .disk import DiskBackend
from .memory import MemoryBackend

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
