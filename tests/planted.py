"""Hostile payloads for the backend tests: pickles whose loading would touch a marker file.

If any code path unpickles one of these, ``marker`` appears on disk; the tests assert it
never does (and, as a control, that a plain ``pickle.loads`` really would create it).
"""

from __future__ import annotations

import hashlib
import hmac
import pathlib
import pickle


class Trap:
    """Unpickling this calls ``Path.touch(marker)``: stands in for any attacker's code."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def raw_pickle(marker: pathlib.Path) -> bytes:
    """An unsigned pickle, as the reference implementation would have written it."""
    return pickle.dumps(Trap(marker), protocol=pickle.HIGHEST_PROTOCOL)


def signed_with(key: bytes, marker: pathlib.Path) -> bytes:
    """A payload in our signed format, but signed with ``key`` (not the reader's)."""
    body = raw_pickle(marker)
    return b"P" + hmac.new(key, b"P" + body, hashlib.sha256).digest() + body


def hostile_payloads(marker: pathlib.Path) -> dict[str, bytes]:
    """Every way we know to smuggle a pickle into a stored value."""
    body = raw_pickle(marker)
    return {
        "unsigned": body,
        "tag-without-signature": b"P" + body,
        "zero-signature": b"P" + bytes(32) + body,
        "foreign-key": signed_with(b"someone else's key", marker),
    }
