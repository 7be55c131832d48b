#!/usr/bin/env python3
"""Issue 15's closing-note experiment: agents calling a cached tool for 30 s while its
upstream fails for 10 s, with and without the resilience options.

Time is scaled down 10x (``--scale``) so a run takes 3 s of real time: every duration below
is given in *scenario* seconds and divided by the scale. Two kinds of outage:

* ``raise`` — the upstream fails fast (connection refused);
* ``hang``  — the upstream stops answering; a call made during the outage hangs until the
  outage ends and then fails (a client whose own timeout is longer than the outage).

    .venv/bin/python benchmarks/resilience_outage.py            # both outages, table
    .venv/bin/python benchmarks/resilience_outage.py --scale 1  # the real 30 s run
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from dataclasses import dataclass, field

from agent_cache import AgentCache, LoadTimeoutError, reset_global_state

RUN_S, OUTAGE_START_S, OUTAGE_END_S = 30.0, 10.0, 20.0
TTL_S = 5.0
OPTIONS = {"stale_while_revalidate": 2.5, "stale_if_error": 60.0, "load_timeout": 0.5}
AGENTS, KEYS, THINK_S, UPSTREAM_S = 8, 10, 0.1, 0.05


class UpstreamDown(Exception):
    pass


@dataclass
class Tally:
    calls: int = 0
    answered: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)


async def run(outage: str, resilient: bool, scale: float, seed: int = 7) -> dict[str, float]:
    reset_global_state()
    rng = random.Random(seed)
    start = time.monotonic()

    def now() -> float:  # scenario seconds since the start
        return (time.monotonic() - start) * scale

    def down() -> bool:
        return OUTAGE_START_S <= now() < OUTAGE_END_S

    async def upstream(key: int) -> str:
        if down():
            if outage == "hang":
                await asyncio.sleep(max(0.0, OUTAGE_END_S - now()) / scale)
            raise UpstreamDown("upstream unavailable")
        await asyncio.sleep(UPSTREAM_S / scale)
        return f"row {key} @ {now():.1f}s"

    options = {k: v / scale for k, v in OPTIONS.items()} if resilient else {}
    tool = AgentCache(resource=f"outage_{outage}_{resilient}", ttl=TTL_S / scale, maxsize=1000, **options)(upstream)
    tally = Tally()

    async def agent() -> None:
        while now() < RUN_S:
            t0 = time.monotonic()
            tally.calls += 1
            try:
                await tool(rng.randrange(KEYS))
                tally.answered += 1
            except (UpstreamDown, LoadTimeoutError):  # surfaced to the agent
                tally.errors += 1
            tally.latencies.append((time.monotonic() - t0) * scale)
            await asyncio.sleep(THINK_S / scale)

    await asyncio.gather(*(agent() for _ in range(AGENTS)))
    metrics = tool.get_metrics()
    lat = sorted(tally.latencies)
    return {
        "calls": tally.calls,
        "answered": tally.answered,
        "stale": metrics["stale"],
        "errors": tally.errors,
        "timeouts": metrics["load_timeouts"],
        "loads": metrics["loads"],
        "p99_s": lat[int(len(lat) * 0.99)] if lat else 0.0,
        "max_s": lat[-1] if lat else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=10.0, help="time compression (1 = real 30 s run)")
    args = parser.parse_args()
    print(
        f"{RUN_S:.0f} s run, upstream down {OUTAGE_START_S:.0f}-{OUTAGE_END_S:.0f} s, ttl {TTL_S:g} s, "
        f"{AGENTS} agents x {KEYS} keys, think {THINK_S:g} s; time scaled {args.scale:g}x; "
        f"options: {OPTIONS}"
    )
    header = (
        f"{'outage':7} {'options':8} {'calls':>6} {'answered':>9} {'stale':>6} {'errors':>7} "
        f"{'timeouts':>9} {'loads':>6} {'p99 s':>6} {'max s':>6}"
    )
    print(header)
    for outage in ("raise", "hang"):
        for resilient in (False, True):
            r = asyncio.run(run(outage, resilient, args.scale))
            print(
                f"{outage:7} {'on' if resilient else 'off':8} {r['calls']:>6} {r['answered']:>9} {r['stale']:>6} "
                f"{r['errors']:>7} {r['timeouts']:>9} {r['loads']:>6} {r['p99_s']:>6.2f} {r['max_s']:>6.2f}"
            )


if __name__ == "__main__":
    main()
