"""The PostgreSQL tracker store's per-turn statements, on an asyncpg pool of the store's own.

Through SQLAlchemy's async layer an append (begin, the conversation's advisory lock, its highest number, the
rows, commit) took 0.71 ms of CPU and a read of a conversation's newest events 0.35 ms; straight on asyncpg
they take 0.27 and 0.11 ms (1,000 appends of a 4-event turn on the development machine). The statements and
the locking are `bot.stores.sql`'s. This module also creates the database (`login_db`) and creates or checks
the table, so that a server on PostgreSQL imports no SQLAlchemy for its turns; SQLAlchemy (`bot.stores.sql_engine`)
runs everything else (listing, replacing and deleting conversations).

An append is one round trip: a PL/pgSQL function of the store's own (installed at start, one per table) takes
the conversation's advisory lock, reads its highest number and inserts the rows, where the same steps sent one by
one (begin, lock, highest number, insert, commit) cost five round trips and twice the client CPU (0.34 against
0.17 ms an append, 8 concurrent writers). Inside the function each statement reads the database as it is once
the lock is held, as separate statements do. A role that may not create functions gets the five round trips.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import asyncpg

from bot.stores.events_table import missing_columns, quote_identifier
from bot.stores.tracker_store import EncodedEvent

__all__ = ["DirectPostgres", "append_function_name", "create_database_if_missing", "create_table_sql"]

logger = logging.getLogger(__name__)


def append_function_name(table: str) -> str:
    """The name of the append function of `table`: one per table, under PostgreSQL's 63 characters however long
    the table's name is (drop it with the table: `DROP FUNCTION IF EXISTS <name>`)."""
    return f"conductor_append_{hashlib.sha256(table.encode()).hexdigest()[:16]}"


def create_table_sql(table: str) -> str:
    """The CREATE TABLE of the events table (`bot.stores.sql_engine.events_table`) in PostgreSQL."""
    return (
        f"CREATE TABLE IF NOT EXISTS {quote_identifier(table)} (id BIGSERIAL NOT NULL, sender_id VARCHAR NOT NULL, "
        "seq INTEGER NOT NULL, type_name VARCHAR NOT NULL, timestamp FLOAT, data TEXT NOT NULL, PRIMARY KEY (id), "
        f"CONSTRAINT {quote_identifier(table + '_sender_id_seq_key')} UNIQUE (sender_id, seq))"
    )


