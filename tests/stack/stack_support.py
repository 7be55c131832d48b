"""Shared helpers for the observability-stack tests: paths, tools, and the queries that the
dashboards and alert rules run.

Everything here reads the real files of the stack (compose, collector, Prometheus, Grafana),
so the tests check what a user would deploy, not a copy.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from agent_cache.telemetry import names

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
COLLECTOR_FILE = REPO / "otel" / "collector.yaml"
PROMETHEUS_FILE = REPO / "prometheus" / "prometheus.yml"
RULES_FILE = REPO / "prometheus" / "rules" / "agent_cache.rules.yml"
RULES_TEST_FILE = REPO / "prometheus" / "tests" / "agent_cache.test.yml"
GRAFANA = REPO / "grafana"
DATASOURCES_FILE = GRAFANA / "provisioning" / "datasources" / "datasources.yaml"
ALERTING_FILE = GRAFANA / "provisioning" / "alerting" / "agent_cache.yaml"
DASHBOARDS_DIR = GRAFANA / "dashboards"

# What Grafana puts in place of its built-in variables when it runs a panel's query. The
# live test scrapes every second, so one minute always spans many samples.
GRAFANA_BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "5m",
}
# Every template variable of our dashboards is multi-value with "All" = ".*".
TEMPLATE_ALL = ".*"


def in_ci() -> bool:
    """True when running under CI, where a missing tool is a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_tool(name: str) -> str:
    """Return the path of an executable; skip without it locally, fail without it in CI."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (.ci/run installs it: apt-get install prometheus)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def unescape_provisioning(value: str) -> str:
    """Undo Grafana's provisioning escape: a literal `$` is written `$$` in those files."""
    return value.replace("$$", "$")


# --- names agent_cache emits, as Prometheus shows them ---------------------------------

def prometheus_name(otel_name: str) -> str:
    return otel_name.replace(".", "_")


KNOWN_METRICS = {
    names.PROM_REQUESTS,
    names.PROM_INVALIDATIONS,
    names.PROM_LOOP_DETECTIONS,
    names.PROM_EVICTIONS,
    names.PROM_ENTRY_COUNT,
    names.PROM_SESSION_ACTIVE,
    names.PROM_LOAD_TIMEOUTS,
} | {
    # the shared tier's observable instruments (agent_cache/telemetry/tier.py)
    prometheus_name(names.METRIC_TIER_REQUESTS[0]) + "_total",
    prometheus_name(names.METRIC_TIER_FAILURES[0]) + "_total",
    prometheus_name(names.METRIC_TIER_LOCKS[0]) + "_total",
    prometheus_name(names.METRIC_BACKPLANE_MESSAGES[0]) + "_total",
    prometheus_name(names.METRIC_BREAKER_OPENINGS[0]) + "_total",
    prometheus_name(names.METRIC_BREAKER_STATE[0]),
} | {
    f"{histogram}_{suffix}"
    for histogram in (names.PROM_LOAD_DURATION, names.PROM_BATCH_SIZE, names.PROM_TOOL_DURATION)
    for suffix in ("bucket", "sum", "count")
}
KNOWN_LABELS = {
    prometheus_name(key)
    for key in (
        names.ATTR_RESOURCE,
        names.ATTR_SCOPE,
        names.ATTR_RESULT,
        names.ATTR_EVICTION_REASON,
        names.ATTR_LOOP_KIND,
        names.ATTR_LOOP_ACTION,
        names.GEN_AI_TOOL_NAME,
        names.ERROR_TYPE,
        names.ATTR_TIER,
        names.ATTR_TIER_FAILURE,
        names.ATTR_LOCK_OUTCOME,
        names.ATTR_BACKPLANE_DIRECTION,
    )
} | {"le"}


def selectors_and_labels(promql: str) -> tuple[set[str], set[str]]:
    """Metric names and label names an expression refers to."""
    metrics: set[str] = set()
    labels: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            metrics.add(node.name)
            labels.update(m.name for m in node.matchers.matchers if m.name != "__name__")
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            labels.update(node.modifier.labels)

    promql_parser.walk(promql_parser.parse(promql), visit)
    return metrics, labels


