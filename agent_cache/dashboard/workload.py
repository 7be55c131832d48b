"""The demo's agent workload, run continuously in process and steered from the page.

The same session plans, tools and SQLite database as ``python -m agent_cache.demo``, but
open-ended: ``concurrency`` workers keep starting sessions until stopped. Every session is
replayed at once against an uncached copy of the tools and database (no latency, no loop
detection), so the page can show the queries the same traffic costs without the cache.

The controls a person testing the cache would reach for are methods here: start / stop,
concurrency, loop rate, latency, a herd of N concurrent misses on one key, and invalidating
a resource (through an :class:`~agent_cache.AgentCacheInvalidator`, as an application would).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from opentelemetry import trace

from agent_cache.demo.catalog import Catalog, make_catalog
from agent_cache.demo.db import Database
from agent_cache.demo.scenarios import Outcome, Plan, plan_session, play, sleep_think
from agent_cache.demo.tools import SPECS, Tools, build_tools, effective_scope

HERD_TOOL = "search_web"
MAX_CONCURRENCY = 64
MAX_HERD = 500


@dataclass
class WorkloadSettings:
    """What the page can change while the workload runs."""

    concurrency: int = 8
    loop_rate: float = 0.2
    latency_ms: float = 5.0
    think_ms: float = 40.0
    seed: int = 42

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``changes`` (from the page), checking each value; ``ValueError`` names the field."""
        checks: dict[str, tuple[type, float, float]] = {
            "concurrency": (int, 1, MAX_CONCURRENCY),
            "loop_rate": (float, 0.0, 1.0),
            "latency_ms": (float, 0.0, 2000.0),
            "think_ms": (float, 0.0, 5000.0),
        }
        parsed: dict[str, Any] = {}
        for name, raw in changes.items():
            if name not in checks:
                raise ValueError(f"unknown setting {name!r}; one of {sorted(checks)}")
            kind, low, high = checks[name]
            try:
                value = kind(raw)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be a number, got {raw!r}") from None
            if isinstance(raw, bool) or not low <= value <= high:
                raise ValueError(f"{name} must be between {low:g} and {high:g}, got {raw!r}")
            parsed[name] = value
        for name, value in parsed.items():
            setattr(self, name, value)