async def create_database_if_missing(login_dsn: str, database: str, timeout: float) -> bool:
    """Connect to the login database (`login_dsn`) and create `database` unless it exists; whether it was
    created. Raises what connecting raises."""
    connection = await asyncpg.connect(login_dsn, timeout=timeout)
    try:
        if await connection.fetchval("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", database):
            return False
        await connection.execute(f"CREATE DATABASE {quote_identifier(database)}")
        return True
    finally:
        await connection.close()


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Hands a connection back to the pool as it is. asyncpg's default resets the session on every release
    (advisory locks, cursors, LISTEN, settings: one more round trip after each statement, so a turn's read and
    append cost four); this pool's statements leave nothing in the session to reset: their advisory locks are
    the transaction's, and they open, listen to and set nothing. (asyncpg still rolls back a transaction left
    open.)"""
    del connection


class DirectPostgres:
    """Reads and appends of one events table (columns as `bot.stores.sql` defines them)."""

    def __init__(self, pool: asyncpg.Pool, table: str) -> None:
        self._pool = pool
        quoted = quote_identifier(table)
        self._table = table
        self._function = append_function_name(table)
        self._call_function: str | None = None
        """Set once the function is installed (`install_append_function`)."""
        self._create_function = (
            f"CREATE OR REPLACE FUNCTION {self._function}"
            "(p_sender text, p_lock_key text, p_types text[], p_times float8[], p_data text[]) RETURNS integer "
            "LANGUAGE plpgsql AS $conductor$\n"
            "DECLARE last_seq integer;\n"
            "BEGIN\n"
            "  PERFORM pg_advisory_xact_lock_shared(hashtextextended(p_lock_key, 0));\n"
            f"  SELECT coalesce(max(seq), 0) INTO last_seq FROM {quoted} WHERE sender_id = p_sender;\n"
            f"  INSERT INTO {quoted} (sender_id, seq, type_name, timestamp, data)\n"
            "    SELECT p_sender, last_seq + u.position::integer, u.type_name, u.timestamp, u.data\n"
            "    FROM unnest(p_types, p_times, p_data) WITH ORDINALITY AS u(type_name, timestamp, data, position)\n"
            "    ORDER BY u.position;\n"
            "  RETURN last_seq + cardinality(p_data);\n"
            "END\n"
            "$conductor$"
        )
        self._select_since = f"SELECT data FROM {quoted} WHERE sender_id = $1 AND seq > $2 ORDER BY seq"
        self._select_last = f"SELECT max(seq) FROM {quoted} WHERE sender_id = $1"
        self._lock = "SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))"
        # one statement for all of a turn's rows, inserted in their order
        self._insert = (
            f"INSERT INTO {quoted} (sender_id, seq, type_name, timestamp, data) "
            "SELECT $1, u.seq, u.type_name, u.timestamp, u.data "
            "FROM unnest($2::int[], $3::text[], $4::float8[], $5::text[]) "
            "WITH ORDINALITY AS u(seq, type_name, timestamp, data, position) ORDER BY u.position"
        )

    @classmethod
    async def open(cls, dsn: str, table: str, *, max_size: int, timeout: float) -> DirectPostgres:
        """A pool on the database `dsn` names (a `postgresql://` URL), growing to `max_size` connections; then
        `prepare` the table."""
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size, timeout=timeout, reset=_keep_session)
        return cls(pool, table)

    async def prepare(self) -> list[str]:
        """Create the table unless it exists, and install the append function where the role may create it.
        Returns the needed columns an existing table lacks (nothing is created or installed then). Processes
        starting together take turns (CREATE TABLE races with itself)."""
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"conductor schema {self._table}"
            )
            rows = await connection.fetch(
                "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 "
                "AND NOT attisdropped",
                quote_identifier(self._table),
            )
            if rows:
                missing = missing_columns(str(row[0]) for row in rows)
                if missing:
                    return missing
            else:
                await connection.execute(create_table_sql(self._table))
        await self.install_append_function()
        return []

    async def install_append_function(self) -> bool:
        """Create or update the append function; False (appends then take five round trips) when the role may
        not. Processes starting together take turns (a transaction-wide advisory lock on the function's name)."""
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", self._function)
                await connection.execute(self._create_function)
        except asyncpg.PostgresError as exc:
            logger.info(
                "the PostgreSQL tracker store appends in five round trips, not one: cannot create the function "
                "%s for table %r (%s)",
                self._function,
                self._table,
                exc,
            )
            self._call_function = None
            return False
        self._call_function = f"SELECT {self._function}($1, $2, $3, $4, $5)"
        return True

    async def close(self) -> None:
        await self._pool.close()

    async def events_since(self, sender_id: str, after_seq: int) -> list[str]:
        """The JSON texts of the conversation's events numbered above `after_seq`, in order."""
        rows = await self._pool.fetch(self._select_since, sender_id, after_seq)
        return [str(row[0]) for row in rows]

    async def last_seq(self, sender_id: str) -> int:
        return int(await self._pool.fetchval(self._select_last, sender_id) or 0)

    async def append(self, sender_id: str, encoded: Sequence[EncodedEvent], lock_key: str) -> int | None:
        """One transaction under the conversation's shared advisory lock (`lock_key`): the events numbered
        after its highest `seq`. Returns the new highest number, or None when another writer took these
        numbers first (nothing is written; number again)."""
        if self._call_function is not None:
            try:
                return int(
                    await self._pool.fetchval(
                        self._call_function,
                        sender_id,
                        lock_key,
                        [item.type_name for item in encoded],
                        [item.timestamp for item in encoded],
                        [item.data for item in encoded],
                    )
                )
            except asyncpg.UniqueViolationError:
                return None
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                await connection.execute(self._lock, lock_key)
                last = int(await connection.fetchval(self._select_last, sender_id) or 0)
                await connection.execute(
                    self._insert,
                    sender_id,
                    list(range(last + 1, last + 1 + len(encoded))),
                    [item.type_name for item in encoded],
                    [item.timestamp for item in encoded],
                    [item.data for item in encoded],
                )
        except asyncpg.UniqueViolationError:
            return None
        return last + len(encoded)
