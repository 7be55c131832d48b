"""The demo batches where a real agent would (a checkout prices its whole cart through one
``batch_loader``), and ``--redis`` puts its cached tools on a real shared Redis tier."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from agent_cache.demo.__main__ import main
from agent_cache.demo.catalog import make_catalog
from agent_cache.demo.db import Database
from agent_cache.demo.tools import build_tools


async def test_concurrent_checkouts_price_their_carts_in_shared_batches(tmp_path: Path) -> None:
    catalog = make_catalog(random.Random(3))
    db = await Database.create(tmp_path, catalog, latency_ms=0.0, seed=3)
    try:
        tools = build_tools(db, cached=True)
        users = catalog.users[:8]
        products = list(catalog.products)[:3]
        for user in users:
            for product in products:
                await tools.add_to_cart(user, product)
        results = await asyncio.gather(*(tools.checkout(user) for user in users))
        assert all(r["status"] == "placed" and r["lines"] == 3 for r in results)
        # 8 checkouts x 3 lines, but the details of 3 products are fetched in one batch query
        assert db.by_op["fetch_products"] == 1
        tools.close()
    finally:
        await db.close()


async def test_without_the_cache_each_checkout_runs_its_own_products_query(tmp_path: Path) -> None:
    catalog = make_catalog(random.Random(3))
    db = await Database.create(tmp_path, catalog, latency_ms=0.0, seed=3)
    try:
        tools = build_tools(db, cached=False)
        for user in catalog.users[:4]:
            await tools.add_to_cart(user, next(iter(catalog.products)))
        await asyncio.gather(*(tools.checkout(user) for user in catalog.users[:4]))
        assert db.by_op["fetch_products"] == 4
    finally:
        await db.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path: Path):
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("redis-server is not installed (CI=true: failing, not skipping)")
        pytest.skip("redis-server is not installed")
    port = _free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:  # another process: poll until it accepts connections
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    yield f"redis://:not-a-real-password@127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.redis
def test_redis_option_puts_the_tools_on_the_shared_tier(capsys, redis_url: str) -> None:
    assert main(["--short", "--seed", "5", "--redis", redis_url]) == 0
    out = capsys.readouterr().out
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    assert f"shared tier: Redis at 127.0.0.1:{port}/0" in out
    assert "not-a-real-password" not in out  # credentials are never printed
    assert "shared tier  " in out
    line = next(text for text in out.splitlines() if text.startswith("shared tier  "))
    assert "L2 hits" in line and "locks acquired" in line
