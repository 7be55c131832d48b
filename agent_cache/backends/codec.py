"""How second-tier backends turn values into bytes, and why nothing read back can run code.

A shared tier (a file on disk, a Redis server) is outside the process: anyone who can
write to it can plant bytes. Unpickling planted bytes runs arbitrary code, so:

- :class:`JsonCodec` (the default) stores only data: ``None``, ``bool``, ``int``, ``float``,
  ``str``, ``list``, ``tuple`` and ``dict`` with ``str`` keys, nested. Tuples come back as
  tuples. Anything else (including subclasses such as ``IntEnum``, whose type JSON would
  lose) raises :class:`CodecError` at encode time, so the caller can keep that value in
  memory only instead of persisting a lossy copy.
- :class:`SignedPickleCodec` carries any picklable value, signed with HMAC-SHA256 under a
  key you configure. The signature is checked (in constant time) *before* unpickling;
  unsigned, tampered or foreign-key payloads raise :class:`CodecError` and are never
  unpickled. It still writes JSON for values JSON carries, which keeps those readable by
  a process that has no key.
- :func:`default_codec` picks the signed codec when ``AGENT_CACHE_SIGNING_KEY`` is set.

Every payload starts with one tag byte that names its format and version (``J``: JSON v1,
``P``: signed pickle v1), so a future format can be added without misreading old files.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pickle
import secrets
from typing import Any, Protocol, runtime_checkable

SIGNING_KEY_ENV = "AGENT_CACHE_SIGNING_KEY"

_JSON_V1 = b"J"
_PICKLE_V1 = b"P"
_MAC_SIZE = hashlib.sha256().digest_size

# A dict holding this key marks a tagged form: a tuple, or a user dict that itself uses
# the key (escaped as a list of pairs, so its contents are never mistaken for a tag).
_TAG = "__agent_cache__"


class CodecError(ValueError):
    """A value cannot be encoded safely, or bytes cannot be decoded safely."""


@runtime_checkable
class Codec(Protocol):
    """Turns values into bytes and back; both directions raise :class:`CodecError`."""

    def encode(self, value: Any) -> bytes: ...

    def decode(self, data: bytes) -> Any: ...


def _to_plain(value: Any, active: set[int]) -> Any:
    """``value`` as plain JSON data, tuples tagged; raise CodecError for anything else."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is float or kind is bool:
        return value
    if kind is not list and kind is not tuple and kind is not dict:
        raise CodecError(f"JSON cannot carry a value of type {kind.__module__}.{kind.__qualname__}")
    ident = id(value)
    if ident in active:
        raise CodecError("value contains a reference cycle")
    active.add(ident)
    try:
        if kind is list:
            return [_to_plain(item, active) for item in value]
        if kind is tuple:
            return {_TAG: "tuple", "items": [_to_plain(item, active) for item in value]}
        for k in value:
            if type(k) is not str:
                raise CodecError(f"JSON cannot carry a dict key of type {type(k).__qualname__}")
        if _TAG in value:
            return {_TAG: "dict", "items": [[k, _to_plain(v, active)] for k, v in value.items()]}
        return {k: _to_plain(v, active) for k, v in value.items()}
    finally:
        active.discard(ident)


def _from_tagged(obj: dict[str, Any]) -> Any:
    """``json.loads`` object hook: undo the tagged forms written by :func:`_to_plain`."""
    if _TAG not in obj:
        return obj
    tag, items = obj.get(_TAG), obj.get("items")
    if len(obj) != 2 or not isinstance(items, list):
        raise CodecError("malformed tagged JSON object")
    if tag == "tuple":
        return tuple(items)
    if tag == "dict":
        if not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in items):
            raise CodecError("malformed escaped dict")
        return dict(items)
    raise CodecError(f"unknown JSON tag {tag!r}")


class JsonCodec:
    """Data-only codec: safe to read from anywhere, refuses what it cannot carry exactly."""

    __slots__ = ()

    def encode(self, value: Any) -> bytes:
        try:
            plain = _to_plain(value, set())
            text = json.dumps(plain, ensure_ascii=False, separators=(",", ":"))
            return _JSON_V1 + text.encode("utf-8", "surrogatepass")
        except CodecError:
            raise
        except (ValueError, RecursionError) as exc:  # e.g. ints past the str-conversion limit
            raise CodecError(f"cannot encode as JSON: {exc}") from exc

    def decode(self, data: bytes) -> Any:
        if data[:1] != _JSON_V1:
            raise CodecError(f"not a JSON payload (tag {bytes(data[:1])!r})")
        try:
            return json.loads(bytes(data[1:]).decode("utf-8", "surrogatepass"), object_hook=_from_tagged)
        except CodecError:
            raise
        except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise CodecError(f"corrupt JSON payload: {exc}") from exc

    def __repr__(self) -> str:
        return "JsonCodec()"


