"""Runs the demo's workload twice in one process: with agent_cache, then without it.

Phase 1 plays the session plans against tools decorated with agent_cache, inside
``AgentCacheSession``\\ s with loop detection, ``concurrency`` sessions at a time, until every
plan ran or ``duration`` seconds passed (then it stops starting sessions and lets the
running ones finish). Phase 2 replays exactly the sessions phase 1 started, against the
same tool bodies undecorated and a freshly seeded copy of the database, and counts the
queries that workload costs without a cache. Agents do not "think" in phase 2: thinking
time changes no query count, and it keeps the run short.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry import trace

from .catalog import Catalog, make_catalog
from .db import Database
from .progress import PHASE_BASELINE, PHASE_CACHED, Progress
from .scenarios import Outcome, Plan, plan_session, play, sleep_think
from .spans import TraceCollector
from .tools import ToolStats, build_tools
from .upstream import SESSION, Outage, Upstream, UpstreamProfile


@dataclass(frozen=True)
class RunConfig:
    """Everything a run depends on (the command-line options, validated)."""

    sessions: int = 400
    concurrency: int = 16
    duration_s: float = 40.0
    loop_rate: float = 0.2
    seed: int = 42
    scope: str = "seed"
    latency_ms: float = 5.0
    think_ms: float = 40.0
    redis_url: str | None = None  # put the cached tools on this shared Redis tier (L2)
    outage: Outage | None = None  # take the research tools' web API down for a while
    upstream: UpstreamProfile = field(default_factory=UpstreamProfile)  # how the research tools cache that API


@dataclass
class PhaseResult:
    """One phase's figures (tallies, not per-session records: a long run stays small)."""

    label: str
    sessions: int
    misbehaving: int
    loops: Counter[str]  # caught loops by kind
    queries: int
    by_op: Counter[str]
    db_busy_s: float
    elapsed_s: float
    stats: ToolStats
    upstream_errors: int = 0  # tool calls that failed because the web API was down

    @property
    def tool_calls(self) -> int:
        return self.stats.total_calls


@dataclass
class Showcase:
    """The session whose span tree the summary prints: the most eventful one seen."""

    outcome: Outcome | None = None
    spans: list[Any] = field(default_factory=list)
    score: tuple[bool, ...] = ()

    def consider(self, outcome: Outcome, collector: TraceCollector | None) -> None:
        if collector is None or not outcome.trace_id:
            return
        score = _interest(outcome)
        if score > self.score:
            spans = collector.take(outcome.trace_id)
            if spans:
                self.outcome, self.spans, self.score = outcome, spans, score
                return
        collector.discard(outcome.trace_id)


def _interest(outcome: Outcome) -> tuple[bool, ...]:
    """Compared in order: a caught loop first, then hits, invalidations, coalesced, misses."""
    m = outcome.metrics
    return (
        outcome.loop_kind is not None,
        m.get("hits", 0) > 0,
        m.get("invalidations", 0) > 0,
        m.get("coalesced", 0) > 0,
        m.get("misses", 0) > 0,
    )


@dataclass
class RunResult:
    config: RunConfig
    planned: int
    cached: PhaseResult
    baseline: PhaseResult
    library: dict[str, Any]  # agent_cache.get_metrics() after phase 1
    showcase: Showcase
    interrupted: bool

    @property
    def baseline_complete(self) -> bool:
        """False when the baseline was aborted before replaying every session of phase 1."""
        return self.baseline.sessions == self.cached.sessions


