"""One request of a conversation, served by a fresh process (a replica) sharing Redis.

Usage: python conversation_replica.py REDIS_URL SESSION_ID CALLS
Prints ``ran N`` or ``caught KIND after N``.
"""

from __future__ import annotations

import asyncio
import sys

from agent_cache import AgentCache, AgentCacheSession, AgentLoopDetectedError
from agent_cache.backends.redis import RedisBackend


async def main(url: str, session_id: str, calls: int) -> str:
    store = RedisBackend(url)

    @AgentCache(resource="cart", scope="session")
    async def get_cart(user_id: str) -> list[str]:
        return [user_id]

    made = 0
    try:
        async with AgentCacheSession(session_id=session_id, idle_timeout=60, max_tool_repeats=5, store=store):
            for _ in range(calls):
                made += 1
                await get_cart("u1")
    except AgentLoopDetectedError as error:
        return f"caught {error.kind} after {made}"
    finally:
        await store.close()
    return f"ran {made}"


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
