"""Resilience options: serve what the cache last knew while the upstream is slow or down.

Three options, in seconds, on ``AsyncCache`` (and per call on ``AsyncCache.get``),
``AsyncTTL`` and ``AgentCache`` — the names of RFC 5861 and FusionCache's fail-safe:

* ``stale_while_revalidate=S``: for S seconds after an entry's TTL expired, a read answers
  the old value at once (result ``stale``) and starts **one** background refresh; once it
  has stored the new value, reads hit again. Past TTL+S a read waits for a load.
* ``stale_if_error=S``: when a load raises (or times out) and an expired value no older
  than TTL+S is still held, the read answers that value (result ``stale``) instead of the
  exception. The error is not cached; the next read tries the loader again.
* ``load_timeout=T``: a caller waits at most T for a load, its own or one it joined, then
  gets the stale value (with ``stale_if_error``) or :class:`~agent_cache.errors.LoadTimeoutError`.
  A flight older than T is abandoned for newcomers, who lead a fresh load.

**What happens to a timed-out load.** It is *not* cancelled (cancelling a loader halfway —
an HTTP call, a transaction — can leave side effects half done; bound it with the loader's
own timeout). It runs on in the background; callers that joined it still get its outcome
within their own deadline, and its value is stored unless it was fenced by ``delete`` /
``clear`` / an invalidation, or a newer load of the key stored first.

**Where stale copies live.** Nowhere special: an expired entry simply stays in the store
for the longest stale window (:attr:`Store.grace <agent_cache.core.store.Store.grace>`).
So invalidation removes stale copies exactly as it removes live entries — there is no
second structure to forget to fence — and the fast path's inlined hit rule is unchanged:
an expired entry is not a hit, and the miss path (which consults this policy) decides
whether it answers stale.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigurationValueError
from .validation import check_timeout, check_window


class Policy:
    """The resilience options of one cache (or of one ``get`` call). Immutable."""

    __slots__ = ("load_timeout", "stale_if_error", "stale_while_revalidate")

    def __init__(self, stale_while_revalidate: float, stale_if_error: float, load_timeout: float | None) -> None:
        self.stale_while_revalidate = stale_while_revalidate
        self.stale_if_error = stale_if_error
        self.load_timeout = load_timeout

    @property
    def grace(self) -> float:
        """How long past its TTL an entry must be kept for these options to find it."""
        return max(self.stale_while_revalidate, self.stale_if_error)

    def override(self, stale_while_revalidate: Any, stale_if_error: Any, load_timeout: Any) -> Policy:
        """This policy with the per-call options that are not ``None`` replaced (checked)."""
        return Policy(
            self.stale_while_revalidate if stale_while_revalidate is None
            else check_window("stale_while_revalidate", stale_while_revalidate),
            self.stale_if_error if stale_if_error is None else check_window("stale_if_error", stale_if_error),
            self.load_timeout if load_timeout is None else check_timeout("load_timeout", load_timeout),
        )

    def options(self) -> dict[str, Any]:
        """The keyword arguments that build a cache with this policy."""
        return {
            "stale_while_revalidate": self.stale_while_revalidate,
            "stale_if_error": self.stale_if_error,
            "load_timeout": self.load_timeout,
        }

    @property
    def active(self) -> bool:
        return bool(self.stale_while_revalidate or self.stale_if_error or self.load_timeout is not None)

    def __repr__(self) -> str:
        return (
            f"Policy(stale_while_revalidate={self.stale_while_revalidate}, "
            f"stale_if_error={self.stale_if_error}, load_timeout={self.load_timeout})"
        )


NO_POLICY = Policy(0.0, 0.0, None)


def build_policy(
    stale_while_revalidate: Any,
    stale_if_error: Any,
    load_timeout: Any,
    *,
    ttl: float | None,
    ttl_name: str,
) -> Policy | None:
    """Check the options at construction; ``None`` when none is on (the plain miss path).

    A stale window needs entries that expire: with ``ttl`` ``None`` (nothing ever goes
    stale) a window > 0 is a configuration mistake, reported naming both parameters.
    """
    swr = check_window("stale_while_revalidate", stale_while_revalidate)
    sie = check_window("stale_if_error", stale_if_error)
    timeout = check_timeout("load_timeout", load_timeout)
    for name, window in (("stale_while_revalidate", swr), ("stale_if_error", sie)):
        if window and (ttl is None or ttl == float("inf")):
            raise ConfigurationValueError(
                f"{name}={window:g} needs a finite {ttl_name}: entries without a TTL never go stale"
            )
    policy = Policy(swr, sie, timeout)
    return policy if policy.active else None
