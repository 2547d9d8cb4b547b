"""The PostgreSQL tracker store's per-turn statements, on an asyncpg pool of the store's own.

Through SQLAlchemy's async layer an append (begin, the conversation's advisory lock, its highest number, the
rows, commit) took 0.71 ms of CPU and a read of a conversation's newest events 0.35 ms; straight on asyncpg
they take 0.27 and 0.11 ms (1,000 appends of a 4-event turn on the development machine). The statements and
the locking are `bot.stores.sql`'s, which still creates and checks the table and runs everything else
(listing, replacing and deleting conversations).
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from sqlalchemy.engine import URL

from bot.stores.tracker_store import EncodedEvent

__all__ = ["DirectPostgres"]


class DirectPostgres:
    """Reads and appends of one events table (columns as `bot.stores.sql` defines them)."""

    def __init__(self, pool: asyncpg.Pool, table: str) -> None:
        self._pool = pool
        # a delimited identifier names the table SQLAlchemy created, whether or not it quoted the name (it
        # quotes names that need it; an unquoted lowercase name is the same as the quoted one)
        quoted = '"' + table.replace('"', '""') + '"'
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
    async def open(cls, url: URL, table: str, *, max_size: int, timeout: float) -> DirectPostgres:
        """A pool on the database `url` names (its table must exist), growing to `max_size` connections."""
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size, timeout=timeout)
        return cls(pool, table)

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
