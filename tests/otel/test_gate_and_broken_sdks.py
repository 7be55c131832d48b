"""The telemetry gate reads OpenTelemetry's private globals, and a broken SDK never breaks
a call, a session's exit or ``import agent_cache`` (issue #10)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import INVALID_SPAN_CONTEXT, NonRecordingSpan

from agent_cache import AgentCache, AgentCacheInvalidator, AgentCacheSession, AsyncCache
from agent_cache.telemetry import gate
from otel_globals import install_providers, uninstall_providers

ROOT = Path(__file__).resolve().parents[2]


def test_the_private_globals_the_gate_reads_still_exist():
    """Fails when an OpenTelemetry upgrade renames what the gate reads (telemetry would
    otherwise switch itself off without a word)."""
    for module, name in gate.PRIVATE_GLOBALS:
        assert hasattr(module, name), f"{module.__name__}.{name} is gone: update agent_cache.telemetry.gate"


def test_the_gate_sees_an_installed_provider_and_its_removal():
    uninstall_providers()
    assert gate.tracer_probe() is None and gate.active_tracer() is None and not gate.metrics_enabled()
    provider = TracerProvider()
    install_providers(provider, None)
    try:
        assert gate.tracer_probe() is provider
        assert gate.active_tracer() is not None
    finally:
        uninstall_providers(shutdown=True)
    assert gate.active_tracer() is None


class ExplodingSpan(NonRecordingSpan):
    """A span whose every method raises, as a buggy SDK's might."""

    def __init__(self) -> None:
        super().__init__(INVALID_SPAN_CONTEXT)

    def set_attribute(self, key: str, value: Any) -> None:
        raise RuntimeError("set_attribute broke")

    def set_attributes(self, attributes: Any) -> None:
        raise RuntimeError("set_attributes broke")

    def add_event(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("add_event broke")

    def add_link(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("add_link broke")

    def set_status(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("set_status broke")

    def end(self, end_time: Any = None) -> None:
        raise RuntimeError("end broke")


class ExplodingTracer:
    def start_span(self, *args: Any, **kwargs: Any) -> ExplodingSpan:
        return ExplodingSpan()


class ExplodingTracerProvider(TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
        return ExplodingTracer()


class RaisingProcessor(SpanProcessor):
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        raise RuntimeError("processor on_start broke")

    def on_end(self, span: Any) -> None:
        raise RuntimeError("processor on_end broke")


async def exercise() -> list[Any]:
    """Hits, misses, a coalesced wait, an invalidation and a session: every span site."""

    @AgentCache(resource="broken-sdk")
    async def read(x):
        return x * 2

    @AgentCacheInvalidator(resource="broken-sdk")
    async def write(x):
        return "ok"

    cache = AsyncCache(name="plain")
    out = [await read(1), await read(1), await cache.get("k", loader=lambda: "v")]
    async with AgentCacheSession(max_tool_repeats=1, on_loop="short_circuit") as session:
        out += [await read(2), await write(2), await read(2), await read(2)]
    out.append(session.get_metrics()["short_circuits"])
    return out


# Without any SDK: the answers every broken SDK must leave unchanged.
EXPECTED = [2, 2, "v", 4, "ok", None, None, 2]


async def test_the_expected_answers_are_those_without_an_sdk():
    uninstall_providers()
    assert await exercise() == EXPECTED


async def test_spans_that_raise_never_break_a_call_or_a_session_exit():
    install_providers(ExplodingTracerProvider(), None)
    try:
        assert await exercise() == EXPECTED
    finally:
        uninstall_providers()


async def test_a_span_processor_that_raises_never_breaks_a_call():
    provider = TracerProvider()
    provider.add_span_processor(RaisingProcessor())
    install_providers(provider, None)
    try:
        assert await exercise() == EXPECTED
    finally:
        uninstall_providers()


def test_a_meter_provider_that_raises_never_breaks_import_or_calls():
    code = textwrap.dedent(
        """
        import asyncio
        from opentelemetry import metrics
        from opentelemetry.sdk.metrics import MeterProvider

        class Broken(MeterProvider):
            def get_meter(self, *args, **kwargs):
                raise RuntimeError("meter provider broke")

        metrics.set_meter_provider(Broken())
        import agent_cache

        @agent_cache.AgentCache(resource="r")
        async def read(x):
            return x + 1

        async def main():
            return [await read(1), await read(1)]

        print(asyncio.run(main()))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[2, 2]"
    assert "could not get a meter" in proc.stderr
