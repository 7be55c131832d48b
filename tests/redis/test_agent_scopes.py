"""AgentCache scopes on the Redis tier: global entries shared, session entries namespaced
by session id and unreachable once the session ends, per-key TTL held in Redis."""

from __future__ import annotations

import pytest

from agent_cache import AgentCache, AgentCacheSession
from agent_cache.backends.redis import RedisBackend

pytestmark = pytest.mark.redis


def redis_keys(redis_server) -> list[bytes]:
    reply = redis_server.command("KEYS", "agent_cache:*")
    return [line for line in reply.split(b"\r\n") if line.startswith(b"agent_cache:")]


async def test_session_entries_live_in_their_session_namespace(redis_server):
    backend = RedisBackend(redis_server.url)
    calls: list[str] = []

    @AgentCache(resource="notes", scope="session", ttl=30, backend=backend)
    async def read_notes(user: str) -> str:
        calls.append(user)
        return f"notes of {user}"

    @AgentCache(resource="catalog", ttl=30, backend=backend)
    async def read_catalog(sku: str) -> str:
        return f"item {sku}"

    async with AgentCacheSession(session_id="s-1"):
        assert await read_notes("ann") == "notes of ann"
        assert await read_catalog("x") == "item x"
        keys = redis_keys(redis_server)
        session_keys = [k for k in keys if b"%2Fsession%2Fs-1|" in k]  # namespaced by session id
        values = [k for k in keys if b":v:" in k]
        assert session_keys and len(values) == 2
        pttls = [int(redis_server.command("PTTL", k).split(b":")[1]) for k in values]
        assert all(0 < p <= 30_000 for p in pttls)  # the tool's ttl, held by Redis
        gen_key = next(k for k in session_keys if k.endswith(b":g"))
        gen_before = redis_server.command("GET", gen_key)
    # The session ended: its generation changed, so its entries are unreachable (they
    # expire by their TTL); the global catalog entry stays shared.
    assert redis_server.command("GET", gen_key) != gen_before
    # ...and the ended session's generation key expires too: no key per session forever.
    assert 0 < int(redis_server.command("PTTL", gen_key).split(b":")[1]) <= 86_400_000
    assert await read_catalog("x") == "item x"

    async with AgentCacheSession(session_id="s-2"):
        assert await read_notes("ann") == "notes of ann"
    assert calls == ["ann", "ann"]  # a new session does not see the old one's entries
    await backend.close()
