"""DiskBackend: an SQLite tier that survives restarts, shrugs off bad files, never runs planted code."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent_cache.backends.base import MISSING, Backend
from agent_cache.backends.codec import JsonCodec, SignedPickleCodec
from agent_cache.backends.disk import APPLICATION_ID, DiskBackend
from planted import hostile_payloads

ROOT = Path(__file__).resolve().parents[1]
NS = "tool"


def k(name: object, ns: str = NS) -> str:
    """A key shaped like core.keys.stable_key's output."""
    return f"{ns}\x1f{name}"


class Clock:
    """Wall-clock stand-in that tests move by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Point:
    x: int
    y: int


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "agent.db"


@pytest.fixture
async def backend(db: Path):
    b = DiskBackend(db, codec=JsonCodec())
    yield b
    await b.close()


def rows(path: Path) -> dict[str, tuple[str, bytes, float | None]]:
    with sqlite3.connect(path) as conn:
        return {key: (ns, value, exp) for key, ns, value, exp in conn.execute("SELECT * FROM entries")}


def run_python(code: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env)


async def test_is_a_backend(backend: DiskBackend) -> None:
    assert isinstance(backend, Backend)


@pytest.mark.parametrize("value", [None, 0, "x", 2.5, [1, (2, 3)], {"a": {"b": None}}, ()], ids=repr)
async def test_round_trip(backend: DiskBackend, value: object) -> None:
    await backend.set(k("a"), value, None)
    assert await backend.get(k("a")) == value
    assert type(await backend.get(k("a"))) is type(value)


async def test_absent_is_missing_and_none_is_a_value(backend: DiskBackend) -> None:
    assert await backend.get(k("nope")) is MISSING
    await backend.set(k("none"), None, None)
    assert await backend.get(k("none")) is None
    assert backend.stats["reads"] == 2 and backend.stats["hits"] == 1


async def test_overwrite_delete_and_clear_by_namespace(backend: DiskBackend, db: Path) -> None:
    await backend.set(k(1), "old", None)
    await backend.set(k(1), "new", None)
    assert await backend.get(k(1)) == "new"
    await backend.delete(k(1))
    assert await backend.get(k(1)) is MISSING
    for i in range(3):
        await backend.set(k(i, "a"), i, None)
    await backend.set(k(0, "b"), "b", None)
    await backend.set(k(0, "a\x1fsession"), "s", None)
    assert await backend.clear("a") == 3
    assert await backend.clear("a") == 0
    assert await backend.get(k(0, "b")) == "b"
    assert await backend.get(k(0, "a\x1fsession")) == "s"
    assert {ns for ns, _, _ in rows(db).values()} == {"b", "a\x1fsession"}


async def test_ttl_uses_the_clock_and_expired_rows_are_deleted_lazily(db: Path) -> None:
    clock = Clock()
    b = DiskBackend(db, codec=JsonCodec(), clock=clock)
    await b.set(k("short"), "s", 10)
    await b.set(k("forever"), "f", None)
    assert rows(db)[k("short")][2] == clock.now + 10  # wall-clock expiry, meaningful after restart
    clock.now += 9.99
    assert await b.get(k("short")) == "s"
    clock.now += 0.01
    assert await b.get(k("short")) is MISSING
    assert k("short") not in rows(db)
    clock.now += 10**9
    assert await b.get(k("forever")) == "f"
    await b.set(k("zero"), "z", 0)
    assert await b.get(k("zero")) is MISSING
    await b.close()


async def test_expired_rows_are_purged_at_open(db: Path) -> None:
    clock = Clock()
    b = DiskBackend(db, codec=JsonCodec(), clock=clock)
    await b.set(k("x"), 1, 5)
    await b.close()
    clock.now += 6
    b = DiskBackend(db, codec=JsonCodec(), clock=clock)
    await b.get(k("other"))
    assert rows(db) == {}
    await b.close()


async def test_survives_close_and_reopen(db: Path) -> None:
    b = DiskBackend(db, codec=JsonCodec())
    await b.set(k("a"), {"v": (1, 2)}, None)
    await b.close()
    await b.close()  # idempotent
    assert await DiskBackend(db).get(k("a")) == {"v": (1, 2)}
    assert await b.get(k("a")) == {"v": (1, 2)}  # a closed backend reopens on use
    await b.close()


def test_usable_from_successive_event_loops(db: Path) -> None:
    b = DiskBackend(db, codec=JsonCodec())
    asyncio.run(b.set(k("a"), 1, None))
    assert asyncio.run(b.get(k("a"))) == 1
    asyncio.run(b.close())


async def test_survives_across_processes(db: Path) -> None:
    child = run_python(
        """
        import asyncio, sys
        from agent_cache.backends.disk import DiskBackend
        async def main():
            b = DiskBackend(sys.argv[1])
            await b.set("tool\\x1fchild", {"from": "child", "n": (1, 2)}, 3600)
            await b.close()
        asyncio.run(main())
        """,
        str(db),
    )
    assert await asyncio.to_thread(child.wait) == 0
    b = DiskBackend(db, codec=JsonCodec())
    assert await b.get(k("child")) == {"from": "child", "n": (1, 2)}
    await b.close()


async def test_concurrent_writers_do_not_corrupt(db: Path) -> None:
    n = 150
    writer = """
        import asyncio, sys
        from agent_cache.backends.disk import DiskBackend
        async def main(me):
            b = DiskBackend(sys.argv[1])
            for i in range(%d):
                await b.set(f"tool\\x1f{me}-{i}", [me, i], None)
                await b.set("tool\\x1fshared", me, None)
            await b.close()
            assert b.stats["errors"] == 0, b.stats
        asyncio.run(main(sys.argv[2]))
    """ % n  # noqa: UP031 (the script's own f-strings use braces)
    children = [run_python(writer, str(db), f"p{j}") for j in range(3)]
    local = [DiskBackend(db, codec=JsonCodec()) for _ in range(2)]  # two connections in-process too
    await asyncio.gather(*(local[i % 2].set(k(f"l-{i}"), ["l", i], None) for i in range(n)))
    codes = await asyncio.gather(*(asyncio.to_thread(c.wait) for c in children))
    assert codes == [0, 0, 0]
    reader = local[0]
    for j in range(3):
        for i in range(n):
            assert await reader.get(k(f"p{j}-{i}")) == [f"p{j}", i]
    for i in range(n):
        assert await reader.get(k(f"l-{i}")) == ["l", i]
    assert await reader.get(k("shared")) in {"p0", "p1", "p2"}
    assert all(b.stats["errors"] == 0 for b in local)
    for b in local:
        await b.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 4 * n + 1


async def test_another_process_creating_the_file_between_two_looks(db: Path, monkeypatch) -> None:
    """Two processes open a new file at once: one makes it ours while the other is looking.

    The other process runs between two statements this one runs outside a transaction (the
    same interleaving a busy machine produced once in test_concurrent_writers_do_not_corrupt:
    the file read as "application_id 0" and then as "has tables", so it looked like another
    application's database and the tier disabled itself). Both must end up using the file.
    """
    from agent_cache.backends import disk

    creator = """
        import asyncio, sys
        from agent_cache.backends.disk import DiskBackend
        async def main():
            b = DiskBackend(sys.argv[1])
            await b.set("tool\\x1fother", "theirs", None)
            await b.close()
            assert b.stats["errors"] == 0, b.stats
        asyncio.run(main())
    """
    real_connect = sqlite3.connect
    seen: list[str] = []

    def connect(*args, **kwargs):
        conn = real_connect(*args, **kwargs)

        def between_statements(statement: str) -> None:
            if not conn.in_transaction:
                seen.append(statement)
                if len(seen) == 2:  # this process has looked once: the other one runs now
                    assert run_python(creator, str(db)).wait() == 0

        conn.set_trace_callback(between_statements)
        return conn

    monkeypatch.setattr(disk.sqlite3, "connect", connect)
    db.parent.mkdir(parents=True)
    b = DiskBackend(db, codec=JsonCodec())
    await b.set(k("mine"), "ours", None)
    assert len(seen) >= 2
    assert b.stats["errors"] == 0, b.stats
    assert await b.get(k("other")) == "theirs" and await b.get(k("mine")) == "ours"
    await b.close()


def _moved_aside(db: Path) -> list[Path]:
    return sorted(p for p in db.parent.iterdir() if ".corrupt-" in p.name)


async def _assert_starts_empty_and_works(db: Path, original: bytes, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="agent_cache.backends.disk")
    b = DiskBackend(db, codec=JsonCodec())
    assert await b.get(k("a")) is MISSING
    assert b.stats["corrupt_files"] == 1
    assert any("moved it to" in r.getMessage() for r in caplog.records)
    [aside] = [p for p in _moved_aside(db) if not p.name.endswith(("-wal", "-shm"))]
    assert aside.read_bytes() == original  # kept for a post-mortem, not destroyed
    await b.set(k("a"), 1, None)
    assert await b.get(k("a")) == 1
    await b.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


async def test_random_bytes_file_is_moved_aside(db: Path, caplog) -> None:
    db.parent.mkdir(parents=True)
    original = os.urandom(8192)
    db.write_bytes(original)
    await _assert_starts_empty_and_works(db, original, caplog)


async def test_truncated_database_is_moved_aside(db: Path, caplog) -> None:
    b = DiskBackend(db, codec=JsonCodec())
    for i in range(300):
        await b.set(k(i), "x" * 200, None)
    await b.close()
    original = db.read_bytes()[: db.stat().st_size // 2]
    db.write_bytes(original)
    await _assert_starts_empty_and_works(db, original, caplog)


async def test_damage_behind_a_valid_header_is_found_at_open(db: Path, caplog) -> None:
    b = DiskBackend(db, codec=JsonCodec())
    await b.set(k("a"), 1, None)
    await b.close()
    with open(db, "r+b") as f:  # wreck every page after the header page
        f.seek(4096)
        f.write(os.urandom(db.stat().st_size - 4096))
    caplog.set_level(logging.WARNING, logger="agent_cache.backends.disk")
    b = DiskBackend(db, codec=JsonCodec())
    assert await b.get(k("a")) is MISSING
    assert b.stats["corrupt_files"] == 1
    await b.set(k("a"), 2, None)
    assert await b.get(k("a")) == 2
    await b.close()


async def test_a_pickle_file_at_the_path_is_never_loaded(tmp_path: Path, caplog) -> None:
    """The reference wrote '/tmp/embeddings.pkl' as a pickle; an old or planted one is moved aside."""
    marker = tmp_path / "pwned"
    path = tmp_path / "embeddings.pkl"
    path.write_bytes(hostile_payloads(marker)["unsigned"])
    b = DiskBackend(path, codec=SignedPickleCodec(b"key"))
    assert await b.get(k("a")) is MISSING
    await b.set(k("a"), Point(1, 2), None)
    assert await b.get(k("a")) == Point(1, 2)
    await b.close()
    assert not marker.exists()
    assert b.stats["corrupt_files"] == 1


@pytest.mark.parametrize("codec", [JsonCodec(), SignedPickleCodec(b"our key")], ids=["json", "signed"])
async def test_planted_rows_are_never_unpickled(db: Path, tmp_path: Path, codec, caplog) -> None:
    marker = tmp_path / "pwned"
    b = DiskBackend(db, codec=codec)
    await b.set(k("ok"), "fine", None)  # creates the file
    payloads = hostile_payloads(marker)
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO entries VALUES (?, ?, ?, NULL)", [(k(name), NS, data) for name, data in payloads.items()]
        )
    caplog.set_level(logging.WARNING, logger="agent_cache.backends.disk")
    for name in payloads:
        assert await b.get(k(name)) is MISSING, name
    assert not marker.exists()
    assert b.stats["errors"] == len(payloads)
    assert set(rows(db)) == {k("ok")}  # refused rows are dropped
    assert len([r for r in caplog.records if "cannot be read safely" in r.getMessage()]) == 1  # warned once
    assert await b.get(k("ok")) == "fine"
    await b.close()


async def test_signed_codec_round_trips_objects(db: Path) -> None:
    b = DiskBackend(db, codec=SignedPickleCodec(b"our key"))
    await b.set(k("p"), [Point(1, 2)], None)
    await b.close()
    assert await DiskBackend(db, codec=SignedPickleCodec(b"our key")).get(k("p")) == [Point(1, 2)]
    other = DiskBackend(db, codec=SignedPickleCodec(b"other key"))
    assert await other.get(k("p")) is MISSING
    await other.close()


async def test_unencodable_value_is_kept_out_and_warned_once(backend: DiskBackend, db: Path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="agent_cache.backends.disk")
    await backend.set(k("p"), "persisted", None)
    await backend.set(k("p"), Point(1, 2), None)  # JSON cannot carry it: no exception
    await backend.set(k("q"), Point(3, 4), None)
    assert await backend.get(k("p")) is MISSING  # the stale persisted value is gone too
    assert backend.stats["skipped"] == 2
    assert len([r for r in caplog.records if "not persisting" in r.getMessage()]) == 1
    assert set(rows(db)) == set()


async def test_io_errors_are_misses_not_exceptions(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="agent_cache.backends.disk")
    unusable = tmp_path / "a-directory"
    unusable.mkdir()
    b = DiskBackend(unusable, codec=JsonCodec())
    await b.set(k("a"), 1, None)
    assert await b.get(k("a")) is MISSING
    await b.delete(k("a"))
    assert await b.clear(NS) == 0
    assert b.stats["errors"] == 4
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) <= 4  # once per operation kind
    await b.close()


async def test_another_applications_database_is_left_alone(db: Path, caplog) -> None:
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
        conn.execute("INSERT INTO users VALUES ('alice')")
    conn.close()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    caplog.set_level(logging.WARNING, logger="agent_cache.backends.disk")
    b = DiskBackend(db, codec=JsonCodec())
    await b.set(k("a"), 1, None)
    assert await b.get(k("a")) is MISSING
    await b.close()
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert _moved_aside(db) == []
    assert any("another application" in r.getMessage() for r in caplog.records)


async def test_max_entries_drops_expired_then_oldest(db: Path) -> None:
    clock = Clock()
    b = DiskBackend(db, codec=JsonCodec(), max_entries=3, clock=clock)
    await b.set(k("expiring"), 0, 1)
    for i in range(3):
        await b.set(k(i), i, None)
    assert set(rows(db)) == {k(0), k(1), k(2)}  # nothing expired yet: the oldest went
    await b.set(k("short"), "s", 1)
    clock.now += 2
    await b.set(k(1), "rewritten", None)  # a rewrite counts as the newest
    await b.set(k(3), 3, None)
    assert set(rows(db)) == {k(1), k(2), k(3)}  # "short" expired first, then the oldest (0)
    await b.close()


async def test_bad_arguments_raise(db: Path) -> None:
    with pytest.raises(ValueError, match="max_entries"):
        DiskBackend(db, max_entries=0)
    b = DiskBackend(db)
    with pytest.raises(TypeError, match="key"):
        await b.get(("not", "a", "str"))  # type: ignore[arg-type]
    assert not db.exists()  # nothing is opened before the first real operation
