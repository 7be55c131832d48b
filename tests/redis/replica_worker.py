"""One agent-service replica for the multi-process tests (run as a subprocess).

It caches ``get_cart`` with ``AgentCache(backend=RedisBackend(...))`` in front of a SQLite
"database" shared by every replica, and mutates it with ``add_to_cart`` under
``AgentCacheInvalidator``. The parent drives it with JSON lines on stdin and reads one
JSON line per command on stdout (commands run concurrently; each reply carries its
command's ``id``). Loader calls are counted in the database itself, so
the count survives a Redis restart and sums over processes.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys

from agent_cache import AgentCache, AgentCacheInvalidator
from agent_cache.backends.redis import RedisBackend

REDIS_URL, DB_PATH = sys.argv[1], sys.argv[2]
OPTIONS = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}  # RedisBackend overrides
load_delay = 0.0  # seconds each load takes; set per command

backend = RedisBackend(REDIS_URL, **{
    "op_timeout": 0.2, "failure_threshold": 2, "reset_timeout": 0.3, "health_interval": 0.3,
    "lock_ttl": 5.0, **OPTIONS,
})


def db() -> sqlite3.Connection:
    conn = sqlite3.connect(DB_PATH, timeout=10, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def init_db() -> None:
    with db() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS carts (user TEXT PRIMARY KEY, items TEXT)")
        conn.execute("CREATE TABLE IF NOT EXISTS loads (user TEXT PRIMARY KEY, n INTEGER)")


@AgentCache(resource="cart", ttl=60, backend=backend)
async def get_cart(user: str) -> list:
    with db() as conn:
        conn.execute("INSERT INTO loads VALUES (?, 1) ON CONFLICT(user) DO UPDATE SET n = n + 1",
                     (user,))
        row = conn.execute("SELECT items FROM carts WHERE user = ?", (user,)).fetchone()
    if load_delay:
        await asyncio.sleep(load_delay)  # a slow query: concurrent misses overlap
    return json.loads(row[0]) if row else []


@AgentCacheInvalidator(resource="cart")
async def add_to_cart(user: str, item: str) -> None:
    with db() as conn:
        row = conn.execute("SELECT items FROM carts WHERE user = ?", (user,)).fetchone()
        items = (json.loads(row[0]) if row else []) + [item]
        conn.execute("INSERT OR REPLACE INTO carts VALUES (?, ?)", (user, json.dumps(items)))


async def handle(cmd: dict) -> dict:
    global load_delay
    op = cmd["op"]
    if op == "start":
        init_db()
        return {"subscribed": await backend.subscribe(wait=5.0)}
    if op == "read":
        load_delay = cmd.get("delay", 0.0)
        if cmd.get("sync"):
            await backend.sync_backplane()
        results = await asyncio.gather(*(get_cart(cmd["user"]) for _ in range(cmd.get("n", 1))),
                                       return_exceptions=True)
        errors = [repr(r) for r in results if isinstance(r, BaseException)]
        values = [r for r in results if not isinstance(r, BaseException)]
        distinct = {json.dumps(v) for v in values}
        return {"values": sorted(json.loads(v) for v in distinct), "errors": errors}
    if op == "add":
        try:
            await add_to_cart(cmd["user"], cmd["item"])
        except Exception as exc:
            return {"errors": [repr(exc)]}
        return {"errors": []}
    if op == "metrics":
        return backend.get_metrics()
    raise ValueError(op)


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    running: set[asyncio.Task[None]] = set()

    async def answer(cmd: dict) -> None:  # commands run concurrently; replies carry the id
        reply = await handle(cmd)
        reply["id"] = cmd.get("id")
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()

    while line := await reader.readline():
        cmd = json.loads(line)
        if cmd["op"] == "exit":
            break
        task = asyncio.create_task(answer(cmd))
        running.add(task)
        task.add_done_callback(running.discard)
    await asyncio.gather(*running)
    await backend.close()


if __name__ == "__main__":
    asyncio.run(main())
