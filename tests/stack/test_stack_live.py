"""The live test: real Prometheus scraping a real agent_cache workload.

Two workloads run side by side, each scraped by its own Prometheus (Debian's binary, on
loopback, every second, with the stack's own rules file):

* ``faulty`` — agents that loop, a loader that fails, a cache that never hits;
* ``healthy`` — the same agents behaving.

Every PromQL query of every dashboard panel, every template variable and every alert
expression goes through Prometheus' HTTP API. On ``faulty`` each must return data (and
each alert expression must fire, and Prometheus' own rule evaluation must raise the loop
alert); on ``healthy`` every alert expression must come back empty.

Set ``STACK_LIVE_REPORT=/path/report.json`` to keep each query and the value it returned.
"""

from __future__ import annotations

from typing import Any

import pytest
from live_prometheus import SETTLED, PrometheusServer, query_with_data, summarize, wait_for
from stack_support import alert_exprs, panel_queries, parse_label_values, variable_queries

pytestmark = pytest.mark.stack

PROFILES = ("faulty", "healthy")
# The fixture workload has no working shared tier (only one that is down, for the breaker
# alert): the Shared tier dashboard is fed by the demo with --redis (test_stack_demo_live).
QUERIES = [q for q in panel_queries() if q.dashboard != "shared-tier"]
ALERTS = alert_exprs()



@pytest.fixture(scope="module")
def stacks(live_stacks) -> dict[str, PrometheusServer]:
    return {name: live_stacks[name][1] for name in PROFILES}


@pytest.fixture(scope="module")
def report(live_report: dict[str, Any]) -> dict[str, Any]:
    for key, empty in (("panels", []), ("variables", []), ("alerts", {})):
        live_report.setdefault(key, empty)
    return live_report


def test_prometheus_scrapes_both_workloads(stacks: dict[str, PrometheusServer]) -> None:
    for profile in PROFILES:
        assert stacks[profile].target_health() == "up"
        # the exporter's names, exactly as the dashboards expect them
        assert stacks[profile].query('count({__name__="agent_cache_requests_total"})')


@pytest.mark.parametrize("query", QUERIES, ids=[q.label for q in QUERIES])
def test_every_panel_query_returns_data(stacks: dict[str, PrometheusServer], report, query) -> None:
    result = query_with_data(stacks["faulty"], query.promql, query.label)
    report["panels"].append({"panel": query.label, "promql": query.raw, **summarize(result)})


@pytest.mark.parametrize("dashboard,variable,query", variable_queries())
def test_every_template_variable_has_values(
    stacks: dict[str, PrometheusServer], report, dashboard: str, variable: str, query: str
) -> None:
    metric, label = parse_label_values(query)
    values = wait_for(
        f"values of ${variable}",
        lambda: stacks["faulty"].api(f"label/{label}/values", **{"match[]": metric}),
        timeout=20,
    )
    report["variables"].append({"dashboard": dashboard, "variable": variable, "query": query, "values": values})


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_every_alert_fires_on_the_faulty_workload(stacks: dict[str, PrometheusServer], report, name: str) -> None:
    result = query_with_data(stacks["faulty"], ALERTS[name], name)
    report["alerts"].setdefault(name, {"promql": ALERTS[name]})["faulty"] = summarize(result)


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_no_alert_fires_on_the_healthy_workload(stacks: dict[str, PrometheusServer], report, name: str) -> None:
    healthy = stacks["healthy"]
    wait_for("every healthy series scraped a few times", lambda: healthy.query(SETTLED), timeout=20)
    result = healthy.query(ALERTS[name])
    report["alerts"].setdefault(name, {"promql": ALERTS[name]})["healthy"] = summarize(result)
    assert result == [], f"{name} fired without cause: {result}"


def test_loop_alert_is_raised_by_prometheus_only_when_a_loop_happened(
    stacks: dict[str, PrometheusServer], report
) -> None:
    """Prometheus' own evaluation of the rules file: the loop alert (for: 0s) fires on the
    faulty workload at once; the slower alerts are at least pending; healthy stays clear."""
    faulty = wait_for(
        "faulty alerts",
        lambda: (lambda a: a if a.get("AgentCacheLoopDetected") == "firing" and len(a) == len(ALERTS) else None)(
            stacks["faulty"].firing_or_pending()
        ),
        timeout=20,
    )
    assert set(faulty) == set(ALERTS)
    healthy = stacks["healthy"]
    before = healthy.rule_evaluations()
    wait_for("a fresh rule evaluation on healthy", lambda: healthy.rule_evaluations() != before, timeout=10)
    assert healthy.firing_or_pending() == {}
    report["prometheus_alerts"] = {"faulty": faulty, "healthy": {}}


def test_faulty_upstreams_are_served_stale_and_raise_the_stale_alert_expression(
    stacks: dict[str, PrometheusServer], report
) -> None:
    """The faulty workload's two upstream APIs are down (one raises, one hangs past
    load_timeout): the Served stale panel shows stale answers and load timeouts above 0
    (not only its fall-back zeros), and AgentCacheServingStale names both resources."""
    panel = {q.ref_id: q for q in QUERIES if q.dashboard == "overview" and "served stale" in q.panel_title.lower()}
    faulty = stacks["faulty"]

    def positive(promql: str) -> dict[str, float]:
        values = {s["metric"].get("agent_cache_resource", ""): float(s["value"][1]) for s in faulty.query(promql)}
        return {name: value for name, value in values.items() if value > 0}

    stale = wait_for("stale answers", lambda: positive(panel["A"].promql), timeout=20)
    timeouts = wait_for("load timeouts", lambda: positive(panel["B"].promql), timeout=20)
    assert {"exchange_rates", "weather"} <= set(stale) and set(timeouts) == {"weather"}
    fired = wait_for("both upstreams in the stale alert",
                     lambda: (lambda r: r if set(r) >= {"exchange_rates", "weather"} else None)(
                         positive(ALERTS["AgentCacheServingStale"])), timeout=20)
    report["faulty_served_stale"] = {"stale_per_s": stale, "load_timeouts_per_s": timeouts, "stale_alert": fired}
