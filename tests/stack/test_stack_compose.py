"""docker-compose.yml: valid against the Compose spec, and every reference resolves.

No Docker engine runs here, so the schema check (check-jsonschema's vendored Compose
spec) is backed by a test of what the schema cannot see: depends_on targets, mounted files,
named volumes, pinned images, and that the wiring between services uses service names.
"""

from __future__ import annotations

import re
import subprocess
import sys
from urllib.parse import urlparse

import pytest
from stack_support import (
    COLLECTOR_FILE,
    COMPOSE_FILE,
    DATASOURCES_FILE,
    PROMETHEUS_FILE,
    REPO,
    load_yaml,
)

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml(COMPOSE_FILE)


def test_compose_file_matches_the_compose_spec_schema() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_stack_has_every_service(compose: dict) -> None:
    assert {"demo", "demo-2", "redis", "otel-collector", "prometheus", "tempo", "grafana"} <= set(compose["services"])


def test_depends_on_names_existing_services(compose: dict) -> None:
    services = compose["services"]
    for name, service in services.items():
        depends = service.get("depends_on", {})
        targets = depends if isinstance(depends, list) else list(depends)
        for target in targets:
            assert target in services, f"{name} depends on unknown service {target!r}"
            assert target != name


def test_mounted_files_and_named_volumes_exist(compose: dict) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume["source"]
            if source.startswith((".", "/")):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source!r}"


def test_images_are_pinned(compose: dict) -> None:
    for name, service in compose["services"].items():
        if "build" in service:
            build = service["build"]
            assert (REPO / build["context"] / build.get("dockerfile", "Dockerfile")).is_file()
            continue
        image = service["image"]
        tag = image.rsplit(":", 1)[-1] if ":" in image.split("/")[-1] else ""
        assert re.match(r"v?\d+\.\d+\.\d+$", tag), f"{name}: image {image!r} is not pinned to a version"


def test_dockerfile_base_image_is_pinned() -> None:
    base = next(line.split()[1] for line in (REPO / "Dockerfile").read_text().splitlines() if line.startswith("FROM "))
    assert re.search(r":\d+\.\d+\.\d+", base), base


def test_demo_runs_the_demo_module_and_exports_to_the_collector(compose: dict) -> None:
    demo = compose["services"]["demo"]
    assert demo["command"][:3] == ["python", "-m", "agent_cache.demo"]
    env = demo["environment"]
    endpoint = urlparse(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert endpoint.hostname == "otel-collector"
    receivers = load_yaml(COLLECTOR_FILE)["receivers"]["otlp"]["protocols"]
    protocol = "http" if env["OTEL_EXPORTER_OTLP_PROTOCOL"].startswith("http") else "grpc"
    assert receivers[protocol]["endpoint"].endswith(f":{endpoint.port}")
    assert env["OTEL_SERVICE_NAME"]


def test_prometheus_scrapes_the_collector_exporter(compose: dict) -> None:
    exporter = load_yaml(COLLECTOR_FILE)["exporters"]["prometheus"]
    port = exporter["endpoint"].rsplit(":", 1)[1]
    (job,) = load_yaml(PROMETHEUS_FILE)["scrape_configs"]
    (targets,) = [group["targets"] for group in job["static_configs"]]
    assert targets == [f"otel-collector:{port}"]
    assert "--enable-feature=exemplar-storage" in compose["services"]["prometheus"]["command"]


def test_grafana_datasources_point_at_compose_services(compose: dict) -> None:
    for source in load_yaml(DATASOURCES_FILE)["datasources"]:
        host = urlparse(source["url"]).hostname
        assert host in compose["services"], f"{source['name']} points at {host!r}"


def test_grafana_is_anonymous_viewer(compose: dict) -> None:
    env = compose["services"]["grafana"]["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


@pytest.mark.parametrize("replica", ["demo", "demo-2"])
def test_demo_command_options_are_accepted_by_the_demo(compose: dict, replica: str) -> None:
    from agent_cache.demo import options

    config, _ = options.parse(compose["services"][replica]["command"][3:])  # exits 2 when rejected
    assert config.duration_s >= 60


def test_two_demo_replicas_share_the_compose_redis_and_keep_their_series_apart(compose: dict) -> None:
    services = compose["services"]
    instances = set()
    for replica in ("demo", "demo-2"):
        service = services[replica]
        command = service["command"]
        assert command[:3] == ["python", "-m", "agent_cache.demo"]
        url = urlparse(command[command.index("--redis") + 1])
        assert url.hostname == "redis" and url.hostname in services
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        attributes = dict(item.split("=", 1) for item in service["environment"]["OTEL_RESOURCE_ATTRIBUTES"].split(","))
        instances.add(attributes["service.instance.id"])
        assert service["environment"]["OTEL_SERVICE_NAME"] == "agent-cache-demo"
    assert len(instances) == 2
    assert "healthcheck" in services["redis"]


def test_the_demo_image_installs_what_its_options_need(compose: dict) -> None:
    """--redis needs the redis extra inside the image (the demo exits 2 without it)."""
    install = next(line for line in (REPO / "Dockerfile").read_text().splitlines() if "pip install" in line)
    extras = set(re.search(r"\.\[([\w,]+)\]", install).group(1).split(","))
    assert "otlp" in extras
    if any("--redis" in compose["services"][name]["command"] for name in ("demo", "demo-2")):
        assert "redis" in extras
