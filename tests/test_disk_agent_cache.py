"""End to end: ``AgentCache(..., backend=DiskBackend(p))`` keeps results across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from agent_cache import AgentCache, AgentCacheInvalidator
    from agent_cache.backends import DiskBackend

    disk = DiskBackend(sys.argv[1])
    calls = []

    @AgentCache(resource="embeddings", scope="global", backend=disk)
    async def get_embedding(text):
        calls.append(text)
        return {"text": text, "vector": (len(text), 0.5)}

    @AgentCacheInvalidator(resource="embeddings")
    async def retrain():
        return None

    async def main(action):
        if action == "retrain":
            await retrain()
        out = [await get_embedding("hello"), await get_embedding("hello")]
        await disk.close()
        print(json.dumps({"calls": calls, "value": out[0], "same_type": isinstance(out[1]["vector"], tuple)}))

    asyncio.run(main(sys.argv[2]))
    """
)


def run(db: Path, action: str = "read") -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(db), action], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_results_survive_a_restart_and_invalidation_reaches_the_disk(tmp_path: Path) -> None:
    db = tmp_path / "embeddings.db"
    first = run(db)
    assert first["calls"] == ["hello"]  # computed once, the second call hit memory
    second = run(db)  # a fresh process: memory is empty, the disk tier answers
    assert second["calls"] == []
    assert second["value"] == first["value"] and second["same_type"]
    third = run(db, "retrain")  # the invalidator clears the resource on disk too
    assert third["calls"] == ["hello"]
