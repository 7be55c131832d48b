"""A small circuit breaker for a remote cache tier.

Why: when Redis is down or slow, every call would otherwise wait for its own timeout. After
``failure_threshold`` consecutive failures the breaker *opens* and calls are refused at once
(the cache answers from L1 or the loader). After ``reset_timeout`` seconds it *half-opens*
and lets exactly one probe through; the probe's success closes it, its failure re-opens it.

The breaker is not thread-safe; it lives on one event loop, where ``allow`` and ``record_*``
run without interleaving.
"""

from __future__ import annotations

import time
from collections.abc import Callable

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"

#: Numeric encoding of the states, for a gauge (0 = closed, 1 = half-open, 2 = open).
STATE_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


class CircuitBreaker:
    """Counts consecutive failures and refuses calls while the remote side is known bad."""

    __slots__ = (
        "failure_threshold",
        "reset_timeout",
        "_clock",
        "_state",
        "_failures",
        "_opened_at",
        "_probing",
        "opened_count",
    )

    def __init__(
        self,
        failure_threshold: int = 3,
        reset_timeout: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        if reset_timeout < 0:
            raise ValueError("reset_timeout must be >= 0")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.opened_count = 0  # how many times the breaker has opened (a metric)

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half_open"`` (an open breaker past its cool-down
        reports ``"half_open"`` before the probe is taken)."""
        if self._state == OPEN and self._clock() - self._opened_at >= self.reset_timeout:
            return HALF_OPEN
        return self._state

    def allow(self) -> bool:
        """May a call go to the remote side now? Takes the probe slot when half-open."""
        if self._state == CLOSED:
            return True
        if self._state == OPEN:
            if self._clock() - self._opened_at < self.reset_timeout:
                return False
            self._state = HALF_OPEN
            self._probing = False
        if self._probing:  # HALF_OPEN with the one probe already out
            return False
        self._probing = True
        return True

    def cancel_probe(self) -> None:
        """A call was cancelled before it could tell success from failure: free the probe
        slot so the next call can probe instead."""
        if self._state == HALF_OPEN:
            self._probing = False

    def record_success(self) -> None:
        """A call succeeded: close the breaker and forget past failures."""
        self._state = CLOSED
        self._failures = 0
        self._probing = False

    def record_failure(self) -> bool:
        """A call failed. Returns ``True`` when this failure opened the breaker."""
        self._failures += 1
        self._probing = False
        if self._state == HALF_OPEN or (
            self._state == CLOSED and self._failures >= self.failure_threshold
        ):
            self._state = OPEN
            self._opened_at = self._clock()
            self.opened_count += 1
            return True
        if self._state == OPEN:  # a late failure from a call started before opening
            self._opened_at = self._clock()
        return False

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state!r}, failures={self._failures})"


__all__ = ["CircuitBreaker", "CLOSED", "OPEN", "HALF_OPEN", "STATE_VALUES"]
