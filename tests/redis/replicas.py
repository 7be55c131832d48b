"""Replica processes (see replica_worker.py) driven by JSON lines, for multi-process tests."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

WORKER = Path(__file__).with_name("replica_worker.py")


class Replica:
    """A replica process driven by JSON lines; commands may overlap (matched by id)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._next_id = 0
        self._waiting: dict[int, asyncio.Future[dict]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def _read_replies(self) -> None:
        assert self.proc.stdout
        while line := await self.proc.stdout.readline():
            reply = json.loads(line)
            fut = self._waiting.pop(reply.pop("id"), None)
            if fut is not None and not fut.done():
                fut.set_result(reply)
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(AssertionError(f"replica exited with {await self.proc.wait()}"))

    async def call(self, **cmd) -> dict:
        assert self.proc.stdin
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_replies())
        self._next_id += 1
        fut: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self._waiting[self._next_id] = fut
        self.proc.stdin.write((json.dumps({**cmd, "id": self._next_id}) + "\n").encode())
        await self.proc.stdin.drain()
        return await asyncio.wait_for(fut, 30)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            assert self.proc.stdin
            try:
                self.proc.stdin.write(b'{"op": "exit"}\n')
                await self.proc.stdin.drain()
            except ConnectionError:
                pass
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            await self._reader


async def start_replicas(
    redis_url: str, db_path: Path, count: int, options: dict[str, Any] | None = None
) -> list[Replica]:
    """``count`` replica processes (``options``: RedisBackend overrides), subscribed."""
    procs = await asyncio.gather(*(
        asyncio.create_subprocess_exec(
            sys.executable, str(WORKER), redis_url, str(db_path), json.dumps(options or {}),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(count)
    ))
    replicas = [Replica(p) for p in procs]
    replies = await asyncio.gather(*(r.call(op="start") for r in replicas))
    assert all(r["subscribed"] for r in replies), replies
    return replicas
