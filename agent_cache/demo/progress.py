"""Live state of a demo run, and the snapshot of figures the terminal view draws.

The runner updates a :class:`Progress` as sessions finish; the view samples it with
:func:`snapshot`, which also reads the library's own counters (``agent_cache.get_metrics()``).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .db import Database
    from .scenarios import Outcome

PHASE_CACHED = "with agent_cache"
PHASE_BASELINE = "without cache"


@dataclass(frozen=True)
class Snapshot:
    """The figures shown at one instant."""

    phase: str
    done: int
    total: int
    elapsed_s: float
    limit_s: float | None
    requests: int = 0
    hits: int = 0
    misses: int = 0
    coalesced: int = 0
    stale: int = 0
    invalidations: int = 0
    db_queries: int = 0
    loops: Counter[str] = field(default_factory=Counter)

    @property
    def cache_active(self) -> bool:
        return self.phase != PHASE_BASELINE

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.requests if self.requests else 0.0

    @property
    def loads_avoided(self) -> int:
        """Reads answered without running the tool: hits plus waiters on a shared load."""
        return self.hits + self.coalesced


class Progress:
    """The current phase of a run: sessions done, the database, loops caught so far."""

    def __init__(self) -> None:
        self.phase = ""
        self.total = 0
        self.done = 0
        self.started_at = time.monotonic()
        self.deadline: float | None = None
        self.db: Database | None = None
        self.loops: Counter[str] = Counter()
        self.finished: dict[str, Snapshot] = {}  # phase -> its last figures, in order

    def begin(self, phase: str, total: int, db: Database, deadline: float | None) -> None:
        self.phase, self.total, self.done = phase, total, 0
        self.db, self.deadline = db, deadline
        self.started_at = time.monotonic()

    def record(self, outcome: Outcome) -> None:
        self.done += 1
        if outcome.loop_kind:
            self.loops[outcome.loop_kind] += 1

    def end(self) -> None:
        """Freeze the current phase's figures (the view draws them as that phase's last)."""
        self.finished[self.phase] = snapshot(self)


def snapshot(progress: Progress) -> Snapshot:
    """Read the current phase's progress and the library's counters."""
    from agent_cache import get_metrics

    m = get_metrics()
    hits, misses, coalesced = m.get("hits", 0), m.get("misses", 0), m.get("coalesced", 0)
    stale = m.get("stale", 0)  # expired values answered: neither hits nor misses
    limit = None if progress.deadline is None else progress.deadline - progress.started_at
    return Snapshot(
        phase=progress.phase,
        done=progress.done,
        total=progress.total,
        elapsed_s=time.monotonic() - progress.started_at,
        limit_s=limit,
        requests=hits + misses + stale,  # misses include the waiters (coalesced)
        hits=hits,
        misses=misses,
        coalesced=coalesced,
        stale=stale,
        invalidations=m.get("invalidations", 0),
        db_queries=progress.db.queries if progress.db is not None else 0,
        loops=Counter(progress.loops) if progress.phase == PHASE_CACHED else Counter(),
    )
