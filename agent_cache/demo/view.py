"""The live terminal view: a progress bar and a small table of what the cache is doing.

On a terminal the block redraws in place a few times a second (plain ANSI cursor moves, no
curses, no colours). When stdout is not a terminal (CI logs, ``| tee``) it prints one line
every couple of seconds instead, so a log stays readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import TextIO

from .progress import Progress, Snapshot, snapshot

LOOP_KINDS = ("repeat", "cycle", "max_depth")


def bar(done: int, total: int, width: int = 28) -> str:
    """``[#########-----]`` for ``done`` of ``total``."""
    filled = width if total <= 0 else min(width, round(width * done / total))
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def _loops_text(s: Snapshot) -> str:
    if not s.cache_active:
        return "n/a (no loop detection without agent_cache)"
    kinds = list(LOOP_KINDS) + sorted(k for k in s.loops if k not in LOOP_KINDS)
    return "   ".join(f"{k} {s.loops.get(k, 0)}" for k in kinds) + f"   (total {sum(s.loops.values())})"


def render_block(s: Snapshot) -> list[str]:
    """The multi-line block drawn on a terminal."""
    limit = f" / {s.limit_s:.0f} s" if s.limit_s is not None else ""
    head = f"{s.phase:<17} {bar(s.done, s.total)} {s.done:>5}/{s.total} sessions  {s.elapsed_s:5.1f} s{limit}"
    cols = ("requests", "hit ratio", "coalesced", "loads avoided", "invalidations", "db queries")
    if s.cache_active:
        vals = (str(s.requests), f"{100 * s.hit_ratio:.1f} %", str(s.coalesced),
                str(s.loads_avoided), str(s.invalidations), str(s.db_queries))
    else:
        vals = ("-", "-", "-", "-", "-", str(s.db_queries))
    widths = [max(len(c), len(v)) for c, v in zip(cols, vals, strict=True)]
    return [
        head,
        "  " + "  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)),
        "  " + "  ".join(v.rjust(w) for v, w in zip(vals, widths, strict=True)),
        "  loops caught: " + _loops_text(s),
    ]


def render_line(s: Snapshot) -> str:
    """The one line printed per tick when stdout is not a terminal."""
    base = f"[{s.phase}] {s.done}/{s.total} sessions {s.elapsed_s:.1f}s db_queries={s.db_queries}"
    if not s.cache_active:
        return base
    loops = " ".join(f"{k}={s.loops.get(k, 0)}" for k in LOOP_KINDS)
    return (
        f"{base} requests={s.requests} hit_ratio={100 * s.hit_ratio:.1f}% coalesced={s.coalesced} "
        f"loads_avoided={s.loads_avoided} invalidations={s.invalidations} loops: {loops}"
    )


class LiveView:
    """Draws :class:`Snapshot`\\ s to ``stream``: in place on a TTY, as log lines otherwise."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None, interval_s: float | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.interval_s = interval_s if interval_s is not None else (0.1 if self.tty else 2.0)
        self._drawn = 0  # lines of the live block currently on screen
        self._phase = ""
        self._last_line: float | None = None  # when the last plain line was printed

    def draw(self, s: Snapshot, *, final: bool = False) -> None:
        """Show ``s``; ``final`` marks the last figures of a phase."""
        if s.phase != self._phase:
            self._drawn = 0  # a new phase starts a new block below the previous one
            self._phase = s.phase
        if self.tty:
            lines = render_block(s)
            out = f"\x1b[{self._drawn}F" if self._drawn else ""
            out += "".join(f"\x1b[2K{line}\n" for line in lines)
            self.stream.write(out)
            self._drawn = len(lines)
        else:
            now = time.monotonic()
            if final or self._last_line is None or now - self._last_line >= self.interval_s:
                self.stream.write(render_line(s) + ("  (done)\n" if final else "\n"))
                self._last_line = now
        self.stream.flush()

    @contextlib.asynccontextmanager
    async def live(self, progress: Progress) -> AsyncIterator[None]:
        """Redraw every ``interval_s`` while the body runs; draw each phase's final figures."""
        task = asyncio.ensure_future(self._tick(progress))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _tick(self, progress: Progress) -> None:
        finalized: set[str] = set()
        try:
            while True:
                self._draw_finished(progress, finalized)
                if progress.phase and progress.phase not in finalized:
                    self.draw(snapshot(progress))
                await asyncio.sleep(self.interval_s if self.tty else 0.25)
        finally:
            self._draw_finished(progress, finalized)

    def _draw_finished(self, progress: Progress, finalized: set[str]) -> None:
        for phase, last in list(progress.finished.items()):
            if phase not in finalized:
                self.draw(last, final=True)
                finalized.add(phase)
