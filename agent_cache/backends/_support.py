"""What every backend shares: best-effort counters, warn-once logging, encode-or-skip.

A backend must never break the caller's tool call, but it must not fail silently either,
nor flood the log when a disk stays full: the first failure of each kind is a warning,
repeats are debug lines, and every one is counted in ``backend.stats``.
"""

from __future__ import annotations

import logging
from typing import Any

from .codec import SIGNING_KEY_ENV, Codec, CodecError

_NAMESPACE_SEP = "\x1f"  # keys are "{namespace}\x1f{digest}" (see core.keys.stable_key)


def namespace_of(key: str) -> str:
    """The namespace part of a key built by :func:`agent_cache.core.keys.stable_key`."""
    return key.rpartition(_NAMESPACE_SEP)[0]


class BackendSupport:
    """Mixin state for a backend: ``stats``, ``codec``, and the warn-once helpers."""

    def __init__(self, codec: Codec | None, logger: logging.Logger) -> None:
        self.codec = codec
        self.stats: dict[str, int] = {
            "reads": 0,  # get() calls answered by the tier (hit or miss)
            "hits": 0,
            "writes": 0,  # values stored
            "skipped": 0,  # values the codec refused: kept in memory only
            "errors": 0,  # I/O failures and undecodable stored payloads
            "corrupt_files": 0,
        }
        self._logger = logger
        self._warned: set[str] = set()

    def _warn_once(self, kind: str, msg: str, *args: Any) -> None:
        """Log ``msg`` as a warning the first time ``kind`` happens, as debug afterwards."""
        level = logging.DEBUG if kind in self._warned else logging.WARNING
        self._warned.add(kind)
        self._logger.log(level, msg, *args)

    def _failed(self, operation: str, exc: BaseException) -> None:
        """Count and report an I/O failure that the caller will see as a miss or a no-op."""
        self.stats["errors"] += 1
        self._warn_once(
            f"{operation}:{type(exc).__name__}",
            "%r: %s failed, carrying on without this tier: %s: %s",
            self,
            operation,
            type(exc).__name__,
            exc,
        )

    def _encode_or_skip(self, value: Any) -> bytes | None:
        """The payload for ``value``, or ``None`` (counted, warned once per type) if refused."""
        try:
            return self.codec.encode(value)  # type: ignore[union-attr]  # callers hold a codec
        except CodecError as exc:
            self.stats["skipped"] += 1
            self._warn_once(
                f"encode:{type(value).__qualname__}",
                "%r: not persisting a %s value (kept in memory only): %s. Set %s to persist "
                "arbitrary picklable values with a signed codec.",
                self,
                type(value).__qualname__,
                exc,
                SIGNING_KEY_ENV,
            )
            return None

    def _decode_or_none(self, payload: bytes) -> tuple[bool, Any]:
        """``(True, value)``, or ``(False, None)`` for a payload that is refused (counted)."""
        try:
            return True, self.codec.decode(payload)  # type: ignore[union-attr]  # callers hold a codec
        except CodecError as exc:
            self.stats["errors"] += 1
            self._warn_once("decode", "%r: dropping a stored entry that cannot be read safely: %s", self, exc)
            return False, None