async def run(
    config: RunConfig,
    progress: Progress,
    *,
    collector: TraceCollector | None,
    stop: asyncio.Event,
    abort: asyncio.Event | None = None,
    backend: Any = None,
) -> RunResult:
    """Play the workload with the cache, then without; return both phases' figures.

    ``stop`` ends phase 1 early (no new sessions); the baseline still replays the sessions
    that started, since it is quick. ``abort`` ends the baseline early too.

    ``backend`` is the shared tier for ``config.redis_url``, when the caller wants it to
    outlive the run (the demo keeps it, and its metrics, while telemetry is scraped);
    otherwise the run opens its own and closes it.
    """
    abort = abort if abort is not None else asyncio.Event()
    from agent_cache import AgentCacheSession, AgentLoopDetectedError, get_metrics, reset_global_state

    reset_global_state()
    catalog = make_catalog(random.Random(config.seed))
    tracer = trace.get_tracer("agent_cache.demo")
    showcase = Showcase()

    def new_session(plan: Plan) -> AgentCacheSession:
        return AgentCacheSession(
            session_id=plan.session_id, name=plan.scenario, on_loop="raise", **plan.limits
        )

    with tempfile.TemporaryDirectory(prefix="agent-cache-demo-") as tmp:
        # -- phase 1: with agent_cache ----------------------------------------------------------
        db = await Database.create(Path(tmp), catalog, latency_ms=config.latency_ms,
                                   seed=config.seed, name="with-cache")
        shared = backend if backend is not None else shared_tier(config.redis_url)
        upstream = Upstream(config.outage, config.upstream.load_timeout)
        tools = build_tools(db, cached=True, scope=config.scope, loop_error=AgentLoopDetectedError,
                            backend=shared, upstream=upstream, profile=config.upstream)

        async def cached_session(plan: Plan) -> Outcome:
            think_rng = random.Random(f"{config.seed}/{plan.index}/think")
            think_s = config.think_ms / 1000.0

            async def think() -> None:
                await sleep_think(think_rng, think_s)

            attrs = {"demo.scenario": plan.scenario, "demo.misbehaviour": plan.misbehaviour or "none"}
            with tracer.start_as_current_span(f"demo.session {plan.scenario}", attributes=attrs) as span:
                outcome = await play(plan, tools, think, session_factory=new_session,
                                     loop_error=AgentLoopDetectedError)
                if outcome.loop_kind:
                    span.set_attribute("demo.loop.kind", outcome.loop_kind)
                outcome.trace_id = span.get_span_context().trace_id
            showcase.consider(outcome, collector)
            return outcome

        deadline = time.monotonic() + config.duration_s
        upstream.begin()  # the outage's clock starts with the cached run
        progress.begin(PHASE_CACHED, config.sessions, db, deadline)
        cached = await _phase(PHASE_CACHED, config, catalog, config.sessions, cached_session, db,
                              tools.stats, deadline, stop, progress)
        library = dict(get_metrics())
        tools.close()
        if shared is not None:
            library["shared_tier"] = dict(shared.get_metrics())
            if backend is None:
                await shared.close()

        # -- phase 2: the same sessions, no cache, no loop detection ----------------------------
        db = await Database.create(Path(tmp), catalog, latency_ms=config.latency_ms,
                                   seed=config.seed, name="without-cache")
        upstream.replay()
        plain = build_tools(db, cached=False, upstream=upstream)

        async def no_think() -> None:
            return None

        async def plain_session(plan: Plan) -> Outcome:
            return await play(plan, plain, no_think, session_factory=None, loop_error=None)

        progress.begin(PHASE_BASELINE, cached.sessions, db, None)
        baseline = await _phase(PHASE_BASELINE, config, catalog, cached.sessions, plain_session, db,
                                plain.stats, None, abort, progress)

    if collector is not None:
        collector.reset()
    return RunResult(config, config.sessions, cached, baseline, library, showcase, stop.is_set())


def shared_tier(url: str | None) -> Any:
    """A :class:`~agent_cache.backends.redis.RedisBackend` for ``--redis`` (None without it).

    Every replica of the demo uses the same namespace, so replicas share entries and each
    other's invalidations, as an application's replicas would.
    """
    if url is None:
        return None
    from agent_cache.backends.redis import RedisBackend

    return RedisBackend(url, namespace="agent-cache-demo")


async def _phase(
    label: str,
    config: RunConfig,
    catalog: Catalog,
    sessions: int,
    play_one: Callable[[Plan], Awaitable[Outcome]],
    db: Database,
    stats: ToolStats,
    deadline: float | None,
    stop: asyncio.Event,
    progress: Progress,
) -> PhaseResult:
    """Play sessions ``0 .. sessions-1`` in order, ``concurrency`` at a time.

    Sessions start in index order, so the ones a phase started are always a prefix: the
    baseline replays exactly that prefix.
    """
    started = time.monotonic()
    indices = iter(range(sessions))
    tally = PhaseResult(label, 0, 0, Counter(), 0, Counter(), 0.0, 0.0, stats)

    async def worker() -> None:
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            index = next(indices, None)
            if index is None:
                return
            plan = plan_session(catalog, config.seed, index, config.loop_rate)
            if plan.order is not None:
                await db.add_order(plan.order)
            SESSION.set(index)  # each worker is its own task: its calls know their session
            outcome = await play_one(plan)
            tally.sessions += 1
            tally.upstream_errors += outcome.upstream_errors
            tally.misbehaving += plan.misbehaves
            if outcome.loop_kind:
                tally.loops[outcome.loop_kind] += 1
            progress.record(outcome)

    workers = [asyncio.ensure_future(worker()) for _ in range(config.concurrency)]
    try:
        done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()  # re-raise a worker's bug here, not later
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        tally.elapsed_s = time.monotonic() - started
        await db.close()
    progress.end()
    tally.queries, tally.by_op, tally.db_busy_s = db.queries, Counter(db.by_op), db.busy_s
    return tally
