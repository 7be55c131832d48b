"""Tampered, unsigned and foreign values in Redis are never executed nor served."""

from __future__ import annotations

import pickle

import pytest

from agent_cache.backends.codec import SignedPickleCodec
from agent_cache.backends.redis import RedisBackend
from agent_cache.core.keys import stable_key
from agent_cache.core.sentinel import MISSING

pytestmark = pytest.mark.redis

EXECUTED: list[str] = []


class Exploit:
    """Unpickling this calls ``EXECUTED.append``: proof that code ran."""

    def __reduce__(self):
        return (EXECUTED.append, ("pwned",))


class Point:
    def __init__(self, x: int) -> None:
        self.x = x

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and other.x == self.x


@pytest.fixture(autouse=True)
def _reset_executed():
    EXECUTED.clear()
    yield
    assert EXECUTED == [], "a stored payload was unpickled"


async def _plant(redis_server, key: str, payload: bytes) -> None:
    assert redis_server.command("SET", f"agent_cache:{key}", payload) == b"+OK\r\n"


async def test_signed_pickle_round_trip(redis_server):
    b = RedisBackend(redis_server.url, codec=SignedPickleCodec(b"k1"))
    key = stable_key("points", (1,))
    await b.set(key, Point(3), ttl=None)
    assert await b.get(key) == Point(3)
    await b.close()


@pytest.mark.parametrize("codec_key", [None, b"k1"])
async def test_raw_pickle_is_never_unpickled(redis_server, caplog, codec_key):
    codec = SignedPickleCodec(codec_key) if codec_key else None
    b = RedisBackend(redis_server.url, codec=codec)
    key = stable_key("points", (1,))
    for payload in (pickle.dumps(Exploit()), b"P" + pickle.dumps(Exploit())):
        await _plant(redis_server, key, payload)
        assert await b.get(key) is MISSING
    assert b.get_metrics()["corrupt"] == 2
    assert "cannot be read safely" in caplog.text
    await b.close()


async def test_tampered_and_foreign_key_payloads_are_refused(redis_server):
    ours = RedisBackend(redis_server.url, codec=SignedPickleCodec(b"k1"))
    foreign = RedisBackend(redis_server.url, codec=SignedPickleCodec(b"someone-else"))
    key = stable_key("points", (1,))
    # A value signed with another key (another application, or an attacker's guess).
    await foreign.set(key, Exploit(), ttl=None)
    assert await ours.get(key) is MISSING
    # A value signed by us, then altered: body swapped, last byte or signature flipped.
    await ours.set(key, Point(1), ttl=None)
    reply = redis_server.command("GET", f"agent_cache:{key}")
    good = reply[reply.index(b"\r\n") + 2 : -2]  # "$<len>\r\n<payload>\r\n"
    assert good[:1] == b"P"  # tag, 32-byte HMAC-SHA256, pickle body
    for forged in (
        good[:33] + pickle.dumps(Exploit()),
        good[:-1] + bytes([good[-1] ^ 1]),
        good[:5] + bytes([good[5] ^ 1]) + good[6:],
    ):
        await _plant(redis_server, key, forged)
        assert await ours.get(key) is MISSING
    assert ours.get_metrics()["corrupt"] == 4
    await ours.close()
    await foreign.close()


async def test_garbage_and_wrong_type_are_misses(redis_server):
    b = RedisBackend(redis_server.url)
    key = stable_key("cart", (1,))
    for payload in (b"", b"J{not json", b"\xff\xfe", b"J" + b"[" * 100000):
        await _plant(redis_server, key, payload)
        assert await b.get(key) is MISSING
    redis_server.command("DEL", f"agent_cache:{key}")
    redis_server.command("LPUSH", f"agent_cache:{key}", "x")  # not even a string
    assert await b.get(key) is MISSING
    assert b.get_metrics()["breaker_state"] == "closed"  # a refusal is not an outage
    await b.close()
