"""An L1 copy of a second-tier entry never outlives that entry.

Without this, a value read from the tier 8 s into its 10 s TTL would be kept in L1 for
another full 10 s: 18 s in all, and longer along a chain of replicas. The fake ``clock``
drives both the cache (monotonic) and the backend (its injectable clock).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_cache import AsyncCache
from agent_cache.backends import DiskBackend, MemoryBackend
from agent_cache.core.sentinel import MISSING


@pytest.fixture(params=["disk", "memory"])
async def tier(request, clock, tmp_path: Path):
    if request.param == "disk":
        backend = DiskBackend(tmp_path / "tier.db", clock=clock)
    else:
        backend = MemoryBackend(clock=clock)
    yield backend
    await backend.close()


class Loader:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        return "fresh"


async def written_then_aged(tier, clock, ttl: float = 10, age: float = 8) -> None:
    """One replica stores ``"v"`` in the tier with ``ttl``; ``age`` seconds pass."""
    await AsyncCache(default_ttl=10, name="prices", backend=tier, clock=clock).set("k", "v", ttl=ttl)
    clock.advance(age)


async def test_l1_copy_expires_with_the_tier_entry_on_load(tier, clock) -> None:
    await written_then_aged(tier, clock)
    reader = AsyncCache(default_ttl=10, name="prices", backend=tier, clock=clock)
    load = Loader()
    assert await reader.get("k", loader=load) == "v"  # answered by the tier
    assert load.calls == 0 and reader.get_metrics()["l2_hits"] == 1
    assert reader._data["k"][1] == pytest.approx(clock.now + 2)  # not clock.now + 10
    clock.advance(1.99)
    assert await reader.get("k", loader=load) == "v" and reader.get_metrics()["hits"] == 1
    clock.advance(0.02)  # the tier's entry has expired: so has the L1 copy
    assert "k" not in reader
    assert await reader.get("k", loader=load) == "fresh" and load.calls == 1


async def test_l1_copy_expires_with_the_tier_entry_without_loader(tier, clock) -> None:
    await written_then_aged(tier, clock)
    reader = AsyncCache(default_ttl=10, name="prices", backend=tier, clock=clock)
    assert await reader.get("k") == "v"
    assert reader._data["k"][1] == pytest.approx(clock.now + 2)
    clock.advance(2.01)
    assert "k" not in reader
    assert await reader.get("k", default="gone") == "gone"


async def test_a_shorter_configured_ttl_still_wins(tier, clock) -> None:
    await written_then_aged(tier, clock, ttl=100, age=1)
    reader = AsyncCache(default_ttl=10, name="prices", backend=tier, clock=clock)
    assert await reader.get("k", loader=Loader()) == "v"
    assert reader._data["k"][1] == pytest.approx(clock.now + 10)  # min(10, 99)


async def test_no_expiry_in_the_tier_means_the_configured_ttl(tier, clock) -> None:
    await AsyncCache(name="prices", backend=tier, clock=clock).set("k", "v")  # default_ttl None: forever
    clock.advance(1000)
    reader = AsyncCache(default_ttl=10, name="prices", backend=tier, clock=clock)
    assert await reader.get("k") == "v"
    assert reader._data["k"][1] == pytest.approx(clock.now + 10)


async def test_a_cache_without_ttl_keeps_the_tier_entry_only_as_long_as_it_lives(tier, clock) -> None:
    await written_then_aged(tier, clock)
    reader = AsyncCache(name="prices", backend=tier, clock=clock)  # default_ttl None would mean forever
    assert await reader.get("k", loader=Loader()) == "v"
    assert reader._data["k"][1] == pytest.approx(clock.now + 2)


async def test_get_entry_reports_seconds_left(tier, clock) -> None:
    await tier.set("ns\x1fa", [1], 10)
    await tier.set("ns\x1fb", [2], None)
    clock.advance(3)
    assert await tier.get_entry("ns\x1fa") == ([1], pytest.approx(7))
    assert await tier.get_entry("ns\x1fb") == ([2], None)
    assert await tier.get("ns\x1fa") == [1]  # get keeps its shape
    clock.advance(7)
    assert await tier.get_entry("ns\x1fa") is MISSING


class GetOnly:
    """A backend from before ``get_entry``: it must keep working, with the full TTL."""

    def __init__(self) -> None:
        self.data: dict[str, object] = {}

    async def get(self, key: str) -> object:
        return self.data.get(key, MISSING)

    async def set(self, key: str, value: object, ttl: float | None) -> None:
        self.data[key] = value

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)

    async def clear(self, namespace: str) -> int:
        return 0


async def test_a_backend_without_get_entry_still_works(clock) -> None:
    backend = GetOnly()
    await AsyncCache(default_ttl=10, name="prices", backend=backend, clock=clock).set("k", "v")
    reader = AsyncCache(default_ttl=10, name="prices", backend=backend, clock=clock)
    assert await reader.get("k", loader=Loader()) == "v"
    assert reader._data["k"][1] == pytest.approx(clock.now + 10)
    other = AsyncCache(default_ttl=10, name="prices", backend=backend, clock=clock)
    assert await other.get("k") == "v"