class LiveWorkload:
    """Simulated agent sessions against the demo's tools, until :meth:`stop`."""

    def __init__(self, settings: WorkloadSettings | None = None) -> None:
        self.settings = settings or WorkloadSettings()
        self.running = False
        self.sessions_done = 0
        self.sessions_failed = 0
        self.loops: Counter[str] = Counter()
        self._tmp: Path | None = None
        self._catalog: Catalog | None = None
        self._db: Database | None = None  # with the cache
        self._plain_db: Database | None = None  # the same traffic, without it
        self._tools: Tools | None = None
        self._plain: Tools | None = None
        self._invalidators: dict[str, Callable[[], Awaitable[Any]]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._indices = itertools.count()
        self._herds = itertools.count(1)
        self._ready_lock = asyncio.Lock()
        self._tracer = trace.get_tracer("agent_cache.dashboard")

    # -- set-up ----------------------------------------------------------------------------
    async def _ready(self) -> Tools:
        async with self._ready_lock:
            if self._tools is None:
                from agent_cache import AgentCacheInvalidator, AgentLoopDetectedError

                self._tmp = Path(tempfile.mkdtemp(prefix="agent-cache-dashboard-"))
                self._catalog = make_catalog(random.Random(self.settings.seed))
                self._db = await Database.create(self._tmp, self._catalog, latency_ms=self.settings.latency_ms,
                                                 seed=self.settings.seed, name="with-cache")
                self._plain_db = await Database.create(self._tmp, self._catalog, latency_ms=0.0,
                                                       seed=self.settings.seed, name="without-cache")
                self._tools = build_tools(self._db, cached=True, loop_error=AgentLoopDetectedError)
                self._plain = build_tools(self._plain_db, cached=False)
                for resource in self.resources():
                    async def nothing() -> None:
                        return None

                    nothing.__name__ = nothing.__qualname__ = f"invalidate_{resource}"
                    self._invalidators[resource] = AgentCacheInvalidator(
                        resource=resource, scope="global", name=f"invalidate_{resource}"
                    )(nothing)
            return self._tools

    @staticmethod
    def resources() -> list[str]:
        """Resources cached in the global scope: the ones a page button can invalidate."""
        seen: list[str] = []
        for spec in SPECS:
            if not spec.mutation and effective_scope(spec, "seed") == "global" and spec.resource not in seen:
                seen.append(spec.resource)
        return seen

    # -- controls --------------------------------------------------------------------------
    async def start(self) -> None:
        await self._ready()
        self.running = True
        self._rebalance()

    async def stop(self) -> None:
        """No new sessions; the running ones finish (each is short)."""
        self.running = False
        workers = list(self._workers.values())
        if workers:
            await asyncio.wait(workers, timeout=30)

    def configure(self, changes: dict[str, Any]) -> None:
        self.settings.update(changes)
        if self._db is not None:
            self._db.latency_s = self.settings.latency_ms / 1000.0
        if self.running:
            self._rebalance()

    async def herd(self, n: int) -> dict[str, Any]:
        """``n`` concurrent calls of one tool on one key nobody asked for yet: one load, n-1 waiters.

        Runs under its own root span, so the herd shows up among the recent sessions.
        """
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_HERD:
            raise ValueError(f"n must be an integer between 1 and {MAX_HERD}, got {n!r}")
        tools = await self._ready()
        query = f"stampede herd {next(self._herds)}"
        started = time.perf_counter()
        with self._tracer.start_as_current_span(f"dashboard.herd {HERD_TOOL} x{n}") as span:
            await asyncio.gather(*(tools[HERD_TOOL](query) for _ in range(n)))
            trace_id = format(span.get_span_context().trace_id, "032x")
        return {"calls": n, "tool": HERD_TOOL, "trace_id": trace_id,
                "elapsed_ms": (time.perf_counter() - started) * 1000}

    async def invalidate(self, resource: str) -> None:
        await self._ready()
        invalidate = self._invalidators.get(resource)
        if invalidate is None:
            raise ValueError(f"resource must be one of {sorted(self._invalidators)}, got {resource!r}")
        with self._tracer.start_as_current_span(f"dashboard.invalidate {resource}"):
            await invalidate()

    # -- figures ---------------------------------------------------------------------------
    def figures(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "settings": asdict(self.settings),
            "workers": len(self._workers),
            "sessions_done": self.sessions_done,
            "sessions_failed": self.sessions_failed,
            "loops": dict(self.loops),
            "db_queries_cached": self._db.queries if self._db is not None else 0,
            "db_queries_uncached": self._plain_db.queries if self._plain_db is not None else 0,
            "resources": self.resources(),
        }

    # -- the workers -----------------------------------------------------------------------
    def _rebalance(self) -> None:
        for slot in range(self.settings.concurrency):
            task = self._workers.get(slot)
            if task is None or task.done():
                self._workers[slot] = asyncio.ensure_future(self._worker(slot))

    async def _worker(self, slot: int) -> None:
        try:
            while self.running and slot < self.settings.concurrency:
                try:
                    await self._one_session(next(self._indices))
                except Exception:  # a bug in one session must not stop the page's workload
                    self.sessions_failed += 1
                    await asyncio.sleep(0.5)
        finally:
            if self._workers.get(slot) is asyncio.current_task():
                del self._workers[slot]

    async def _one_session(self, index: int) -> None:
        from agent_cache import AgentCacheSession, AgentLoopDetectedError

        assert self._catalog is not None and self._db is not None and self._plain_db is not None
        assert self._tools is not None and self._plain is not None
        plan = plan_session(self._catalog, self.settings.seed, index, self.settings.loop_rate)
        if plan.order is not None:
            await self._db.add_order(plan.order)
            await self._plain_db.add_order(plan.order)
        think_rng = random.Random(f"{self.settings.seed}/{index}/think")

        async def think() -> None:
            await sleep_think(think_rng, self.settings.think_ms / 1000.0)

        def new_session(p: Plan) -> AgentCacheSession:
            limits = p.limits
            return AgentCacheSession(session_id=p.session_id, name=p.scenario, on_loop="raise",
                                     max_tool_repeats=limits["max_tool_repeats"],
                                     max_execution_depth=limits["max_execution_depth"])

        attrs = {"demo.scenario": plan.scenario, "demo.misbehaviour": plan.misbehaviour or "none"}
        with self._tracer.start_as_current_span(f"demo.session {plan.scenario}", attributes=attrs) as span:
            outcome: Outcome = await play(plan, self._tools, think, session_factory=new_session,
                                          loop_error=AgentLoopDetectedError)
            if outcome.loop_kind:
                span.set_attribute("demo.loop.kind", outcome.loop_kind)
                self.loops[outcome.loop_kind] += 1
        self.sessions_done += 1

        async def no_think() -> None:
            return None

        await play(plan, self._plain, no_think, session_factory=None, loop_error=None)

    async def close(self) -> None:
        await self.stop()
        for task in list(self._workers.values()):
            task.cancel()
        if self._tools is not None:
            self._tools.close()
        for db in (self._db, self._plain_db):
            if db is not None:
                with contextlib.suppress(Exception):
                    await db.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