class SignedPickleCodec:
    """Pickle signed with HMAC-SHA256; the signature is verified before anything is unpickled.

    ``key``: the shared secret (bytes, or str encoded as UTF-8), identical in every process
    that shares the tier, at least :data:`MIN_KEY_BYTES` long: a short key can be
    brute-forced offline from one stored value, and with it an attacker who can write to
    the tier forges a pickle that runs code on read. Make one with :meth:`generate_key`.
    ``fallback_json``: write values JSON carries as JSON (smaller, readable without the
    key) and pickle only the rest.
    """

    __slots__ = ("_fallback_json", "_json", "_key")

    #: The shortest key accepted, in bytes (256 bits).
    MIN_KEY_BYTES = 32

    @staticmethod
    def generate_key() -> str:
        """A new random key (64 hex characters, 256 bits) for ``SignedPickleCodec`` or
        ``AGENT_CACHE_SIGNING_KEY``: ``python -c "from agent_cache import SignedPickleCodec;
        print(SignedPickleCodec.generate_key())"``."""
        return secrets.token_hex(32)

    def __init__(self, key: bytes | str, *, fallback_json: bool = True) -> None:
        if isinstance(key, str):
            key = key.encode("utf-8")
        if not isinstance(key, (bytes, bytearray)):
            raise TypeError(f"key must be bytes, not {type(key).__name__}")
        if len(key) < self.MIN_KEY_BYTES:
            raise ValueError(
                f"SignedPickleCodec key must be at least {self.MIN_KEY_BYTES} bytes, got "
                f"{len(key)}: a short key can be guessed offline from one stored value, and "
                "then a forged pickle runs code on read. Generate one with "
                "`python -c \"from agent_cache import SignedPickleCodec; "
                "print(SignedPickleCodec.generate_key())\"` (or `openssl rand -hex 32`) and give "
                f"the same key to every process (e.g. in {SIGNING_KEY_ENV})."
            )
        self._key = bytes(key)
        self._fallback_json = fallback_json
        self._json = JsonCodec()

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, _PICKLE_V1 + body, hashlib.sha256).digest()

    def encode(self, value: Any) -> bytes:
        if self._fallback_json:
            try:
                return self._json.encode(value)
            except CodecError:
                pass
        try:
            body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # pickling runs arbitrary __reduce__ code: any error is possible
            raise CodecError(f"cannot pickle {type(value).__qualname__}: {exc}") from exc
        return _PICKLE_V1 + self._mac(body) + body

    def decode(self, data: bytes) -> Any:
        tag = data[:1]
        if tag == _JSON_V1:
            return self._json.decode(data)
        if tag != _PICKLE_V1 or len(data) < 1 + _MAC_SIZE:
            raise CodecError("not a signed payload")
        data = bytes(data)
        signature, body = data[1 : 1 + _MAC_SIZE], data[1 + _MAC_SIZE :]
        if not hmac.compare_digest(signature, self._mac(body)):
            raise CodecError("signature mismatch: payload tampered with or signed with another key")
        try:
            return pickle.loads(body)
        except Exception as exc:  # signed by us, but e.g. a class that no longer exists
            raise CodecError(f"cannot unpickle signed payload: {exc}") from exc

    def __repr__(self) -> str:
        return f"SignedPickleCodec(key=<{len(self._key)} bytes>, fallback_json={self._fallback_json})"


def default_codec() -> Codec:
    """:class:`SignedPickleCodec` keyed by ``$AGENT_CACHE_SIGNING_KEY`` if set, else :class:`JsonCodec`."""
    key = os.environ.get(SIGNING_KEY_ENV)
    return SignedPickleCodec(key) if key else JsonCodec()


__all__ = ["SIGNING_KEY_ENV", "Codec", "CodecError", "JsonCodec", "SignedPickleCodec", "default_codec"]
