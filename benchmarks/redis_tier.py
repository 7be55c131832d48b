#!/usr/bin/env python3
"""The Redis tier's costs, against a real redis-server started here (part of ``make bench``).

    python benchmarks/redis_tier.py [--n 3000]

1. An L2 hit (``RedisBackend.get_entry``: generation check + value + PTTL in one script)
   as a ratio to one raw redis-py ``GET`` of the same value on the same client (target
   <= 1.3x), and through ``AsyncCache`` with an empty L1.
2. Redis round trips per cold miss (get, lock, store) and per L2 hit.
3. Invalidation propagation: from ``delete()`` being called in this process to the entry
   being gone from another process's L1 (p50 / p99 on loopback, target p99 <= 5 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from agent_cache import AsyncCache  # noqa: E402
from agent_cache.backends.redis import RedisBackend  # noqa: E402
from agent_cache.core.keys import stable_key  # noqa: E402

LISTENER = r'''
import asyncio, json, sys, time
from agent_cache import AsyncCache
from agent_cache.backends.redis import RedisBackend

async def main():
    backend = RedisBackend(sys.argv[1])
    cache = AsyncCache(name="bench", maxsize=100_000, backend=backend)
    assert await backend.subscribe(wait=5)
    original = backend._l1.on_batch
    def on_batch(events):
        original(events)
        print(json.dumps({"t": time.monotonic(), "n": len(cache)}), flush=True)
    backend._l1.on_batch = on_batch
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        key = line.decode().strip()
        await cache.get(key, loader=lambda: "v")
        print(json.dumps({"filled": key}), flush=True)
    await backend.close()

asyncio.run(main())
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(workdir: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
         "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("redis-server did not start")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def l2_hit_cost(url: str, n: int) -> dict[str, float]:
    backend = RedisBackend(url)
    skey = stable_key("bench", ("hit",))
    value = {"items": list(range(10)), "note": "a small JSON value"}
    await backend.set(skey, value, ttl=None)
    await backend.get_entry(skey)
    client = backend._link.current_client()
    raw_key = backend._layout.entry_keys(skey, backend._layout.believed(skey))[1]
    cache = AsyncCache(name="bench", maxsize=0, default_ttl=60)  # every get misses L1
    cache.backend = backend
    from agent_cache.core.tier import ResolvedTier

    cache._tier = ResolvedTier(backend)  # as if built with backend=, without a subscription
    from agent_cache.backends.redis import scripts as redis_scripts

    gen = backend._layout.believed(skey)
    gen_key = backend._layout.entry_keys(skey, gen)[0]
    sha = redis_scripts.READ.sha
    raw, script, tier, through_cache = [], [], [], []
    for _ in range(n):  # interleaved, so drift hits all alike
        t = time.perf_counter()
        await client.get(raw_key)
        raw.append(time.perf_counter() - t)
        t = time.perf_counter()
        await client.evalsha(sha, 2, gen_key, raw_key, gen, "0")
        script.append(time.perf_counter() - t)
        t = time.perf_counter()
        await backend.get_entry(skey)
        tier.append(time.perf_counter() - t)
        t = time.perf_counter()
        await cache.get(("hit",), loader=lambda: "not called")
        through_cache.append(time.perf_counter() - t)
    await backend.close()
    raw_med, script_med, tier_med, cache_med = (
        statistics.median(x) for x in (raw, script, tier, through_cache))
    return {"raw_get_us": raw_med * 1e6, "raw_script_us": script_med * 1e6, "l2_hit_us": tier_med * 1e6,
            "ratio": tier_med / raw_med, "cache_l2_hit_us": cache_med * 1e6,
            "cache_ratio": cache_med / raw_med}


async def round_trips(url: str) -> dict[str, float]:
    backend = RedisBackend(url)
    cache = AsyncCache(name="rt", maxsize=0, default_ttl=60)
    cache.backend = backend
    from agent_cache.core.tier import ResolvedTier

    cache._tier = ResolvedTier(backend)
    await cache.get("warm", loader=lambda: 1)  # rights check and generation learned first
    link = backend._link
    calls = 0
    original = link.call

    async def counted(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return await original(*args, **kwargs)  # type: ignore[arg-type]

    link.call = counted  # type: ignore[method-assign]
    misses = 50
    for i in range(misses):
        await cache.get(f"cold{i}", loader=lambda: 1)
    per_miss = calls / misses
    calls = 0
    for i in range(misses):
        await cache.get(f"cold{i}", loader=lambda: 1)
    per_hit = calls / misses
    await backend.close()
    return {"per_miss": per_miss, "per_l2_hit": per_hit}


async def propagation(url: str, n: int) -> dict[str, float]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LISTENER, url, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.path.dirname(HERE)})
    assert proc.stdin and proc.stdout
    backend = RedisBackend(url)
    delays = []
    try:
        for i in range(n):
            key = f"k{i}"
            proc.stdin.write(f"{key}\n".encode())
            await proc.stdin.drain()
            assert json.loads(await proc.stdout.readline()) == {"filled": key}
            start = time.monotonic()
            await backend.delete(stable_key("bench", key))
            applied = json.loads(await proc.stdout.readline())
            delays.append(applied["t"] - start)
    finally:
        proc.stdin.close()
        await proc.wait()
        await backend.close()
    return {"p50_ms": pct(delays, 0.5) * 1e3, "p99_ms": pct(delays, 0.99) * 1e3}


async def main(n: int) -> dict[str, dict[str, float]]:
    workdir = tempfile.mkdtemp(prefix="agent_cache-bench-redis-")
    proc, url = start_redis(workdir)
    try:
        return {
            "l2_hit": await l2_hit_cost(url, n),
            "round_trips": await round_trips(url),
            "propagation": await propagation(url, 300),
        }
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=3000, help="L2 hits timed per contender")
    if shutil.which("redis-server") is None:
        print("Redis tier: skipped (redis-server is not installed)")
        sys.exit(0)
    results = asyncio.run(main(ap.parse_args().n))
    hit, rt, prop = results["l2_hit"], results["round_trips"], results["propagation"]
    print("Redis tier (loopback redis-server)")
    print(f"  L2 hit: {hit['l2_hit_us']:.1f} us vs raw GET {hit['raw_get_us']:.1f} us "
          f"-> {hit['ratio']:.2f}x (target <= 1.3x); through AsyncCache {hit['cache_l2_hit_us']:.1f} us "
          f"({hit['cache_ratio']:.2f}x); the bare EVALSHA of its script {hit['raw_script_us']:.1f} us")
    print(f"  round trips: {rt['per_miss']:.2f} per cold miss, {rt['per_l2_hit']:.2f} per L2 hit")
    print(f"  invalidation to another process's L1: p50 {prop['p50_ms']:.2f} ms, "
          f"p99 {prop['p99_ms']:.2f} ms (target p99 <= 5 ms)")
