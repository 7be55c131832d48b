"""The demo's backing store: a real embedded SQLite file that every tool reads and writes.

Why SQLite behind one worker thread: the stdlib ``sqlite3`` module blocks, so each query
runs on a dedicated single-thread executor (one connection, no locking games) while the
event loop keeps serving other agent sessions. Before each query the caller awaits a
simulated network round trip (``latency_ms`` scaled by the query's cost, +-50 % jitter):
a local file answers in microseconds, a real database or API does not, and the cache's
value is the latency it saves.

Every round trip is counted (``queries``, and ``by_op`` per operation). One round trip is
one statement or one short transaction, the unit a remote database would bill.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from .catalog import Catalog, Order, ticket_subject

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE products (id TEXT PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL);
CREATE TABLE cart_items (user_id TEXT, product_id TEXT, qty INTEGER NOT NULL,
                         PRIMARY KEY (user_id, product_id));
CREATE TABLE orders (id TEXT PRIMARY KEY, user_id TEXT, amount REAL NOT NULL,
                     status TEXT NOT NULL, fail_attempts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE payment_attempts (id INTEGER PRIMARY KEY AUTOINCREMENT, order_id TEXT,
                               amount REAL, ok INTEGER, at REAL);
CREATE TABLE tickets (id TEXT PRIMARY KEY, subject TEXT, status TEXT NOT NULL,
                      updated REAL);
CREATE TABLE pages (url TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE stock (sku TEXT PRIMARY KEY, qty INTEGER NOT NULL);
"""

# Relative cost of each operation, in units of ``latency_ms``.
COST_READ = 1.0
COST_WRITE = 1.5
COST_SEARCH = 4.0  # a full-text scan on a remote search service
COST_FETCH = 2.5  # an HTTP page fetch


class PaymentDeclined(Exception):
    """The (simulated) payment provider declined a charge; callers may retry."""


