"""Four replica processes share one redis-server (see replica_worker.py).

- 4 processes x 50 concurrent misses on one key -> exactly 1 loader call;
- a mutation in one replica, then reads in all others -> fresh data;
- Redis killed and restarted mid-run -> no tool call fails, data fresh afterwards.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from pathlib import Path

import pytest
import pytest_asyncio
from redis_helpers import running_redis_server

# One redis-server and one set of replica processes for the whole module (starting four
# interpreters costs seconds); each test uses its own users. The outage test runs last.
pytestmark = [pytest.mark.redis, pytest.mark.asyncio(loop_scope="module")]

WORKER = Path(__file__).with_name("replica_worker.py")
REPLICAS = 4


class Replica:
    """A replica process driven by JSON lines."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def call(self, **cmd) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        assert line, f"replica exited with {await self.proc.wait()}"
        return json.loads(line)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            try:
                await self.call(op="exit")
            except (AssertionError, ConnectionError, json.JSONDecodeError):
                pass
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def start_replicas(redis_url: str, db_path: Path) -> list[Replica]:
    procs = await asyncio.gather(*(
        asyncio.create_subprocess_exec(
            sys.executable, str(WORKER), redis_url, str(db_path),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(REPLICAS)
    ))
    replicas = [Replica(p) for p in procs]
    replies = await asyncio.gather(*(r.call(op="start") for r in replicas))
    assert all(r["subscribed"] for r in replies), replies
    return replicas


def loads(db_path: Path, user: str) -> int:
    conn = sqlite3.connect(db_path)
    try:
        row = conn.execute("SELECT n FROM loads WHERE user = ?", (user,)).fetchone()
    finally:
        conn.close()
    return row[0] if row else 0


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    yield from running_redis_server(tmp_path_factory.mktemp("redis"))


@pytest.fixture(scope="module")
def db_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("db") / "shop.db"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def replicas(redis_server, db_path):
    replicas = await start_replicas(redis_server.url, db_path)
    yield replicas
    await asyncio.gather(*(r.stop() for r in replicas))


async def test_stampede_across_processes_loads_once(replicas, db_path):
    replies = await asyncio.gather(
        *(r.call(op="read", user="hot", n=50, delay=0.2) for r in replicas))
    assert [r["errors"] for r in replies] == [[]] * REPLICAS
    assert [r["values"] for r in replies] == [[[]]] * REPLICAS  # one distinct value each
    print(f"\n[multi-process] {REPLICAS} processes x 50 concurrent misses -> "
          f"{loads(db_path, 'hot')} loader call(s)")
    assert loads(db_path, "hot") == 1


async def test_mutation_in_one_replica_is_fresh_in_all_others(replicas, db_path):
    warm = await asyncio.gather(*(r.call(op="read", user="u1", n=5) for r in replicas))
    assert [w["values"] for w in warm] == [[[]]] * REPLICAS
    assert loads(db_path, "u1") == 1  # everyone else got it from Redis, then from L1
    expected: list[str] = []
    stale_unsynced = stale_synced = reads = 0
    for round_ in range(12):
        writer = replicas[round_ % REPLICAS]
        others = [r for r in replicas if r is not writer]
        assert (await writer.call(op="add", user="u1", item=f"i{round_}"))["errors"] == []
        expected.append(f"i{round_}")
        # Right after the mutation returns (pub/sub delivery races this read)...
        plain = await asyncio.gather(*(r.call(op="read", user="u1", n=3) for r in others))
        # ...and after a backplane barrier (every earlier invalidation has been applied).
        synced = await asyncio.gather(*(r.call(op="read", user="u1", sync=True) for r in others))
        for reply in plain:
            assert reply["errors"] == []
            stale_unsynced += reply["values"] != [expected]
        for reply in synced:
            assert reply["errors"] == []
            stale_synced += reply["values"] != [expected]
        reads += len(others)
    print(f"\n[multi-process] {reads} post-mutation reads by other replicas: "
          f"{stale_unsynced} stale without barrier, {stale_synced} stale with barrier; "
          f"loader calls {loads(db_path, 'u1')} for 12 mutations")
    assert stale_synced == 0
    assert stale_unsynced == 0


async def test_redis_killed_and_restarted_under_replicas(replicas, redis_server, db_path):
    assert all(not r["errors"] for r in
               await asyncio.gather(*(r.call(op="read", user="u2", n=10) for r in replicas)))
    redis_server.kill()
    # During the outage: reads and a mutation in every replica; nothing may fail or be stale.
    for i, writer in enumerate(replicas):
        assert (await writer.call(op="add", user="u2", item=f"down{i}"))["errors"] == []
        replies = await asyncio.gather(*(r.call(op="read", user="u2", n=10) for r in replicas))
        for reply in replies:
            assert reply["errors"] == []
            assert reply["values"] == [[f"down{j}" for j in range(i + 1)]]
    metrics = await asyncio.gather(*(r.call(op="metrics") for r in replicas))
    assert all(m["breaker_opened"] >= 1 for m in metrics)
    assert all(not m["backplane_connected"] for m in metrics)

    redis_server.start()
    # Every replica resubscribes on its own (it keeps retrying in the background).
    for _ in range(200):
        metrics = await asyncio.gather(*(r.call(op="metrics") for r in replicas))
        if all(m["backplane_connected"] for m in metrics):
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail(f"replicas did not resubscribe: {metrics}")
    await replicas[0].call(op="add", user="u2", item="up")
    replies = await asyncio.gather(*(r.call(op="read", user="u2", n=10, sync=True) for r in replicas))
    want = [[f"down{j}" for j in range(REPLICAS)] + ["up"]]
    assert [r["values"] for r in replies] == [want] * REPLICAS
    assert all(r["errors"] == [] for r in replies)
