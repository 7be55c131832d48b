"""TEMPORARY stand-in for :mod:`agent_cache.backends.codec` until that module lands on main.

Same interface (``encode(value) -> bytes``, ``decode(bytes) -> value`` raising
:class:`CodecError`), deliberately minimal. Delete this file once ``codec.py`` is merged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
from typing import Any


class CodecError(ValueError):
    """A value cannot be encoded safely, or bytes cannot be decoded safely."""


class JsonCodec:
    def encode(self, value: Any) -> bytes:
        try:
            return b"J" + json.dumps(value, separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            raise CodecError(str(exc)) from exc

    def decode(self, data: bytes) -> Any:
        if data[:1] != b"J":
            raise CodecError("not a JSON payload")
        try:
            return json.loads(data[1:])
        except ValueError as exc:
            raise CodecError(str(exc)) from exc


class SignedPickleCodec:
    def __init__(self, key: bytes | str) -> None:
        self._key = key.encode() if isinstance(key, str) else bytes(key)

    def encode(self, value: Any) -> bytes:
        body = pickle.dumps(value)
        return b"P" + hmac.new(self._key, body, hashlib.sha256).digest() + body

    def decode(self, data: bytes) -> Any:
        if data[:1] != b"P" or len(data) < 33:
            raise CodecError("not a signed payload")
        mac, body = data[1:33], data[33:]
        if not hmac.compare_digest(mac, hmac.new(self._key, body, hashlib.sha256).digest()):
            raise CodecError("signature mismatch")
        return pickle.loads(body)
