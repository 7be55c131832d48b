"""Grafana dashboards: fixed uids, datasources by uid, and PromQL that parses and only
uses the metric and label names agent_cache really emits (agent_cache/telemetry/names.py)."""

from __future__ import annotations

import pytest
from stack_support import (
    DATASOURCES_FILE,
    KNOWN_LABELS,
    KNOWN_METRICS,
    dashboards,
    datasource_uid,
    iter_panels,
    load_yaml,
    panel_queries,
    parse_label_values,
    selectors_and_labels,
    unescape_provisioning,
    variable_queries,
)

pytestmark = pytest.mark.stack

EXPECTED_UIDS = {
    "overview": "agent-cache-overview",
    "agent-sessions": "agent-cache-sessions",
    "shared-tier": "agent-cache-shared-tier",
}
DATASOURCE_UIDS = {source["uid"] for source in load_yaml(DATASOURCES_FILE)["datasources"]}


QUERIES = panel_queries()


def test_dashboards_have_fixed_uids() -> None:
    boards = dashboards()
    assert {name: board["uid"] for name, board in boards.items()} == EXPECTED_UIDS


def test_panel_ids_are_unique_and_every_panel_has_a_description() -> None:
    for name, board in dashboards().items():
        panels = list(iter_panels(board["panels"]))
        ids = [panel["id"] for panel in panels]
        assert len(ids) == len(set(ids)), name
        for panel in panels:
            assert panel.get("description"), f"{name}: panel {panel['title']!r} has no description"


def test_every_datasource_is_referenced_by_a_provisioned_uid() -> None:
    for name, board in dashboards().items():
        for panel in iter_panels(board["panels"]):
            assert isinstance(panel["datasource"], dict), f"{name}: {panel['title']} datasource by name"
            assert panel["datasource"]["uid"] in DATASOURCE_UIDS
            for target in panel.get("targets", []):
                assert datasource_uid(panel, target) in DATASOURCE_UIDS, f"{name}: {panel['title']}"
        for variable in board["templating"]["list"]:
            assert variable["datasource"]["uid"] in DATASOURCE_UIDS


def test_overview_and_sessions_cover_what_the_issue_asks_for() -> None:
    titles = {name: [p["title"].lower() for p in iter_panels(b["panels"])] for name, b in dashboards().items()}
    overview = " | ".join(titles["overview"])
    for topic in ("lookups", "hit ratio", "coalesced", "p50 / p95 / p99", "invalidations",
                  "evictions", "entries", "batch", "active sessions", "loop detections by kind and tool",
                  "served stale", "load timeouts"):
        assert topic in overview, topic
    sessions = " | ".join(titles["agent-sessions"])
    for topic in ("tool-call latency by result", "loop detections", "tempo"):
        assert topic in sessions, topic
    shared = " | ".join(titles["shared-tier"])
    for topic in ("l2 hit ratio", "lock outcomes", "backplane messages", "breaker state", "failures"):
        assert topic in shared, topic
    panels = iter_panels(dashboards()["agent-sessions"]["panels"])
    tempo_panels = [p for p in panels if p["datasource"]["uid"] == "tempo"]
    assert any("invoke_agent" in t["query"] for p in tempo_panels for t in p["targets"])


@pytest.mark.parametrize("query", QUERIES, ids=[q.label for q in QUERIES])
def test_panel_promql_parses_and_uses_known_names(query) -> None:
    metrics, labels = selectors_and_labels(query.promql)
    assert metrics, query.raw
    assert metrics <= KNOWN_METRICS, metrics - KNOWN_METRICS
    assert labels <= KNOWN_LABELS, labels - KNOWN_LABELS


def test_variable_queries_use_known_names() -> None:
    found = variable_queries()
    assert found
    for _, _, query in found:
        metric, label = parse_label_values(query)
        assert metric in KNOWN_METRICS and label in KNOWN_LABELS, query


def test_tempo_traces_to_metrics_queries_parse() -> None:
    tempo = next(s for s in load_yaml(DATASOURCES_FILE)["datasources"] if s["type"] == "tempo")
    links = tempo["jsonData"]["tracesToMetrics"]
    assert links["datasourceUid"] in DATASOURCE_UIDS
    for tag in links["tags"]:
        assert tag["value"] in KNOWN_LABELS
    for query in links["queries"]:
        promql = unescape_provisioning(query["query"]).replace("$__tags", 'gen_ai_tool_name="search"')
        metrics, labels = selectors_and_labels(promql)
        assert metrics <= KNOWN_METRICS and labels <= KNOWN_LABELS, promql


def test_exemplars_link_to_tempo() -> None:
    prometheus = next(s for s in load_yaml(DATASOURCES_FILE)["datasources"] if s["type"] == "prometheus")
    (destination,) = prometheus["jsonData"]["exemplarTraceIdDestinations"]
    assert destination == {**destination, "name": "trace_id", "datasourceUid": "tempo"}
