"""The scenarios of issue 5, each a list of :class:`harness.Case` over chosen contenders.

Every body a cache wraps counts its own calls, so each row can prove what it measured: a
"hit" row whose body ran is flagged, and the herd row reports how many loads really ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import re
import tracemalloc
from dataclasses import dataclass, field
from typing import Any, AsyncContextManager, Callable

import contenders as C
import floors
from harness import Case, Sample, cpu_clock, timed_loop, wall_clock


@dataclass(frozen=True)
class Params:
    """Sizes of every scenario; ``quick()`` shrinks them for a smoke run."""

    reps: int = 9
    hot_keys: int = 1_000
    hot_calls: int = 100_000
    hot_maxsize: int = 2_048
    herd: int = 1_000
    herd_sleep_s: float = 0.010
    churn_calls: int = 100_000
    churn_space: int = 1_000_000
    churn_maxsize: int = 10_000
    batch_keys: int = 1_000
    sdk_calls: int = 5_000
    seed: int = 5
    # A contender slower than budget_s per repetition at the full size runs fewer calls
    # (never fewer than min_calls, and for churn never fewer than 2.5 × maxsize): a steady
    # state costs the same per call, and cashews would otherwise take minutes alone.
    budget_s: float = 0.15
    min_calls: int = 5_000

    @classmethod
    def quick(cls) -> "Params":
        return cls(reps=3, hot_calls=3_000, churn_calls=4_000, churn_maxsize=1_000,
                   sdk_calls=1_000, budget_s=0.05, min_calls=1_000)

    @classmethod
    def smoke(cls) -> Params:
        """Tiny sizes: every scenario and contender runs, in seconds; the figures mean nothing."""
        return cls(reps=2, hot_keys=50, hot_calls=200, hot_maxsize=64, herd=20,
                   herd_sleep_s=0.002, churn_calls=400, churn_space=20_000, churn_maxsize=100,
                   batch_keys=50, sdk_calls=100, budget_s=0.005, min_calls=100)

    def calls(self, probe_ns: int, probe_calls: int, total: int, at_least: int = 0,
              family: str = C.PEER) -> int:
        """How many of ``total`` calls fit the budget, from a probe's timing.

        Only peers are cut: agent_cache and the floors always run the issue's full sizes,
        since the targets are stated at those sizes."""
        if family != C.PEER:
            return total
        per_call = max(probe_ns / probe_calls, 1.0)
        fit = int(self.budget_s * 1e9 / per_call)
        return min(total, max(fit, self.min_calls, at_least))


PROBE = 1_000


@dataclass
class Scenario:
    key: str
    title: str
    floor: str  # the contender every ratio in this scenario is taken against
    cases: list[Case]
    unit: str = "ns/call"
    note: str = ""
    rounds_factor: int = 1  # cheap wall-clock scenarios get more rounds: they are noisier
    extras: dict[str, Any] = field(default_factory=dict)


def _ident(text: str) -> str:
    return re.sub(r"\W+", "_", text).strip("_")


def counting_body(name: str, delay_s: float | None = None):
    """A coroutine returning its argument and counting its runs in ``calls[0]``."""
    calls = [0]
    if delay_s is None:

        async def body(k):
            calls[0] += 1
            return k

    else:

        async def body(k):
            calls[0] += 1
            await asyncio.sleep(delay_s)
            return k

    body.__name__ = body.__qualname__ = _ident(name)
    return body, calls


def _hot_keys(p: Params) -> tuple[list[int], list[int]]:
    """1,000 warm keys in a fixed shuffled order, repeated to ``hot_calls`` calls.

    A period of 1,000 keeps every cache warm and never looks like a short A-B-A-B cycle to
    loop detection (which must stay on, with its thresholds raised above the call count)."""
    warm = list(range(p.hot_keys))
    random.Random(p.seed).shuffle(warm)
    return warm, [warm[i % len(warm)] for i in range(p.hot_calls)]


SESSION_KW = dict(loop_detection=True, max_tool_repeats=10**9, max_execution_depth=10**9)


def agent_session() -> AsyncContextManager:
    from agent_cache import AgentCacheSession

    return AgentCacheSession(session_id="bench-session", name="bench", **SESSION_KW)


def _hit_case(scenario: str, c: C.Contender, p: Params, calls: list | None = None,
              context: Callable[[], AsyncContextManager] | None = None,
              warm_inside: bool = False, build: Callable | None = None,
              settle: Callable[[], None] | None = None) -> Case:
    """A warm-cache case: the timed loop only ever hits (the body must not run).

    ``settle`` (the span processor's flush) runs before the timed loop, untimed, so no
    earlier row's leftovers are billed here, and after it, timed, so this row pays for the
    work it queued."""
    warm, keys = _hot_keys(p)
    keys = calls if calls is not None else keys

    async def prepare():
        body, ran = counting_body(f"{scenario}_{c.name}")
        fn = (build or c.build)(body, p.hot_maxsize)
        drive = timed_loop(fn)
        if not warm_inside:
            for k in warm:
                await fn(k)

        async def timed(some: list) -> tuple[int, int]:
            async with (context() if context else contextlib.nullcontext()):
                if warm_inside:
                    for k in warm:
                        await fn(k)
                before = ran[0]
                if settle:
                    settle()
                ns = await drive(some)
                if settle:
                    t0 = cpu_clock()
                    settle()
                    ns += cpu_clock() - t0
            return ns, ran[0] - before

        probe_ns, _ = await timed(keys[:PROBE])
        n = p.calls(probe_ns, min(PROBE, len(keys)), len(keys), family=c.family)
        used = keys[:n]

        async def rep() -> Sample:
            ns, runs = await timed(used)
            return Sample(ns, n, {"body runs": runs, **_calls_fact(n, len(keys))})

        return rep

    return Case(scenario, c.name, c.family, prepare)


def _calls_fact(n: int, total: int) -> dict[str, Any]:
    return {"calls": n} if n < total else {}


def hot_hit(p: Params) -> Scenario:
    rows = [C.BARE, C.IDEAL, *C.OUR_DECORATORS, *C.DECORATOR_PEERS]
    return Scenario(
        "hot-hit", f"Hot hit: {p.hot_keys:,} warm keys, {p.hot_calls:,} calls, f(k)", "ideal",
        [_hit_case("hot", c, p) for c in rows],
    )


def _kw_calls(p: Params) -> list[tuple[tuple, dict]]:
    _, keys = _hot_keys(p)
    # Built once and shared: a caller passes the same kind of JSON-like arguments each time.
    per_key = {k: ((), {"query": {"user": k, "status": "open", "sort": "recent"}, "limit": 10})
               for k in set(keys)}
    return [per_key[k] for k in keys]


def _dict_arg_calls(p: Params) -> list[tuple[tuple, dict]]:
    """``f(user, filters={"a": 1, "region": "eu"}, limit=10)``: small dicts, as LLM tool
    calls send them (issue #10's dict-argument target)."""
    _, keys = _hot_keys(p)
    per_key = {k: ((k,), {"filters": {"a": 1, "region": "eu"}, "limit": 10}) for k in set(keys)}
    return [per_key[k] for k in keys]


def _keyword_scenario(name: str, title: str, floor: str, rows: list, calls: list[tuple[tuple, dict]],
                      p: Params) -> Scenario:
    """A hit scenario whose calls carry keyword (and dict) arguments."""
    warm = list({id(call): call for call in calls}.values())
    cases = []
    for c in rows:
        def make(c=c):
            async def prepare():
                ran = [0]

                async def body(*args, **kwargs):
                    ran[0] += 1
                    return args or kwargs

                body.__name__ = body.__qualname__ = _ident(f"kw_{c.name}")
                fn = c.build(body, p.hot_maxsize)
                for args, kw in warm:
                    await fn(*args, **kw)

                async def timed(some: list[tuple[tuple, dict]]) -> int:
                    t0 = cpu_clock()
                    for args, kw in some:
                        await fn(*args, **kw)
                    return cpu_clock() - t0

                n = p.calls(await timed(calls[:PROBE]), PROBE, len(calls), family=c.family)
                used = calls[:n]

                async def rep() -> Sample:
                    before = ran[0]
                    ns = await timed(used)
                    facts = {"body runs": ran[0] - before, **_calls_fact(n, len(calls))}
                    return Sample(ns, n, facts)

                return rep

            return Case(name, c.name, c.family, prepare)

        cases.append(make())
    return Scenario(name, title, floor, cases)


def kwargs_hit(p: Params) -> Scenario:
    rows = [C.BARE, C.IDEAL_KW, C.AC_LRU, C.AC_TTL, C.AC_AGENT, *C.DECORATOR_PEERS]
    return _keyword_scenario(
        "kwargs-hit", "Dict/kwargs hit: f(query={user, status, sort}, limit=10), same keys as hot hit",
        "ideal-kw", rows, _kw_calls(p), p,
    )


def dict_arg_hit(p: Params) -> Scenario:
    rows = [C.BARE, C.IDEAL_KW_ORDERED, C.AC_LRU, C.AC_AGENT]
    return _keyword_scenario(
        "dict-arg-hit", 'Dict-argument hit: f(user, filters={"a": 1, "region": "eu"}, limit=10)',
        "ideal-kw-ordered", rows, _dict_arg_calls(p), p,
    )


def herd(p: Params) -> Scenario:
    rows = [C.BARE, C.IDEAL, *C.OUR_DECORATORS, C.AC_AGENT, C.ASYNCCACHE_LRU,
            C.ASYNCCACHE_TTL, C.ASYNCCACHE_GET, C.ALRU, C.AIOCACHE, C.AIOCACHE_NT, C.CASHEWS]
    cases = []
    for c in rows:
        def make(c=c):
            async def prepare():
                c.build(counting_body("probe")[0], 16)  # fail early if the library is missing

                async def rep() -> Sample:
                    body, ran = counting_body(f"herd_{c.name}", p.herd_sleep_s)
                    fn = c.build(body, 16)
                    t0 = wall_clock()
                    results = await asyncio.gather(*[fn(7) for _ in range(p.herd)])
                    ns = wall_clock() - t0
                    wrong = sum(r != 7 for r in results)
                    facts = {"loader calls": ran[0], "wall ms": round(ns / 1e6, 2)}
                    if wrong:
                        facts["wrong results"] = wrong
                    return Sample(ns, p.herd, facts)

                return rep

            return Case("herd", c.name, c.family, prepare)

        cases.append(make())
    return Scenario(
        "herd", f"Herd: {p.herd:,} concurrent misses on one key, loader sleeps "
        f"{p.herd_sleep_s * 1000:g} ms (ns/call = wall / {p.herd:,})", "ideal", cases,
        note="ideal and bare have no single-flight: their loader runs once per caller.",
        rounds_factor=2,
    )


def _churn_keys(p: Params) -> list[int]:
    rng = random.Random(p.seed + 1)
    return [rng.randrange(p.churn_space) for _ in range(p.churn_calls)]


def churn(p: Params) -> Scenario:
    rows = [C.BARE, C.IDEAL, *C.OUR_DECORATORS, C.AC_AGENT, C.ASYNCCACHE_LRU, C.ASYNCCACHE_TTL,
            C.ALRU, C.AIOCACHE, C.AIOCACHE_NT, C.CASHEWS]
    keys = _churn_keys(p)
    cases = []
    for c in rows:
        def make(c=c):
            used: list[int] = []

            async def prepare():
                probe = timed_loop(c.build(counting_body("probe")[0], p.churn_maxsize))
                n = p.calls(await probe(keys[:PROBE]), PROBE, len(keys), 5 * p.churn_maxsize // 2,
                            c.family)
                used[:] = keys[:n]

                async def rep() -> Sample:
                    body, ran = counting_body(f"churn_{c.name}")
                    fn = c.build(body, p.churn_maxsize)
                    ns = await timed_loop(fn)(used)
                    return Sample(ns, n, {"body runs": ran[0], **_calls_fact(n, len(keys))})

                return rep

            case = Case("churn", c.name, c.family, prepare)
            case.after = lambda c=c: retained_memory(c, used, p.churn_maxsize)
            return case

        cases.append(make())
    return Scenario(
        "churn", f"Miss churn: {p.churn_calls:,} calls over {p.churn_space:,} keys, "
        f"maxsize {p.churn_maxsize:,}", "ideal", cases,
        note="Memory: bytes still allocated (tracemalloc) with the cache alive after half and "
        "after all the calls; 'growth' near 1.0 means bounded by maxsize.",
    )


async def retained_memory(c: C.Contender, keys: list, maxsize: int) -> dict[str, Any]:
    """Bytes a fresh cache retains after half and after all of ``keys`` (untimed pass)."""
    body, _ = counting_body(f"mem_{c.name}")
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        fn = c.build(body, maxsize)
        half = len(keys) // 2
        for k in keys[:half]:
            await fn(k)
        gc.collect()
        mid = tracemalloc.get_traced_memory()[0] - base
        for k in keys[half:]:
            await fn(k)
        gc.collect()
        end = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    del fn
    return {"retained KiB": round(end / 1024), "growth": round(end / mid, 2) if mid > 0 else 0}


def batching(p: Params) -> Scenario:
    cases = [
        _batch_case("dataloader", C.FLOOR, p, _dataloader_get),
        _batch_case(AC_BATCH, C.OURS, p, _ac_batch_get),
        _batch_case("async-cache.AsyncCache.get(batch_loader=)", C.PEER, p, _asynccache_batch_get),
    ]
    return Scenario(
        "batching", f"Batching: {p.batch_keys:,} concurrent distinct keys, batch_loader, "
        "window 5 ms, max batch 100 (ns/key = wall / keys)", "dataloader", cases,
        rounds_factor=4,
    )


AC_BATCH = "agent_cache.AsyncCache.get(batch_loader=)"


def _dataloader_get(batch_fn):
    load = floors.DataLoader(batch_fn, window_ms=5, max_batch_size=100).load

    async def get(k):  # a caller is a task awaiting its key, as with the caches
        return await load(k)

    return get


def _ac_batch_get(batch_fn):
    from agent_cache import AsyncCache

    get = AsyncCache(maxsize=10_000, batch_window_ms=5, max_batch_size=100, name="bench_batch").get
    return lambda k: get(k, batch_loader=batch_fn)


def _asynccache_batch_get(batch_fn):
    from cache import AsyncCache

    get = AsyncCache(maxsize=10_000, batch_window_ms=5, max_batch_size=100).get
    return lambda k: get(k, batch_loader=batch_fn)


def _batch_case(name: str, family: str, p: Params, make_get) -> Case:
    async def prepare():
        make_get(None)

        async def rep() -> Sample:
            sizes: list[int] = []

            async def batch_fn(keys):
                sizes.append(len(keys))
                return {k: k * 2 for k in keys}

            get = make_get(batch_fn)
            keys = range(p.batch_keys)
            t0 = wall_clock()
            results = await asyncio.gather(*[get(k) for k in keys])
            ns = wall_clock() - t0
            facts = {"batches": len(sizes), "largest": max(sizes, default=0)}
            if list(results) != [k * 2 for k in keys]:
                facts["wrong results"] = 1
            return Sample(ns, p.batch_keys, facts)

        return rep

    return Case("batching", name, family, prepare)


AC_IN_SESSION = C.Contender("agent_cache.AgentCache in session", C.OURS, C._ac_agent,
                            "scope=global, inside AgentCacheSession(loop_detection=True)")
AC_SESSION_SCOPE = C.Contender("agent_cache.AgentCache(scope=session)", C.OURS,
                               C._ac_agent_session_scope, "inside its session")


def agent_hit(p: Params, key: str = "agent-hit", sdk: Any = None) -> Scenario:
    """AgentCache hits outside and inside a loop-detecting session; with ``sdk``, also the
    one-bare-span floor through the same span processor."""
    calls = None if sdk is None else _hot_keys(p)[1][: p.sdk_calls]
    settle = None if sdk is None else sdk.flush
    cases = [
        _hit_case(key, C.BARE, p, calls, settle=settle),
        _hit_case(key, C.IDEAL, p, calls, settle=settle),
        _hit_case(key, C.AC_AGENT, p, calls, settle=settle),
        _hit_case(key, AC_IN_SESSION, p, calls, context=agent_session, settle=settle),
        _hit_case(key, AC_SESSION_SCOPE, p, calls, context=agent_session, warm_inside=True,
                  settle=settle),
    ]
    floor = "ideal"
    title = f"AgentCache hit, {p.hot_calls:,} calls over {p.hot_keys:,} warm keys, no OTel SDK"
    if sdk is not None:
        floor = "sdk-span"
        title = (f"AgentCache hit with the OTel SDK (TracerProvider + BatchSpanProcessor to a "
                 f"dropping exporter, MeterProvider), {len(calls):,} calls")
        for c in sdk.floor_contenders(key):
            cases.insert(2, _hit_case(key, c, p, calls, context=sdk.parent_span, settle=settle))
        for case in cases:
            case.after = _span_counter(sdk, case)
    if sdk is not None:
        title += ("; spans/call counts an extra untimed repetition, so it includes the "
                  "session's own span and, for scope=session, the warm-up misses' spans")
    return Scenario(key, title, floor, cases)


def _span_counter(sdk, case: Case):
    """Spans exported per timed call, from one extra untimed repetition."""

    async def after() -> dict[str, Any]:
        sdk.flush()
        before = sdk.exported()
        sample = await case.rep()
        sdk.flush()
        return {"spans/call": round((sdk.exported() - before) / sample.calls, 2)}

    return after


ALL_NO_SDK = [hot_hit, kwargs_hit, dict_arg_hit, agent_hit, herd, batching, churn]
