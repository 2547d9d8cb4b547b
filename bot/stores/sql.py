"""The SQL tracker store: one row per event, in SQLite (aiosqlite) or PostgreSQL (asyncpg).

Table `events`: `id`, `sender_id`, `seq` (the event's position in its conversation), `type_name`,
`timestamp` and `data` (the event's Rasa-format JSON), with a unique index on (`sender_id`, `seq`). Reading a
conversation is one index range scan; appending reads only the conversation's highest `seq` (one index
lookup) and inserts the new rows, so it costs the same for a new conversation and a long one.

Writers stay consistent without the lock store:
- SQLite: every writing transaction starts with `BEGIN IMMEDIATE`, so writers take turns (readers go on,
  thanks to WAL mode). SQLite has one writer at a time anyway, so a process writes through one queue: appends
  that arrive while a transaction is being written wait and go together into the next one (group commit).
  Concurrent turns then cost one transaction, not one each, and never meet SQLite's busy handler, which
  sleeps up to 100 ms at a time while another connection holds the write lock. Those appends and the
  per-turn reads go through a connection of the store's own (`bot.stores.sqlite_direct`), with a fraction
  of the round trips to aiosqlite's thread that SQLAlchemy's async layer makes. The table is created or
  checked at start with a synchronous engine in a thread; SQLAlchemy's async engine (and its asyncio
  extension, about 6 MB of memory) is made only when something else (`replace`, `delete`, `keys`) first
  needs it.
- PostgreSQL: appends take a shared advisory lock on the conversation and compute their `seq` inside the
  transaction; two appends that pick the same numbers collide on the unique index, and the loser retries with
  fresh numbers. `replace` and `delete` take the same advisory lock exclusively, so no append slips between
  their delete and insert. Appends and per-turn reads go straight to asyncpg, on a pool of the store's own
  (`bot.stores.postgres_direct`); an append is one call of a function the store installs next to its table
  (`conductor_append_<hash>`), or five statements where the role may not create functions.

endpoints.yml keys are Rasa's: `dialect` (sqlite or postgresql), `url` (a host, `host:port`, or a whole
database URL), `port`, `db` (a file for SQLite, default conductor.db; a database name for PostgreSQL),
`username`, `password`, `login_db` (PostgreSQL: a database to connect to first, to create `db` when it is
missing), `query` (extra URL parameters). The pool size follows Rasa's SQL_POOL_SIZE and SQL_MAX_OVERFLOW.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from bot.config import TrackerStoreSettings
from bot.dialogue.events import Event
from bot.errors import ConductorError
from bot.stores.sqlite_direct import DirectSQLite

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from bot.stores.postgres_direct import DirectPostgres
from bot.stores.tracker_store import (
    EncodedEvent,
    TrackerStore,
    decode_events,
    encode_events,
    warn_unused_settings,
)

__all__ = ["DEFAULT_SQLITE_DB", "SQLTrackerStore", "sql_url"]

logger = logging.getLogger(__name__)

DEFAULT_SQLITE_DB = "conductor.db"
_APPEND_ATTEMPTS = 100
_CONNECT_TIMEOUT_SECONDS = 10.0
_SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
_SQLITE_POOL_SIZE = 8
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}
_EVENT_COLUMNS = ("id", "sender_id", "seq", "type_name", "timestamp", "data")
_MAX_BATCH = 256
"""At most this many appends go into one SQLite transaction."""
_DIALECT_HINT = "Use 'dialect: sqlite' (with 'db: conductor.db') or 'dialect: postgresql' (with url, port, db)."
_NOT_STARTED = "the SQL tracker store is not started: call `await store.start()` first"


def _async_url(url: URL, source: str | None) -> URL:
    """`url` with the async driver of its database (sqlite -> aiosqlite, postgresql -> asyncpg)."""
    backend = url.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ConductorError.single(
            f"the SQL tracker store does not support the database {backend!r}", source, hint=_DIALECT_HINT
        )
    return url.set(drivername=_ASYNC_DRIVERS[backend])


def _query_values(query: dict[str, Any] | None) -> dict[str, str | Sequence[str]]:
    values: dict[str, str | Sequence[str]] = {}
    for key, value in (query or {}).items():
        values[str(key)] = [str(v) for v in value] if isinstance(value, list) else str(value)
    return values


def sql_url(settings: TrackerStoreSettings, source: str | None = None) -> URL:
    """The database URL (with its async driver) that a `type: sql` section describes, as Rasa builds it."""
    if settings.url and "://" in settings.url:
        try:
            return _async_url(make_url(settings.url), source)
        except ArgumentError:
            raise ConductorError.single(
                "the tracker store 'url' looks like a database URL but cannot be read",
                source,
                hint="Write it as dialect://user:password@host:port/database, or give a host in 'url' and "
                "the rest in 'dialect', 'port', 'db', 'username' and 'password'.",
            ) from None
    dialect = (settings.dialect or "sqlite").lower()
    backend = dialect.partition("+")[0]
    if backend not in _ASYNC_DRIVERS:
        raise ConductorError.single(
            f"the SQL tracker store does not support the dialect {settings.dialect!r}", source, hint=_DIALECT_HINT
        )
    if backend == "sqlite":
        return URL.create(_ASYNC_DRIVERS[backend], database=str(settings.db or DEFAULT_SQLITE_DB))
    host, port = settings.url, settings.port
    if host and host.count(":") == 1 and port is None:
        name, _, number = host.partition(":")
        if number.isdigit():
            host, port = name, int(number)
    return URL.create(
        _ASYNC_DRIVERS[backend],
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        host=host,
        port=port,
        database=str(settings.db) if settings.db is not None else None,
        query=_query_values(settings.query),
    )


def _describe(url: URL) -> str:
    """Where a database is, for messages: never the password."""
    if url.get_backend_name() == "sqlite":
        return f"the SQLite database {url.database or DEFAULT_SQLITE_DB!r}"
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    return f"the PostgreSQL server at {where} (database {url.database!r}, user {url.username!r})"


def _without_secret(text: str, url: URL) -> str:
    return text.replace(url.password, "***") if url.password else text


@dataclass
class _PendingAppend:
    sender_id: str
    encoded: Sequence[EncodedEvent]
    done: asyncio.Future[int] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class SQLTrackerStore(TrackerStore):
    """Conversations as rows of an events table in SQLite or PostgreSQL (see the module docstring)."""

    def __init__(
        self,
        url: str | URL,
        *,
        table_name: str = "events",
        login_db: str | None = None,
        source: str | None = None,
    ) -> None:
        self._url = _async_url(make_url(url) if isinstance(url, str) else url, source)
        self._is_sqlite = self._url.get_backend_name() == "sqlite"
        self._login_db = login_db
        self._source = source
        self._table = sa.Table(
            table_name,
            sa.MetaData(),
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
            sa.Column("sender_id", sa.String(), nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            sa.Column("type_name", sa.String(), nullable=False),
            sa.Column("timestamp", sa.Float()),
            sa.Column("data", sa.Text(), nullable=False),
            sa.UniqueConstraint("sender_id", "seq", name=f"{table_name}_sender_id_seq_key"),
        )
        self._engine: AsyncEngine | None = None
        self._open = False
        self._engine_made: asyncio.Lock | None = None
        self._pending: list[_PendingAppend] = []
        self._writing: asyncio.Task[None] | None = None
        self._direct: DirectSQLite | None = None
        self._postgres: DirectPostgres | None = None

    @classmethod
    def from_settings(cls, settings: TrackerStoreSettings, source: str | None = None) -> SQLTrackerStore:
        used = ["url", "port", "db", "dialect", "username", "password", "login_db", "query"]
        warn_unused_settings(settings, used, "SQL tracker store", source)
        return cls(sql_url(settings, source), login_db=settings.login_db, source=source)

    @property
    def url(self) -> URL:
        """The database URL (its password hidden when printed)."""
        return self._url

    # --- lifecycle -----------------------------------------------------------------------------------

    def _create_engine(self, url: URL) -> AsyncEngine:
        from sqlalchemy.ext.asyncio import create_async_engine

        if self._is_sqlite:
            # A fixed set of connections: each is a thread of aiosqlite's, and one opened per busy moment (the
            # pool's overflow) costs a thread start and a file open for a single query.
            in_memory = url.database in (None, "", ":memory:")  # one shared connection (SQLAlchemy's StaticPool)
            pool = {} if in_memory else {"pool_size": _SQLITE_POOL_SIZE, "max_overflow": 0}
            engine = create_async_engine(url, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_SECONDS}, **pool)
            _listen_as_sqlite(engine.sync_engine)
            return engine
        return create_async_engine(
            url,
            pool_size=int(os.environ.get("SQL_POOL_SIZE", "50")),
            max_overflow=int(os.environ.get("SQL_MAX_OVERFLOW", "100")),
            connect_args={"timeout": _CONNECT_TIMEOUT_SECONDS},
        )

    def _unreachable(self, url: URL, exc: BaseException) -> ConductorError:
        reason = str(getattr(exc, "orig", None) or exc) or type(exc).__name__
        hint = (
            "Check that the folder of the database file ('db' of the tracker_store in endpoints.yml) exists "
            "and can be written."
            if self._is_sqlite
            else "Check that the database server runs and that the tracker_store url, port, db, username and "
            "password in endpoints.yml are right."
        )
        return ConductorError.single(
            f"cannot open the SQL tracker store, {_describe(url)}: {_without_secret(reason, url)}",
            self._source,
            hint=hint,
        )

    async def _create_database_if_missing(self) -> None:
        """PostgreSQL with `login_db`: connect there first and create the configured database if needed."""
        database = self._url.database
        if not database:
            return
        from sqlalchemy.ext.asyncio import create_async_engine

        login_url = self._url.set(database=self._login_db)
        engine = create_async_engine(
            login_url, isolation_level="AUTOCOMMIT", connect_args={"timeout": _CONNECT_TIMEOUT_SECONDS}
        )
        try:
            async with engine.connect() as conn:
                found = await conn.scalar(
                    sa.text("SELECT 1 FROM pg_catalog.pg_database WHERE datname = :name"), {"name": database}
                )
                if found is None:
                    quoted = engine.dialect.identifier_preparer.quote_identifier(database)
                    await conn.execute(sa.text(f"CREATE DATABASE {quoted}"))
                    logger.info("created the tracker store database %r", database)
        except (DBAPIError, OSError, TimeoutError) as exc:
            raise self._unreachable(login_url, exc) from None
        finally:
            await engine.dispose()

    async def start(self) -> None:
        if self._open:
            return
        database = self._url.database
        if self._is_sqlite and database and database != ":memory:" and not self._url.query:
            await asyncio.to_thread(self._prepare_sqlite_file)
            self._direct = await DirectSQLite.open(database, self._table.name, _SQLITE_BUSY_TIMEOUT_SECONDS)
            self._open = True
            return
        if self._login_db and not self._is_sqlite:
            await self._create_database_if_missing()
        engine = self._create_engine(self._url)
        try:
            async with self._writer(engine).begin() as conn:
                await self._serialize_schema_changes(conn)
                await conn.run_sync(self._prepare_table)
        except (DBAPIError, OSError, TimeoutError) as exc:
            await engine.dispose()
            raise self._unreachable(self._url, exc) from None
        except BaseException:
            await engine.dispose()
            raise
        try:
            if not self._is_sqlite:
                self._postgres = await self._open_postgres()
        except BaseException:
            await engine.dispose()
            raise
        self._engine = engine
        self._open = True

    def _prepare_sqlite_file(self) -> None:
        """SQLite in a file: create or check the table through a synchronous engine of its own, in a thread
        (start-up only), so that the async engine is made only when first needed (`_async_engine`)."""
        engine = sa.create_engine(
            self._url.set(drivername="sqlite"),
            connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_SECONDS},
            poolclass=sa.pool.NullPool,
        )
        _listen_as_sqlite(engine)
        try:
            with engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
                self._prepare_table(conn)
        except (DBAPIError, OSError) as exc:
            raise self._unreachable(self._url, exc) from None
        finally:
            engine.dispose()

    async def _open_postgres(self) -> DirectPostgres:
        import asyncpg

        from bot.stores.postgres_direct import DirectPostgres

        try:
            return await DirectPostgres.open(
                self._url,
                self._table.name,
                max_size=int(os.environ.get("SQL_POOL_SIZE", "50")),
                timeout=_CONNECT_TIMEOUT_SECONDS,
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise self._unreachable(self._url, exc) from None

    def _prepare_table(self, conn: Connection) -> None:
        """Create the table and its index, or check that an existing table has the needed columns."""
        inspector = sa.inspect(conn)
        name = self._table.name
        if inspector.has_table(name):
            columns = {column["name"] for column in inspector.get_columns(name)}
            missing = [column for column in _EVENT_COLUMNS if column not in columns]
            if missing:
                raise ConductorError.single(
                    f"{_describe(self._url)} has a table {name!r} without the column(s) {', '.join(missing)} "
                    "that Conductor needs (it may have been written by Rasa's SQLTrackerStore, which keeps no "
                    "per-conversation sequence number)",
                    self._source,
                    hint="Point the tracker store at a new database, or rename the old table.",
                )
        self._table.metadata.create_all(conn, checkfirst=True)

    async def close(self) -> None:
        if self._writing is not None:
            await asyncio.shield(self._writing)  # appends already queued are written before the engine goes
        if self._direct is not None:
            direct, self._direct = self._direct, None
            await direct.close()
        if self._postgres is not None:
            postgres, self._postgres = self._postgres, None
            await postgres.close()
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await engine.dispose()
        self._open = False

    def _started(self) -> None:
        if not self._open:
            raise RuntimeError(_NOT_STARTED)

    async def _async_engine(self) -> AsyncEngine:
        """SQLAlchemy's async engine, made on first use for a SQLite file (at start otherwise); its asyncio
        extension is imported in a thread, so the event loop does not wait for it."""
        self._started()
        if self._engine is None:
            if self._engine_made is None:
                self._engine_made = asyncio.Lock()
            async with self._engine_made:
                if self._engine is None:
                    await asyncio.to_thread(importlib.import_module, "sqlalchemy.ext.asyncio")
                    self._engine = self._create_engine(self._url)
        return self._engine

    def _writer(self, engine: AsyncEngine) -> AsyncEngine:
        """The engine for writing transactions (on SQLite they take the write lock as they begin)."""
        return engine.execution_options(sqlite_begin="IMMEDIATE") if self._is_sqlite else engine

    # --- serialising writers --------------------------------------------------------------------------

    def _lock_key(self, sender_id: str) -> str:
        return f"{self._table.name}:{sender_id}"

    async def _exclusive_lock(self, conn: AsyncConnection, sender_id: str) -> None:
        """PostgreSQL: hold the conversation's advisory lock exclusively until the transaction ends (appends,
        in `bot.stores.postgres_direct`, take it shared)."""
        if self._is_sqlite:
            return
        await conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": self._lock_key(sender_id)}
        )

    async def _serialize_schema_changes(self, conn: AsyncConnection) -> None:
        """PostgreSQL: let one process at a time create the table (CREATE TABLE races with itself)."""
        if not self._is_sqlite:
            key = f"conductor schema {self._table.name}"
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})

    # --- reading --------------------------------------------------------------------------------------

    async def _last_seq(self, conn: AsyncConnection, sender_id: str) -> int:
        table = self._table
        found = await conn.scalar(sa.select(sa.func.max(table.c.seq)).where(table.c.sender_id == sender_id))
        return int(found or 0)

    async def retrieve_since(self, sender_id: str, after_seq: int) -> list[Event]:
        direct = self._direct or self._postgres
        if direct is not None:
            return decode_events(await direct.events_since(sender_id, after_seq), sender_id)
        table = self._table
        query = (
            sa.select(table.c.data)
            .where(table.c.sender_id == sender_id, table.c.seq > after_seq)
            .order_by(table.c.seq)
        )
        async with (await self._async_engine()).connect() as conn:
            texts = (await conn.scalars(query)).all()
        return decode_events(texts, sender_id)

    async def count_events(self, sender_id: str) -> int:
        # sequence numbers run 1..n without gaps, so the highest is the count (one index lookup)
        direct = self._direct or self._postgres
        if direct is not None:
            return await direct.last_seq(sender_id)
        async with (await self._async_engine()).connect() as conn:
            return await self._last_seq(conn, sender_id)

    async def keys(self) -> list[str]:
        query = sa.select(self._table.c.sender_id).distinct().order_by(self._table.c.sender_id)
        async with (await self._async_engine()).connect() as conn:
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

    async def append(self, sender_id: str, events: Sequence[Event]) -> int:
        encoded = encode_events(events)
        if not encoded:
            return await self.count_events(sender_id)
        if not self._is_sqlite:
            return await self._append_postgres(sender_id, encoded)
        self._started()
        pending = _PendingAppend(sender_id, encoded)
        self._pending.append(pending)
        if self._writing is None:
            self._writing = asyncio.create_task(self._write_pending())
        return await pending.done

    async def _write_pending(self) -> None:
        """SQLite: write the queued appends, as many per transaction as have arrived, until none are left."""
        try:
            while self._pending:
                batch, self._pending = self._pending[:_MAX_BATCH], self._pending[_MAX_BATCH:]
                try:
                    results = await self._append_batch(batch)
                except Exception as error:  # the transaction failed: none of its appends is stored
                    for item in batch:
                        if not item.done.done():
                            item.done.set_exception(error)
                    continue
                for item, result in zip(batch, results, strict=True):
                    if not item.done.done():  # its caller may have given up (cancelled)
                        item.done.set_result(result)
        except BaseException as error:
            for item in [*batch, *self._pending]:
                if not item.done.done():
                    item.done.set_exception(error)
            self._pending = []
            if not isinstance(error, Exception):
                raise
        finally:
            self._writing = None

    async def _append_batch(self, batch: Sequence[_PendingAppend]) -> list[int]:
        """One transaction: number each conversation's new events after its highest `seq`, insert them all."""
        if self._direct is not None:
            return await self._direct.append_batch([(item.sender_id, item.encoded) for item in batch])
        table = self._table
        senders = sorted({item.sender_id for item in batch})
        rows: list[dict[str, Any]] = []
        results: list[int] = []
        async with self._writer(await self._async_engine()).begin() as conn:
            # one scalar subquery per conversation: each reads the end of the (sender_id, seq) index, where a
            # GROUP BY reads all of a conversation's entries (0.6 ms in SQLite for 10,000 events)
            query = sa.select(
                *(sa.select(sa.func.max(table.c.seq)).where(table.c.sender_id == sender).scalar_subquery()
                  for sender in senders)
            )
            highest = (await conn.execute(query)).one()
            last: dict[str, int] = {sender: int(seq or 0) for sender, seq in zip(senders, highest, strict=True)}
            for item in batch:
                first = last.get(item.sender_id, 0) + 1
                rows += self._rows(item.sender_id, first, item.encoded)
                last[item.sender_id] = first + len(item.encoded) - 1
                results.append(last[item.sender_id])
            await conn.execute(sa.insert(table), rows)
        return results

    async def _append_postgres(self, sender_id: str, encoded: Sequence[EncodedEvent]) -> int:
        """PostgreSQL: one transaction on the store's asyncpg pool, numbered again while other writers take
        the same numbers first."""
        postgres = self._postgres
        if postgres is None:  # `start` opens it on PostgreSQL, `close` lets it go
            raise RuntimeError(_NOT_STARTED)
        for attempt in range(1, _APPEND_ATTEMPTS + 1):
            stored = await postgres.append(sender_id, encoded, self._lock_key(sender_id))
            if stored is not None:
                return stored
            # another writer took these numbers first: back off a little, then number again
            logger.debug("append to conversation %r collided with another writer; retrying", sender_id)
            await asyncio.sleep(random.uniform(0, 0.002 * min(attempt, 10)))
        raise ConductorError.single(
            f"could not append to conversation {sender_id!r}: other writers took its next numbers "
            f"{_APPEND_ATTEMPTS} times in a row",
            self._source,
            hint="Several processes write this conversation at once without a shared lock store; give them one "
            "(`lock_store: type: redis` in endpoints.yml).",
        )

    async def delete(self, sender_id: str) -> bool:
        async with self._writer(await self._async_engine()).begin() as conn:
            await self._exclusive_lock(conn, sender_id)
            deleted = await conn.execute(sa.delete(self._table).where(self._table.c.sender_id == sender_id))
        return bool(deleted.rowcount)

    async def replace(self, sender_id: str, events: Sequence[Event]) -> None:
        encoded = encode_events(events)
        async with self._writer(await self._async_engine()).begin() as conn:
            await self._exclusive_lock(conn, sender_id)
            await conn.execute(sa.delete(self._table).where(self._table.c.sender_id == sender_id))
            if encoded:
                await conn.execute(sa.insert(self._table), self._rows(sender_id, 1, encoded))


