"""The demo end to end, in short (CI) mode, in process: its printed figures add up."""

from __future__ import annotations

import re

import pytest
from demo_figures import check_consistent, parse_summary

from agent_cache.demo.__main__ import main


def run_demo(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    status = main(["--short", *args])
    out = capsys.readouterr().out
    assert status == 0, out
    return out


@pytest.fixture(scope="module")
def short_run() -> str:
    """One default short run's output, shared by the tests that only read it."""
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["--short", "--seed", "11"]) == 0
    return buf.getvalue()


def test_short_run_figures_are_consistent(short_run):
    out = short_run
    summary = parse_summary(out)
    check_consistent(summary, loop_rate=0.2)
    # Not a terminal here: the live view degrades to one line per tick, one per phase end.
    assert "[with agent_cache]" in out and "[without cache]" in out
    assert "(done)" in out


def test_no_misbehaving_sessions_means_no_loops(capsys):
    out = run_demo(capsys, "--loop-rate", "0", "--seed", "3")
    check_consistent(parse_summary(out), loop_rate=0.0)
    assert "0 misbehaving" in out


def test_every_session_misbehaving_catches_every_kind(capsys):
    out = run_demo(capsys, "--loop-rate", "1", "--sessions", "40")
    s = parse_summary(out)
    check_consistent(s, loop_rate=1.0)
    assert s.figures["loops caught"] == 40  # each misbehaving session is halted once
    for kind in ("repeat", "cycle", "max_depth"):
        assert f"{kind} 0" not in s.rest["loops caught"], s.rest["loops caught"]


@pytest.mark.parametrize("scope", ["global", "session"])
def test_forced_scopes_stay_consistent(capsys, scope):
    out = run_demo(capsys, "--scope", scope, "--sessions", "40")
    check_consistent(parse_summary(out), loop_rate=0.2)
    assert f"scope {scope}" in out


def test_span_tree_of_an_eventful_session(short_run):
    out = short_run
    tree = out.split("== span tree:", 1)[1]
    header, body = tree.split("\n", 1)
    assert "halted by loop detection" in header
    assert "`- invoke_agent " in body
    # the most eventful session: a caught loop plus cache hits (which session wins depends
    # on timing: a shopping repeat loop, a research repeat, a retry storm with a coalesced read)
    assert re.search(r"execute_tool \w+  \[hit\]", body), out
    assert "agent_cache.loop_detected kind=" in body
    # children hang under their parents: every tool span is indented below invoke_agent
    lines = body.splitlines()
    agent_at = next(i for i, line in enumerate(lines) if "invoke_agent" in line)
    assert all(line.startswith("   ") for line in lines[agent_at + 1:] if line.strip())


def test_same_seed_same_workload(capsys):
    first = parse_summary(run_demo(capsys, "--seed", "5", "--sessions", "30"))
    second = parse_summary(run_demo(capsys, "--seed", "5", "--sessions", "30"))
    # The uncached baseline is fully determined by the seed; cached figures depend on timing.
    assert first.pair("db queries")[1] == second.pair("db queries")[1]
    assert first.pair("tool calls")[1] == second.pair("tool calls")[1]


def test_without_the_sdk_the_demo_runs_and_says_why_there_is_no_tree(capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)  # import fails
    out = run_demo(capsys, "--sessions", "20")
    check_consistent(parse_summary(out), loop_rate=0.2)
    assert "(no span tree: opentelemetry-sdk is not installed" in out


def test_without_the_sdk_asking_for_an_exporter_is_an_error(capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    assert main(["--short", "--prometheus-port", "0"]) == 2
    assert "needs the OpenTelemetry SDK" in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["raise", "hang"])
def test_an_upstream_outage_is_ridden_out_on_stale_values(capsys, mode):
    """--outage takes the research tools' web API down mid-run: their expired entries are
    answered stale (stale_if_error; after load_timeout when the API hangs), fewer calls fail
    than in the uncached replay of the same sessions, and the figures still add up."""
    out = run_demo(capsys, "--sessions", "3000", "--duration", "4", "--outage", f"1:2:{mode}")
    s = parse_summary(out)
    check_consistent(s, loop_rate=0.2)
    assert s.figures["stale"] > 0, out
    with_cache, without = s.pair("errors surfaced")
    assert without > 0 and with_cache < without, out
    assert f"web API down 1-3 s, {mode}" in s.rest["errors surfaced"]
    if mode == "hang":
        assert s.figures["load timeouts"] > 0, out


def test_without_an_outage_no_call_fails(short_run):
    s = parse_summary(short_run)
    assert "errors surfaced" not in s.figures  # the line is there only with --outage
    assert s.figures["load timeouts"] == 0
