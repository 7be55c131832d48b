"""otel/collector.yaml, checked structurally (no collector binary runs here)."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from stack_support import COLLECTOR_FILE, COMPOSE_FILE, load_yaml

pytestmark = pytest.mark.stack

KINDS = ("receivers", "processors", "exporters")


@pytest.fixture(scope="module")
def config() -> dict:
    return load_yaml(COLLECTOR_FILE)


def test_every_pipeline_component_is_defined(config: dict) -> None:
    pipelines = config["service"]["pipelines"]
    assert {"traces", "metrics"} <= set(pipelines)
    for name, pipeline in pipelines.items():
        for kind in KINDS:
            for component in pipeline.get(kind, []):
                assert component in (config.get(kind) or {}), f"{name}: {kind[:-1]} {component!r} undefined"
        assert pipeline["receivers"] and pipeline["exporters"], name
    for extension in config["service"].get("extensions", []):
        assert extension in config["extensions"]


def test_every_defined_component_is_used(config: dict) -> None:
    pipelines = config["service"]["pipelines"].values()
    for kind in KINDS:
        used = {component for pipeline in pipelines for component in pipeline.get(kind, [])}
        assert set(config.get(kind) or {}) == used, kind


def test_memory_limiter_first_and_batch_last(config: dict) -> None:
    for name, pipeline in config["service"]["pipelines"].items():
        processors = pipeline["processors"]
        assert processors[0].split("/")[0] == "memory_limiter", name
        assert processors[-1].split("/")[0] == "batch", name


def test_receivers_listen_on_all_interfaces(config: dict) -> None:
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
    assert config["exporters"]["prometheus"]["endpoint"].startswith("0.0.0.0:")


def test_exporters_point_at_compose_services(config: dict) -> None:
    services = load_yaml(COMPOSE_FILE)["services"]
    for name, exporter in config["exporters"].items():
        if name == "prometheus":  # a server the collector opens, not a destination
            continue
        endpoint = exporter["endpoint"]
        host = urlparse(endpoint if "://" in endpoint else f"//{endpoint}").hostname
        assert host in services, f"exporter {name} points at {host!r}"


def test_traces_go_to_tempo_and_metrics_to_prometheus(config: dict) -> None:
    pipelines = config["service"]["pipelines"]
    (traces,) = pipelines["traces"]["exporters"]
    assert config["exporters"][traces]["endpoint"].startswith("tempo:")
    assert pipelines["metrics"]["exporters"] == ["prometheus"]


def test_prometheus_exporter_names_match_the_direct_scrape_path(config: dict) -> None:
    exporter = config["exporters"]["prometheus"]
    # Same naming as opentelemetry-exporter-prometheus: agent_cache_requests_total, ..._seconds_bucket
    assert exporter["translation_strategy"] == "UnderscoreEscapingWithSuffixes"
    assert "resource_to_telemetry_conversion" not in exporter and "namespace" not in exporter
    assert exporter["enable_open_metrics"] is True  # exemplars only travel in OpenMetrics