def _listen_as_sqlite(engine: sa.Engine) -> None:
    """WAL on every new connection; transactions begun by SQLAlchemy (`_begin_sqlite_transaction`)."""
    sa_event.listen(engine, "connect", _prepare_sqlite_connection)
    sa_event.listen(engine, "begin", _begin_sqlite_transaction)


def _prepare_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    """Let SQLAlchemy, not the driver, begin transactions; use WAL so readers never wait for a writer.

    `synchronous=NORMAL` is SQLite's recommended setting in WAL mode: a commit survives the process dying
    (a crash or SIGKILL loses nothing), and only a power cut or OS crash can lose the last commits; it saves the
    disk flush that otherwise dominates every append.
    """
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _use_wal(cursor: Any) -> None:
    """Put the database in WAL mode (the file keeps it). When two processes open the same new database at once,
    the one switching can find the other's lock, and SQLite then answers "database is locked" at once rather
    than waiting (seen in 4 of 25 simultaneous starts): so read the mode first, and retry the switch for up to
    the busy timeout."""
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT_SECONDS
    pause = 0.01
    while True:
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:  # the driver's OperationalError, as SQLAlchemy's adapter raises it
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)  # only while opening the store, before it serves
        pause = min(pause * 2, 0.2)


def _begin_sqlite_transaction(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")
