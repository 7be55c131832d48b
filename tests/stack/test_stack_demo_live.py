"""The live test with the real demo as the workload: ``python -m agent_cache.demo --short
--prometheus-port PORT``, scraped by a real Prometheus, as the compose stack's demo service
is (there through the collector; the names are the same on both paths).

Two demo runs side by side: the default one (a share of agents misbehave on purpose) must
light up every panel the demo's scenarios feed and fire the loop alert; one with
``--loop-rate 0`` must not fire it. tests/stack/test_stack_live.py covers the panels the
demo cannot feed (it makes no batch loads and its loaders never fail).
"""

from __future__ import annotations

import pytest
from live_prometheus import query_with_data, summarize, wait_for
from stack_support import alert_exprs, panel_queries

pytestmark = pytest.mark.stack

END_OF_RUN = "(done)"  # the demo prints this when the cached run's sessions are all done
# What the demo's scenarios never do: batch loads, loaders that raise.
NOT_FED_BY_THE_DEMO = {"Batch sizes", "Loader error ratio"}
QUERIES = [q for q in panel_queries() if q.panel_title not in NOT_FED_BY_THE_DEMO]
LOOP_ALERT = alert_exprs()["AgentCacheLoopDetected"]


@pytest.fixture(scope="module")
def demos(live_stacks):
    return {name: live_stacks[name] for name in ("demo", "demo-no-loops")}


def test_the_demo_has_panels_that_only_the_fixture_workload_feeds() -> None:
    titles = {q.panel_title for q in panel_queries()}
    assert titles >= NOT_FED_BY_THE_DEMO


@pytest.mark.parametrize("query", QUERIES, ids=[q.label for q in QUERIES])
def test_every_panel_the_demo_feeds_returns_data(demos, live_report, query) -> None:
    _, server = demos["demo"]
    result = query_with_data(server, query.promql, query.label)
    live_report.setdefault("demo_panels", []).append({"panel": query.label, **summarize(result)})


def test_loop_alert_fires_when_the_demo_loops_and_not_otherwise(demos, live_report) -> None:
    _, looping = demos["demo"]
    fired = query_with_data(looping, LOOP_ALERT, "loop alert on the demo")
    assert {series["metric"]["agent_cache_loop_kind"] for series in fired} <= {"repeat", "cycle", "max_depth"}

    quiet_demo, quiet = demos["demo-no-loops"]
    quiet_demo.wait_for_output(END_OF_RUN)  # every session has run: a loop would be counted by now
    before = quiet.rule_evaluations()
    wait_for("a rule evaluation after the run", lambda: quiet.rule_evaluations() != before, timeout=10)
    assert quiet.query(LOOP_ALERT) == []
    assert "AgentCacheLoopDetected" not in quiet.firing_or_pending()
    live_report["demo_loop_alert"] = {"demo": summarize(fired), "demo --loop-rate 0": []}
