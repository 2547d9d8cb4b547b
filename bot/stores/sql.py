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
  of the round trips to aiosqlite's thread that SQLAlchemy's async layer makes. That module also creates or
  checks the table, with the standard library's sqlite3: SQLAlchemy (`bot.stores.sql_engine`, about 13 MB
  of memory and 0.15 s of start-up) is imported only when something else (`replace`, `delete`, `keys`)
  first needs it.
- PostgreSQL: appends take a shared advisory lock on the conversation and compute their `seq` inside the
  transaction; two appends that pick the same numbers collide on the unique index, and the loser retries with
  fresh numbers. `replace` and `delete` take the same advisory lock exclusively, so no append slips between
  their delete and insert. Appends and per-turn reads go straight to asyncpg, on a pool of the store's own
  (`bot.stores.postgres_direct`); an append is one call of a function the store installs next to its table
  (`conductor_append_<hash>`), or five statements where the role may not create functions. That module also
  creates the database (`login_db`) and creates or checks the table, so SQLAlchemy is imported only for the
  rare operations, as on SQLite, or at start for a whole database URL in `url` (which SQLAlchemy reads).

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
import sqlite3
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, unquote, urlencode, urlsplit

from bot.config import TrackerStoreSettings
from bot.dialogue.events import Event
from bot.errors import ConductorError
from bot.stores import sqlite_direct
from bot.stores.sqlite_direct import BUSY_TIMEOUT_SECONDS, DirectSQLite
from bot.stores.tracker_store import (
    EncodedEvent,
    TrackerStore,
    decode_events,
    encode_events,
    warn_unused_settings,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from bot.stores.postgres_direct import DirectPostgres
    from bot.stores.sql_engine import EngineEvents, sql_url

__all__ = ["DEFAULT_SQLITE_DB", "SQLTrackerStore", "sql_url"]

logger = logging.getLogger(__name__)

DEFAULT_SQLITE_DB = "conductor.db"
_APPEND_ATTEMPTS = 100
_CONNECT_TIMEOUT_SECONDS = 10.0
_MAX_BATCH = 256
"""At most this many appends go into one SQLite transaction."""
_NOT_STARTED = "the SQL tracker store is not started: call `await store.start()` first"
_SQLITE_FILE_PREFIXES = ("sqlite:///", "sqlite+aiosqlite:///")


def __getattr__(name: str) -> Any:
    if name == "sql_url":  # SQLAlchemy's URL: imported when asked for
        from bot.stores.sql_engine import sql_url

        return sql_url
    raise AttributeError(f"module 'bot.stores.sql' has no attribute {name!r}")


def _sqlite_file_of(url: str) -> str | None:
    """The file of a plain SQLite file URL (`sqlite:///bot.db`, `sqlite:////abs/bot.db`), read as SQLAlchemy
    reads it; None for anything else (a query, escapes, in memory, another database), which SQLAlchemy reads."""
    for prefix in _SQLITE_FILE_PREFIXES:
        if url.startswith(prefix):
            path = url[len(prefix):]
            if path and path != ":memory:" and not any(char in path for char in "?%#"):
                return path
    return None


def settings_backend(settings: TrackerStoreSettings) -> str:
    """The database a `type: sql` section's `dialect` names, without its driver (sqlite when none)."""
    return (settings.dialect or "sqlite").lower().partition("+")[0]


def settings_host_and_port(settings: TrackerStoreSettings) -> tuple[str | None, int | None]:
    """A section's server: `url` and `port`, with a `host:port` in `url` split (as Rasa does)."""
    host, port = settings.url, settings.port
    if host and host.count(":") == 1 and port is None:
        name, _, number = host.partition(":")
        if number.isdigit():
            host, port = name, int(number)
    return host, port


def settings_query(settings: TrackerStoreSettings) -> dict[str, str | list[str]]:
    """A section's `query` as URL parameters: text values, a list for a repeated parameter."""
    return {
        str(key): [str(v) for v in value] if isinstance(value, list) else str(value)
        for key, value in (settings.query or {}).items()
    }


def _sqlite_file_in(settings: TrackerStoreSettings) -> str | None:
    """The SQLite file a `type: sql` section names (`dialect: sqlite`, the default, and `db`), if it names only
    that: what `sql_url` would make `sqlite+aiosqlite:///<db>` of."""
    if settings.url or settings.query or settings_backend(settings) != "sqlite":
        return None
    return _sqlite_file_of(f"sqlite:///{settings.db or DEFAULT_SQLITE_DB}")


@dataclass(frozen=True)
class _Postgres:
    """Where a PostgreSQL database is, known without SQLAlchemy: the parts of its URL (unquoted), for asyncpg's
    DSN and for messages."""

    host: str | None
    port: int | None
    database: str | None
    username: str | None
    password: str | None
    query: str = ""
    """URL parameters, encoded, without the `?`."""

    _SCHEMES: ClassVar[tuple[str, ...]] = ("postgresql", "postgres", "postgresql+asyncpg")

    @classmethod
    def of_url(cls, url: URL) -> _Postgres:
        return cls(url.host, url.port, url.database, url.username, url.password, urlencode(dict(url.query), True))

    @classmethod
    def of_text(cls, text: str) -> _Postgres | None:
        """A `postgresql://` URL with one host; None for anything else, which SQLAlchemy reads."""
        parts = urlsplit(text)
        if parts.scheme not in cls._SCHEMES or not parts.hostname or "," in parts.netloc or parts.fragment:
            return None
        try:
            port = parts.port
        except ValueError:
            return None
        database = unquote(parts.path[1:]) if parts.path.startswith("/") and len(parts.path) > 1 else None
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        return cls(parts.hostname, port, database, username, password, parts.query)

    @classmethod
    def of_settings(cls, settings: TrackerStoreSettings) -> _Postgres | None:
        """What `sql_url` makes of a `dialect: postgresql` section with a host in `url` (or none); None for a
        whole URL in `url`, which SQLAlchemy reads."""
        if settings_backend(settings) not in ("postgresql", "postgres") or (settings.url and "://" in settings.url):
            return None
        host, port = settings_host_and_port(settings)
        return cls(
            host or None,
            port,
            str(settings.db) if settings.db is not None else None,
            settings.username,
            settings.password.get_secret_value() if settings.password else None,
            urlencode(settings_query(settings), True),
        )

    def dsn(self, database: str | None = None) -> str:
        """The `postgresql://` URL asyncpg connects with (to `database` instead, when given)."""
        user = ""
        if self.username:
            secret = f":{quote(self.password, safe='')}" if self.password is not None else ""
            user = f"{quote(self.username, safe='')}{secret}@"
        host = f"[{self.host}]" if self.host and ":" in self.host else (self.host or "")
        port = f":{self.port}" if self.port is not None else ""
        name = database if database is not None else self.database
        path = f"/{quote(name, safe='')}" if name else ""
        return f"postgresql://{user}{host}{port}{path}" + (f"?{self.query}" if self.query else "")

    def describe(self, database: str | None = None) -> str:
        """Where the database is, for messages: never the password."""
        name = database if database is not None else self.database
        return (
            f"the PostgreSQL server at {self.host or 'localhost'}:{self.port or 5432} "
            f"(database {name!r}, user {self.username!r})"
        )


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
        self._sqlite_file = _sqlite_file_of(url) if isinstance(url, str) else None
        """The database file, for SQLite in a file (the direct path, no SQLAlchemy); None otherwise."""
        self._postgres_at = _Postgres.of_text(url) if isinstance(url, str) else None
        """Where the database is, for PostgreSQL (the direct path, no SQLAlchemy); None otherwise."""
        self._url: URL | None = None
        if self._sqlite_file is None and self._postgres_at is None:  # SQLAlchemy reads any other URL now
            from bot.stores.sql_engine import async_url

            self._url = async_url(url, source)
            backend = self._url.get_backend_name()
            if backend == "sqlite" and self._url.database not in (None, "", ":memory:") and not self._url.query:
                self._sqlite_file = self._url.database
            elif backend != "sqlite":
                self._postgres_at = _Postgres.of_url(self._url)
        self._is_sqlite = self._postgres_at is None
        self._table_name = table_name
        self._login_db = login_db
        self._source = source
        self._engine: EngineEvents | None = None
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
        sqlite_file = _sqlite_file_in(settings)
        if sqlite_file is not None:
            return cls(f"sqlite+aiosqlite:///{sqlite_file}", login_db=settings.login_db, source=source)
        postgres = _Postgres.of_settings(settings)
        if postgres is not None:
            return cls(postgres.dsn(), login_db=settings.login_db, source=source)
        from bot.stores.sql_engine import sql_url

        return cls(sql_url(settings, source), login_db=settings.login_db, source=source)

    @property
    def url(self) -> URL:
        """The database URL (its password hidden when printed)."""
        if self._url is None:
            from bot.stores.sql_engine import async_url

            text = self._postgres_at.dsn() if self._postgres_at is not None else f"sqlite:///{self._sqlite_file}"
            self._url = async_url(text, self._source)
        return self._url

    # --- lifecycle -----------------------------------------------------------------------------------

    def _describe(self, database: str | None = None) -> str:
        """Where the database (or the `database` of the same server) is, for messages."""
        if self._postgres_at is not None:
            return self._postgres_at.describe(database)
        return f"the SQLite database {self._sqlite_file or self.url.database or DEFAULT_SQLITE_DB!r}"

    def _unreachable(self, exc: BaseException, database: str | None = None) -> ConductorError:
        """Opening the database (or `database`, the login database) failed: what, where, and what to check."""
        reason = str(getattr(exc, "orig", None) or exc) or type(exc).__name__
        hint = (
            "Check that the folder of the database file ('db' of the tracker_store in endpoints.yml) exists "
            "and can be written."
            if self._is_sqlite
            else "Check that the database server runs and that the tracker_store url, port, db, username and "
            "password in endpoints.yml are right."
        )
        password = self._postgres_at.password if self._postgres_at is not None else None
        if password:
            reason = reason.replace(password, "***")
        return ConductorError.single(
            f"cannot open the SQL tracker store, {self._describe(database)}: {reason}",
            self._source,
            hint=hint,
        )

    def _wrong_table(self, missing: Sequence[str]) -> ConductorError:
        return ConductorError.single(
            f"{self._describe()} has a table {self._table_name!r} without the column(s) {', '.join(missing)} "
            "that Conductor needs (it may have been written by Rasa's SQLTrackerStore, which keeps no "
            "per-conversation sequence number)",
            self._source,
            hint="Point the tracker store at a new database, or rename the old table.",
        )

    async def start(self) -> None:
        if self._open:
            return
        if self._sqlite_file is not None:
            await self._start_sqlite_file(self._sqlite_file)
        elif self._postgres_at is not None:
            await self._start_postgres(self._postgres_at)
        else:
            await self._start_engine()
        self._open = True

    async def _start_sqlite_file(self, path: str) -> None:
        """SQLite in a file: the table is created or checked and the turns run on a connection of the store's
        own (`bot.stores.sqlite_direct`), without SQLAlchemy."""
        try:
            missing = await asyncio.to_thread(sqlite_direct.prepare_file, path, self._table_name)
        except (sqlite3.Error, OSError) as exc:
            raise self._unreachable(exc) from None
        if missing:
            raise self._wrong_table(missing)
        self._direct = await DirectSQLite.open(path, self._table_name, BUSY_TIMEOUT_SECONDS)

    async def _start_postgres(self, postgres: _Postgres) -> None:
        """PostgreSQL: the database (with `login_db`) and the table are created or checked, and the turns run
        on a pool of the store's own (`bot.stores.postgres_direct`), without SQLAlchemy."""
        import asyncpg

        from bot.stores.postgres_direct import DirectPostgres, create_database_if_missing

        unreachable = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
        if self._login_db and postgres.database:
            try:
                created = await create_database_if_missing(
                    postgres.dsn(self._login_db), postgres.database, _CONNECT_TIMEOUT_SECONDS
                )
            except unreachable as exc:
                raise self._unreachable(exc, self._login_db) from None
            if created:
                logger.info("created the tracker store database %r", postgres.database)
        try:
            direct = await DirectPostgres.open(
                postgres.dsn(),
                self._table_name,
                max_size=int(os.environ.get("SQL_POOL_SIZE", "50")),
                timeout=_CONNECT_TIMEOUT_SECONDS,
            )
        except unreachable as exc:
            raise self._unreachable(exc) from None
        await self._prepare_table(direct.prepare(), unreachable, direct.close)
        self._postgres = direct

    async def _start_engine(self) -> None:
        """SQLite in memory or with URL parameters: the table through SQLAlchemy's engine."""
        from bot.stores.sql_engine import UNREACHABLE, EngineEvents

        engine = EngineEvents(self.url, self._table_name)
        await self._prepare_table(engine.prepare_table(), UNREACHABLE, engine.dispose)
        self._engine = engine

    async def _prepare_table(
        self,
        prepare: Coroutine[Any, Any, list[str]],
        unreachable: tuple[type[BaseException], ...],
        close: Callable[[], Awaitable[None]],
    ) -> None:
        """Await `prepare` (create or check the table: the needed columns it lacks); on a failure, `close` what
        was opened and raise a clear error for a database out of reach or a table of another shape."""
        try:
            try:
                missing = await prepare
            except unreachable as exc:
                raise self._unreachable(exc) from None
            if missing:
                raise self._wrong_table(missing)
        except BaseException:
            await close()
            raise

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

    async def _engine_events(self) -> EngineEvents:
        """The statements through SQLAlchemy's async engine: made at start except for a SQLite file, where
        SQLAlchemy is imported (in a thread, so the event loop does not wait for it) on first use."""
        self._started()
        if self._engine is None:
            if self._engine_made is None:
                self._engine_made = asyncio.Lock()
            async with self._engine_made:
                if self._engine is None:
                    engines = await asyncio.to_thread(importlib.import_module, "bot.stores.sql_engine")
                    self._engine = engines.EngineEvents(self.url, self._table_name)
        return self._engine

    def _lock_key(self, sender_id: str) -> str:
        return f"{self._table_name}:{sender_id}"

    # --- reading --------------------------------------------------------------------------------------

    async def retrieve_since(self, sender_id: str, after_seq: int) -> list[Event]:
        direct = self._direct or self._postgres
        if direct is not None:
            return decode_events(await direct.events_since(sender_id, after_seq), sender_id)
        return decode_events(await (await self._engine_events()).events_since(sender_id, after_seq), sender_id)

    async def count_events(self, sender_id: str) -> int:
        # sequence numbers run 1..n without gaps, so the highest is the count (one index lookup)
        direct = self._direct or self._postgres
        if direct is not None:
            return await direct.last_seq(sender_id)
        return await (await self._engine_events()).last_seq(sender_id)

    async def keys(self) -> list[str]:
        return await (await self._engine_events()).keys()

    # --- writing --------------------------------------------------------------------------------------

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
        appends = [(item.sender_id, item.encoded) for item in batch]
        if self._direct is not None:
            return await self._direct.append_batch(appends)
        return await (await self._engine_events()).append_batch(appends)

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
        return await (await self._engine_events()).delete(sender_id, self._lock_key(sender_id))

    async def replace(self, sender_id: str, events: Sequence[Event]) -> None:
        encoded = encode_events(events)
        await (await self._engine_events()).replace(sender_id, encoded, self._lock_key(sender_id))
