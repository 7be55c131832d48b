"""Entry point: ``python -m agent_cache.demo`` and the ``agent-cache-demo`` console script."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from typing import Any

from . import options, otel, report
from .progress import Progress
from .runner import RunConfig, run, shared_tier
from .view import LiveView


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; return the process exit status (2 for bad options)."""
    try:
        config, ns = options.parse(argv)
    except SystemExit as exc:  # argparse printed the message (or --help)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return asyncio.run(_main(config, ns))
    except KeyboardInterrupt:
        return 130


async def _main(config: RunConfig, ns: argparse.Namespace) -> int:
    stop, abort = asyncio.Event(), asyncio.Event()
    _on_signals(stop, abort)
    try:
        telemetry = otel.setup(ns.prometheus_port, ns.prometheus_host)
    except (OSError, ImportError, ValueError) as exc:
        print(f"{options.PROG}: error: telemetry setup failed: {exc}", file=sys.stderr)
        return 2
    out = sys.stdout
    print(
        f"agent_cache demo: {config.sessions} agent sessions ({config.loop_rate:.0%} misbehave on "
        f"purpose), {config.concurrency} at a time, at most {config.duration_s:g} s; SQLite with "
        f"{config.latency_ms:g} ms simulated latency; then the same sessions without a cache.",
        file=out,
    )
    print("telemetry: " + (", ".join(telemetry.destinations) or "none") +
          (f" ({telemetry.note})" if telemetry.note else ""), file=out, flush=True)

    if config.redis_url:
        print(f"shared tier: Redis at {_where(config.redis_url)} (L2 behind every cached tool)", file=out, flush=True)
    try:
        shared = shared_tier(config.redis_url)
    except ImportError as exc:
        print(f"{options.PROG}: error: --redis needs the redis extra: pip install 'agent_cache[redis]' ({exc})",
              file=sys.stderr)
        return 2
    try:
        return await _run_and_hold(config, ns, telemetry, shared, stop, abort)
    finally:
        if shared is not None:
            await shared.close()


async def _run_and_hold(
    config: RunConfig,
    ns: argparse.Namespace,
    telemetry: otel.Telemetry,
    shared: Any,
    stop: asyncio.Event,
    abort: asyncio.Event,
) -> int:
    out = sys.stdout
    progress = Progress()
    async with LiveView(out).live(progress):
        result = await run(config, progress, collector=telemetry.collector, stop=stop, abort=abort,
                           backend=shared)
    print(file=out)
    print("\n".join(report.summary(result)), file=out)
    print(file=out)
    print("\n".join(report.span_tree_section(result, telemetry.note)), file=out, flush=True)
    if not telemetry.flush():
        print(f"{options.PROG}: warning: some telemetry could not be exported in time",
              file=sys.stderr, flush=True)

    if ns.hold_seconds > 0 and not stop.is_set():
        print(f"holding for {ns.hold_seconds:g} s so telemetry can be scraped (SIGTERM ends it)",
              file=out, flush=True)
        try:
            await asyncio.wait_for(stop.wait(), ns.hold_seconds)
        except asyncio.TimeoutError:
            pass
        telemetry.flush()
    return 0


def _where(url: str) -> str:
    """Host, port and database of a Redis URL, never its credentials."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname}:{parts.port or 6379}{parts.path}"


def _on_signals(stop: asyncio.Event, abort: asyncio.Event) -> None:
    """SIGTERM / SIGINT stop the run gracefully: no new sessions start, the (quick) baseline
    replays the ones that ran, the summary prints, exit status 0. A second signal aborts the
    baseline too."""
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        (abort if stop.is_set() else stop).set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, on_signal)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / Windows
            pass


if __name__ == "__main__":
    sys.exit(main())
