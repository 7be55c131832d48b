"""Real bytes on real sockets: OTLP/HTTP protobuf to a loopback receiver, and a Prometheus scrape."""

from __future__ import annotations

import asyncio
import gzip
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agent_cache import AgentCache, AgentCacheInvalidator, AgentCacheSession, AgentLoopDetectedError, LoadTimeoutError
from agent_cache.telemetry import configure
from helpers import FakeClock
from otel_globals import uninstall_providers


class Receiver:
    """A minimal OTLP/HTTP receiver: decodes every export request it is sent."""

    def __init__(self) -> None:
        self.traces: list[ExportTraceServiceRequest] = []
        self.metrics: list[ExportMetricsServiceRequest] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path == "/v1/traces":
                    receiver.traces.append(ExportTraceServiceRequest.FromString(body))
                elif self.path == "/v1/metrics":
                    receiver.metrics.append(ExportMetricsServiceRequest.FromString(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


async def test_spans_and_metrics_arrive_over_otlp_http(receiver, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{receiver.port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "wire-test")
    handle = configure()
    try:
        assert handle.installed and handle.exporters == ["otlp/http/protobuf"]

        @AgentCache(resource="stock")
        async def check_stock(item):
            return 5

        @AgentCacheInvalidator(resource="stock")
        async def update_stock(item, delta):
            return None

        with pytest.raises(AgentLoopDetectedError):
            async with AgentCacheSession(name="inventory", session_id="wire-1"):
                await check_stock("SKU-42")
                await update_stock("SKU-42", -1)
                await check_stock("SKU-42")
                await update_stock("SKU-42", -1)
    finally:
        handle.shutdown()  # flushes spans and a final metric export
        uninstall_providers()

    spans = [
        span
        for request in receiver.traces
        for rs in request.resource_spans
        for ss in rs.scope_spans
        if ss.scope.name == "agent_cache"
        for span in ss.spans
    ]
    names = sorted(s.name for s in spans)
    assert names.count("invoke_agent inventory") == 1
    assert sum(1 for n in names if n.startswith("execute_tool")) == 4
    assert names.count("agent_cache.load stock") == 2
    scopes = [ss.scope for r in receiver.traces for rs in r.resource_spans for ss in rs.scope_spans]
    assert {s.version for s in scopes if s.name == "agent_cache"} == {__import__("agent_cache").__version__}
    services = {
        kv.value.string_value
        for r in receiver.traces
        for rs in r.resource_spans
        for kv in rs.resource.attributes
        if kv.key == "service.name"
    }
    assert services == {"wire-test"}
    loop_events = [e for s in spans for e in s.events if e.name == "agent_cache.loop_detected"]
    assert len(loop_events) == 2

    metric_names = {
        m.name
        for request in receiver.metrics
        for rm in request.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }
    assert {"agent_cache.requests", "agent_cache.invalidations", "agent_cache.loop.detections",
            "agent_cache.load.duration", "gen_ai.execute_tool.duration"} <= metric_names


async def test_prometheus_endpoint_serves_expected_names(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    handle = configure(prometheus_port=0)
    try:
        @AgentCache(resource="cart")
        async def get_cart(user):
            return []

        await get_cart("u1")
        await get_cart("u1")
        with urllib.request.urlopen(f"http://127.0.0.1:{handle.prometheus_port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    finally:
        handle.shutdown()
        uninstall_providers()
    lines = [line for line in text.splitlines() if line.startswith("agent_cache_requests_total{")]
    assert any('agent_cache_resource="cart"' in line and 'agent_cache_result="hit"' in line and line.endswith(" 1.0")
               for line in lines), lines
    assert "agent_cache_load_duration_seconds_bucket{" in text


def test_configure_leaves_an_existing_sdk_alone(otel):
    handle = configure()
    assert handle.installed is False
    handle.shutdown()  # a no-op


async def test_prometheus_endpoint_serves_stale_results_and_load_timeouts(monkeypatch):
    """Issue 15's names as Prometheus sees them (what the dashboard panel and alert query)."""
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    handle = configure(prometheus_port=0)
    clock = FakeClock()
    hang = asyncio.Event()
    try:
        @AgentCache(resource="rates", ttl=10, clock=clock, stale_if_error=60, load_timeout=0.05)
        async def get_rate(pair):
            if clock.now > 1005:
                await hang.wait()
            return 1.08

        await get_rate("EURUSD")
        clock.advance(11)
        assert await get_rate("EURUSD") == 1.08  # timed out, answered stale
        with pytest.raises(LoadTimeoutError):
            await get_rate("GBPUSD")  # nothing to fall back on
        with urllib.request.urlopen(f"http://127.0.0.1:{handle.prometheus_port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    finally:
        hang.set()
        handle.shutdown()
        uninstall_providers()
    lines = text.splitlines()
    assert any(line.startswith("agent_cache_requests_total{") and 'agent_cache_result="stale"' in line
               and 'agent_cache_resource="rates"' in line and line.endswith(" 1.0") for line in lines), lines
    assert any(line.startswith("agent_cache_load_timeouts_total{") and 'agent_cache_resource="rates"' in line
               and line.endswith(" 2.0") for line in lines), [line for line in lines if "timeouts" in line]
