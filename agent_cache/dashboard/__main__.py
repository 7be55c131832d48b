"""``python -m agent_cache.dashboard``: serve the live dashboard and drive the demo workload."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from agent_cache.demo.options import non_negative, port, positive_int, ratio

PROG = "python -m agent_cache.dashboard"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="A live page for agent_cache: the demo's simulated agents run in this process "
        "while the page shows hits, coalesced loads, invalidations, caught loops and each session's "
        "span tree, with controls to drive load and a playground for the core caches.",
    )
    p.add_argument("--port", type=port, default=5001, help="TCP port (default 5001; 0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--no-start", action="store_true", help="do not start the workload until the page says so")
    p.add_argument("--concurrency", type=positive_int, default=8, help="sessions at once (default 8)")
    p.add_argument("--loop-rate", type=ratio, default=0.2, help="share of misbehaving agents (default 0.2)")
    p.add_argument("--latency-ms", type=non_negative, default=5.0, help="simulated DB round trip (default 5)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    try:
        from .app import Dashboard
        from .server import bind, run, url_of
    except ImportError as exc:
        print(f"{PROG}: needs the dashboard extra: pip install 'agent_cache[dashboard]' ({exc})", file=sys.stderr)
        return 2

    try:
        sock = bind(ns.host, ns.port)  # first: a taken port fails before anything is installed
    except OSError as exc:
        print(f"{PROG}: error: cannot listen on {ns.host}:{ns.port}: {exc}", file=sys.stderr)
        return 2

    async def go() -> None:
        dashboard = Dashboard(workload=True, autostart=not ns.no_start)
        assert dashboard.workload is not None
        dashboard.workload.configure({"concurrency": ns.concurrency, "loop_rate": ns.loop_rate,
                                      "latency_ms": ns.latency_ms})
        print(f"agent_cache dashboard: {url_of(sock)}  (Ctrl-C stops it)", flush=True)
        await run(sock, dashboard)

    try:
        asyncio.run(go())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
