"""Run a real Prometheus (Debian's 2.x binary) against a real metrics endpoint, on loopback.

The configuration is derived from the stack's own prometheus/prometheus.yml and rules: only
the scrape target (a local process instead of the compose collector) and the intervals
(1 s, so a test sees several samples within seconds) change.
"""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml
from stack_support import PROMETHEUS_FILE, REPO, RULES_FILE, free_port, load_yaml, require_tool

T = TypeVar("T")

WORKLOAD_SCRIPT = REPO / "tests" / "stack" / "workload.py"


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 30.0, every: float = 0.2) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout``.

    Used across process boundaries (HTTP endpoints of other processes), where there is no
    event to await.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def http_get(url: str, timeout: float = 5.0) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def stop(process: subprocess.Popen) -> None:
    """Stop a child process we started, politely first."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class Workload:
    """A process serving agent_cache metrics on a free loopback port.

    ``argv`` is the command with ``{port}`` where the port goes: tests/stack/workload.py
    (see :func:`fixture_workload`) or the demo (see :func:`demo_workload`).
    """

    def __init__(self, name: str, argv: list[str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log = log_dir / f"workload-{name}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [part.replace("{port}", str(self.port)) for part in argv],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    def wait_ready(self) -> None:
        def serving() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"workload {self.name} exited:\n{self.log.read_text()[-3000:]}")
            body = http_get(self.metrics_url)
            return body is not None and b"agent_cache_requests_total" in body

        wait_for(f"workload {self.name} metrics", serving, timeout=60)

    def wait_for_output(self, marker: str, timeout: float = 60.0) -> None:
        """Wait until the process has printed ``marker`` (e.g. the demo's end-of-run line)."""
        wait_for(f"{self.name} to print {marker!r}", lambda: marker in self.log.read_text(errors="replace"), timeout)

    def stop(self) -> None:
        stop(self.process)


def fixture_workload(profile: str, log_dir: Path) -> Workload:
    """tests/stack/workload.py with a profile (``healthy`` / ``faulty``), running until stopped."""
    return Workload(profile, [sys.executable, str(WORKLOAD_SCRIPT), "--port", "{port}", "--profile", profile], log_dir)


def demo_workload(name: str, log_dir: Path, *options: str) -> Workload:
    """``python -m agent_cache.demo --short`` serving metrics, held open after its run.

    The short preset's 80 sessions finish in about a second, before Prometheus has scraped
    twice; rate() needs growth between scrapes, so sessions keep starting for 8 s.
    """
    argv = [sys.executable, "-m", "agent_cache.demo", "--short", "--sessions", "3000", "--duration", "8",
            "--prometheus-port", "{port}", "--hold-seconds", "120", *options]
    return Workload(name, argv, log_dir)


def live_config(target_port: int) -> dict[str, Any]:
    """prometheus/prometheus.yml, pointed at a loopback target, scraping every second."""
    config = load_yaml(PROMETHEUS_FILE)
    config["global"]["scrape_interval"] = "1s"
    config["global"]["evaluation_interval"] = "1s"
    config["rule_files"] = [str(RULES_FILE)]
    (job,) = config["scrape_configs"]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{target_port}"]}]
    return config


class PrometheusServer:
    """A Prometheus process with its own port and storage under ``workdir``."""

    def __init__(self, workdir: Path, target_port: int) -> None:
        binary = require_tool("prometheus")
        workdir.mkdir(parents=True, exist_ok=True)
        config_file = workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(live_config(target_port), sort_keys=False), encoding="utf-8")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "prometheus.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config_file}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--enable-feature=exemplar-storage",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited:\n{self.log.read_text()[-3000:]}")
            return http_get(f"{self.base}/-/ready") is not None

        wait_for("prometheus /-/ready", ready)

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.base}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        body = http_get(url)
        if body is None:
            raise RuntimeError(f"no answer from {url}")
        answer = json.loads(body)
        if answer.get("status") != "success":
            raise RuntimeError(f"{url}: {answer}")
        return answer["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant query now; the result vector (empty list when nothing matches)."""
        data = self.api("query", query=promql)
        assert data["resultType"] == "vector", data["resultType"]
        return data["result"]

    def target_health(self) -> str | None:
        targets = self.api("targets")["activeTargets"]
        return targets[0]["health"] if targets else None

    def firing_or_pending(self) -> dict[str, str]:
        """Alert name -> state, from Prometheus' own evaluation of the rules file."""
        return {alert["labels"]["alertname"]: alert["state"] for alert in self.api("alerts")["alerts"]}

    def rule_evaluations(self) -> tuple[str, ...]:
        """The groups' lastEvaluation stamps: when they change, the rules ran again."""
        return tuple(group.get("lastEvaluation", "") for group in self.api("rules")["groups"])

    def stop(self) -> None:
        stop(self.process)



MATURE = "max(count_over_time(agent_cache_requests_total[1m])) >= 4"
"""The target has been scraped at least four times: rate() over the tests' windows works."""
SETTLED = "min(count_over_time(agent_cache_requests_total[1m])) >= 4"
"""Every series has four samples: safe to say that something did *not* happen."""


@contextlib.contextmanager
def running_stacks(
    workloads: dict[str, Callable[[], Workload]], root: Path
) -> Iterator[dict[str, tuple[Workload, PrometheusServer]]]:
    """Start each workload and a Prometheus scraping it; yield the servers once every target
    is up and scraped a few times; stop everything (ours only) on the way out.

    All are started before any is waited on, so their start-up times overlap.
    """
    started: dict[str, Workload] = {}
    servers: dict[str, PrometheusServer] = {}
    try:
        for name, start in workloads.items():
            started[name] = start()
        for name, workload in started.items():
            workload.wait_ready()
            servers[name] = PrometheusServer(root / name, workload.port)
        for server in servers.values():
            server.wait_ready()
        for name, server in servers.items():
            wait_for(f"{name} target up", lambda: server.target_health() == "up")  # noqa: B023 (waited on here)
            wait_for(f"{name} scraped a few times", lambda: server.query(MATURE))  # noqa: B023 (waited on here)
        yield {name: (started[name], servers[name]) for name in servers}
    finally:
        for server in servers.values():
            server.stop()
        for workload in started.values():
            workload.stop()


# --- reading results ---------------------------------------------------------------------------

def finite_values(result: list[dict[str, Any]]) -> list[float]:
    """The sample values of an instant vector that are real numbers (not NaN / ±Inf)."""
    return [float(item["value"][1]) for item in result if math.isfinite(float(item["value"][1]))]


def summarize(result: list[dict[str, Any]]) -> dict[str, Any]:
    """A compact record of what a query returned, for the live report."""
    values = finite_values(result)
    first = result[0] if result else None
    example = None
    if first is not None:
        labels = {k: v for k, v in first["metric"].items() if not k.startswith("otel_scope")}
        example = {"labels": labels, "value": first["value"][1]}
    return {
        "series": len(result),
        "finite": len(values),
        "min": min(values) if values else None,
        "max": max(values) if values else None,
        "example": example,
    }


def query_with_data(server: PrometheusServer, promql: str, what: str, timeout: float = 20) -> list[dict[str, Any]]:
    """Poll until ``promql`` returns at least one finite value (a few scrapes at most)."""

    def probe() -> list[dict[str, Any]] | None:
        result = server.query(promql)
        return result if finite_values(result) else None

    return wait_for(what, probe, timeout=timeout)
