"""The SQL tracker store's SQLAlchemy side: database URLs, the events table, and the statements that go through
SQLAlchemy's async engine.

`bot.stores.sql` imports this module only when it needs it: at start for an in-memory SQLite database (or one
with URL parameters) and for a database URL it cannot read without SQLAlchemy; otherwise only when something
other than a turn (`keys`, `delete`, `replace`) first asks. SQLAlchemy is about 13 MB of a server's memory and
0.15 s of its start, which a server on a SQLite file or on PostgreSQL never pays for its turns.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.config import TrackerStoreSettings
from bot.errors import ConductorError
from bot.stores.events_table import missing_columns
from bot.stores.sqlite_direct import BUSY_TIMEOUT_SECONDS, use_wal
from bot.stores.tracker_store import EncodedEvent

__all__ = ["DIALECT_HINT", "EngineEvents", "async_url", "events_table", "sql_url"]

_CONNECT_TIMEOUT_SECONDS = 10.0
_SQLITE_POOL_SIZE = 8
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}
DIALECT_HINT = "Use 'dialect: sqlite' (with 'db: conductor.db') or 'dialect: postgresql' (with url, port, db)."
UNREACHABLE = (DBAPIError, OSError, TimeoutError)
"""What opening a database raises when it cannot be reached or opened."""


def async_url(url: str | URL, source: str | None) -> URL:
    """`url` with the async driver of its database (sqlite -> aiosqlite, postgresql -> asyncpg)."""
    parsed = make_url(url) if isinstance(url, str) else url
    backend = parsed.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ConductorError.single(
            f"the SQL tracker store does not support the database {backend!r}", source, hint=DIALECT_HINT
        )
    return parsed.set(drivername=_ASYNC_DRIVERS[backend])


def sql_url(settings: TrackerStoreSettings, source: str | None = None) -> URL:
    """The database URL (with its async driver) that a `type: sql` section describes, as Rasa builds it."""
    from bot.stores.sql import DEFAULT_SQLITE_DB, settings_backend, settings_host_and_port, settings_query

    if settings.url and "://" in settings.url:
        try:
            return async_url(settings.url, source)
        except ArgumentError:
            raise ConductorError.single(
                "the tracker store 'url' looks like a database URL but cannot be read",
                source,
                hint="Write it as dialect://user:password@host:port/database, or give a host in 'url' and "
                "the rest in 'dialect', 'port', 'db', 'username' and 'password'.",
            ) from None
    backend = settings_backend(settings)
    if backend not in _ASYNC_DRIVERS:
        raise ConductorError.single(
            f"the SQL tracker store does not support the dialect {settings.dialect!r}", source, hint=DIALECT_HINT
        )
    if backend == "sqlite":
        return URL.create(_ASYNC_DRIVERS[backend], database=str(settings.db or DEFAULT_SQLITE_DB))
    host, port = settings_host_and_port(settings)
    return URL.create(
        _ASYNC_DRIVERS[backend],
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        host=host,
        port=port,
        database=str(settings.db) if settings.db is not None else None,
        query=settings_query(settings),
    )


def events_table(name: str) -> sa.Table:
    """The events table (the columns `bot.stores.sql` describes); `bot.stores.sqlite_direct` creates the same
    table in a SQLite file without SQLAlchemy (a test compares the two)."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("sender_id", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type_name", sa.String(), nullable=False),
        sa.Column("timestamp", sa.Float()),
        sa.Column("data", sa.Text(), nullable=False),
        sa.UniqueConstraint("sender_id", "seq", name=f"{name}_sender_id_seq_key"),
    )


