"""A Redis user without the rights the tier needs, and credentials kept out of sight.

An ACL user that may not run scripts, PUBLISH or SUBSCRIBE used to have every invalidation
refused while the breaker and subscription stayed healthy: replicas served stale data
forever. The tier now checks its rights when it connects and, if one is missing, logs an
ERROR naming it, disables itself (the loader answers, no L1 is kept) and says so in its
metrics.
"""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from redis_helpers import RedisServer, wait_until

from agent_cache import AsyncCache
from agent_cache.backends.redis import RedisBackend

pytestmark = pytest.mark.redis

PASSWORD = "pw-7f3a9c-do-not-log"


def restricted_url(server: RedisServer, *denied: str) -> str:
    """A user allowed everything on the tier's keys and channel except ``denied``."""
    reply = server.command("ACL", "SETUSER", "agent", "reset", "on", f">{PASSWORD}",
                           "~agent_cache:*", "&*", "+@all", *(f"-{d}" for d in denied))
    assert reply == b"+OK\r\n", reply
    return f"redis://agent:{PASSWORD}@127.0.0.1:{server.port}/0"


@pytest.mark.parametrize("denied,named", [
    (("publish",), "publish"),
    (("evalsha", "eval"), "eval"),
    (("subscribe",), "subscribe"),
])
async def test_missing_permission_disables_the_tier_and_no_replica_is_stale(
    redis_server, caplog, denied, named
):
    url = restricted_url(redis_server, *denied)
    a, b = RedisBackend(url, op_timeout=0.3), RedisBackend(url, op_timeout=0.3)
    ca = AsyncCache(name="cart", backend=a)
    cb = AsyncCache(name="cart", backend=b)
    db = {"u": "v0"}
    reads = stale = 0
    with caplog.at_level(logging.ERROR, logger="agent_cache.backends.redis"):
        for version in range(1, 6):
            for _ in range(10):  # replica b reads, replica a reads
                reads += 2
                stale += await cb.get("u", loader=lambda: db["u"]) != db["u"]
                stale += await ca.get("u", loader=lambda: db["u"]) != db["u"]
            db["u"] = f"v{version}"  # the mutation, then its invalidation in replica a
            await ca.invalidate()
        for _ in range(10):
            reads += 1
            stale += await cb.get("u", loader=lambda: db["u"]) != db["u"]
    print(f"\n[acl -{'/-'.join(denied)}] {stale} stale of {reads} reads")
    assert stale == 0
    for backend in (a, b):
        await wait_until(lambda b=backend: b.get_metrics()["tier_disabled"] == 1,
                         what="the tier to disable itself")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and any(named in r.getMessage().lower() for r in errors), [r.getMessage() for r in errors]
    assert PASSWORD not in caplog.text
    assert cb.suspended  # no L1: nothing tells this replica of the others' writes
    await a.close()
    await b.close()


async def test_a_user_with_every_right_keeps_the_tier(redis_server, caplog):
    backend = RedisBackend(restricted_url(redis_server))
    cache = AsyncCache(name="cart", backend=backend)
    assert await backend.subscribe()
    assert await cache.get("u", loader=lambda: "v") == "v"
    assert backend.get_metrics()["tier_disabled"] == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    await backend.close()


async def test_password_is_never_in_repr_logs_or_metrics(redis_server, caplog):
    url = restricted_url(redis_server)
    backend = RedisBackend(url, op_timeout=0.1, failure_threshold=1)
    cache = AsyncCache(name="cart", backend=backend)
    assert await cache.get("u", loader=lambda: "v") == "v"
    assert PASSWORD not in repr(backend) and "agent:***@" in repr(backend)
    redis_server.kill()  # outage warnings name the server
    with caplog.at_level(logging.DEBUG):
        for i in range(3):
            assert await backend.get(f"cart\x1f{i:032x}") is not None
        await cache.invalidate()
    assert "127.0.0.1" in caplog.text  # the warnings were logged...
    assert PASSWORD not in caplog.text  # ...without the password
    assert PASSWORD not in str(backend.get_metrics())
    await backend.close()


def test_without_the_redis_extra_the_error_says_what_to_install():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'redis' or name.startswith('redis.'):\n"
        "            raise ModuleNotFoundError(\"No module named 'redis'\", name='redis')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from agent_cache.backends import RedisBackend\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert "pip install 'agent_cache[redis]'" in proc.stderr, proc.stderr
