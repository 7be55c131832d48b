"""The demo as users start it: a separate process, with Prometheus and OTLP export."""

from __future__ import annotations

import gzip
import http.server
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import ClassVar

from demo_figures import check_consistent, parse_summary

ROOT = Path(__file__).resolve().parents[2]


def demo_env(**extra: str) -> dict[str, str]:
    """The environment minus any OTEL_* settings of the caller, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(extra)
    return env


def test_module_entry_point_runs_short_mode():
    proc = subprocess.run(
        [sys.executable, "-m", "agent_cache.demo", "--short"],
        cwd=ROOT, env=demo_env(), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    check_consistent(parse_summary(proc.stdout), loop_rate=0.2)
    assert "== span tree: session" in proc.stdout
    assert proc.stderr == ""


class LineReader:
    """Reads a process's stdout on a thread so the test can wait for a line with a timeout."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(proc,), daemon=True).start()

    def _pump(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def wait_for(self, needle: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if line == "":
                break
            self.seen.append(line)
            if needle in line:
                return line
        raise AssertionError(f"{needle!r} not printed; got:\n{''.join(self.seen)[-3000:]}")


def test_prometheus_endpoint_is_served_while_holding_and_sigterm_exits_cleanly():
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_cache.demo", "--short", "--prometheus-port", "0",
         "--hold-seconds", "60"],
        cwd=ROOT, env=demo_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        reader = LineReader(proc)
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/metrics", reader.wait_for("telemetry:"))[1])
        reader.wait_for("holding for 60 s")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            body = resp.read().decode()
        hits = re.search(r'^agent_cache_requests_total\{[^}]*agent_cache_result="hit"[^}]*\} (\S+)$',
                         body, re.M)
        assert hits and float(hits[1]) > 0, body[:2000]
        assert re.search(r'^agent_cache_loop_detections_total\{[^}]*agent_cache_loop_kind="repeat"',
                         body, re.M), body[:2000]
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5  # it did not sit out the 60 s hold
        assert proc.stderr is not None and proc.stderr.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class _OtlpSink(http.server.BaseHTTPRequestHandler):
    """A minimal OTLP/HTTP receiver: keeps each request's path and decoded protobuf."""

    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_otlp_export_when_the_standard_variables_say_so():
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    _OtlpSink.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OtlpSink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        proc = subprocess.run(
            [sys.executable, "-m", "agent_cache.demo", "--short", "--sessions", "30"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
            env=demo_env(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_SERVICE_NAME="demo-under-test"),
        )
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stderr
    assert "telemetry: OTLP (otlp/http/protobuf)" in proc.stdout
    span_names: set[str] = set()
    metric_names: set[str] = set()
    services: set[str] = set()
    for path, body in _OtlpSink.received:
        if path == "/v1/traces":
            for rs in ExportTraceServiceRequest.FromString(body).resource_spans:
                services.update(a.value.string_value for a in rs.resource.attributes
                                if a.key == "service.name")
                for ss in rs.scope_spans:
                    span_names.update(s.name for s in ss.spans)
        elif path == "/v1/metrics":
            for rm in ExportMetricsServiceRequest.FromString(body).resource_metrics:
                for sm in rm.scope_metrics:
                    metric_names.update(m.name for m in sm.metrics)
    assert {"invoke_agent shopping", "execute_tool get_cart", "demo.session shopping"} <= span_names
    assert {"agent_cache.requests", "agent_cache.loop.detections"} <= metric_names
    assert services == {"demo-under-test"}  # OTEL_SERVICE_NAME wins over the demo's default


def test_sigterm_during_the_run_still_prints_a_consistent_summary():
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_cache.demo", "--sessions", "5000", "--duration", "60",
         "--latency-ms", "1", "--think-ms", "5"],
        cwd=ROOT, env=demo_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        reader = LineReader(proc)
        reader.wait_for("[with agent_cache]")  # the first progress line: sessions are running
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        reader.wait_for("interrupted", timeout=5)
        out = "".join(reader.seen)
        summary = parse_summary(out)
        check_consistent(summary, loop_rate=0.2)
        assert summary.figures["workload"] < 5000  # stopped early
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