class Database:
    """Counts, delays and runs every query of the demo against one SQLite file."""

    def __init__(self, path: Path, latency_ms: float, seed: int) -> None:
        self.path = path
        self.latency_s = latency_ms / 1000.0
        self.queries = 0
        self.by_op: Counter[str] = Counter()
        self.busy_s = 0.0  # summed wall time of all round trips (latency + execution)
        self._rng = random.Random(seed)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-sqlite")
        self._conn: sqlite3.Connection | None = None

    # -- lifecycle -------------------------------------------------------------------------
    @classmethod
    async def create(
        cls, directory: Path, catalog: Catalog, *, latency_ms: float, seed: int, name: str = "shop"
    ) -> Database:
        """Create ``directory/name.sqlite3`` and seed it from ``catalog`` (seeding is not counted)."""
        db = cls(Path(directory) / f"{name}.sqlite3", latency_ms, seed)
        await db._in_thread(lambda: db._open_and_seed(catalog, seed))
        return db

    def _open_and_seed(self, catalog: Catalog, seed: int) -> None:
        conn = sqlite3.connect(self.path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
        rng = random.Random(seed)
        conn.executemany(
            "INSERT INTO products VALUES (?, ?, ?)",
            [(pid, f"Product {pid}", price) for pid, price in catalog.products.items()],
        )
        conn.executemany(
            "INSERT INTO tickets VALUES (?, ?, 'open', ?)",
            [(tid, ticket_subject(rng), time.time()) for tid in catalog.tickets],
        )
        conn.executemany("INSERT INTO pages VALUES (?, ?)", list(catalog.pages.items()))
        conn.executemany(
            "INSERT INTO stock VALUES (?, ?)", [(sku, rng.randint(20, 500)) for sku in catalog.skus]
        )
        conn.commit()
        self._conn = conn

    async def close(self) -> None:
        """Close the connection and stop the worker thread."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await self._in_thread(conn.close)
        self._executor.shutdown(wait=True)

    async def add_order(self, order: Order) -> None:
        """The shop creates the order a payment session will charge (set-up: not counted)."""

        def run() -> None:
            conn = self._conn
            assert conn is not None, "database is closed"
            with conn:
                conn.execute(
                    "INSERT OR REPLACE INTO orders VALUES (?, NULL, ?, 'pending', ?)",
                    (order.order_id, order.amount, order.fail_attempts),
                )

        await self._in_thread(run)

    # -- the one path every query takes --------------------------------------------------------
    async def _in_thread(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def _query(self, op: str, cost: float, fn: Callable[[sqlite3.Connection], T]) -> T:
        self.queries += 1
        self.by_op[op] += 1
        started = time.perf_counter()
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s * cost * self._rng.uniform(0.5, 1.5))
        conn = self._conn
        if conn is None:
            raise RuntimeError("database is closed")
        try:
            return await self._in_thread(lambda: fn(conn))
        finally:
            self.busy_s += time.perf_counter() - started

    async def _one_row(
        self, op: str, sql: str, params: tuple[Any, ...], columns: tuple[str, ...],
        cost: float = COST_READ,
    ) -> dict[str, Any] | None:
        """One ``SELECT`` of at most one row, as a dict of ``columns`` (None when absent)."""

        def run(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute(sql, params).fetchone()
            return None if row is None else dict(zip(columns, row, strict=True))

        return await self._query(op, cost, run)

    async def _write(self, op: str, *statements: tuple[str, tuple[Any, ...]]) -> None:
        """Run ``(sql, params)`` statements in one transaction: one round trip."""

        def run(conn: sqlite3.Connection) -> None:
            with conn:
                for sql, params in statements:
                    conn.execute(sql, params)

        await self._query(op, COST_WRITE, run)

    # -- shop -----------------------------------------------------------------------------------
    async def fetch_cart(self, user_id: str) -> dict[str, Any]:
        def run(conn: sqlite3.Connection) -> dict[str, Any]:
            rows = conn.execute(
                "SELECT c.product_id, c.qty, p.price FROM cart_items c "
                "JOIN products p ON p.id = c.product_id WHERE c.user_id = ? ORDER BY 1",
                (user_id,),
            ).fetchall()
            items = [{"product_id": pid, "qty": qty, "price": price} for pid, qty, price in rows]
            total = round(sum(qty * price for _, qty, price in rows), 2)
            return {"user_id": user_id, "items": items, "total": total}

        return await self._query("fetch_cart", COST_READ, run)

    async def fetch_product(self, product_id: str) -> dict[str, Any] | None:
        return await self._one_row("fetch_product", "SELECT id, name, price FROM products WHERE id = ?",
                                   (product_id,), ("id", "name", "price"))

    async def fetch_products(self, product_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Many products in one ``SELECT ... IN`` (a batch loader's query), keyed by id."""
        ids = list(dict.fromkeys(product_ids))

        def run(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            marks = ",".join("?" * len(ids))
            rows = conn.execute(f"SELECT id, name, price FROM products WHERE id IN ({marks})", ids).fetchall()
            return {pid: {"id": pid, "name": name, "price": price} for pid, name, price in rows}

        return await self._query("fetch_products", COST_READ, run)

    async def add_to_cart(self, user_id: str, product_id: str) -> None:
        await self._write("add_to_cart", (
            "INSERT INTO cart_items VALUES (?, ?, 1) "
            "ON CONFLICT(user_id, product_id) DO UPDATE SET qty = qty + 1",
            (user_id, product_id),
        ))

    async def place_order(self, order_id: str, user_id: str, amount: float) -> None:
        """Record the order and empty the cart, in one transaction."""
        await self._write(
            "place_order",
            ("INSERT OR REPLACE INTO orders VALUES (?, ?, ?, 'placed', 0)", (order_id, user_id, amount)),
            ("DELETE FROM cart_items WHERE user_id = ?", (user_id,)),
        )

    # -- help desk ----------------------------------------------------------------------------
    async def fetch_ticket(self, ticket_id: str) -> dict[str, Any] | None:
        return await self._one_row("fetch_ticket", "SELECT id, subject, status FROM tickets WHERE id = ?",
                                   (ticket_id,), ("id", "subject", "status"))

    async def update_ticket(self, ticket_id: str, status: str) -> None:
        await self._write("update_ticket", (
            "UPDATE tickets SET status = ?, updated = ? WHERE id = ?", (status, time.time(), ticket_id),
        ))

    # -- research -------------------------------------------------------------------------------
    async def search(self, query: str, limit: int = 5) -> list[str]:
        words = query.split()

        def run(conn: sqlite3.Connection) -> list[str]:
            where = " OR ".join("body LIKE ?" for _ in words) or "1"
            rows = conn.execute(
                f"SELECT url FROM pages WHERE {where} ORDER BY url LIMIT ?",
                (*[f"%{w}%" for w in words], limit),
            ).fetchall()
            return [url for (url,) in rows]

        return await self._query("search", COST_SEARCH, run)

    async def fetch_page(self, url: str) -> str | None:
        row = await self._one_row("fetch_page", "SELECT body FROM pages WHERE url = ?", (url,),
                                  ("body",), cost=COST_FETCH)
        return None if row is None else row["body"]

    # -- warehouse ------------------------------------------------------------------------------
    async def stock_level(self, sku: str) -> int | None:
        row = await self._one_row("stock_level", "SELECT qty FROM stock WHERE sku = ?", (sku,), ("qty",))
        return None if row is None else row["qty"]

    async def adjust_stock(self, sku: str, delta: int) -> int:
        def run(conn: sqlite3.Connection) -> int:
            with conn:
                conn.execute("UPDATE stock SET qty = MAX(0, qty + ?) WHERE sku = ?", (delta, sku))
                row = conn.execute("SELECT qty FROM stock WHERE sku = ?", (sku,)).fetchone()
            return 0 if row is None else row[0]

        return await self._query("adjust_stock", COST_WRITE, run)

    # -- payments -------------------------------------------------------------------------------
    async def charge(self, order_id: str, amount: float) -> dict[str, Any]:
        """Attempt a charge; raises :class:`PaymentDeclined` while the order's card keeps failing."""

        def run(conn: sqlite3.Connection) -> tuple[bool, int]:
            with conn:
                row = conn.execute(
                    "SELECT fail_attempts, (SELECT COUNT(*) FROM payment_attempts a "
                    "WHERE a.order_id = o.id) FROM orders o WHERE o.id = ?",
                    (order_id,),
                ).fetchone()
                fail_attempts, tried = row if row is not None else (0, 0)
                ok = tried >= fail_attempts
                conn.execute(
                    "INSERT INTO payment_attempts (order_id, amount, ok, at) VALUES (?, ?, ?, ?)",
                    (order_id, amount, int(ok), time.time()),
                )
                if ok:
                    conn.execute("UPDATE orders SET status = 'paid' WHERE id = ?", (order_id,))
            return ok, tried + 1

        ok, attempt = await self._query("charge", COST_WRITE, run)
        if not ok:
            raise PaymentDeclined(f"{order_id}: declined (attempt {attempt})")
        return {"order_id": order_id, "status": "paid", "attempt": attempt}
