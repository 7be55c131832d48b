"""A cache tier in one SQLite file: survives restarts, shared by processes on one machine.

Why SQLite (stdlib ``sqlite3``) rather than a pickle file rewritten on every store: each
write is one transaction, so a crash mid-write never leaves a half-written file; WAL mode
lets readers and several writer processes share the file; and a store costs one row, not a
rewrite of the whole cache.

Layout: one table ``entries(key TEXT PRIMARY KEY, namespace TEXT, value BLOB, expires_at
REAL)``. ``expires_at`` is wall-clock time (``time.time()``) because it must mean the same
thing after a restart. Values go through a :mod:`codec <agent_cache.backends.codec>`, so
nothing read back can execute code. The file is marked with an SQLite ``application_id``;
a valid SQLite database that is not ours is left untouched and the tier disables itself.

All file I/O runs on one worker thread per backend (the SQLite connection lives there),
never on the event loop. Failures never reach the caller: they are logged (once per kind),
counted in :attr:`DiskBackend.stats`, and answered as a miss or a no-op. A file that is not
a readable database (random bytes, truncated, corrupted) is moved aside to
``<path>.corrupt-<UTC timestamp>`` and the tier starts empty.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..core.sentinel import MISSING
from ._support import BackendSupport, namespace_of
from .base import Entry, value_of
from .codec import Codec, default_codec

logger = logging.getLogger("agent_cache.backends.disk")

T = TypeVar("T")

APPLICATION_ID = 0x41434331  # "ACC1": marks a file as an agent_cache disk tier
SCHEMA_VERSION = 1
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS entries ("
    " key TEXT PRIMARY KEY, namespace TEXT NOT NULL, value BLOB NOT NULL, expires_at REAL)",
    "CREATE INDEX IF NOT EXISTS entries_namespace ON entries(namespace)",
    "CREATE INDEX IF NOT EXISTS entries_expires_at ON entries(expires_at) WHERE expires_at IS NOT NULL",
    f"PRAGMA application_id = {APPLICATION_ID}",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)


class _NotOurs(Exception):
    """The file is a valid SQLite database written by something else (or a newer schema)."""


class _Corrupt(sqlite3.DatabaseError):
    """``PRAGMA quick_check`` found damage that no statement has raised on yet."""

    sqlite_errorcode = _SQLITE_CORRUPT


def _is_corruption(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(exc)
    return "malformed" in text or "not a database" in text


class DiskBackend(BackendSupport):
    """Second cache tier in an SQLite file at ``path`` (parent directories are created).

    ``codec``: how values become bytes (default: :func:`~agent_cache.backends.codec.default_codec`,
    JSON unless ``AGENT_CACHE_SIGNING_KEY`` is set). ``max_entries``: keep at most this many
    rows, dropping expired rows first, then the oldest written. ``clock``: wall-clock seconds,
    injectable for tests. ``timeout``: seconds to wait for another process's write lock
    before giving up on one operation.

    :meth:`close` releases the file and the worker thread; a later call opens it again.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        codec: Codec | None = None,
        max_entries: int | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 5.0,
    ) -> None:
        if max_entries is not None and (not isinstance(max_entries, int) or max_entries < 1):
            raise ValueError(f"max_entries must be a positive int or None, got {max_entries!r}")
        super().__init__(codec if codec is not None else default_codec(), logger)
        self.path = os.fspath(path)
        self.max_entries = max_entries
        self._clock = clock
        self._timeout = timeout
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None  # touched only on the worker thread
        self._disabled: str | None = None

    def __repr__(self) -> str:
        return f"DiskBackend({self.path!r})"

    # -- the Backend protocol (event-loop side) ---------------------------------------------

    async def get(self, key: str) -> Any:
        return value_of(await self.get_entry(key))

    async def get_entry(self, key: str) -> Entry | Any:
        """``(value, seconds left or None)``, or ``MISSING`` (absent, expired, unreadable).

        The seconds left are counted on the event loop after the read, so the thread hop
        back is already taken off.
        """
        _check_str("key", key)
        found: Any = await self._submit("get", MISSING, self._get, key, self._clock())
        if found is MISSING:
            return MISSING
        value, expires_at = found
        return value, None if expires_at is None else max(0.0, expires_at - self._clock())

    async def set(self, key: str, value: Any, ttl: float | None) -> None:
        _check_str("key", key)
        if ttl is not None and ttl <= 0:  # already expired: store nothing, drop any older value
            await self.delete(key)
            return
        payload = self._encode_or_skip(value)  # on the loop: a snapshot of value as it is now
        if payload is None:
            await self.delete(key)  # never leave an older persisted value behind the new one
            return
        now = self._clock()
        expires_at = None if ttl is None else now + ttl
        await self._submit("set", None, self._set, key, payload, expires_at, now)

    async def delete(self, key: str) -> None:
        _check_str("key", key)
        await self._submit("delete", None, self._delete, key)

    async def clear(self, namespace: str) -> int:
        _check_str("namespace", namespace)
        return await self._submit("clear", 0, self._clear, namespace)

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:  # queued operations run first: the queue is FIFO
            await asyncio.get_running_loop().run_in_executor(executor, self._close_connection)
        finally:
            executor.shutdown(wait=False)

    # -- dispatch ---------------------------------------------------------------------------

    async def _submit(self, operation: str, default: T, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="agent_cache-disk")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._guarded, operation, default, fn, args)

    def _guarded(self, operation: str, default: T, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """Run ``fn(conn, *args)`` on the worker thread; any I/O failure becomes ``default``."""
        if self._disabled is not None:
            return default
        try:
            conn = self._conn if self._conn is not None else self._open()
            if conn is None:
                return default
            return fn(conn, *args)
        except sqlite3.Error as exc:
            if _is_corruption(exc):
                self._close_connection()
                self._quarantine(exc)
            else:
                self._failed(operation, exc)
            return default
        except OSError as exc:
            self._failed(operation, exc)
            return default

    # -- worker-thread side -----------------------------------------------------------------

    def _open(self) -> sqlite3.Connection | None:
        """Open (creating if needed) and validate the file; a damaged file is moved aside once."""
        parent = os.path.dirname(self.path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        for attempt in (1, 2):
            conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
            try:
                self._prepare(conn)
            except _NotOurs as exc:
                conn.close()
                self._disabled = str(exc)
                self.stats["errors"] += 1
                logger.warning("%r: %s; leaving it untouched and not using a disk tier", self, exc)
                return None
            except sqlite3.Error as exc:
                conn.close()
                if attempt == 2 or not _is_corruption(exc):
                    raise
                self._quarantine(exc)
                continue
            self._conn = conn
            return conn
        return None  # pragma: no cover - the loop returns or raises

    def _prepare(self, conn: sqlite3.Connection) -> None:
        # Every look at the file happens in one transaction: another process may be making a
        # new file ours right now, and "application_id 0" read before its commit plus "has
        # tables" read after it looks exactly like another application's database.
        with _transaction(conn, "BEGIN"):  # a read snapshot
            app_id, version, empty = _identity(conn)  # raises on a non-database
            problem = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        if problem != "ok":
            raise _Corrupt(problem)
        if app_id == 0 and empty:
            with _transaction(conn):  # a new, empty file: make it ours, unless someone just did
                app_id, version, empty = _identity(conn)
                if app_id == 0 and empty:
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    app_id, version = APPLICATION_ID, SCHEMA_VERSION
        if app_id != APPLICATION_ID:
            raise _NotOurs(f"{self.path} is an SQLite database of another application")
        if version > SCHEMA_VERSION:
            raise _NotOurs(f"{self.path} was written by a newer agent_cache (schema {version})")
        conn.execute("PRAGMA journal_mode=WAL")  # only now: it rewrites the header of a foreign file
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across process crashes, fast
        conn.execute("DELETE FROM entries WHERE expires_at <= ?", (self._clock(),))

    def _quarantine(self, exc: BaseException) -> None:
        """Move a damaged file (and its WAL side files) aside so the tier can start empty."""
        self.stats["corrupt_files"] += 1
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = f"{self.path}.corrupt-{stamp}"
        n = 1
        while os.path.exists(target):
            n += 1
            target = f"{self.path}.corrupt-{stamp}-{n}"
        try:
            os.replace(self.path, target)
        except FileNotFoundError:  # another process moved it first
            return
        for side in ("-wal", "-shm", "-journal"):
            try:
                os.replace(self.path + side, target + side)
            except FileNotFoundError:
                pass
        logger.warning(
            "%r: the cache file is not a readable database (%s); moved it to %s and starting empty",
            self,
            exc,
            target,
        )

    def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error as exc:
                self._failed("close", exc)

    def _get(self, conn: sqlite3.Connection, key: str, now: float) -> Any:
        """``(value, expires_at)`` of a live row, or ``MISSING``."""
        self.stats["reads"] += 1
        row = conn.execute("SELECT value, expires_at FROM entries WHERE key = ?", (key,)).fetchone()
        if row is None:
            return MISSING
        payload, expires_at = row
        if expires_at is not None and expires_at <= now:
            # Delete only this expired row: another process may have just written a fresh one.
            conn.execute("DELETE FROM entries WHERE key = ? AND expires_at = ?", (key, expires_at))
            return MISSING
        ok, value = self._decode_or_none(payload)
        if not ok:
            conn.execute("DELETE FROM entries WHERE key = ? AND value = ?", (key, payload))
            return MISSING
        self.stats["hits"] += 1
        return value, expires_at

    def _set(self, conn: sqlite3.Connection, key: str, payload: bytes, expires_at: float | None, now: float) -> None:
        with _transaction(conn):
            # REPLACE gives the row a new rowid, so rowid order is write order (for max_entries).
            conn.execute(
                "INSERT OR REPLACE INTO entries (key, namespace, value, expires_at) VALUES (?, ?, ?, ?)",
                (key, namespace_of(key), payload, expires_at),
            )
            if self.max_entries is not None:
                self._trim(conn, self.max_entries, now)
        self.stats["writes"] += 1

    @staticmethod
    def _trim(conn: sqlite3.Connection, limit: int, now: float) -> None:
        excess = conn.execute("SELECT count(*) FROM entries").fetchone()[0] - limit
        if excess > 0:
            excess -= conn.execute("DELETE FROM entries WHERE expires_at <= ?", (now,)).rowcount
        if excess > 0:
            conn.execute(
                "DELETE FROM entries WHERE rowid IN (SELECT rowid FROM entries ORDER BY rowid LIMIT ?)",
                (excess,),
            )

    @staticmethod
    def _delete(conn: sqlite3.Connection, key: str) -> None:
        conn.execute("DELETE FROM entries WHERE key = ?", (key,))

    @staticmethod
    def _clear(conn: sqlite3.Connection, namespace: str) -> int:
        return conn.execute("DELETE FROM entries WHERE namespace = ?", (namespace,)).rowcount


class _transaction:
    """``BEGIN IMMEDIATE`` (or ``begin``) … ``COMMIT``, rolled back on error (the connection
    autocommits)."""

    __slots__ = ("_begin", "_conn")

    def __init__(self, conn: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE") -> None:
        self._conn = conn
        self._begin = begin

    def __enter__(self) -> None:
        self._conn.execute(self._begin)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self._conn.execute("COMMIT")
        elif self._conn.in_transaction:
            self._conn.execute("ROLLBACK")


def _identity(conn: sqlite3.Connection) -> tuple[int, int, bool]:
    """``(application_id, user_version, has no tables)`` of the open file."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    empty = conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is None
    return int(app_id), int(version), empty


def _check_str(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be str, not {type(value).__name__}")


__all__ = ["DiskBackend", "APPLICATION_ID", "SCHEMA_VERSION"]
