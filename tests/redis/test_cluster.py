"""The Redis tier on a real local Redis Cluster: three masters started by the fixture
(``redis-server --cluster-enabled yes`` x3 + ``redis-cli --cluster create``).

Keys spread over slots by key (a namespace is striped over 16 hash tags, not one slot),
scripts run on one slot each, pub/sub reaches every replica, single-flight holds across
processes, and no replica reads stale data after a mutation returned.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_helpers import RedisServer, require_redis_server
from replicas import start_replicas

from agent_cache import AsyncCache
from agent_cache.backends.redis import RedisBackend
from agent_cache.core.keys import stable_key

pytestmark = pytest.mark.redis

REPLICAS = 5


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    import random
    import socket

    while True:
        port = random.randint(20000, 45000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
                return port
        except OSError:
            continue


class Cluster:
    def __init__(self, nodes: list[RedisServer]) -> None:
        self.nodes = nodes
        self.url = nodes[0].url

    def keys_per_node(self) -> list[int]:
        return [int(n.command("DBSIZE").split(b":")[1].split(b"\r")[0]) for n in self.nodes]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    require_redis_server()
    if shutil.which("redis-cli") is None:
        pytest.fail("redis-cli is needed to create the cluster")
    nodes = []
    try:
        for i in range(3):
            workdir = tmp_path_factory.mktemp(f"node{i}")
            node = RedisServer(workdir, ("--cluster-enabled", "yes", "--cluster-config-file",
                                         str(workdir / "nodes.conf"), "--cluster-node-timeout", "2000"))
            node.port = _cluster_port()
            node.url = f"redis://127.0.0.1:{node.port}/0"
            node.start()
            nodes.append(node)
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in nodes),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )
        deadline = time.monotonic() + 30
        while not all(b"cluster_state:ok" in n.command("CLUSTER", "INFO") for n in nodes):
            assert time.monotonic() < deadline, "the cluster did not become ok"
            time.sleep(0.05)
        yield Cluster(nodes)
    finally:
        for node in nodes:
            node.kill()


async def test_keys_spread_over_the_masters_and_invalidation_works(cluster: Cluster):
    a = RedisBackend(cluster.url, cluster=True)
    b = RedisBackend(cluster.url, cluster=True)
    ca, cb = AsyncCache(name="catalog", backend=a), AsyncCache(name="catalog", backend=b)
    assert await a.subscribe() and await b.subscribe()
    for i in range(200):
        assert await ca.get(i, loader=lambda i=i: f"v{i}") == f"v{i}"
    per_node = cluster.keys_per_node()
    print(f"\n[cluster] one namespace, 200 keys: keys per master {per_node}")
    assert all(n >= 10 for n in per_node)  # not one hot slot
    assert await cb.get(5, loader=lambda: "not called") == "v5"  # from Redis
    await ca.invalidate()
    assert await b.sync_backplane(timeout=2)
    assert await cb.get(5, loader=lambda: "new") == "new"
    assert await a.get(stable_key("catalog", (6,))) is not None
    assert a.get_metrics()["errors"] == 0 and a.get_metrics()["tier_disabled"] == 0
    await a.close()
    await b.close()


async def test_replica_processes_on_a_cluster_load_once_and_read_no_stale_data(
    cluster: Cluster, tmp_path: Path
):
    db_path = tmp_path / "shop.db"
    replicas = await start_replicas(cluster.url, db_path, REPLICAS, {"cluster": True})
    try:
        replies = await asyncio.gather(
            *(r.call(op="read", user="hot", n=20, delay=0.2) for r in replicas))
        assert all(r["errors"] == [] for r in replies)
        import sqlite3

        with sqlite3.connect(db_path) as conn:
            loads = conn.execute("SELECT n FROM loads WHERE user = 'hot'").fetchone()[0]
        expected: list[str] = []
        reads = stale = 0
        for round_ in range(20):
            writer = replicas[round_ % REPLICAS]
            assert (await writer.call(op="add", user="u", item=f"i{round_}"))["errors"] == []
            expected.append(f"i{round_}")
            replies = await asyncio.gather(*(r.call(op="read", user="u", n=3) for r in replicas))
            for reply in replies:
                assert reply["errors"] == []
                reads += 1
                stale += reply["values"] != [expected]
    finally:
        await asyncio.gather(*(r.stop() for r in replicas))
    print(f"\n[cluster] {REPLICAS} replicas x 20 concurrent misses -> {loads} load(s); "
          f"{stale} stale of {reads} reads after 20 mutations")
    assert loads == 1
    assert stale == 0
