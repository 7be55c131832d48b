#!/usr/bin/env python3
"""Spin one agent_cache path in a loop, for a profiler to attach to.

    python benchmarks/hotpath.py session-hit --seconds 10
    py-spy record -r 2000 -f raw -o out.txt -- .venv/bin/python benchmarks/hotpath.py lru-hit

Paths: lru-hit, ttl-hit, get-hit, kwargs-hit, agent-hit, session-hit, sdk-session-hit,
lru-churn. Each uses the same setup as the matching row of run.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import contenders as C  # noqa: E402
import scenarios as S  # noqa: E402


def _build(path: str, p: S.Params):
    """(callable, call list, async context factory or None, uses kwargs)."""
    warm, keys = S._hot_keys(p)
    body, _ = S.counting_body(f"hot_{path}")
    if path == "kwargs-hit":
        async def kw_body(*, query, limit):
            return query["user"]

        return C.AC_LRU.build(kw_body, p.hot_maxsize), S._kw_calls(p), None, True
    if path == "lru-churn":
        return C.AC_LRU.build(body, p.churn_maxsize), S._churn_keys(p), None, False
    builders = {"lru-hit": C.AC_LRU, "ttl-hit": C.AC_TTL, "get-hit": C.AC_GET,
                "agent-hit": C.AC_AGENT, "session-hit": C.AC_AGENT, "sdk-session-hit": C.AC_AGENT}
    if path.startswith("sdk"):
        import otel_sdk

        otel_sdk.SDK()
    fn = builders[path].build(body, p.hot_maxsize)
    ctx = S.agent_session if "session" in path else None
    return fn, keys[: p.sdk_calls] if path.startswith("sdk") else keys, ctx, False


async def spin(path: str, seconds: float) -> None:
    p = S.Params()
    fn, calls, ctx, kw = _build(path, p)
    warm, _ = S._hot_keys(p)
    if not path.endswith("churn"):
        for k in (calls[:p.hot_keys] if kw else warm):
            await (fn(**k) if kw else fn(k))
    done, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        async with (ctx() if ctx else contextlib.nullcontext()):
            t0 = time.perf_counter_ns()
            if kw:
                for c in calls:
                    await fn(**c)
            else:
                for k in calls:
                    await fn(k)
            done += len(calls)
    print(f"{path}: {done:,} calls, last batch {(time.perf_counter_ns() - t0) / len(calls):,.0f} ns/call")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("path")
    ap.add_argument("--seconds", type=float, default=5)
    a = ap.parse_args()
    asyncio.run(spin(a.path, a.seconds))
