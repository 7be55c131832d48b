"""Timing machinery: interleaved repetitions, medians, and ``n/a`` rows instead of crashes.

Each :class:`Case` knows how to prepare itself once (build and warm a cache) and how to run
one timed repetition. :func:`run_interleaved` runs repetition 1 of every case, then
repetition 2 of every case (in a rotated order), and so on, so slow drift of the machine
(another process waking up, CPU frequency) spreads over all contenders instead of
penalising whichever ran last. The reported figure is the median.
"""

from __future__ import annotations

import gc
import statistics
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

Rep = Callable[[], Awaitable["Sample"]]


@dataclass
class Sample:
    """One repetition: elapsed nanoseconds for ``calls`` operations, plus facts to report."""

    elapsed_ns: int
    calls: int
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Case:
    scenario: str
    contender: str
    family: str
    prepare: Callable[[], Awaitable[Rep]]
    rep: Rep | None = None
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    after: Callable[[], Awaitable[dict[str, Any]]] | None = None  # untimed, once, after reps

    @property
    def ns_per_call(self) -> float | None:
        if self.error or not self.samples:
            return None
        return statistics.median(s.elapsed_ns / s.calls for s in self.samples)

    @property
    def spread(self) -> float | None:
        """(max - min) / median of the per-call times: how noisy this row was."""
        per = [s.elapsed_ns / s.calls for s in self.samples]
        if self.error or len(per) < 2:
            return None
        return (max(per) - min(per)) / statistics.median(per)


def round_ratios(case: Case, floor: Case | None) -> list[float]:
    """This row's time over the floor's, round by round (empty if they don't pair up)."""
    if floor is None or case.error or floor.error or len(case.samples) != len(floor.samples):
        return []
    return [(a.elapsed_ns / a.calls) / (b.elapsed_ns / b.calls)
            for a, b in zip(case.samples, floor.samples)]


def quartiles(values: list[float]) -> tuple[float, float]:
    """The 25th and 75th percentiles: how far one run's ratio can be trusted."""
    if len(values) < 4:
        return min(values), max(values)
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def paired_ratio(case: Case, floor: Case | None) -> float | None:
    """Median over rounds of (this row's time / the floor's time in the same round).

    Both ran within seconds of each other in every round, so a drift of the machine between
    rounds (another job starting) cancels in each quotient instead of widening the spread
    of the two medians. Falls back to the ratio of medians if the rounds don't pair up."""
    if floor is None or case.ns_per_call is None or not floor.ns_per_call:
        return None
    ratios = round_ratios(case, floor)
    return statistics.median(ratios) if ratios else case.ns_per_call / floor.ns_per_call


def _reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ").replace("|", "/")
    return text if len(text) <= 90 else text[:87] + "..."


# CPU-bound loops are timed in process CPU time: on a shared machine (other jobs, load
# average far above the core count) wall time also counts the slices when this process
# was not running at all. CPU time still includes our other threads (the OTel SDK's span
# exporter), which is work the contender caused. Scenarios that wait (herd sleeps, batch
# windows) are timed on the wall clock: there, waiting is the figure.
cpu_clock = time.process_time_ns
wall_clock = time.perf_counter_ns


def timed_loop(fn: Callable[[Any], Awaitable[Any]]) -> Callable[[list], Awaitable[int]]:
    """A driver awaiting ``fn(k)`` for each key; returns the elapsed CPU nanoseconds.

    Every contender and floor goes through this same loop, so its own cost (the ``for``, the
    ``await``) is in every figure and cancels out in the ratios.
    """

    async def drive(keys: list) -> int:
        clock = cpu_clock
        t0 = clock()
        for k in keys:
            await fn(k)
        return clock() - t0

    return drive


async def run_interleaved(cases: list[Case], reps: int, log: Callable[[str], None]) -> None:
    """Prepare each case, then run ``reps`` rounds over all live cases in rotated order."""
    for case in cases:
        try:
            case.rep = await case.prepare()
        except Exception as exc:  # a peer lacking a feature is a result, not a crash
            case.error = _reason(exc)
            log(f"  {case.contender}: n/a ({case.error})")
    for r in range(reps):
        live = [c for c in cases if c.error is None]
        if not live:
            return
        shift = r % len(live)
        for case in live[shift:] + live[:shift]:
            gc.collect()
            try:
                case.samples.append(await case.rep())  # type: ignore[misc]
            except Exception as exc:
                case.error = _reason(exc)
                log(f"  {case.contender}: failed ({case.error})")
                if log is print:
                    traceback.print_exc()
    for case in cases:
        if case.samples:
            merged: dict[str, Any] = {}
            for s in case.samples:
                for k, v in s.facts.items():
                    merged.setdefault(k, []).append(v)
            case.facts.update({k: _summarise(v) for k, v in merged.items()})
        if case.after is not None and case.error is None:
            try:
                case.facts.update(await case.after())
            except Exception as exc:
                case.facts["after"] = _reason(exc)


def _summarise(values: list) -> Any:
    """Numbers → the max over repetitions (a loader count must hold in every round)."""
    if all(isinstance(v, (int, float)) for v in values):
        return max(values)
    return values[-1]
