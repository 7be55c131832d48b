"""The live terminal view: a progress bar and a small table of what the cache is doing.

On a terminal it is drawn with `rich <https://github.com/Textualize/rich>`_ (the ``demo`` /
``dashboard`` extra): a live block, redrawn in place a few times a second, that behaves on
every terminal rich supports. When stdout is not a terminal (CI logs, ``| tee``), or rich is
not installed, it prints one plain line every couple of seconds instead, so a log stays
readable and free of control codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any, TextIO

from .progress import Progress, Snapshot, snapshot

LOOP_KINDS = ("repeat", "cycle", "max_depth")
COLUMNS = ("requests", "hit ratio", "coalesced", "loads avoided", "invalidations", "db queries")


def bar(done: int, total: int, width: int = 28) -> str:
    """``[#########-----]`` for ``done`` of ``total``."""
    filled = width if total <= 0 else min(width, round(width * done / total))
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def _loops_text(s: Snapshot) -> str:
    if not s.cache_active:
        return "n/a (no loop detection without agent_cache)"
    kinds = list(LOOP_KINDS) + sorted(k for k in s.loops if k not in LOOP_KINDS)
    return "   ".join(f"{k} {s.loops.get(k, 0)}" for k in kinds) + f"   (total {sum(s.loops.values())})"


def _values(s: Snapshot) -> tuple[str, ...]:
    if s.cache_active:
        return (str(s.requests), f"{100 * s.hit_ratio:.1f} %", str(s.coalesced),
                str(s.loads_avoided), str(s.invalidations), str(s.db_queries))
    return ("-", "-", "-", "-", "-", str(s.db_queries))


def _head(s: Snapshot) -> str:
    limit = f" / {s.limit_s:.0f} s" if s.limit_s is not None else ""
    return f"{s.done:>5}/{s.total} sessions  {s.elapsed_s:5.1f} s{limit}"


def render_block(s: Snapshot) -> list[str]:
    """The block as plain text lines (what the rich view draws, without the styling)."""
    vals = _values(s)
    widths = [max(len(c), len(v)) for c, v in zip(COLUMNS, vals, strict=True)]
    return [
        f"{s.phase:<17} {bar(s.done, s.total)} {_head(s)}",
        "  " + "  ".join(c.rjust(w) for c, w in zip(COLUMNS, widths, strict=True)),
        "  " + "  ".join(v.rjust(w) for v, w in zip(vals, widths, strict=True)),
        "  loops caught: " + _loops_text(s),
    ]


def render_rich(s: Snapshot) -> Any:
    """The block as a rich renderable: a progress bar, the figures table, the loops line."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    top = Table.grid(padding=(0, 1))
    top.add_row(f"[bold]{s.phase:<17}[/]", ProgressBar(total=max(s.total, 1), completed=min(s.done, s.total),
                                                       width=28), _head(s))
    figures = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim")
    for column in COLUMNS:
        figures.add_column(column, justify="right")
    figures.add_row(*_values(s))
    return Group(top, figures, Text("  loops caught: " + _loops_text(s)))


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


def _rich_available() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


class LiveView:
    """Draws :class:`Snapshot`\\ s to ``stream``: a rich live block on a terminal, plain log
    lines otherwise (also when rich is not installed)."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None, interval_s: float | None = None) -> None:
        self.stream = stream
        self.tty = (stream.isatty() if tty is None else tty) and _rich_available()
        self.interval_s = interval_s if interval_s is not None else (0.1 if self.tty else 2.0)
        self._phase = ""
        self._live: Any = None  # the rich Live of the current phase
        self._last_line: float | None = None  # when the last plain line was printed

    def draw(self, s: Snapshot, *, final: bool = False) -> None:
        """Show ``s``; ``final`` marks the last figures of a phase."""
        if s.phase != self._phase:
            self.close()  # the previous phase's last block stays on screen above the new one
            self._phase = s.phase
        if self.tty:
            if self._live is None:
                from rich.console import Console
                from rich.live import Live

                console = Console(file=self.stream, force_terminal=True)
                self._live = Live(render_rich(s), console=console, auto_refresh=False, transient=False)
                self._live.start()
            self._live.update(render_rich(s), refresh=True)
            if final:
                self.close()
        else:
            now = time.monotonic()
            if final or self._last_line is None or now - self._last_line >= self.interval_s:
                self.stream.write(render_line(s) + ("  (done)\n" if final else "\n"))
                self._last_line = now
        self.stream.flush()

    def close(self) -> None:
        """Stop redrawing the current block (it stays as drawn)."""
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()

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
            self.close()

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