class EngineEvents:
    """The events table through SQLAlchemy's async engine (what `SQLTrackerStore` runs that its direct paths,
    `bot.stores.sqlite_direct` and `bot.stores.postgres_direct`, do not)."""

    def __init__(self, url: URL, table_name: str) -> None:
        self.url = url
        self.table = events_table(table_name)
        self._is_sqlite = url.get_backend_name() == "sqlite"
        self.engine = self._create_engine(url)

    def _create_engine(self, url: URL) -> AsyncEngine:
        if self._is_sqlite:
            # A fixed set of connections: each is a thread of aiosqlite's, and one opened per busy moment (the
            # pool's overflow) costs a thread start and a file open for a single query.
            in_memory = url.database in (None, "", ":memory:")  # one shared connection (SQLAlchemy's StaticPool)
            pool = {} if in_memory else {"pool_size": _SQLITE_POOL_SIZE, "max_overflow": 0}
            engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS}, **pool)
            _listen_as_sqlite(engine.sync_engine)
            return engine
        return create_async_engine(
            url,
            pool_size=int(os.environ.get("SQL_POOL_SIZE", "50")),
            max_overflow=int(os.environ.get("SQL_MAX_OVERFLOW", "100")),
            connect_args={"timeout": _CONNECT_TIMEOUT_SECONDS},
        )

    async def dispose(self) -> None:
        await self.engine.dispose()

    def _writer(self) -> AsyncEngine:
        """The engine for writing transactions (on SQLite they take the write lock as they begin)."""
        return self.engine.execution_options(sqlite_begin="IMMEDIATE") if self._is_sqlite else self.engine

    # --- the table ------------------------------------------------------------------------------------

    async def prepare_table(self) -> list[str]:
        """Create the table and its index, or check an existing table: returns the needed columns it lacks.
        (SQLite in memory or with URL parameters; a SQLite file and PostgreSQL are prepared by their direct
        paths.)"""
        async with self._writer().begin() as conn:
            return await conn.run_sync(self._prepare_table)

    def _prepare_table(self, conn: Connection) -> list[str]:
        inspector = sa.inspect(conn)
        name = self.table.name
        if inspector.has_table(name):
            missing = missing_columns({column["name"] for column in inspector.get_columns(name)})
            if missing:
                return missing
        self.table.metadata.create_all(conn, checkfirst=True)
        return []

    # --- reading --------------------------------------------------------------------------------------

    async def events_since(self, sender_id: str, after_seq: int) -> list[str]:
        table = self.table
        query = (
            sa.select(table.c.data)
            .where(table.c.sender_id == sender_id, table.c.seq > after_seq)
            .order_by(table.c.seq)
        )
        async with self.engine.connect() as conn:
            return list((await conn.scalars(query)).all())

    async def last_seq(self, sender_id: str) -> int:
        table = self.table
        async with self.engine.connect() as conn:
            found = await conn.scalar(sa.select(sa.func.max(table.c.seq)).where(table.c.sender_id == sender_id))
        return int(found or 0)

    async def keys(self) -> list[str]:
        query = sa.select(self.table.c.sender_id).distinct().order_by(self.table.c.sender_id)
        async with self.engine.connect() as conn:
            return list((await conn.scalars(query)).all())

    # --- writing --------------------------------------------------------------------------------------

    def _rows(self, sender_id: str, first_seq: int, encoded: Sequence[EncodedEvent]) -> list[dict[str, Any]]:
        return [
            {
                "sender_id": sender_id,
                "seq": first_seq + offset,
                "type_name": item.type_name,
                "timestamp": item.timestamp,
                "data": item.data,
            }
            for offset, item in enumerate(encoded)
        ]

    async def append_batch(self, appends: Sequence[tuple[str, Sequence[EncodedEvent]]]) -> list[int]:
        """SQLite: one transaction numbering each conversation's new events after its highest `seq` (as
        `DirectSQLite.append_batch` does on a file)."""
        table = self.table
        senders = sorted({sender_id for sender_id, _ in appends})
        rows: list[dict[str, Any]] = []
        results: list[int] = []
        async with self._writer().begin() as conn:
            # one scalar subquery per conversation: each reads the end of the (sender_id, seq) index, where a
            # GROUP BY reads all of a conversation's entries (0.6 ms in SQLite for 10,000 events)
            query = sa.select(
                *(sa.select(sa.func.max(table.c.seq)).where(table.c.sender_id == sender).scalar_subquery()
                  for sender in senders)
            )
            highest = (await conn.execute(query)).one()
            last: dict[str, int] = {sender: int(seq or 0) for sender, seq in zip(senders, highest, strict=True)}
            for sender_id, encoded in appends:
                first = last.get(sender_id, 0) + 1
                rows += self._rows(sender_id, first, encoded)
                last[sender_id] = first + len(encoded) - 1
                results.append(last[sender_id])
            await conn.execute(sa.insert(table), rows)
        return results

    async def delete(self, sender_id: str, lock_key: str) -> bool:
        async with self._writer().begin() as conn:
            await self._exclusive_lock(conn, lock_key)
            deleted = await conn.execute(sa.delete(self.table).where(self.table.c.sender_id == sender_id))
        return bool(deleted.rowcount)

    async def replace(self, sender_id: str, encoded: Sequence[EncodedEvent], lock_key: str) -> None:
        async with self._writer().begin() as conn:
            await self._exclusive_lock(conn, lock_key)
            await conn.execute(sa.delete(self.table).where(self.table.c.sender_id == sender_id))
            if encoded:
                await conn.execute(sa.insert(self.table), self._rows(sender_id, 1, encoded))

    async def _exclusive_lock(self, conn: AsyncConnection, lock_key: str) -> None:
        """PostgreSQL: hold the conversation's advisory lock exclusively until the transaction ends (appends,
        in `bot.stores.postgres_direct`, take it shared). SQLite's writers take turns anyway."""
        if not self._is_sqlite:
            await _advisory_lock(conn, lock_key)


async def _advisory_lock(conn: AsyncConnection, key: str) -> None:
    await conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


def _listen_as_sqlite(engine: sa.Engine) -> None:
    """WAL on every new connection; transactions begun by SQLAlchemy (`_begin_sqlite_transaction`)."""
    sa_event.listen(engine, "connect", _prepare_sqlite_connection)
    sa_event.listen(engine, "begin", _begin_sqlite_transaction)


def _prepare_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    """Let SQLAlchemy, not the driver, begin transactions; WAL and `synchronous=NORMAL`, as on the direct
    path (`bot.stores.sqlite_direct` says why)."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _begin_sqlite_transaction(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")

