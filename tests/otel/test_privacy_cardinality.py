"""Telemetry is safe by default: no arguments, results, secrets or ids where they don't belong."""

from __future__ import annotations

import pytest

from agent_cache import AgentCache, AgentCacheInvalidator, AgentCacheSession, AsyncCache
from agent_cache.telemetry import runtime

EMAIL = "alice.secret@example.com"
API_KEY = "sk-live-4f9a8b7c6d5e"


class LeakyError(Exception):
    pass


def exported_strings(otel) -> list[str]:
    """Every attribute key and value, event attribute and link attribute, on spans and metrics."""
    out: list[str] = []
    for span in otel.spans():
        out.append(span.name)
        out.extend(f"{k}={v}" for k, v in span.attributes.items())
        for event in span.events:
            out.extend(f"{k}={v}" for k, v in event.attributes.items())
    for name, points in otel.all_metrics().items():
        out.append(name)
        for attrs, _ in points:
            out.extend(f"{k}={v}" for k, v in attrs.items())
    return out


async def test_arguments_results_and_exception_messages_stay_out(otel):
    @AgentCache(resource="account")
    async def lookup(email, api_key):
        return {"email": email, "key": api_key}

    @AgentCache(resource="account")
    async def failing(email, api_key):
        raise LeakyError(f"bad key {api_key} for {email}")

    @AgentCacheInvalidator(resource="account")
    async def rotate(email, api_key):
        return api_key

    cache = AsyncCache(name="plain")

    async def bad_loader():
        raise LeakyError(f"{EMAIL} {API_KEY}")

    async with AgentCacheSession(session_id=f"session-of-{EMAIL}"):
        await lookup(EMAIL, API_KEY)
        await lookup(EMAIL, API_KEY)
        with pytest.raises(LeakyError):
            await failing(EMAIL, API_KEY)
        await rotate(EMAIL, API_KEY)
    with pytest.raises(LeakyError):
        await cache.get(EMAIL, loader=bad_loader)

    strings = exported_strings(otel)
    assert strings, "nothing exported: the test would pass vacuously"
    leaked = [s for s in strings if EMAIL in s and not s.startswith("gen_ai.conversation.id=")]
    assert leaked == []
    assert [s for s in strings if API_KEY in s] == []
    # The session id is on spans (gen_ai.conversation.id), never on a metric.
    for points in otel.all_metrics().values():
        for attrs, _ in points:
            assert not any(EMAIL in str(v) for v in attrs.values())


async def test_opt_in_records_truncated_arguments_and_results(otel, monkeypatch):
    monkeypatch.setattr(runtime.settings, "max_attribute_length", 32)

    @AgentCache(resource="docs", record_arguments=True)
    async def fetch(doc_id, *, verbose=False):
        return "x" * 100

    await fetch("doc-1", verbose=True)
    [span] = [s for s in otel.spans() if s.name.startswith("execute_tool")]
    assert span.attributes["gen_ai.tool.call.arguments"] == "('doc-1', verbose=True)"
    result = span.attributes["gen_ai.tool.call.result"]
    assert len(result) == 32 and result.endswith("…")


async def test_env_var_turns_arguments_on_globally(otel, monkeypatch):
    monkeypatch.setattr(runtime.settings, "record_arguments", True)

    @AgentCache(resource="docs")
    async def fetch(doc_id):
        return 1

    await fetch("doc-9")
    [span] = [s for s in otel.spans() if s.name.startswith("execute_tool")]
    assert "doc-9" in span.attributes["gen_ai.tool.call.arguments"]


async def test_ten_thousand_keys_over_a_thousand_sessions_give_few_series(otel):
    @AgentCache(resource="catalog", scope="global")
    async def item(i):
        return i

    @AgentCache(resource="notes", scope="session")
    async def note(i):
        return i

    @AgentCacheInvalidator(resource="catalog")
    async def restock(i):
        return None

    for s in range(1000):
        async with AgentCacheSession(session_id=f"sess-{s}", loop_detection=False):
            for k in range(10):
                key = s * 10 + k  # 10,000 distinct keys in all
                await item(key)
                await note(key)
                await note(key)
            if s % 100 == 0:
                await restock(s)

    ours = {"catalog", "notes", None}  # earlier tests' tools may still be alive until GC
    series = {
        name: sum(1 for attrs, _ in points if attrs.get("agent_cache.resource") in ours)
        for name, points in otel.all_metrics().items()
    }
    # requests: (catalog, global, miss|hit) + (notes, session, miss|hit) at most.
    assert series["agent_cache.requests"] <= 4
    assert series["agent_cache.invalidations"] == 1
    assert series["agent_cache.evictions"] <= 3
    assert series["agent_cache.entry.count"] <= 2
    assert series["gen_ai.execute_tool.duration"] <= 3
    assert sum(series.values()) <= 20
    for points in otel.all_metrics().values():
        for attrs, _ in points:
            for value in attrs.values():
                assert not str(value).startswith("sess-")
