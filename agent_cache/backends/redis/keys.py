"""Redis key layout of the shared tier, and the generations this process believes current.

A cache key (``"{namespace}\\x1f{digest}"``, see :func:`agent_cache.core.keys.stable_key`)
maps to a *stripe* of its namespace, chosen by the digest. Each stripe has a generation
key and a hash tag, so every key a script touches lives in one Redis Cluster slot while a
namespace's keys spread over ``stripes`` slots (one slot per namespace would make a hot
shard)::

    P{N|s}:g                 the stripe's generation (a random token, no expiry)
    P{N|s}:v:<gen>:<digest>  a value (PX = its TTL)
    P{N|s}:l:<gen>:<digest>  its single-flight load lock (PX = lock_ttl)
    Pinvalidations           the pub/sub channel

``P`` is the prefix, ``N`` the namespace percent-encoded (so no namespace can contain a
brace, a colon or a separator of another one) and ``s`` the stripe number.
"""

from __future__ import annotations

import os
from urllib.parse import quote

from .._support import NAMESPACE_SEP


def fresh_generation() -> str:
    """A new generation token: random, so an evicted generation key never comes back as
    a value some old entry was written under."""
    return os.urandom(8).hex()


class KeyLayout:
    """Names of the keys of one backend (``prefix``, ``stripes`` per namespace)."""

    def __init__(self, prefix: str, stripes: int) -> None:
        if isinstance(stripes, bool) or not isinstance(stripes, int) or not 1 <= stripes <= 1024:
            raise ValueError(f"stripes must be an int in [1, 1024], got {stripes!r}")
        self.prefix = prefix
        self.stripes = stripes
        #: ``(namespace, stripe) -> generation`` as last seen in Redis. A wrong guess costs
        #: one retry: every script checks it against the generation key.
        self.generations: dict[tuple[str, int], str] = {}
        self._tags: dict[tuple[str, int], str] = {}  # encoded once per stripe (bounded by code)

    def split(self, key: str) -> tuple[str, int, str]:
        """``(namespace, stripe, digest)`` of a cache key."""
        namespace, _, digest = key.rpartition(NAMESPACE_SEP)
        stripe = int(digest[:6], 16) % self.stripes if self.stripes > 1 else 0
        return namespace, stripe, digest

    def tag(self, namespace: str, stripe: int) -> str:
        tag = self._tags.get((namespace, stripe))
        if tag is None:
            if len(self._tags) > 4096:  # session namespaces come and go: stay bounded
                self._tags.clear()
            tag = self._tags[(namespace, stripe)] = (
                f"{self.prefix}{{{quote(namespace, safe='')}|{stripe}}}")
        return tag

    def gen_key(self, namespace: str, stripe: int) -> str:
        return self.tag(namespace, stripe) + ":g"

    def entry_keys(self, key: str, gen: str) -> tuple[str, str, str]:
        """``(generation key, value key, lock key)`` of ``key`` under generation ``gen``."""
        namespace, stripe, digest = self.split(key)
        tag = self.tag(namespace, stripe)
        return tag + ":g", f"{tag}:v:{gen}:{digest}", f"{tag}:l:{gen}:{digest}"

    def believed(self, key: str) -> str:
        """The generation of ``key``'s stripe as last seen ("" if never: one retry)."""
        namespace, stripe, _ = self.split(key)
        return self.generations.get((namespace, stripe), "")

    def learn(self, key: str, gen: str | bytes) -> str:
        namespace, stripe, _ = self.split(key)
        text = gen.decode() if isinstance(gen, bytes) else gen
        if len(self.generations) > 65536:  # session namespaces come and go: stay bounded
            self.generations.clear()  # (a forgotten generation costs one retry, once)
        self.generations[(namespace, stripe)] = text
        return text

    def forget(self, namespace: str) -> None:
        for stripe in range(self.stripes):
            self.generations.pop((namespace, stripe), None)


__all__ = ["KeyLayout", "fresh_generation"]
