"""Renders one run: the console/markdown table, and RESULTS.md with machine and versions."""

from __future__ import annotations

import datetime
import importlib.metadata as md
import os
import platform
import sys
from typing import Any

from harness import paired_ratio
from scenarios import Params, Scenario

LIBS = ["agent_cache", "async-cache", "async-lru", "aiocache", "cashews",
        "opentelemetry-api", "opentelemetry-sdk", "matplotlib"]


def _fmt_ns(ns: float | None) -> str:
    if ns is None:
        return "n/a"
    return f"{ns:,.0f}" if ns >= 100 else f"{ns:.1f}"


def _fmt_ratio(r: float | None) -> str:
    return f"{r:.2f}" if r is not None else "–"


def _notes(case, hits_expected: bool, contender_notes: dict[str, str]) -> str:
    parts = []
    if case.error:
        parts.append(f"n/a: {case.error}")
    for k, v in case.facts.items():
        if k == "body runs":
            if hits_expected and case.family != "floor" and v:
                parts.append(f"NOT ALL HITS: body ran {v}×")
            continue
        parts.append(f"{k} {v}")
    if case.contender in contender_notes:
        parts.append(contender_notes[case.contender])
    return "; ".join(parts)


def table_rows(scenarios: list[Scenario], contender_notes: dict[str, str]) -> list[list[str]]:
    rows = []
    for sc in scenarios:
        by = {c.contender: c for c in sc.cases}
        floor = by.get(sc.floor)
        bare = by.get("bare")
        hits = sc.key.endswith("hit") or sc.key.endswith("+sdk")
        for case in sc.cases:
            ns = case.ns_per_call
            spread = case.spread
            rows.append([
                sc.key, case.contender, _fmt_ns(ns),
                _fmt_ratio(paired_ratio(case, floor)),
                _fmt_ratio(paired_ratio(case, bare)),
                f"{spread:.0%}" if spread is not None else "–",
                _notes(case, hits, contender_notes),
            ])
    return rows


HEADER = ["scenario", "contender", "ns/call", "× floor", "× bare", "spread", "notes"]


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |",
             "|" + "|".join(["---", "---", "---:", "---:", "---:", "---:", "---"]) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def console_table(rows: list[list[str]]) -> str:
    widths = [max(len(HEADER[i]), *(len(r[i]) for r in rows)) for i in range(len(HEADER) - 1)]
    out, last = [], None
    fmt = lambda r: "  ".join(  # noqa: E731
        (r[i].ljust(w) if i < 2 else r[i].rjust(w)) for i, w in enumerate(widths)) + "  " + r[-1]
    out.append(fmt(HEADER))
    for r in rows:
        if last is not None and r[0] != last:
            out.append("")
        last = r[0]
        out.append(fmt(r))
    return "\n".join(out)


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


def environment() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "versions": {lib: _version(lib) for lib in LIBS},
    }


def results_markdown(env: dict, params: Params, quick: bool, scenarios: list[Scenario],
                     rows: list[list[str]], verdicts: list[tuple[str, str, str]],
                     chart_name: str, elapsed_s: float) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    lines = [
        "# Benchmarks: agent_cache against the peer libraries",
        "",
        f"Run `make bench` (or `.venv/bin/python benchmarks/run.py`) to reproduce."
        f"{' **Quick smoke run: sizes reduced, figures indicative only.**' if quick else ''}",
        "",
        f"- Date: {env['date']} (run took {elapsed_s:.0f} s)",
        f"- Machine: {env['machine']}",
        f"- Python: {env['python']}",
        f"- Libraries: {versions}",
        f"- Method: one process, one event loop; {params.reps} interleaved rounds per "
        "scenario (rotated order; 2× for herd, 4× for batching, which are short and timed on "
        "the wall clock), median reported; `spread` is (max − min) / median. "
        "Every row goes through the same driver loop, so its cost is in every figure and "
        "`× floor` is the ratio to the scenario's floor measured in the same run (the median "
        "over rounds of the two rows' quotient in that round). "
        "CPU-bound rows are timed in process CPU time (this machine is shared, and wall time "
        "would also count the slices other jobs took); herd and batching, which wait, on the "
        "wall clock. agent_cache and the floors always run the full sizes; a peer slower than "
        "the time budget runs fewer calls (`calls` note, never fewer than 5,000, or 2.5 × "
        "maxsize for churn): a steady state costs the same per call.",
        "- Floors: `bare` awaits the undecorated coroutine; `ideal` is `d.get(args)` and a "
        "store on a miss (an OrderedDict FIFO bound when the scenario has a maxsize); "
        "`ideal-kw` adds a minimal freeze of dict/list arguments; `dataloader` collects keys "
        "and flushes on size or window; `sdk-span` awaits the body inside one "
        "`start_as_current_span` carrying the same attributes a cached tool hit carries, "
        "through the same BatchSpanProcessor.",
        "",
        "## Targets (issue 5)",
        "",
        "| target | result | measured |",
        "|---|---|---|",
    ]
    lines += [f"| {t} | {s} | {m} |" for t, s, m in verdicts]
    lines += ["", f"![ratio to floor per contender per scenario]({chart_name})", "", "## Scenarios", ""]
    tail = [
        "",
        "## Reproduce, check, profile",
        "",
        "    make bench                          # this file and the chart",
        "    make bench ARGS='--quick --check'   # smoke run (writes under benchmarks/.work/);",
        "                                        # exits 1 unless every agent_cache herd loads once",
        "    .venv/bin/pip install py-spy",
        "    .venv/bin/py-spy record -r 1000 -f raw -o prof.txt -- \\",
        "        .venv/bin/python benchmarks/hotpath.py session-hit   # or lru-hit, kwargs-hit, ...",
        "",
    ]
    for sc in scenarios:
        lines.append(f"- **{sc.key}** (floor `{sc.floor}`): {sc.title}."
                     + (f" {sc.note}" if sc.note else ""))
    lines += ["", "## Table", "", markdown_table(rows), ""] + tail
    return "\n".join(lines)
