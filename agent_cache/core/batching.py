"""DataLoader-style batching: concurrent misses that share a batch function become one call.

A :class:`Batcher` collects keys for one batch function during a short window (or until
``max_batch_size`` keys are waiting) and then hands the whole batch to its cache, which runs
the function once and settles every key's :class:`~agent_cache.core.singleflight.Flight`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from .errors import BatchLoadError
from .singleflight import Flight

#: A pending batch: ``key -> (flight, ttl, requesting span)``.
PendingBatch = dict[Hashable, tuple[Flight, float | None, Any]]
BatchRunner = Callable[[Any, PendingBatch], Any]


class Batcher:
    """Pending keys for one batch function of one cache."""

    __slots__ = ("fn", "pending", "timer", "window", "max_size", "run")

    def __init__(self, fn: Callable[[list[Hashable]], Any], window_s: float, max_size: int, run: BatchRunner) -> None:
        self.fn = fn
        self.pending: PendingBatch = {}
        self.timer: asyncio.TimerHandle | None = None
        self.window = window_s
        self.max_size = max_size
        self.run = run  # schedules the batch: run(fn, batch)

    def add(self, key: Hashable, flight: Flight, ttl: float | None, requester: Any) -> None:
        replaced = self.pending.get(key)
        if replaced is not None and replaced[0] is not flight:
            # The key was invalidated while it waited here and asked for again: the
            # replaced flight's callers retry (joining the new one) instead of hanging.
            replaced[0].handoff()
        self.pending[key] = (flight, ttl, requester)
        if len(self.pending) >= self.max_size:
            self.flush()
        elif self.timer is None:
            loop = asyncio.get_running_loop()
            if self.window > 0:
                self.timer = loop.call_later(self.window, self.flush)
            else:
                self.timer = loop.call_soon(self.flush)  # type: ignore[assignment]

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.pending:
            batch, self.pending = self.pending, {}
            self.run(self.fn, batch)


def match_results(keys: list[Hashable], result: Any) -> list[tuple[bool, Any]]:
    """Pair each key with ``(ok, value_or_error)`` from a batch function's result.

    A batch function returns either a sequence with one value per key, in key order, or a
    mapping from key to value. A missing key fails only its own waiters; a result of the
    wrong shape fails the whole batch with an error that says what was expected.
    """
    if isinstance(result, Mapping):
        out = []
        for key in keys:
            if key in result:
                out.append((True, result[key]))
            else:
                out.append((False, BatchLoadError(f"batch_loader returned no value for key {key!r}")))
        return out
    if isinstance(result, Sequence) and not isinstance(result, (str, bytes)):
        if len(result) == len(keys):
            return [(True, value) for value in result]
        error = BatchLoadError(
            f"batch_loader returned {len(result)} values for {len(keys)} keys; "
            "return one value per key in key order, or a dict keyed by key"
        )
    else:
        error = BatchLoadError(
            f"batch_loader returned {type(result).__name__}; "
            "return a list with one value per key in key order, or a dict keyed by key"
        )
    return [(False, error)] * len(keys)