# --- dashboards ----------------------------------------------------------------------------

@dataclass(frozen=True)
class PanelQuery:
    """One PromQL target of one dashboard panel, raw (Grafana) and runnable (PromQL)."""

    dashboard: str
    panel_id: int
    panel_title: str
    ref_id: str
    raw: str

    @property
    def promql(self) -> str:
        return grafana_to_promql(self.raw)

    @property
    def label(self) -> str:
        return f"{self.dashboard}#{self.panel_id}{self.ref_id} {self.panel_title}"


_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def grafana_to_promql(expr: str) -> str:
    """Replace Grafana's variables as Grafana would with "All" selected."""

    def substitute(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name in GRAFANA_BUILTINS:
            return GRAFANA_BUILTINS[name]
        if name.startswith("__"):
            raise KeyError(f"unhandled Grafana built-in ${name} in {expr!r}")
        return TEMPLATE_ALL

    return _VARIABLE.sub(substitute, expr)


def dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard JSON in grafana/dashboards, by file stem."""
    import json

    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARDS_DIR.glob("*.json"))
    }


def iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Panels, including those nested in collapsed rows."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def datasource_uid(panel: dict[str, Any], target: dict[str, Any]) -> str | None:
    source = target.get("datasource") or panel.get("datasource") or {}
    return source.get("uid") if isinstance(source, dict) else None


def panel_queries() -> list[PanelQuery]:
    """Every Prometheus target of every panel of every dashboard."""
    found = []
    for name, board in dashboards().items():
        for panel in iter_panels(board.get("panels", [])):
            for target in panel.get("targets", []):
                if datasource_uid(panel, target) == "prometheus" and target.get("expr"):
                    found.append(
                        PanelQuery(name, panel["id"], panel["title"], target["refId"], target["expr"])
                    )
    return found


def variable_queries() -> list[tuple[str, str, str]]:
    """(dashboard, variable, query) for each query-type template variable."""
    found = []
    for name, board in dashboards().items():
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("type") == "query":
                query = variable["query"]
                found.append((name, variable["name"], query["query"] if isinstance(query, dict) else query))
    return found


_LABEL_VALUES = re.compile(r"^label_values\(\s*(?P<metric>[^,]+?)\s*,\s*(?P<label>\w+)\s*\)$")


def parse_label_values(query: str) -> tuple[str, str]:
    """Split Grafana's `label_values(metric, label)` into its metric selector and label."""
    match = _LABEL_VALUES.match(query.strip())
    if match is None:
        raise ValueError(f"not a label_values() query: {query!r}")
    return match["metric"], match["label"]


# --- alert rules -----------------------------------------------------------------------------

def prometheus_rules() -> dict[str, dict[str, Any]]:
    """Alerting rules of prometheus/rules/agent_cache.rules.yml, by alert name."""
    rules = {}
    for group in load_yaml(RULES_FILE)["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                rules[rule["alert"]] = rule
    return rules


def grafana_rules() -> dict[str, dict[str, Any]]:
    """Grafana-provisioned alert rules, by title."""
    return {
        rule["title"]: rule
        for group in load_yaml(ALERTING_FILE)["groups"]
        for rule in group["rules"]
    }


def grafana_rule_promql(rule: dict[str, Any]) -> str:
    """The PromQL of a Grafana rule's (single) Prometheus query, `$$` unescaped."""
    exprs = [
        unescape_provisioning(item["model"]["expr"])
        for item in rule["data"]
        if item["datasourceUid"] == "prometheus"
    ]
    assert len(exprs) == 1, f"{rule['title']}: expected one Prometheus query, got {exprs}"
    return exprs[0]


def alert_exprs() -> dict[str, str]:
    """Alert name -> PromQL, from the Prometheus rules file (Grafana's are kept identical)."""
    return {name: rule["expr"].strip() for name, rule in prometheus_rules().items()}
