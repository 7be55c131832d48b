"""Grafana's alert rules and the Prometheus rules file say the same thing."""

from __future__ import annotations

import re

import pytest
from stack_support import (
    ALERTING_FILE,
    DATASOURCES_FILE,
    KNOWN_LABELS,
    KNOWN_METRICS,
    dashboards,
    grafana_rule_promql,
    grafana_rules,
    iter_panels,
    prometheus_rules,
    selectors_and_labels,
)

pytestmark = pytest.mark.stack

EXPECTED = {
    "AgentCacheLoopDetected",
    "AgentCacheHitRatioCollapse",
    "AgentCacheLoaderErrors",
    "AgentCacheBreakerOpen",
    "AgentCacheServingStale",
}


def test_the_same_alerts_exist_on_both_sides() -> None:
    assert set(prometheus_rules()) == EXPECTED
    assert set(grafana_rules()) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_grafana_promql_is_identical_to_the_prometheus_rule(name: str) -> None:
    assert grafana_rule_promql(grafana_rules()[name]) == prometheus_rules()[name]["expr"].strip()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_for_labels_and_states_agree(name: str) -> None:
    grafana, prometheus = grafana_rules()[name], prometheus_rules()[name]
    assert grafana["for"] == prometheus["for"]
    assert grafana["labels"]["severity"] == prometheus["labels"]["severity"]
    # The PromQL carries its threshold: no series means healthy, never "no data" alerts.
    assert grafana["noDataState"] == "OK"
    assert grafana["execErrState"] == "Error"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_grafana_rule_is_well_formed(name: str) -> None:
    rule = grafana_rules()[name]
    ref_ids = {item["refId"] for item in rule["data"]}
    assert rule["condition"] in ref_ids
    condition = next(item for item in rule["data"] if item["refId"] == rule["condition"])
    assert condition["model"]["type"] == "math"
    referenced = set(re.findall(r"\$\$(\w+)", condition["model"]["expression"]))
    assert referenced and referenced <= ref_ids
    for item in rule["data"]:
        assert item["model"]["refId"] == item["refId"]
        if item["datasourceUid"] == "prometheus":
            assert item["model"]["instant"] is True
    board = next(b for b in dashboards().values() if b["uid"] == rule["dashboardUid"])
    assert rule["panelId"] in {panel["id"] for panel in iter_panels(board["panels"])}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_alert_promql_uses_known_names(name: str) -> None:
    metrics, labels = selectors_and_labels(prometheus_rules()[name]["expr"])
    assert metrics <= KNOWN_METRICS and labels <= KNOWN_LABELS


@pytest.mark.parametrize("path", [ALERTING_FILE, DATASOURCES_FILE], ids=lambda p: p.name)
def test_every_dollar_in_provisioning_files_is_escaped(path) -> None:
    """Grafana expands `$name` from the environment in provisioning files; `$$` is a `$`."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        code = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
        assert "$" not in code.replace("$$", ""), f"{path.name}:{number}: {line}"


@pytest.mark.parametrize("path", [ALERTING_FILE, DATASOURCES_FILE], ids=lambda p: p.name)
def test_documents_named_in_provisioning_files_exist(path) -> None:
    """A comment that sends the reader to a file (and a README section) must not dangle."""
    from stack_support import REPO

    text = path.read_text(encoding="utf-8")
    for name in re.findall(r"[\w./-]+\.md\b", text):
        assert (REPO / name).is_file(), f"{path.name} refers to {name}, which does not exist"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for section in re.findall(r'README\.md, section "([^"]+)"', text):
        assert re.search(rf"^#+ {re.escape(section)}$", readme, flags=re.M), section
