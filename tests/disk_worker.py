"""A process that loads through a shared DiskBackend slowly (for test_disk_backend.py).

Each line on stdin is a round number. The process reads ``cart`` for it through an
``AsyncCache`` on the shared file; its loader reads the "database" (a JSON file), prints
``loading <round>`` and waits for a ``go`` line before returning, so the parent can run a
mutation (and its clear) in another process while this load is in flight. Then it prints
``done <round>``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from agent_cache import AsyncCache
from agent_cache.backends.codec import JsonCodec
from agent_cache.backends.disk import DiskBackend

CACHE_PATH, DB_PATH = sys.argv[1], sys.argv[2]


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    backend = DiskBackend(CACHE_PATH, codec=JsonCodec())
    while line := await reader.readline():
        round_ = line.decode().strip()
        cache = AsyncCache(name="cart", backend=backend)  # a fresh L1 each round

        async def load(round_: str = round_) -> list[str]:
            value: list[str] = json.loads(await asyncio.to_thread(Path(DB_PATH).read_text))
            print(f"loading {round_}", flush=True)
            assert (await reader.readline()).strip() == b"go"
            return value

        await cache.get(f"u{round_}", loader=load)  # a key of its own: always a miss
        print(f"done {round_}", flush=True)
    await backend.close()


asyncio.run(main())
