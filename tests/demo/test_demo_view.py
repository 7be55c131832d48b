"""The live view: in place on a terminal, one line per tick otherwise."""

from __future__ import annotations

import io
from collections import Counter

from agent_cache.demo.progress import PHASE_BASELINE, PHASE_CACHED, Snapshot
from agent_cache.demo.view import LiveView, bar, render_block, render_line


def snap(phase: str = PHASE_CACHED, done: int = 5) -> Snapshot:
    return Snapshot(phase, done, 10, 1.5, 40.0, requests=20, hits=15, misses=4, coalesced=1,
                    invalidations=3, db_queries=9, loops=Counter(repeat=2, cycle=1))


def test_bar():
    assert bar(0, 10, width=10) == "[----------]"
    assert bar(5, 10, width=10) == "[#####-----]"
    assert bar(10, 10, width=10) == "[##########]"
    assert bar(3, 0, width=4) == "[####]"


def test_block_shows_the_table_and_loops_by_kind():
    text = "\n".join(render_block(snap()))
    assert "5/10 sessions" in text and "1.5 s / 40 s" in text
    for figure in ("75.0 %", "16", "repeat 2", "cycle 1", "max_depth 0", "(total 3)"):
        assert figure in text
    baseline = "\n".join(render_block(snap(PHASE_BASELINE)))
    assert "no loop detection" in baseline and "75.0 %" not in baseline


def test_terminal_draws_a_rich_block_per_phase_and_keeps_each_phases_last_figures():
    out = io.StringIO()
    view = LiveView(out, tty=True)
    view.draw(snap(done=1))
    view.draw(snap(done=2))
    view.draw(snap(done=5), final=True)
    view.draw(snap(PHASE_BASELINE, done=1))
    view.close()
    text = out.getvalue()
    assert "\x1b[" in text  # drawn in place with terminal control codes
    assert "\u2501" in text  # rich's progress bar
    for figure in ("hit ratio", "75.0 %", "repeat 2", "cycle 1", "5/10 sessions"):
        assert figure in text
    # the cached phase's final block is left on screen and the baseline draws below it
    assert text.rindex("with agent_cache") < text.rindex("without cache")
    assert "no loop detection" in text.split("without cache")[-1]


def test_without_rich_a_terminal_gets_plain_lines(monkeypatch):
    from agent_cache.demo import view as view_module

    monkeypatch.setattr(view_module, "_rich_available", lambda: False)
    out = io.StringIO()
    view = LiveView(out, tty=True, interval_s=3600)
    view.draw(snap(done=1))
    assert out.getvalue() == render_line(snap(done=1)) + "\n"


def test_not_a_terminal_prints_plain_lines_at_most_every_interval():
    out = io.StringIO()
    view = LiveView(out, tty=False, interval_s=3600)
    view.draw(snap(done=1))
    view.draw(snap(done=2))  # within the interval: skipped
    view.draw(snap(done=3), final=True)  # a phase's last figures always print
    lines = out.getvalue().splitlines()
    assert lines == [render_line(snap(done=1)), render_line(snap(done=3)) + "  (done)"]
    assert "\x1b" not in out.getvalue()
