"""The demo's external API (web search and page fetches) and the outage ``--outage`` puts on it.

The research tools (``search_web``, ``fetch_page``) stand for calls to a remote web API, so
they are cached the way an agent caches such an API: a short TTL, ``stale_while_revalidate``
to hide refreshes, ``stale_if_error`` to ride out an outage, and a ``load_timeout`` so a hung
API never holds the agent (:class:`UpstreamProfile`).

``--outage START:SECONDS[:raise|hang]`` takes that API down from START to START+SECONDS
seconds into the cached run: ``raise`` refuses every call at once (:class:`UpstreamDown`),
``hang`` holds each call well past ``load_timeout`` and then fails it. The uncached replay
meets the same outage call for call: each agent call (session, n-th upstream call of that
session) that met the outage in the cached run fails in the replay too. There it fails at
once in both modes: without a cache's ``load_timeout`` only the agent's own timeout would end
a hung call, and waiting for it would change no figure the demo compares.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from collections import Counter
from dataclasses import dataclass

OUTAGE_MODES = ("raise", "hang")
HANG_FACTOR = 10.0
"""A hung call lasts this many ``load_timeout``\\ s (or until the outage ends, if sooner)."""

SESSION: contextvars.ContextVar[int] = contextvars.ContextVar("agent_cache_demo_session", default=-1)
"""The index of the session the current task plays (set by the runner for each session)."""


class UpstreamDown(ConnectionError):
    """The demo's web API did not answer (the ``--outage`` window)."""


@dataclass(frozen=True)
class UpstreamProfile:
    """How the research tools cache the web API (seconds; passed to ``AgentCache``)."""

    ttl: float = 30.0
    stale_while_revalidate: float = 15.0
    stale_if_error: float = 600.0
    load_timeout: float = 2.0


@dataclass(frozen=True)
class Outage:
    """The web API is down from ``start_s`` to ``start_s + duration_s`` into the cached run."""

    start_s: float
    duration_s: float
    mode: str = "raise"

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def __str__(self) -> str:
        return f"{self.start_s:g}:{self.duration_s:g}:{self.mode}"

    @classmethod
    def parse(cls, text: str) -> Outage:
        """``START:SECONDS[:raise|hang]``; ValueError with the reason when it is not."""
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise ValueError(f"must be START:SECONDS[:raise|hang], got {text!r}")
        mode = parts[2] if len(parts) == 3 else "raise"
        if mode not in OUTAGE_MODES:
            raise ValueError(f"mode must be raise or hang, got {mode!r}")
        try:
            start, duration = float(parts[0]), float(parts[1])
        except ValueError:
            raise ValueError(f"START and SECONDS must be numbers, got {text!r}") from None
        if not (math.isfinite(start) and 0 <= start <= 3600):
            raise ValueError(f"START must be a number of seconds in [0, 3600], got {parts[0]!r}")
        if not (math.isfinite(duration) and 0 < duration <= 3600):
            raise ValueError(f"SECONDS must be a number of seconds in (0, 3600], got {parts[1]!r}")
        return cls(start, duration, mode)


class Upstream:
    """The web API of one demo run: down during the outage, and counting what met it.

    The cached run calls :meth:`begin` when its clock starts; its tool bodies call
    :meth:`guard` before the request. Every agent call of an upstream tool passes
    :meth:`meets_outage` (in the counting shim, outside the cache), which records the calls
    made during the outage; :meth:`replay` switches to answering from that record.
    """

    def __init__(self, outage: Outage | None, load_timeout: float) -> None:
        self.outage = outage
        self.hang_s = HANG_FACTOR * load_timeout
        self.started_at: float | None = None
        self.replaying = False
        self._down_calls: set[tuple[int, int]] = set()
        self._seen: Counter[int] = Counter()

    def begin(self) -> None:
        self.started_at = time.monotonic()

    def _down_for(self) -> float:
        """Seconds the outage still lasts now (0 when the API is up)."""
        if self.outage is None or self.started_at is None or self.replaying:
            return 0.0
        now = time.monotonic() - self.started_at
        return self.outage.end_s - now if self.outage.start_s <= now < self.outage.end_s else 0.0

    async def guard(self) -> None:
        """Called by a tool body before its request: fail (or hang, then fail) when down."""
        remaining = self._down_for()
        if remaining <= 0:
            return
        assert self.outage is not None
        if self.outage.mode == "hang":
            await asyncio.sleep(min(remaining, self.hang_s))
            raise UpstreamDown("web API timed out (hung connection)")
        raise UpstreamDown("web API refused the connection")

    def meets_outage(self) -> bool:
        """Whether this agent call of an upstream tool falls in the outage (recorded in the
        cached run, looked up in the replay)."""
        session = SESSION.get()
        call = (session, self._seen[session])
        self._seen[session] += 1
        if self.replaying:
            return call in self._down_calls
        if self._down_for() > 0:
            self._down_calls.add(call)
            return True
        return False

    def replay(self) -> None:
        """From now on, the uncached replay: the calls recorded as down fail again."""
        self.replaying = True
        self._seen.clear()
