"""Issue 5's targets, checked against one run's medians."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from harness import paired_ratio, quartiles, round_ratios
from scenarios import AC_BATCH, Scenario

MET, MISSED, NA = "met", "MISSED", "n/a"
# Retained memory after all churn calls over that after half of them: a cache bounded by
# maxsize stays near 1 (measured 1.0-1.4, dict resizes); an unbounded one nears 2.
GROWTH_BOUNDED = 1.5


@dataclass(frozen=True)
class Target:
    text: str
    check: Callable[[dict[str, Scenario]], tuple[str, str]]


def _case(scenarios: dict[str, Scenario], scenario: str, contender: str):
    sc = scenarios.get(scenario)
    if sc is None:
        return None, None
    by = {c.contender: c for c in sc.cases}
    return by.get(contender), by.get(sc.floor)


def ratio_target(scenario: str, contender: str, limit: float) -> Callable:
    def check(scenarios):
        case, floor = _case(scenarios, scenario, contender)
        if case is None or case.ns_per_call is None or floor is None or not floor.ns_per_call:
            return NA, (case.error if case is not None and case.error else "not measured")
        r = paired_ratio(case, floor)
        text = f"{r:.2f}× {floor.contender}"
        rounds = round_ratios(case, floor)
        if rounds:
            lo, hi = quartiles(rounds)
            text += f" (rounds' IQR {lo:.2f}–{hi:.2f}{', straddles the limit' if lo <= limit < hi else ''})"
        return (MET if r <= limit else MISSED), text

    return check


def herd_target(scenarios):
    sc = scenarios.get("herd")
    ours = [c for c in sc.cases if c.family == "agent_cache"] if sc else []
    if not ours or any(c.error or "loader calls" not in c.facts for c in ours):
        return NA, "agent_cache not measured"
    counts = {c.contender.removeprefix("agent_cache."): c.facts["loader calls"] for c in ours}
    ok = all(v == 1 for v in counts.values())
    return (MET if ok else MISSED), ", ".join(f"{k}: {v}" for k, v in counts.items())


def churn_target(scenarios):
    status, text = ratio_target("churn", "agent_cache.AsyncLRU", 4.0)(scenarios)
    case, _ = _case(scenarios, "churn", "agent_cache.AsyncLRU")
    if status == NA or case is None:
        return status, text
    growth = case.facts.get("growth")
    kib = case.facts.get("retained KiB")
    bounded = isinstance(growth, (int, float)) and growth <= GROWTH_BOUNDED
    text += f"; {kib} KiB retained, growth {growth} ({'bounded' if bounded else 'NOT bounded'})"
    return (MET if status == MET and bounded else MISSED), text


TARGETS = [
    Target("AsyncLRU hit ≤ 1.6× ideal", ratio_target("hot-hit", "agent_cache.AsyncLRU", 1.6)),
    Target("AsyncTTL hit ≤ 2.0× ideal", ratio_target("hot-hit", "agent_cache.AsyncTTL", 2.0)),
    Target("dict-argument hit ≤ 1.3× ideal-kw",
           ratio_target("kwargs-hit", "agent_cache.AsyncLRU", 1.3)),
    Target("f(user, filters={..}, limit=10) hit ≤ 1.5× ideal-kw-ordered",
           ratio_target("dict-arg-hit", "agent_cache.AsyncLRU", 1.5)),
    Target("AgentCache global hit outside a session ≤ 2.5× ideal",
           ratio_target("agent-hit", "agent_cache.AgentCache", 2.5)),
    Target("AgentCache hit in a loop-detecting session ≤ 5× ideal (no SDK)",
           ratio_target("agent-hit", "agent_cache.AgentCache in session", 5.0)),
    Target("with the SDK, in-session hit ≤ 1.3× one bare SDK span",
           ratio_target("agent-hit+sdk", "agent_cache.AgentCache in session", 1.3)),
    Target("herd = 1 loader call", herd_target),
    Target("batching ≤ 1.5× minimal DataLoader",
           ratio_target("batching", AC_BATCH, 1.5)),
    Target("miss churn ≤ 4× ideal, memory bounded by maxsize", churn_target),
]


def evaluate(scenarios: dict[str, Scenario]) -> list[tuple[str, str, str]]:
    return [(t.text, *t.check(scenarios)) for t in TARGETS]
