#!/usr/bin/env python3
"""Run every benchmark scenario of issue 5 in one process and report.

    python benchmarks/run.py            full run, writes benchmarks/RESULTS.md + ratio.png
    python benchmarks/run.py --quick    smoke run, writes under benchmarks/.work/
    python benchmarks/run.py --quick --check
                                        also exit 1 unless each agent_cache herd made
                                        exactly one loader call
    python benchmarks/run.py --smoke    every scenario at tiny sizes, for CI: no timing
                                        asserts, but exit 1 if any case could not run
                                        (beyond the peers' known gaps), the SDK scenario
                                        was skipped, or a herd loaded more than once
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import chart  # noqa: E402
import contenders as C  # noqa: E402
import report  # noqa: E402
import scenarios as S  # noqa: E402
import targets  # noqa: E402
from harness import run_interleaved  # noqa: E402


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, 3 repetitions")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny sizes; fail if any benchmark case no longer runs (CI)")
    ap.add_argument("--check", action="store_true", help="fail unless agent_cache's herd loads once")
    ap.add_argument("--reps", type=int, help="repetitions per scenario (default 7, quick 3)")
    ap.add_argument("--only", help="comma-separated scenario keys to run")
    ap.add_argument("--out", help="directory for RESULTS.md and ratio.png")
    return ap.parse_args(argv)


# Peers that cannot run a scenario at all: a result of the comparison, not a broken
# benchmark. Anything else that fails under --smoke is a benchmark that no longer runs.
KNOWN_GAPS = {
    ("kwargs-hit", "async-lru"),  # TypeError: unhashable type: 'dict'
    ("kwargs-hit", "async-lru(ttl)"),
}


def _broken(done: list[S.Scenario], only: set[str] | None) -> list[str]:
    """What a smoke run must not have: failed cases and scenarios that did not run."""
    broken = [f"{sc.key} / {case.contender}: {case.error}"
              for sc in done for case in sc.cases
              if case.error is not None and (sc.key, case.contender) not in KNOWN_GAPS]
    expected = [f(S.Params.smoke()).key for f in S.ALL_NO_SDK] + ["agent-hit+sdk"]
    ran = {sc.key for sc in done}
    broken += [f"{key}: did not run" for key in expected
               if key not in ran and (not only or key in only)]
    return broken


async def _run_all(params: S.Params, only: set[str] | None) -> list[S.Scenario]:
    done: list[S.Scenario] = []
    plan = [f(params) for f in S.ALL_NO_SDK]
    for sc in plan:
        if only and sc.key not in only:
            continue
        print(f"[{sc.key}] {sc.title}", flush=True)
        await run_interleaved(sc.cases, params.reps * sc.rounds_factor, print)
        done.append(sc)
    if not only or "agent-hit+sdk" in only:
        print("[agent-hit+sdk] installing the OpenTelemetry SDK", flush=True)
        try:
            import otel_sdk

            sdk = otel_sdk.SDK()
        except Exception as exc:  # no SDK, or no agent_cache names module
            print(f"  skipped: {type(exc).__name__}: {exc}")
        else:
            sc = S.agent_hit(params, "agent-hit+sdk", sdk)
            await run_interleaved(sc.cases, params.reps, print)
            names = sdk.metric_names()
            sc.note = ("Metrics seen by the MeterProvider: "
                       + (", ".join(sorted(names)) if names else "none") + ".")
            done.append(sc)
    return done


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.smoke:
        params = S.Params.smoke()
    else:
        params = S.Params.quick() if args.quick else S.Params()
    if args.reps:
        params = dataclasses.replace(params, reps=args.reps)
    only = set(args.only.split(",")) if args.only else None
    if args.smoke:
        out = args.out or os.path.join(HERE, ".work", "smoke")
    else:
        out = args.out or (os.path.join(HERE, ".work") if args.quick else HERE)
    os.makedirs(out, exist_ok=True)

    t0 = time.monotonic()
    done = asyncio.run(_run_all(params, only))
    elapsed = time.monotonic() - t0

    notes = {c.name: c.notes for c in vars(C).values() if isinstance(c, C.Contender) and c.notes}
    notes.update({c.name: c.notes for c in (S.AC_IN_SESSION, S.AC_SESSION_SCOPE)})
    rows = report.table_rows(done, notes)
    verdicts = targets.evaluate({sc.key: sc for sc in done})
    print()
    print(report.console_table(rows))
    print()
    for text, status, measured in verdicts:
        print(f"  [{status:>6}] {text}: {measured}")

    env = report.environment()
    chart_name = "ratio.png"
    chart.write_chart(done, os.path.join(out, chart_name))
    with open(os.path.join(out, "RESULTS.md"), "w") as f:
        f.write(report.results_markdown(env, params, args.quick or args.smoke, done, rows, verdicts,
                                        chart_name, elapsed))
    print(f"\nwrote {os.path.join(out, 'RESULTS.md')} and {chart_name} ({elapsed:.0f} s)")

    if args.smoke:
        broken = _broken(done, only)
        if broken:
            print("SMOKE FAILED: benchmark cases that no longer run:", file=sys.stderr)
            for line in broken:
                print(f"  {line}", file=sys.stderr)
            return 1
        print(f"smoke passed: {sum(len(sc.cases) for sc in done)} cases in {len(done)} scenarios ran")
    if args.check or args.smoke:
        status, measured = targets.herd_target({sc.key: sc for sc in done})
        if status != targets.MET:
            print(f"CHECK FAILED: herd: {status} ({measured})", file=sys.stderr)
            return 1
        print("check passed: each agent_cache herd ran its loader once")
    return 0


if __name__ == "__main__":
    sys.exit(main())
