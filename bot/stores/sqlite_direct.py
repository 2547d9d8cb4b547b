"""The SQLite tracker store's per-turn statements, on one aiosqlite connection of the store's own, and its table
in a SQLite file, created or checked without SQLAlchemy.

Through SQLAlchemy's async engine every DB-API call (cursor, execute, fetch, close, begin, commit) is a round
trip to aiosqlite's thread and back through the event loop: reading a conversation's newest events took eight
of them (about 1.3 ms of CPU on the 2-core development machine) and an append about 3 ms. Here a read is one
round trip (`execute_fetchall`) and a whole batch of appends four (BEGIN IMMEDIATE, the conversations'
highest numbers, the rows, COMMIT).

The table is the one `bot.stores.sql_engine.events_table` defines (a test compares this module's CREATE TABLE
with SQLAlchemy's), created here with the standard library's sqlite3 so that a server on a SQLite file never
imports SQLAlchemy for its turns (about 13 MB and 0.15 s of its start). SQLAlchemy runs everything else.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any

import aiosqlite

from bot.stores.events_table import missing_columns, quote_identifier
from bot.stores.tracker_store import EncodedEvent

__all__ = ["BUSY_TIMEOUT_SECONDS", "DirectSQLite", "create_table_sql", "prepare_file", "use_wal"]

BUSY_TIMEOUT_SECONDS = 30.0
"""How long a SQLite connection waits for another one's write lock."""

PAGE_CACHE_KIB = 512
"""SQLite's page cache for this connection, in KiB (SQLite's default is 2,000). Its statements append at the
end of the table and its index and read a conversation's newest rows, only when the runtime has no cached
tracker for it; the operating system caches the file as well. With a tracker cache of 1 (every turn reading
from the store), 14,000 conversations grew the process by 3.0 MB with the default and by about 1.5 MB with
512 KiB; the server's throughput stayed within its run-to-run noise (benchmarks/server.py sqlite)."""


def create_table_sql(table: str) -> str:
    """The CREATE TABLE of the events table (`bot.stores.sql_engine.events_table`) in SQLite."""
    return (
        f"CREATE TABLE IF NOT EXISTS {quote_identifier(table)} (id INTEGER NOT NULL, sender_id VARCHAR NOT NULL, "
        "seq INTEGER NOT NULL, type_name VARCHAR NOT NULL, timestamp FLOAT, data TEXT NOT NULL, PRIMARY KEY (id), "
        f"CONSTRAINT {quote_identifier(table + '_sender_id_seq_key')} UNIQUE (sender_id, seq))"
    )


def use_wal(cursor: Any) -> None:
    """Put the database in WAL mode (the file keeps it). When two processes open the same new database at once,
    the one switching can find the other's lock, and SQLite then answers "database is locked" at once rather
    than waiting (seen in 4 of 25 simultaneous starts): so read the mode first, and retry the switch for up to
    the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    pause = 0.01
    while True:
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:  # sqlite3's OperationalError, or SQLAlchemy's adapter of it
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)  # only while opening the store, before it serves
        pause = min(pause * 2, 0.2)


def prepare_file(path: str, table: str) -> list[str]:
    """Open (or create) the database file in WAL mode and create the table unless it exists: returns the needed
    columns an existing table lacks (nothing is created then). Blocking: run it in a thread. Raises sqlite3's
    errors (a folder that does not exist, a file that is not a database)."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    try:
        cursor = connection.cursor()
        use_wal(cursor)
        cursor.execute("BEGIN IMMEDIATE")  # two processes starting at once: one creates, the other checks
        try:
            columns = [row[1] for row in cursor.execute(f"PRAGMA table_info({quote_identifier(table)})")]
            missing = missing_columns(columns) if columns else []
            if not columns:
                cursor.execute(create_table_sql(table))
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        return missing
    finally:
        connection.close()


class DirectSQLite:
    """Reads and batched appends of one events table (columns as `bot.stores.sql` defines them)."""

    def __init__(self, connection: aiosqlite.Connection, table: str) -> None:
        self._connection = connection
        quoted = quote_identifier(table)
        self._select_since = f"SELECT data FROM {quoted} WHERE sender_id = ? AND seq > ? ORDER BY seq"
        # a scalar subquery per conversation reads the end of its index range; a GROUP BY would read it all
        self._highest = f"(SELECT MAX(seq) FROM {quoted} WHERE sender_id = ?)"
        self._insert = f"INSERT INTO {quoted} (sender_id, seq, type_name, timestamp, data) VALUES (?, ?, ?, ?, ?)"

    @classmethod
    async def open(cls, path: str, table: str, busy_timeout: float) -> DirectSQLite:
        """Connect to the database file `path` (its table must exist; WAL mode is kept by the file)."""
        connection = await aiosqlite.connect(path, timeout=busy_timeout, isolation_level=None)
        try:
            await connection.execute("PRAGMA synchronous=NORMAL")
            await connection.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
        except BaseException:
            await connection.close()
            raise
        return cls(connection, table)

    async def close(self) -> None:
        await self._connection.close()

    async def last_seq(self, sender_id: str) -> int:
        """The conversation's highest `seq` (its number of events), 0 for none."""
        [row] = await self._connection.execute_fetchall(f"SELECT {self._highest}", (sender_id,))
        return int(row[0] or 0)

    async def events_since(self, sender_id: str, after_seq: int) -> list[str]:
        """The JSON texts of the conversation's events numbered above `after_seq`, in order."""
        rows = await self._connection.execute_fetchall(self._select_since, (sender_id, after_seq))
        return [str(row[0]) for row in rows]

    async def append_batch(self, appends: Sequence[tuple[str, Sequence[EncodedEvent]]]) -> list[int]:
        """One transaction: each append's events numbered after its conversation's highest `seq` (and after
        earlier appends of the same batch); returns each conversation's new highest number, per append."""
        senders = sorted({sender_id for sender_id, _ in appends})
        connection = self._connection
        await connection.execute("BEGIN IMMEDIATE")
        try:
            [highest] = await connection.execute_fetchall(
                "SELECT " + ", ".join([self._highest] * len(senders)), senders
            )
            last = {sender: int(seq or 0) for sender, seq in zip(senders, highest, strict=True)}
            rows: list[tuple[str, int, str, float | None, str]] = []
            results: list[int] = []
            for sender_id, encoded in appends:
                first = last.get(sender_id, 0) + 1
                rows += [
                    (sender_id, first + offset, item.type_name, item.timestamp, item.data)
                    for offset, item in enumerate(encoded)
                ]
                last[sender_id] = first + len(encoded) - 1
                results.append(last[sender_id])
            await connection.executemany(self._insert, rows)
            await connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                await connection.execute("ROLLBACK")
            raise
        return results
