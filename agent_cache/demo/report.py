"""The closing summary: what the workload cost with agent_cache and without, and the span
tree of one eventful session as indented text.

Each figure of the summary is one ``label  number ...`` line, so people and tests read
the same output (``tests/demo`` parses it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from ..telemetry import names as tn
from .runner import RunResult
from .view import LOOP_KINDS

_LABEL_WIDTH = 18

_EVENT_KEYS = (  # (attribute, shown as), in display order
    (tn.ATTR_LOOP_KIND, "kind"),
    (tn.ATTR_LOOP_ACTION, "action"),
    (tn.ATTR_RESOURCE, "resource"),
    (tn.ATTR_SCOPE, "scope"),
    (tn.ATTR_ENTRIES_REMOVED, "removed"),
)


def _line(label: str, text: str) -> str:
    return f"{label:<{_LABEL_WIDTH}}{text}"


def _pct_change(new: int, old: int) -> str:
    return f"{100.0 * (new - old) / old:+.1f} %" if old else "n/a"


def summary(result: RunResult) -> list[str]:
    """The figures of a run, one per line."""
    cfg, cached, base = result.config, result.cached, result.baseline
    lib = result.library
    hits, misses, coalesced = lib.get("hits", 0), lib.get("misses", 0), lib.get("coalesced", 0)
    stale = lib.get("stale", 0)  # expired values answered: neither a hit nor a miss
    requests = cached.stats.cache_requests
    misbehaving = cached.misbehaving
    loops = cached.loops
    kinds = list(LOOP_KINDS) + sorted(k for k in loops if k not in LOOP_KINDS)
    loop_text = ", ".join(f"{k} {loops.get(k, 0)}" for k in kinds)
    lines = [
        "== agent_cache demo: summary ==",
        _line("workload", f"{cached.sessions} of {result.planned} sessions "
              f"({misbehaving} misbehaving), concurrency {cfg.concurrency}, scope {cfg.scope}, "
              f"latency {cfg.latency_ms:g} ms, seed {cfg.seed}"),
        # Not a speed comparison: the uncached replay skips the agents' think time, which
        # changes no query count. Compare "db time" below for what the cache saved.
        _line("run time", f"{cached.elapsed_s:.1f} s (agents think ~{cfg.think_ms:g} ms between calls); "
              f"uncached replay {base.elapsed_s:.1f} s without think time"),
        _line("tool calls", f"{cached.tool_calls} with agent_cache, {base.tool_calls} without"),
        _line("requests", f"{requests} (reads that reached the cache)"),
        _line("hits", str(hits)),
        _line("misses", str(misses)),
        _line("coalesced", f"{coalesced} (of the misses: waited on another caller's load)"),
        _line("stale", f"{stale} (expired values answered: while revalidating, or while the web API failed)"),
        _line("load timeouts", f"{lib.get('load_timeouts', 0)} (callers that stopped waiting for a load)"),
        _line("hit ratio", f"{100.0 * hits / requests if requests else 0.0:.1f} %"),
        _line("loads avoided", f"{hits + coalesced} (hits + coalesced)"),
        _line("invalidations", str(lib.get("invalidations", 0))),
        _line("loops caught", f"{sum(loops.values())} ({loop_text}), each halting its session"),
        _line("db queries", f"{cached.queries} with agent_cache, {base.queries} without "
              f"({_pct_change(cached.queries, base.queries)})"),
        _line("db time", f"{cached.db_busy_s:.1f} s with agent_cache, {base.db_busy_s:.1f} s without"
              " (summed round trips)"),
    ]
    if cfg.outage is not None:
        o = cfg.outage
        lines.append(_line("errors surfaced", (
            f"{cached.upstream_errors} with agent_cache, {base.upstream_errors} without "
            f"(web API down {o.start_s:g}-{o.end_s:g} s, {o.mode}; calls the agents saw fail)")))
    tier = lib.get("shared_tier")
    if tier is not None:
        lines.append(_line("shared tier", (
            f"L2 hits {tier.get('hits', 0)}, L2 misses {tier.get('misses', 0)}, "
            f"locks acquired {tier.get('locks_acquired', 0)} / contended {tier.get('locks_contended', 0)}, "
            f"backplane sent {tier.get('published', 0)} / received {tier.get('backplane_received', 0)}, "
            f"failures {tier.get('errors', 0) + tier.get('short_circuits', 0)}, breaker {tier.get('breaker_state')}")))
    # each lookup has one result; a miss is any lookup without a value, waiters included
    if hits + misses + stale != requests:
        lines.append(f"WARNING: the library counted {hits + misses + stale} lookups, "
                     f"the agents made {requests} cached reads")
    counted = hits + misses + stale + lib.get("short_circuits", 0) + lib.get("bypasses", 0)
    if lib.get("requests", counted) != counted:
        lines.append(f"WARNING: the library's requests ({lib.get('requests')}) are not the sum of its "
                     f"results ({counted})")
    if lib.get("loop_detections", sum(loops.values())) != sum(loops.values()):
        lines.append(f"WARNING: the library counted {lib.get('loop_detections')} loop detections")
    if result.interrupted:
        lines.append("(interrupted: figures cover the sessions that ran)")
    if not result.baseline_complete:
        lines.append(f"(baseline aborted after {base.sessions} of {cached.sessions} "
                     "sessions: its figures are too low)")
    lines += ["", _line("db queries by op", f"{'with':>8} {'without':>8}")]
    for op in sorted(set(cached.by_op) | set(base.by_op)):
        lines.append(_line(f"  {op}", f"{cached.by_op.get(op, 0):>8} {base.by_op.get(op, 0):>8}"))
    return lines


def span_tree_section(result: RunResult, note: str = "") -> list[str]:
    """The span tree of the run's most eventful session, or why there is none."""
    show = result.showcase
    if show.outcome is None:
        why = note or "no spans were recorded"
        return ["== span tree ==", f"(no span tree: {why})"]
    o = show.outcome
    what = f"misbehaving: {o.plan.misbehaviour}" if o.plan.misbehaviour else "well-behaved"
    if o.loop_kind:
        what += f"; halted by loop detection ({o.loop_kind})"
    lines = [f"== span tree: session {o.plan.session_id} ({what}) =="]
    if all(s.name.startswith("demo.") for s in show.spans):
        lines.append("(agent_cache emitted no spans for this session: only the demo's own root "
                     "span was recorded)")
    return lines + render_tree(show.spans)


