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

import json
import math
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from live_prometheus import PrometheusServer, Workload, wait_for
from stack_support import alert_exprs, panel_queries, parse_label_values, require_tool, variable_queries

pytestmark = pytest.mark.stack

PROFILES = ("faulty", "healthy")
QUERIES = panel_queries()
ALERTS = alert_exprs()
# Enough samples that rate() over the substituted windows sees growth, and the rules ran.
MATURE = "min(count_over_time(agent_cache_requests_total[1m])) >= 4"

REPORT: dict[str, Any] = {"panels": [], "variables": [], "alerts": {}}


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, PrometheusServer]]:
    """Both workloads and both Prometheus servers, started together to overlap their waits."""
    require_tool("prometheus")
    root = tmp_path_factory.mktemp("live-stack")
    workloads: dict[str, Workload] = {}
    servers: dict[str, PrometheusServer] = {}
    try:
        for profile in PROFILES:
            workloads[profile] = Workload(profile, root)
        for profile in PROFILES:
            workloads[profile].wait_ready()
            servers[profile] = PrometheusServer(root / profile, workloads[profile].port)
        for profile in PROFILES:
            servers[profile].wait_ready()
        for profile in PROFILES:
            wait_for(f"{profile} target up", lambda: servers[profile].target_health() == "up")
            wait_for(f"{profile} has several scrapes", lambda: servers[profile].query(MATURE))
        yield servers
    finally:
        for server in servers.values():
            server.stop()
        for workload in workloads.values():
            workload.stop()
        report = os.environ.get("STACK_LIVE_REPORT")
        if report:
            Path(report).write_text(json.dumps(REPORT, indent=2), encoding="utf-8")


def finite_values(result: list[dict[str, Any]]) -> list[float]:
    return [float(item["value"][1]) for item in result if math.isfinite(float(item["value"][1]))]


def summarize(result: list[dict[str, Any]]) -> dict[str, Any]:
    """A compact record of what a query returned, for the report."""
    values = finite_values(result)
    first = result[0] if result else None
    return {
        "series": len(result),
        "finite": len(values),
        "min": min(values) if values else None,
        "max": max(values) if values else None,
        "example": {"labels": {k: v for k, v in first["metric"].items() if not k.startswith("otel_scope")},
                    "value": first["value"][1]} if first else None,
    }


def query_with_data(server: PrometheusServer, promql: str, what: str) -> list[dict[str, Any]]:
    """Poll until ``promql`` returns at least one finite value (a few scrapes at most)."""
    return wait_for(what, lambda: (lambda r: r if finite_values(r) else None)(server.query(promql)), timeout=20)


def test_prometheus_scrapes_both_workloads(stacks: dict[str, PrometheusServer]) -> None:
    for profile in PROFILES:
        assert stacks[profile].target_health() == "up"
        # the exporter's names, exactly as the dashboards expect them
        assert stacks[profile].query('count({__name__="agent_cache_requests_total"})')


@pytest.mark.parametrize("query", QUERIES, ids=[q.label for q in QUERIES])
def test_every_panel_query_returns_data(stacks: dict[str, PrometheusServer], query) -> None:
    result = query_with_data(stacks["faulty"], query.promql, query.label)
    REPORT["panels"].append({"panel": query.label, "promql": query.raw, **summarize(result)})


@pytest.mark.parametrize("dashboard,variable,query", variable_queries())
def test_every_template_variable_has_values(
    stacks: dict[str, PrometheusServer], dashboard: str, variable: str, query: str
) -> None:
    metric, label = parse_label_values(query)
    values = wait_for(
        f"values of ${variable}",
        lambda: stacks["faulty"].api(f"label/{label}/values", **{"match[]": metric}),
        timeout=20,
    )
    REPORT["variables"].append({"dashboard": dashboard, "variable": variable, "query": query, "values": values})


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_every_alert_fires_on_the_faulty_workload(stacks: dict[str, PrometheusServer], name: str) -> None:
    result = query_with_data(stacks["faulty"], ALERTS[name], name)
    REPORT["alerts"].setdefault(name, {"promql": ALERTS[name]})["faulty"] = summarize(result)


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_no_alert_fires_on_the_healthy_workload(stacks: dict[str, PrometheusServer], name: str) -> None:
    healthy = stacks["healthy"]
    assert healthy.query(MATURE), "healthy workload not scraped enough to judge"
    result = healthy.query(ALERTS[name])
    REPORT["alerts"].setdefault(name, {"promql": ALERTS[name]})["healthy"] = summarize(result)
    assert result == [], f"{name} fired without cause: {result}"


def test_loop_alert_is_raised_by_prometheus_only_when_a_loop_happened(stacks: dict[str, PrometheusServer]) -> None:
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
    REPORT["prometheus_alerts"] = {"faulty": faulty, "healthy": {}}
