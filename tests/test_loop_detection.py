"""Loop detection: repeats of one call, cycles of two or more tools, total depth; and the
three ``on_loop`` modes (raise, warn, short_circuit)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter

import pytest

from agent_cache import (
    AgentCache,
    AgentCacheInvalidator,
    AgentCacheSession,
    AgentLoopDetectedError,
    call_key,
    get_metrics,
)
from agent_cache.agent.loops import CallLog
from helpers import counted, guarded

runs: Counter = Counter()  # tool name -> how many times its body really ran


@pytest.fixture(autouse=True)
def reset_runs():
    runs.clear()


# Module-level tools, so their names (``__qualname__``) are plain: "search", "summarize", ...


@AgentCache(resource="web")
async def search(query):
    runs["search"] += 1
    return f"results for {query}"


@AgentCache(resource="web")
async def summarize(text):
    runs["summarize"] += 1
    return str(text)[:10]


@AgentCache(resource="notes")
async def plan(step):
    runs["plan"] += 1
    return step


@AgentCacheInvalidator(resource="web")
async def refresh(query):
    runs["refresh"] += 1
    return "refreshed"


async def call_all(calls):
    for tool, arg in calls:
        await tool(arg)


async def test_repeats_over_the_limit_raise():
    async with AgentCacheSession(max_tool_repeats=3) as session:
        for _ in range(3):
            await search("q")
        with pytest.raises(AgentLoopDetectedError) as info:
            await search("q")
    assert str(info.value) == "Tool 'search' called 4 times with same arguments (limit: 3)"
    assert (info.value.kind, info.value.tool) == ("repeat", "search")
    assert session.get_metrics()["loop_detections"] == 1


async def test_the_same_tool_with_different_arguments_is_not_a_repeat_nor_a_cycle():
    async with AgentCacheSession(max_tool_repeats=1, max_execution_depth=100):
        for i in range(20):
            await search(i % 10 + 100 * (i // 10))  # 20 distinct arguments
        await search("x")
    assert runs["search"] == 21


async def test_a_repeat_counts_hits_too():
    async with AgentCacheSession(max_tool_repeats=2):
        await search("q")
        await search("q")  # a cache hit, still a call the agent made
        with pytest.raises(AgentLoopDetectedError):
            await search("q")
    assert runs["search"] == 1


@pytest.mark.parametrize(
    "calls, message",
    [
        ([(search, 1), (summarize, 1), (search, 1), (summarize, 1)], "Cycle detected: search -> summarize"),
        ([(search, 1), (summarize, 1), (search, 2), (summarize, 2)], "Cycle detected: search -> summarize"),
        (
            [(search, 1), (summarize, 1), (plan, 1), (search, 1), (summarize, 1), (plan, 1)],
            "Cycle detected: search -> summarize -> plan",
        ),
        (
            [(plan, 0), (search, 1), (summarize, 1), (search, 2), (summarize, 2)],
            "Cycle detected: search -> summarize",
        ),
    ],
)
async def test_cycles_of_two_or_more_tools_raise(calls, message):
    async with AgentCacheSession(max_tool_repeats=100):
        await call_all(calls[:-1])
        with pytest.raises(AgentLoopDetectedError) as info:
            await calls[-1][0](calls[-1][1])
    assert str(info.value) == message
    assert info.value.kind == "cycle"


async def test_a_cycle_right_after_a_long_one_tool_streak_is_found():
    """Eleven distinct searches (longer than the cycle window), then an oscillation."""
    async with AgentCacheSession(max_tool_repeats=100, max_execution_depth=100):
        await call_all([(search, i) for i in range(11)] + [(summarize, 1), (search, 1)])
        with pytest.raises(AgentLoopDetectedError, match="Cycle detected: search -> summarize"):
            await summarize(1)


@pytest.mark.parametrize(
    "calls",
    [
        [(search, 1), (search, 2), (summarize, 1), (summarize, 2)],  # A A B B
        [(search, 1), (summarize, 1), (search, 2), (plan, 1), (search, 3), (summarize, 2)],  # A B A C A B
        [(search, 1), (summarize, 1), (search, 2)],  # A B A: not yet
        [(search, i) for i in range(8)],  # one tool alone is never a cycle
    ],
)
async def test_sequences_that_are_not_cycles(calls):
    async with AgentCacheSession(max_tool_repeats=100):
        await call_all(calls)


async def test_execution_depth_over_the_limit_raises():
    async with AgentCacheSession(max_execution_depth=5):
        await call_all([(search, i) for i in range(5)])
        with pytest.raises(AgentLoopDetectedError) as info:
            await search(5)
    assert str(info.value) == "Execution depth exceeded: 6 > 5"
    assert info.value.kind == "max_depth"
    assert runs["search"] == 5  # the call over the limit did not run


async def test_loop_detection_off_checks_nothing_but_keeps_the_trace():
    async with AgentCacheSession(loop_detection=False, max_tool_repeats=1, max_execution_depth=2) as session:
        await call_all([(search, 1), (summarize, 1)] * 3)
        assert len(session.get_execution_trace()) == 6
    assert session.get_metrics()["loop_detections"] == 0


async def test_warn_mode_logs_and_runs_the_call(caplog):
    async with AgentCacheSession(max_tool_repeats=2, on_loop="warn") as session:
        with caplog.at_level(logging.WARNING, logger="agent_cache"):
            for _ in range(4):
                assert await refresh("q") == "refreshed"
    assert runs["refresh"] == 4  # every call ran
    assert session.get_metrics()["loop_detections"] == 2
    warnings = [r for r in caplog.records if "loop detected" in r.getMessage().lower()]
    assert len(warnings) == 2 and "called 3 times" in warnings[0].getMessage()


async def test_short_circuit_returns_the_cached_value_and_skips_the_call():
    async with AgentCacheSession(max_tool_repeats=1, on_loop="short_circuit") as session:
        assert await plan("step-1") == "step-1"
        assert await plan("step-1") == "step-1"  # short-circuited: answered from cache
    assert runs["plan"] == 1
    metrics = session.get_metrics()
    assert (metrics["loop_detections"], metrics["short_circuits"]) == (1, 1)


async def test_short_circuit_returns_none_when_nothing_is_cached():
    async with AgentCacheSession(max_tool_repeats=1, on_loop="short_circuit"):
        assert await search("q") == "results for q"
        assert await refresh("q") == "refreshed"  # clears the cached search
        assert await search("q") is None  # a repeat, nothing cached: None, not run
        assert await refresh("q") is None  # a repeated mutation is skipped too
    assert (runs["search"], runs["refresh"]) == (1, 1)


async def test_short_circuit_on_a_session_scoped_tool():
    body = counted(lambda run, key: key * 2)
    scratch = AgentCache(resource="scratch", scope="session")(body)
    async with AgentCacheSession(max_tool_repeats=1, on_loop="short_circuit"):
        assert await scratch(3) == 6
        assert await scratch(3) == 6
    assert body.runs == 1


async def test_execution_trace_records_every_call_in_order():
    async with AgentCacheSession(max_tool_repeats=2, on_loop="short_circuit") as session:
        await search("q")
        await search("q")
        await summarize(text="long text")
        await refresh("q")
        await search("q")  # short-circuited, still recorded
        trace = session.get_execution_trace()
        trace.clear()  # a copy: the session's own trace is untouched
        trace = session.get_execution_trace()
    assert trace == [
        ("search", call_key("q")),
        ("search", call_key("q")),
        ("summarize", call_key("long text")),  # keys follow the signature
        ("refresh", call_key("q")),
        ("search", call_key("q")),
    ]


async def test_calls_outside_a_session_are_never_checked():
    for _ in range(100):
        await search("q")
        await summarize("q")


async def test_each_session_counts_only_its_own_calls():
    ready = asyncio.Event()

    async def agent(wait: bool):
        async with AgentCacheSession(max_tool_repeats=3):
            for i in range(3):
                await search("shared")
                if wait and i == 0:
                    await guarded(ready.wait())
            ready.set()

    await guarded(asyncio.gather(agent(True), agent(False)))  # 6 calls in total, 3 per session


async def test_loop_detections_reach_the_global_metrics():
    for mode in ("raise", "warn", "short_circuit"):
        async with AgentCacheSession(max_tool_repeats=1, on_loop=mode):
            await refresh("x")
            try:
                await refresh("x")
            except AgentLoopDetectedError:
                pass
    assert get_metrics()["loop_detections"] == 3


# -- the incremental detector agrees with the plain definition ----------------------------------


def plain_definition(trace, max_repeats, max_depth, max_cycle):
    """The seed's checks, written the obvious O(n) way: depth, then repeats, then the
    shortest cycle of 2+ distinct tool names whose block repeats back to back."""
    n = len(trace)
    tool = trace[-1][0]
    if n > max_depth:
        return ("max_depth", f"Execution depth exceeded: {n} > {max_depth}")
    count = trace.count(trace[-1])
    if count > max_repeats:
        return ("repeat", f"Tool '{tool}' called {count} times with same arguments (limit: {max_repeats})")
    names = [t for t, _ in trace]
    for length in range(2, min(n // 2, max_cycle) + 1):
        block = names[-length:]
        if block == names[-2 * length : -length] and len(set(block)) >= 2:
            return ("cycle", f"Cycle detected: {' -> '.join(block)}")
    return None


def random_trace(rng: random.Random) -> list:
    shape = rng.random()
    if shape < 0.25:  # runs of one tool, some longer than the cycle window
        names = []
        while len(names) < 50:
            names.extend(rng.choice("ABC") * rng.choice([1, 1, 2, 3, rng.randint(1, 25)]))
        return [(name, i) for i, name in enumerate(names)]
    if shape < 0.6:  # free-form calls over a small alphabet
        tools = rng.choice(["AB", "ABC", "ABCD", "AAB"])
        return [(rng.choice(tools), rng.randint(1, 3)) for _ in range(rng.randint(1, 50))]
    block = [rng.choice("ABCDEFG") for _ in range(rng.randint(1, 12))]  # a block repeated, with noise
    names: list[str] = []
    while len(names) < 50:
        names.extend(block if rng.random() < 0.8 else [rng.choice("ABCDEFG")])
    return [(name, rng.randint(1, 2)) for name in names]


def test_loop_detector_matches_the_plain_definition():
    rng = random.Random(20261121)
    for _ in range(600):
        max_repeats, max_depth, max_cycle = rng.randint(1, 8), rng.randint(1, 70), rng.randint(2, 12)
        detector = CallLog(True, max_repeats, max_depth, max_cycle, trace_limit=100)
        trace = []
        for call in random_trace(rng):
            trace.append(call)
            found = detector.record(*call)
            assert (tuple(found)[:2] if found else None) == plain_definition(
                trace, max_repeats, max_depth, max_cycle
            ), (trace, max_repeats, max_depth, max_cycle)
