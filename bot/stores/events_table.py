"""What the SQL tracker store's two direct paths (`bot.stores.sqlite_direct`, `bot.stores.postgres_direct`)
share about the events table, without SQLAlchemy: its columns and how to name it in SQL. The table itself is
`bot.stores.sql_engine.events_table`; each direct path creates the same one (tests compare them)."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["EVENT_COLUMNS", "missing_columns", "quote_identifier"]

EVENT_COLUMNS = ("id", "sender_id", "seq", "type_name", "timestamp", "data")
"""The columns the store reads and writes: an existing table without one of them is refused."""


def missing_columns(columns: Iterable[str]) -> list[str]:
    """Of the columns the store needs, those an existing table lacks."""
    present = set(columns)
    return [column for column in EVENT_COLUMNS if column not in present]


def quote_identifier(name: str) -> str:
    """A delimited identifier: it names the table SQLAlchemy created whether or not SQLAlchemy quoted the name
    (it quotes names that need it; an unquoted lowercase name is the same as the quoted one)."""
    return '"' + name.replace('"', '""') + '"'
