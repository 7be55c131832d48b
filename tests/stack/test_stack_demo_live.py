"""The live test with the real demo as the workload: ``python -m agent_cache.demo --short
--prometheus-port PORT``, scraped by a real Prometheus, as the compose stack's demo service
is (there through the collector; the names are the same on both paths).

Three demo runs side by side:

* ``demo`` — the default (a share of agents misbehave on purpose): every panel of the
  Overview and Agent sessions dashboards has data (the demo batches at checkout, and a ratio
  with no errors is 0, not "No data"), and the loop alert fires;
* ``demo-no-loops`` — ``--loop-rate 0``: the loop alert must not fire;
* ``demo-redis`` — ``--redis URL`` against a real redis-server the fixture started: every
  panel of every dashboard, the Shared tier one included, has data; the breaker alert stays
  quiet on a healthy tier (tests/stack/test_stack_live.py makes it fire on a tier that is down).
"""

from __future__ import annotations

import pytest
from live_prometheus import query_with_data, summarize, wait_for
from stack_support import alert_exprs, panel_queries

pytestmark = pytest.mark.stack

END_OF_RUN = "(done)"  # the demo prints this when the cached run's sessions are all done
TIER_DASHBOARD = "shared-tier"
ALL_QUERIES = panel_queries()
WITHOUT_TIER = [q for q in ALL_QUERIES if q.dashboard != TIER_DASHBOARD]
LOOP_ALERT = alert_exprs()["AgentCacheLoopDetected"]
BREAKER_ALERT = alert_exprs()["AgentCacheBreakerOpen"]


@pytest.fixture(scope="module")
def demos(live_stacks):
    return {name: live_stacks[name] for name in ("demo", "demo-no-loops", "demo-redis")}


def test_every_dashboard_is_covered() -> None:
    assert {q.dashboard for q in ALL_QUERIES} == {"overview", "agent-sessions", TIER_DASHBOARD}


@pytest.mark.parametrize("query", WITHOUT_TIER, ids=[q.label for q in WITHOUT_TIER])
def test_every_panel_has_data_from_the_demo(demos, live_report, query) -> None:
    _, server = demos["demo"]
    result = query_with_data(server, query.promql, query.label)
    live_report.setdefault("demo_panels", []).append({"panel": query.label, **summarize(result)})


@pytest.mark.parametrize("query", ALL_QUERIES, ids=[q.label for q in ALL_QUERIES])
def test_every_panel_of_every_dashboard_has_data_from_the_demo_on_redis(demos, live_report, query) -> None:
    _, server = demos["demo-redis"]
    result = query_with_data(server, query.promql, query.label)
    live_report.setdefault("demo_redis_panels", []).append({"panel": query.label, **summarize(result)})


def test_the_shared_tier_really_served_the_demo(demos) -> None:
    _, server = demos["demo-redis"]
    hits = query_with_data(server, 'sum(agent_cache_tier_requests_total{agent_cache_result="hit"})', "L2 hits")
    locks = query_with_data(server, 'sum(agent_cache_tier_locks_total{agent_cache_lock_outcome="acquired"})', "locks")
    sent = query_with_data(server, 'sum(agent_cache_backplane_messages_total{agent_cache_backplane_direction="sent"})',
                           "backplane messages")
    assert all(float(r[0]["value"][1]) > 0 for r in (hits, locks, sent))


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


def test_breaker_alert_stays_quiet_on_a_healthy_tier(demos, live_report) -> None:
    demo, server = demos["demo-redis"]
    demo.wait_for_output(END_OF_RUN)
    state = query_with_data(server, "max(agent_cache_breaker_state)", "breaker state")
    assert float(state[0]["value"][1]) == 0
    assert server.query(BREAKER_ALERT) == []
    assert "AgentCacheBreakerOpen" not in server.firing_or_pending()
    live_report["demo_redis_breaker_alert"] = []
