"""Telemetry counters stay correct, and nothing deadlocks, whenever the collector runs.

A cache registers its counters with :func:`agent_cache.telemetry.runtime.track` and a
``weakref.finalize`` on its owner folds them into the retired totals when the owner is
collected. The collector runs finalizers in whatever thread triggered it, at whatever point
that thread was: from Python 3.12 at any eval-breaker check, so also between the acquire
and the release of a lock in the telemetry module. A finalizer that takes that lock then
waits for itself forever (the full suite hung that way on 3.12 and 3.13, and at interpreter
exit ``atexit`` finalizers hung the same way).

The script below makes the worst case happen on every Python: a profile hook runs a full
collection at every call of a built-in the telemetry module makes (where 3.12+ checks the
eval breaker), while caches that died in reference cycles wait to be collected. It runs in
a child process so a deadlock is killed, not hung.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, sys
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry import metrics
    from agent_cache import AsyncCache
    from agent_cache.telemetry import runtime

    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

    async def one_miss(cache):
        await cache.get("k", loader=lambda: 1)

    def dead_cache():
        cache = AsyncCache(name="gc-probe")
        asyncio.run(one_miss(cache))
        box = [cache]
        box.append(box)  # a cycle holds the cache: only the collector frees it

    def misses():
        data = reader.get_metrics_data()
        return sum(
            p.value
            for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
            if m.name == "agent_cache.requests"
            for p in m.data.data_points
            if p.attributes["agent_cache.resource"] == "gc-probe"
            and p.attributes["agent_cache.result"] == "miss"
        )

    def collect_inside_telemetry(frame, event, arg):
        if event == "c_call" and frame.f_globals.get("__name__") == runtime.__name__:
            gc.collect()

    gc.disable()
    for _ in range(3):
        dead_cache()
    sys.setprofile(collect_inside_telemetry)
    alive = AsyncCache(name="gc-probe")     # registers while dead caches are collected
    for _ in range(2):
        dead_cache()
    counted = misses()                      # observes while dead caches are collected
    sys.setprofile(None)
    gc.collect()
    print(counted, misses())
    """
)


def test_collector_running_inside_telemetry_neither_deadlocks_nor_loses_counts() -> None:
    try:
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            check=False, capture_output=True, text=True, timeout=60,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            "deadlocked: a weakref finalizer waited for the telemetry lock its own thread "
            f"held\n{exc.stderr}"
        ) from None
    assert done.returncode == 0, done.stderr
    # Five caches each missed once; the dead ones' counts are retired, never lost.
    assert done.stdout.split() == ["5", "5"], done.stdout + done.stderr
