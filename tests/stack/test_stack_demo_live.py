"""The live test with the real demo as the workload: ``python -m agent_cache.demo --short
--prometheus-port PORT``, scraped by a real Prometheus, as the compose stack's demo service
is (there through the collector; the names are the same on both paths).

Three demo runs side by side:

* ``demo`` — the default (a share of agents misbehave on purpose) with ``--outage 6:8:raise``
  (the research tools' web API refuses calls for 8 s): every panel of the Overview and Agent
  sessions dashboards has data (the demo batches at checkout, and a ratio with no errors is
  0, not "No data"), the loop alert fires, the Served stale panel shows stale answers and
  the AgentCacheServingStale expression returns the web API's resources;
* ``demo-no-loops`` — ``--loop-rate 0``, no outage: the loop alert must not fire, and the
  stale alert neither, although revalidation answers some reads stale;
* ``demo-redis`` — ``--redis URL`` against a real redis-server the fixture started, with
  ``--outage 6:8:hang``: every panel of every dashboard, the Shared tier one included, has
  data; the breaker alert stays quiet on a healthy tier (tests/stack/test_stack_live.py
  makes it fire on a tier that is down); the hung web API shows as load timeouts.
"""

from __future__ import annotations

import pytest
from live_prometheus import finite_values, query_with_data, summarize, wait_for
from stack_support import alert_exprs, panel_queries

pytestmark = pytest.mark.stack

END_OF_RUN = "(done)"  # the demo prints this when the cached run's sessions are all done
TIER_DASHBOARD = "shared-tier"
ALL_QUERIES = panel_queries()
WITHOUT_TIER = [q for q in ALL_QUERIES if q.dashboard != TIER_DASHBOARD]
LOOP_ALERT = alert_exprs()["AgentCacheLoopDetected"]
BREAKER_ALERT = alert_exprs()["AgentCacheBreakerOpen"]
STALE_ALERT = alert_exprs()["AgentCacheServingStale"]
STALE_PANEL = {
    q.ref_id: q for q in ALL_QUERIES if q.dashboard == "overview" and "served stale" in q.panel_title.lower()
}
WEB_API_RESOURCES = {"search", "page"}  # the demo's research tools (agent_cache/demo/tools.py)


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


def _positive(server, promql: str, what: str) -> list[dict]:
    """Poll until ``promql`` returns a value above 0 (the fall-back-to-0 series do not count)."""
    return wait_for(what, lambda: (lambda r: r if any(v > 0 for v in finite_values(r)) else None)(server.query(promql)),
                    timeout=20)


def test_the_outage_is_served_stale_and_the_stale_alert_expression_fires(demos, live_report) -> None:
    """``--outage 6:8:raise``: the web API's expired entries are answered stale while its loads
    fail, on the Served stale panel and in the AgentCacheServingStale expression."""
    assert set(STALE_PANEL) == {"A", "B"}
    _, server = demos["demo"]
    stale = _positive(server, STALE_PANEL["A"].promql, "stale answers on the Served stale panel")
    served = {s["metric"]["agent_cache_resource"] for s in stale if float(s["value"][1]) > 0}
    assert served <= WEB_API_RESOURCES and served, served
    fired = query_with_data(server, STALE_ALERT, "AgentCacheServingStale on the demo's outage")
    assert {s["metric"]["agent_cache_resource"] for s in fired} <= WEB_API_RESOURCES
    live_report["demo_outage"] = {"served_stale_panel_A": summarize(stale), "stale_alert": summarize(fired)}


def test_a_hung_web_api_shows_as_load_timeouts_and_fires_the_stale_alert_expression(demos, live_report) -> None:
    """``--outage 6:8:hang`` on the Redis tier: callers stop waiting after load_timeout and
    are answered stale."""
    _, server = demos["demo-redis"]
    timeouts = _positive(server, STALE_PANEL["B"].promql, "load timeouts on the Served stale panel")
    assert {s["metric"]["agent_cache_resource"] for s in timeouts if float(s["value"][1]) > 0} <= WEB_API_RESOURCES
    stale = _positive(server, STALE_PANEL["A"].promql, "stale answers on the Redis tier")
    fired = query_with_data(server, STALE_ALERT, "AgentCacheServingStale on the hung web API")
    live_report["demo_redis_outage"] = {
        "served_stale_panel_A": summarize(stale),
        "served_stale_panel_B": summarize(timeouts),
        "stale_alert": summarize(fired),
    }


def test_stale_alert_stays_quiet_on_healthy_revalidation(demos, live_report) -> None:
    """Without an outage the demo still answers some reads stale (stale_while_revalidate on
    the web API's short TTL): healthy, so the stale alert must not fire."""
    quiet_demo, quiet = demos["demo-no-loops"]
    quiet_demo.wait_for_output(END_OF_RUN)
    stale = _positive(quiet, STALE_PANEL["A"].promql, "revalidation answered stale on the healthy demo")
    before = quiet.rule_evaluations()
    wait_for("a rule evaluation after the run", lambda: quiet.rule_evaluations() != before, timeout=10)
    assert quiet.query(STALE_ALERT) == []
    assert "AgentCacheServingStale" not in quiet.firing_or_pending()
    live_report["demo_healthy_stale"] = {"served_stale_panel_A": summarize(stale), "stale_alert": []}