def render_tree(spans: Iterable[Any]) -> list[str]:
    """Indented text for finished SDK spans, parent/child by span id, in start order."""
    spans = list(spans)
    by_id = {s.context.span_id: s for s in spans}
    children: dict[int | None, list[Any]] = defaultdict(list)
    for s in spans:
        parent = s.parent.span_id if s.parent is not None else None
        children[parent if parent in by_id else None].append(s)
    for group in children.values():
        group.sort(key=lambda s: s.start_time or 0)
    out: list[str] = []

    def walk(span: Any, lead: str, tail: str) -> None:
        out.append(lead + _describe_span(span))
        kids = children.get(span.context.span_id, [])
        for event in span.events:
            out.append(tail + ("|  " if kids else "   ") + "* " + _describe_event(event))
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            walk(kid, tail + ("`- " if last else "|- "), tail + ("   " if last else "|  "))

    for root in children.get(None, []):
        walk(root, "", "")
    return out


def _describe_span(span: Any) -> str:
    attrs = span.attributes or {}
    parts = [span.name]
    if tn.ATTR_RESULT in attrs:
        parts.append(f"[{attrs[tn.ATTR_RESULT]}]")
    if tn.ATTR_BATCH_SIZE in attrs:
        parts.append(f"batch={attrs[tn.ATTR_BATCH_SIZE]}")
    if span.links:
        parts.append(f"links={len(span.links)}")
    if span.start_time and span.end_time:
        parts.append(f"{(span.end_time - span.start_time) / 1e6:.1f} ms")
    if span.status is not None and span.status.status_code.name == "ERROR":
        parts.append(f"ERROR {attrs.get(tn.ERROR_TYPE, '')}".rstrip())
    return "  ".join(parts)


def _describe_event(event: Any) -> str:
    attrs = event.attributes or {}
    shown = [f"{label}={attrs[key]}" for key, label in _EVENT_KEYS if key in attrs]
    text: str = event.name + (" " + " ".join(shown) if shown else "")
    if tn.ATTR_LOOP_MESSAGE in attrs:
        text += f": {attrs[tn.ATTR_LOOP_MESSAGE]}"
    return text
