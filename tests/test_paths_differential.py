"""Randomised differential test: the fast path, the reference path and the traced path
(OpenTelemetry SDK installed) answer every operation sequence identically.

Hypothesis draws sequences of calls (positional and keyword), ``set`` with and without a
TTL, ``delete``, ``clear``, invalidating mutations, clock advances, session enter/exit and
upstream outages (the body raises) — also on callables with the resilience options of
issue 15 (``sttl``, ``rtool``: stale-while-revalidate, stale-if-error, and a load timeout
long enough never to fire, so loads run in tasks of their own). Every operation is
followed by a few event-loop turns, so background refreshes finish at the same point on
every path.
Each sequence runs three times on fresh objects — wrappers built on the fast path, wrappers
built with ``AGENT_CACHE_REFERENCE_PATH=1``, and fast-built wrappers with the SDK installed —
and every result, every exception type and the final metrics must agree.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agent_cache
from agent_cache import AgentCache, AgentCacheInvalidator, AgentCacheSession, AsyncLRU, AsyncTTL
from agent_cache.core.wrappers import REFERENCE_PATH_ENV
from helpers import FakeClock
from otel_globals import install_providers, uninstall_providers

KEYS = st.integers(min_value=0, max_value=3)
CACHED = ["lru", "ttl", "tool", "sttl", "rtool"]
OPS = st.one_of(
    st.tuples(st.just("call"), st.sampled_from([*CACHED, "stool"]), KEYS, st.booleans()),
    st.tuples(st.just("set"), st.sampled_from(CACHED), KEYS, st.sampled_from([None, 1.0, 5.0])),
    st.tuples(st.just("delete"), st.sampled_from(CACHED), KEYS),
    st.tuples(st.just("clear"), st.sampled_from(CACHED)),
    st.tuples(st.just("mutate"), KEYS),
    st.tuples(st.just("advance"), st.sampled_from([0.5, 1.0, 3.0, 10.0])),
    st.tuples(st.just("session"), st.sampled_from(["enter", "exit"])),
    st.tuples(st.just("fail"), st.booleans()),
)

_ids = itertools.count()


class Outage(Exception):
    """The upstream is down (the ``fail`` op)."""


class Twin:
    """One full set of decorated callables, on one path, with its own clock and resource."""

    def __init__(self, reference: bool) -> None:
        self.clock = FakeClock()
        self.runs = 0
        self.failing = False
        resource = f"r{next(_ids)}"
        previous = os.environ.pop(REFERENCE_PATH_ENV, None)
        if reference:
            os.environ[REFERENCE_PATH_ENV] = "1"
        try:
            self.fns: dict[str, Any] = {
                "lru": AsyncLRU(maxsize=3, clock=self.clock)(self.body),
                "ttl": AsyncTTL(time_to_live=2, maxsize=3, clock=self.clock)(self.body),
                "tool": AgentCache(resource=resource, ttl=4, maxsize=3, clock=self.clock)(self.body),
                "stool": AgentCache(resource=resource, scope="session", clock=self.clock)(self.body),
                "sttl": AsyncTTL(
                    time_to_live=2, maxsize=3, clock=self.clock,
                    stale_while_revalidate=3, stale_if_error=5, load_timeout=60,
                )(self.body),
                "rtool": AgentCache(
                    resource=resource, ttl=4, maxsize=3, clock=self.clock, stale_while_revalidate=2, stale_if_error=6,
                )(self.body),
            }
            self.mutate = AgentCacheInvalidator(resource=resource)(self.mutation)
            self.smutate = AgentCacheInvalidator(resource=resource, scope="session")(self.mutation)
        finally:
            os.environ.pop(REFERENCE_PATH_ENV, None)
            if previous is not None:
                os.environ[REFERENCE_PATH_ENV] = previous

    async def body(self, x: int) -> str:
        self.runs += 1
        if self.failing:
            raise Outage(f"run {self.runs}")
        return f"{x}#{self.runs}"

    async def mutation(self, x: int) -> str:
        self.runs += 1
        return f"m{x}"

    async def play(self, ops: list[tuple[Any, ...]]) -> list[Any]:
        out: list[Any] = []
        session: AgentCacheSession | None = None
        for op in ops:
            try:
                out.append(await self.step(op, session))
                if op == ("session", "enter") and session is None:
                    session = AgentCacheSession(max_tool_repeats=3, on_loop="short_circuit")
                    await session.__aenter__()
                elif op == ("session", "exit") and session is not None:
                    await session.__aexit__(None, None, None)
                    session = None
            except Exception as exc:  # compared by type: the paths must fail alike
                out.append(("raised", type(exc).__name__))
            for _ in range(6):  # let background refreshes finish before the next step
                await asyncio.sleep(0)
        if session is not None:
            await session.__aexit__(None, None, None)
        metrics = {name: fn.get_metrics() for name, fn in self.fns.items()}
        for m in metrics.values():
            m.pop("size", None)  # entries are not lookups; sizes are compared through results
        out.append(metrics)
        return out

    async def step(self, op: tuple[Any, ...], session: AgentCacheSession | None) -> Any:
        kind = op[0]
        if kind == "call":
            _, name, key, keyword = op
            fn = self.fns[name]
            return await (fn(x=key) if keyword else fn(key))
        if kind == "set":
            _, name, key, ttl = op
            await self.fns[name].cache.set((key,), f"set{key}", ttl=ttl)
            return None
        if kind == "delete":
            _, name, key = op
            return bool(await self.fns[name].cache.delete((key,)))
        if kind == "clear":
            return self.fns[op[1]].cache.clear()
        if kind == "mutate":
            await self.mutate(op[1])
            if session is not None:
                await self.smutate(op[1])
            return None
        if kind == "advance":
            self.clock.advance(op[1])
            return None
        if kind == "fail":
            self.failing = op[1]
            return None
        return None


def run(ops: list[tuple[Any, ...]], *, reference: bool, sdk: bool) -> list[Any]:
    if sdk:
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
        install_providers(tracer_provider, MeterProvider(metric_readers=[InMemoryMetricReader()]))
    try:
        return asyncio.run(Twin(reference).play(ops))
    finally:
        if sdk:
            uninstall_providers(shutdown=True)
        agent_cache.reset_global_state()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(OPS, min_size=1, max_size=40))
def test_fast_reference_and_traced_paths_never_diverge(ops: list[tuple[Any, ...]]) -> None:
    fast = run(ops, reference=False, sdk=False)
    reference = run(ops, reference=True, sdk=False)
    traced = run(ops, reference=False, sdk=True)
    assert fast == reference, "fast path diverged from the reference"
    assert fast == traced, "the traced path (SDK installed) diverged"
