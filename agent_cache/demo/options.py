"""Command-line options of ``python -m agent_cache.demo``, checked with clear messages.

``--short`` is the CI preset (a few seconds); options given explicitly override a preset.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence

from .runner import RunConfig
from .tools import SCOPES
from .upstream import Outage, UpstreamProfile

PROG = "agent-cache-demo"

DEFAULTS = RunConfig()  # the full demo: under a minute
# A short run lasts seconds: the web API's entries expire (and revalidate) within it.
SHORT = RunConfig(sessions=80, concurrency=12, duration_s=10.0, latency_ms=1.0, think_ms=3.0,
                  upstream=UpstreamProfile(ttl=1.0, stale_while_revalidate=0.5, stale_if_error=600.0,
                                           load_timeout=0.5))


def _number(kind: Callable[[str], float], low: float | None, high: float | None, what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


positive_int = _number(int, 1, None, "an integer >= 1")
seconds = _number(float, 0.001, 3600.0, "a number of seconds in (0, 3600]")
non_negative = _number(float, 0.0, 10_000.0, "a number >= 0")
ratio = _number(float, 0.0, 1.0, "a number between 0 and 1")
port = _number(int, 0, 65535, "a TCP port number 0-65535")


def outage(text: str) -> Outage:
    try:
        return Outage.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


outage.__name__ = "START:SECONDS[:raise|hang]"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Simulated AI-agent sessions (shopping, support, research, inventory, payments) "
            "over a real SQLite database, run with agent_cache and again without it. Shows "
            "cache hits, coalesced loads, invalidations and caught tool loops live, then what "
            "the cache saved and one session's span tree."
        ),
    )
    add = p.add_argument
    add("--sessions", type=positive_int, metavar="N", help=f"agent sessions to run (default {DEFAULTS.sessions})")
    add("--concurrency", type=positive_int, metavar="N",
        help=f"sessions running at once (default {DEFAULTS.concurrency})")
    add("--duration", type=seconds, dest="duration_s", metavar="SECONDS",
        help=f"stop starting new sessions after this many seconds; running ones finish "
        f"(default {DEFAULTS.duration_s:g})")
    add("--loop-rate", type=ratio, metavar="RATE",
        help=f"share of sessions that misbehave on purpose, 0-1 (default {DEFAULTS.loop_rate:g})")
    add("--seed", type=int, metavar="N", help=f"random seed of the workload (default {DEFAULTS.seed})")
    add("--scope", choices=SCOPES,
        help="cache scope: as in the seed scenarios, or force all tools global / session (default seed)")
    add("--latency-ms", type=non_negative, metavar="MS",
        help=f"simulated database round trip in ms (default {DEFAULTS.latency_ms:g}; searches cost 4x)")
    add("--think-ms", type=non_negative, metavar="MS",
        help=f"mean agent thinking time between tool calls in ms (default {DEFAULTS.think_ms:g})")
    add("--redis", dest="redis_url", metavar="URL",
        help="put the cached tools on a shared Redis tier (L2), e.g. redis://127.0.0.1:6379/0; "
        "replicas of the demo given the same URL share entries and invalidations")
    add("--outage", type=outage, metavar="START:SECONDS[:raise|hang]",
        help="take the research tools' web API down from START to START+SECONDS seconds into the "
        "cached run: raise refuses calls, hang holds them past load_timeout (default raise); the "
        "uncached replay meets the same outage")
    add("--prometheus-port", type=port, metavar="PORT", help="serve Prometheus metrics on this port (0: any free port)")
    add("--prometheus-host", default="127.0.0.1", metavar="HOST",
        help="address the Prometheus endpoint binds (default 127.0.0.1; 0.0.0.0 in a container)")
    add("--hold-seconds", type=non_negative, default=0.0, metavar="SECONDS",
        help="keep serving metrics this long after the run (SIGTERM ends it early)")
    add("--short", action="store_true", help="CI mode: a small workload that finishes in seconds")
    return p


def parse(argv: Sequence[str] | None) -> tuple[RunConfig, argparse.Namespace]:
    """The run's config and the raw namespace (telemetry options). Exits 2 on bad options."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    preset = SHORT if ns.short else DEFAULTS
    fields = ("sessions", "concurrency", "duration_s", "loop_rate", "seed", "scope", "latency_ms", "think_ms",
              "redis_url", "outage")
    values = {f: getattr(ns, f) if getattr(ns, f) is not None else getattr(preset, f) for f in fields}
    if ns.redis_url is not None and not ns.redis_url.startswith(("redis://", "rediss://", "unix://")):
        parser.error(f"argument --redis: must be a redis:// rediss:// or unix:// URL, got {ns.redis_url!r}")
    return RunConfig(**values, upstream=preset.upstream), ns
