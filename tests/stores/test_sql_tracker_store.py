"""What only the SQL tracker store does: URLs from endpoints.yml, SQLite's file and WAL mode, PostgreSQL's
login_db, an existing table of the wrong shape, and clear errors for a server that cannot be reached."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from bot.config import TrackerStoreSettings
from bot.dialogue.events import SlotSet
from bot.errors import ConductorError
from bot.stores.postgres_direct import append_function_name
from bot.stores.sql import SQLTrackerStore, sql_url
from bot.stores.sql_engine import events_table
from bot.stores.sqlite_direct import prepare_file
from bot.stores.tracker_store import EncodedEvent

from .helpers import POSTGRES_URL, drop_postgres_table, postgres_connection, require_postgres, run_id


def test_sqlite_url_defaults_to_conductor_db() -> None:
    assert sql_url(TrackerStoreSettings(type="sql")).render_as_string() == "sqlite+aiosqlite:///conductor.db"
    settings = TrackerStoreSettings(type="sql", dialect="sqlite", db="data/bot.db")
    assert sql_url(settings).render_as_string() == "sqlite+aiosqlite:///data/bot.db"


def test_postgresql_url_from_rasa_keys_hides_the_password() -> None:
    settings = TrackerStoreSettings(
        type="sql", dialect="postgresql", url="db.example.com", port=5433, db="rasa", username="bot",
        password=SecretStr("s3cret"), query={"application_name": "conductor"},
    )
    url = sql_url(settings)
    assert (url.drivername, url.host, url.port, url.database, url.username, url.password) == (
        "postgresql+asyncpg", "db.example.com", 5433, "rasa", "bot", "s3cret"
    )
    assert url.query == {"application_name": "conductor"}
    assert "s3cret" not in str(url) and "s3cret" not in repr(SQLTrackerStore(url).url)


def test_host_with_port_and_whole_urls_are_understood() -> None:
    with_port = sql_url(TrackerStoreSettings(type="sql", dialect="postgresql", url="localhost:6000", db="x"))
    assert (with_port.host, with_port.port) == ("localhost", 6000)
    whole = sql_url(TrackerStoreSettings(type="sql", url="postgresql+psycopg2://u:p@h:1/d"))
    assert whole.render_as_string(hide_password=False) == "postgresql+asyncpg://u:p@h:1/d"
    assert sql_url(TrackerStoreSettings(type="sql", url="sqlite:///a.db")).drivername == "sqlite+aiosqlite"


@pytest.mark.parametrize(
    "settings",
    [
        TrackerStoreSettings(type="sql", dialect="mysql", db="rasa"),
        TrackerStoreSettings(type="sql", url="oracle://u@h/d"),
    ],
)
def test_an_unsupported_database_is_a_clear_error(settings: TrackerStoreSettings) -> None:
    with pytest.raises(ConductorError) as caught:
        sql_url(settings, "endpoints.yml")
    problem = caught.value.problems[0]
    assert problem.file == "endpoints.yml" and "does not support" in problem.message
    assert problem.hint is not None and "postgresql" in problem.hint


async def test_sqlite_store_creates_its_file_in_wal_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = SQLTrackerStore.from_settings(TrackerStoreSettings(type="sql", dialect="sqlite"))
    async with store:
        await store.append("s", [SlotSet(name="a", value=1)])
    with sqlite3.connect(tmp_path / "conductor.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("SELECT sender_id, seq, type_name FROM events").fetchall() == [("s", 1, "slot")]
        indexes = connection.execute("PRAGMA index_list(events)").fetchall()
        assert any(index[2] == 1 for index in indexes), "no unique index on (sender_id, seq)"


async def test_stored_rows_hold_the_sequence_and_the_rasa_json(tmp_path: Path) -> None:
    async with SQLTrackerStore(f"sqlite:///{tmp_path / 'bot.db'}") as store:
        await store.append("s", [SlotSet(name="a", value=1, timestamp=7.0), SlotSet(name="b", timestamp=8.0)])
    with sqlite3.connect(tmp_path / "bot.db") as connection:
        rows = connection.execute("SELECT seq, type_name, timestamp, data FROM events ORDER BY seq").fetchall()
    assert rows == [
        (1, "slot", 7.0, '{"event":"slot","timestamp":7.0,"name":"a","value":1}'),
        (2, "slot", 8.0, '{"event":"slot","timestamp":8.0,"name":"b","value":null}'),
    ]


async def test_concurrent_sqlite_appends_share_transactions_and_keep_each_conversations_order(
    tmp_path: Path,
) -> None:
    store = SQLTrackerStore(f"sqlite:///{tmp_path / 'bot.db'}")
    async with store:
        transactions = 0
        direct = store._direct
        assert direct is not None  # a file database writes its appends through its own connection
        write_batch = direct.append_batch

        async def count(appends: Sequence[tuple[str, Sequence[EncodedEvent]]]) -> list[int]:
            nonlocal transactions
            transactions += 1  # one transaction per batch
            return await write_batch(appends)

        direct.append_batch = count  # type: ignore[method-assign]

        async def conversation(number: int) -> list[int]:
            return [await store.append(f"c{number % 10}", [SlotSet(name="n", value=[number, turn])])
                    for turn in range(5)]

        results = await asyncio.gather(*(conversation(n) for n in range(40)))
        assert transactions < 200 / 4, f"{transactions} transactions for 200 appends"
        for sender in range(10):
            events = await store.retrieve(f"c{sender}")
            assert len(events) == 20
            # the appends of one caller keep their order, and every number 1..20 is given once
            for number in range(sender, 40, 10):
                values = [e.value[1] for e in events if e.value[0] == number]  # type: ignore[attr-defined]
                assert values == list(range(5))
            returned = sorted(seq for numbers in results[sender::10] for seq in numbers)
            assert returned == list(range(1, 21)), "append did not return the conversation's new length"


async def test_a_failed_transaction_fails_every_append_in_it_and_later_appends_work(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    async with SQLTrackerStore(f"sqlite:///{path}") as store:
        await store.append("s", [SlotSet(name="a", value=1)])
        with sqlite3.connect(path) as connection:  # a trigger that rejects one conversation's rows
            connection.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.sender_id = 'bad' "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        outcomes = await asyncio.gather(
            *(store.append(sender, [SlotSet(name="a", value=2)]) for sender in ("s", "bad", "t")),
            return_exceptions=True,
        )
        assert any(isinstance(outcome, Exception) and "refused" in str(outcome) for outcome in outcomes)
        with sqlite3.connect(path) as connection:
            connection.execute("DROP TRIGGER refuse")
        assert await store.append("t", [SlotSet(name="b", value=3)]) >= 1
        assert await store.append("bad", [SlotSet(name="b", value=3)]) == 1
        stored = {sender: len(await store.retrieve(sender)) for sender in ("s", "t", "bad")}
        # nothing of a failed transaction is half-stored: each conversation holds whole appends only
        assert stored["bad"] == 1 and stored["s"] in (1, 2) and stored["t"] in (1, 2)


async def test_a_table_of_another_shape_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "rasa.db"
    with sqlite3.connect(path) as connection:  # the columns of Rasa's SQLTrackerStore
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), type_name VARCHAR(255), "
            "timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"
        )
    store = SQLTrackerStore(f"sqlite:///{path}", source="endpoints.yml")
    with pytest.raises(ConductorError) as caught:
        await store.start()
    problem = caught.value.problems[0]
    assert "without the column(s) seq" in problem.message and problem.file == "endpoints.yml"


async def test_login_db_creates_a_missing_postgresql_database() -> None:
    url = await require_postgres()
    name = f"conductor_test_{run_id()}"
    settings = TrackerStoreSettings(
        type="sql", dialect="postgresql", url=url.host, port=url.port, db=name, username=url.username,
        password=SecretStr(url.password) if url.password else None, login_db=url.database,
    )
    store = SQLTrackerStore.from_settings(settings)
    try:
        async with store:
            assert await store.append("p", [SlotSet(name="a")]) == 1
        async with SQLTrackerStore.from_settings(settings) as again:  # the database exists now
            assert await again.count_events("p") == 1
    finally:
        async with postgres_connection(url) as connection:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')


async def test_two_stores_starting_at_once_share_one_table() -> None:
    url = await require_postgres()
    table = f"events_test_{run_id()}"
    stores = [SQLTrackerStore(url, table_name=table) for _ in range(3)]
    try:
        for store in stores:
            await store.start()
        await stores[0].append("t", [SlotSet(name="a")])
        assert await stores[2].count_events("t") == 1
    finally:
        for store in stores:
            await store.close()
        await drop_postgres_table(url, table)


async def test_an_unreachable_postgresql_server_is_named_without_the_password() -> None:
    settings = TrackerStoreSettings(
        type="sql", dialect="postgresql", url="127.0.0.1", port=1, db="rasa", username="bot",
        password=SecretStr("pw-s3cret"),
    )
    store = SQLTrackerStore.from_settings(settings, "endpoints.yml")
    with pytest.raises(ConductorError) as caught:
        await store.start()
    text = str(caught.value)
    assert "PostgreSQL server at 127.0.0.1:1" in text and "database 'rasa'" in text
    assert "pw-s3cret" not in text
    assert caught.value.problems[0].file == "endpoints.yml"


async def test_a_wrong_postgresql_database_is_a_clear_error() -> None:
    url = await require_postgres()
    store = SQLTrackerStore(url.set(database=f"missing_{run_id()}"))
    expected = r"cannot open the SQL tracker store, the PostgreSQL server at .*does not exist"
    with pytest.raises(ConductorError, match=expected):
        await store.start()


async def test_using_a_store_before_start_says_so(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not started"):
        await SQLTrackerStore(f"sqlite:///{tmp_path / 'x.db'}").retrieve("a")


async def test_the_direct_sqlite_path_and_sqlalchemy_read_the_same_rows(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    async with SQLTrackerStore(f"sqlite:///{path}") as store:
        assert store._direct is not None  # a file database uses the direct path
        await store.append("s", [SlotSet(name="a", value=1), SlotSet(name="b", value="ü")])
        direct = await store.retrieve_since("s", 1)
        store._direct, kept = None, store._direct  # read the same rows through SQLAlchemy
        try:
            through_sqlalchemy = await store.retrieve_since("s", 1)
            assert await store.append("s", [SlotSet(name="c", value=None)]) == 3
        finally:
            store._direct = kept
        assert [e.as_dict() for e in direct] == [e.as_dict() for e in through_sqlalchemy]
        assert [e.name for e in await store.retrieve_since("s", 0)] == ["a", "b", "c"]  # type: ignore[attr-defined]


async def test_an_in_memory_sqlite_database_works_without_the_direct_path() -> None:
    async with SQLTrackerStore("sqlite://") as store:
        assert store._direct is None  # another connection would see another database
        await asyncio.gather(*(store.append(f"c{n}", [SlotSet(name="n", value=n)]) for n in range(10)))
        assert len(await store.keys()) == 10


async def test_postgresql_appends_and_reads_on_asyncpg_meet_the_sqlalchemy_replace_and_delete() -> None:
    """On PostgreSQL appends and per-turn reads go straight to asyncpg, while `replace`, `delete` and `keys` run
    through SQLAlchemy: both sides number and read the same rows."""
    url = await require_postgres()
    table = f"events_test_{run_id()}"
    try:
        async with SQLTrackerStore(url, table_name=table) as store:
            assert store._postgres is not None
            first = [SlotSet(name="a", value=1), SlotSet(name="b", value="ü")]
            assert await store.append("s", first) == 2
            assert [e.as_dict() for e in await store.retrieve_since("s", 1)] == [first[1].as_dict()]
            await store.replace("s", [SlotSet(name="c", value=None)])
            assert await store.append("s", [SlotSet(name="d"), SlotSet(name="e")]) == 3
            assert await store.count_events("s") == 3
            names = [e.name for e in await store.retrieve_since("s", 0)]  # type: ignore[attr-defined]
            assert names == ["c", "d", "e"]
            assert await store.append("t", [SlotSet(name="x")]) == 1
            assert await store.keys() == ["s", "t"]
            async with postgres_connection(url) as connection:
                rows = await connection.fetch(
                    f'SELECT seq, type_name, data FROM "{table}" WHERE sender_id = $1 ORDER BY id', "s"
                )
            assert [(row["seq"], row["type_name"]) for row in rows] == [(n, "slot") for n in range(1, 4)]
            assert '"name":"d"' in rows[1]["data"]
            assert await store.delete("s")
            assert await store.append("s", [SlotSet(name="f")]) == 1
        with pytest.raises(RuntimeError, match="not started"):
            await store.append("s", [SlotSet(name="g")])
    finally:
        await drop_postgres_table(url, table)


async def test_a_postgresql_turn_sends_its_read_and_its_append_and_nothing_else() -> None:
    """A turn's statements on the asyncpg pool are one round trip each: no session reset (asyncpg's default
    on every release) follows them."""
    url = await require_postgres()
    table = f"events_test_{run_id()}"
    try:
        async with SQLTrackerStore(url, table_name=table) as store:
            assert store._postgres is not None
            sent: list[str] = []
            async with store._postgres._pool.acquire() as connection:  # min_size 1: the pool's one connection
                connection.add_query_logger(lambda logged: sent.append(logged.query))
            await store.append("s", [SlotSet(name="a", value=-1)])  # asyncpg learns the array types, once
            sent.clear()
            for turn in range(3):
                await store.retrieve_since("s", turn + 1)
                await store.append("s", [SlotSet(name="a", value=turn)])
            assert len(sent) == 6, "\n".join(sent)
            assert not [query for query in sent if "RESET" in query or "unlock" in query]
            assert [e.value for e in await store.retrieve_since("s", 0)] == [-1, 0, 1, 2]  # type: ignore[attr-defined]
    finally:
        await drop_postgres_table(url, table)


async def test_a_new_database_another_process_is_writing_is_opened_once_its_lock_is_free(tmp_path: Path) -> None:
    """Switching a database to WAL needs a lock that SQLite does not wait for: when another process (here a
    connection in a thread) is writing the new file, the store retries the switch instead of failing to
    start ("database is locked")."""
    path = tmp_path / "new.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE other (x)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO other VALUES (1)")
    release = threading.Timer(0.4, lambda: (holder.execute("COMMIT"), holder.close()))
    release.start()
    try:
        async with SQLTrackerStore(f"sqlite:///{path}") as store:
            assert await store.append("w", [SlotSet(name="a")]) == 1
    finally:
        release.join()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_postgresql_appends_go_through_the_stores_function_in_one_round_trip() -> None:
    """The store installs its append function at start; appends call it, and number as before. Replaced by a
    function that refuses, the function is seen to be what appends run."""
    url = await require_postgres()
    table = f"events_test_{run_id()}"
    function = append_function_name(table)
    try:
        async with SQLTrackerStore(url, table_name=table) as store:
            assert store._postgres is not None and store._postgres._call_function is not None
            assert await store.append("f", [SlotSet(name="a"), SlotSet(name="b")]) == 2
            assert await store.append("f", [SlotSet(name="c")]) == 3
            assert [e.name for e in await store.retrieve_since("f", 0)] == ["a", "b", "c"]  # type: ignore[attr-defined]
            async with postgres_connection(url) as connection:
                await connection.execute(
                    f"CREATE OR REPLACE FUNCTION {function}(p_sender text, p_lock_key text, p_types text[], "
                    "p_times float8[], p_data text[]) RETURNS integer "
                    "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the append function ran'; END $$"
                )
            with pytest.raises(asyncpg.PostgresError, match="the append function ran"):
                await store.append("f", [SlotSet(name="d")])
            assert await store.count_events("f") == 3
    finally:
        await drop_postgres_table(url, table)


async def test_a_postgresql_role_that_may_not_create_functions_appends_statement_by_statement() -> None:
    """A role with rights on its table only (no CREATE on the schema) gets the five-statement append, which
    numbers the same way."""
    url = await require_postgres()
    table = f"events_test_{run_id()}"
    role = f"conductor_limited_{run_id()}"
    async with postgres_connection(url) as admin:
        try:
            async with SQLTrackerStore(url, table_name=table) as store:  # creates the table (and the function)
                assert await store.append("r", [SlotSet(name="a")]) == 1
            await admin.execute(f"DROP FUNCTION IF EXISTS {append_function_name(table)}")
            await admin.execute(f'CREATE ROLE "{role}" LOGIN')
            await admin.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON "{table}" TO "{role}"')
            await admin.execute(f'GRANT USAGE ON SEQUENCE "{table}_id_seq" TO "{role}"')
            # PostgreSQL 15 and later give no one but the schema's owner CREATE on `public`; the REVOKE says so here
            await admin.execute(f'REVOKE CREATE ON SCHEMA public FROM "{role}"')
            limited = url.set(username=role, password=None)
            async with SQLTrackerStore(limited, table_name=table) as store:
                assert store._postgres is not None and store._postgres._call_function is None
                assert await store.append("r", [SlotSet(name="b"), SlotSet(name="c")]) == 3
                await asyncio.gather(*(store.append(f"p{n}", [SlotSet(name="x")]) for n in range(5)))
                assert await store.count_events("r") == 3
        finally:
            await drop_postgres_table(url, table)
            if await admin.fetchval("SELECT count(*) FROM pg_roles WHERE rolname = $1", role):
                await admin.execute(f'DROP OWNED BY "{role}"')
                await admin.execute(f'DROP ROLE "{role}"')


# --- a SQLite file without SQLAlchemy --------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["sqlite:///bot.db", "sqlite:////abs/dir/bot.db", "sqlite+aiosqlite:///d/x.db",
                                 "sqlite:///./rel.db"])
def test_a_sqlite_file_url_names_the_file_sqlalchemy_would_open(url: str, tmp_path: Path) -> None:
    store = SQLTrackerStore(url)
    assert store._sqlite_file == make_url(url).database
    assert store.url.render_as_string() == make_url(url).set(drivername="sqlite+aiosqlite").render_as_string()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///a.db?mode=ro", "sqlite:///a%20b.db"])
def test_other_sqlite_urls_are_read_by_sqlalchemy(url: str) -> None:
    store = SQLTrackerStore(url)
    parsed = make_url(url)
    expected = None if parsed.query or parsed.database in (None, "", ":memory:") else parsed.database
    assert store._sqlite_file == expected  # "a%20b.db": SQLAlchemy's reading ("a b.db"), not the text's


@pytest.mark.parametrize("table", ["events", "conductor events", 'odd"name'])
def test_the_sqlite_file_table_is_the_one_sqlalchemy_creates(tmp_path: Path, table: str) -> None:
    """The direct path creates the table with the standard library; it must be SQLAlchemy's table: the same
    columns (types, NOT NULL, key) and the same unique index, so either side reads what the other created."""
    direct, through_sqlalchemy = tmp_path / "direct.db", tmp_path / "sqlalchemy.db"
    assert prepare_file(str(direct), table) == []
    engine = sa.create_engine(f"sqlite:///{through_sqlalchemy}")
    try:
        events_table(table).metadata.create_all(engine)
    finally:
        engine.dispose()

    def schema(path: Path) -> tuple[list[Any], list[Any]]:
        with sqlite3.connect(path) as connection:
            quoted = '"' + table.replace('"', '""') + '"'
            columns = connection.execute(f"PRAGMA table_info({quoted})").fetchall()
            unique = [
                (index[2], [row[2] for row in connection.execute(f"PRAGMA index_info('{index[1]}')")])
                for index in connection.execute(f"PRAGMA index_list({quoted})").fetchall()
            ]
        return columns, unique

    assert schema(direct) == schema(through_sqlalchemy)
    assert schema(direct)[1] == [(1, ["sender_id", "seq"])]
    assert prepare_file(str(through_sqlalchemy), table) == []  # an existing table is checked, not created again


def test_a_server_on_a_sqlite_file_answers_turns_without_importing_sqlalchemy(tmp_path: Path) -> None:
    """SQLAlchemy is about 13 MB of a server's memory: a turn's read and append on a SQLite file do without it,
    and what needs it (listing conversations) imports it then and works."""
    script = f"""
import asyncio, sys
from bot.config import TrackerStoreSettings
from bot.dialogue.events import SlotSet
from bot.stores.tracker_store import create_tracker_store

async def main():
    store = create_tracker_store(TrackerStoreSettings(type="sql", dialect="sqlite", db={str(tmp_path / 'bot.db')!r}))
    async with store:
        await store.append("s", [SlotSet(name="a", value=1)])
        await store.append("s", [SlotSet(name="b", value=2)])
        assert [event.name for event in await store.retrieve("s")] == ["a", "b"]
        print("turns", "sqlalchemy" in sys.modules)
        print("keys", await store.keys(), "sqlalchemy" in sys.modules)

asyncio.run(main())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["turns False", "keys ['s'] True"]


# --- PostgreSQL without SQLAlchemy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        TrackerStoreSettings(type="sql", dialect="postgresql", url="db.example.com", port=5433, db="rasa",
                             username="bot", password=SecretStr("s3cret"), query={"application_name": "conductor"}),
        TrackerStoreSettings(type="sql", dialect="postgresql", url="localhost:6000", db="d b", username="us@er",
                             password=SecretStr("p:w/@%?#")),
        TrackerStoreSettings(type="sql", dialect="postgres", url="::1", db="x"),
        TrackerStoreSettings(type="sql", dialect="postgresql+asyncpg", url="h", query={"options": ["-c a=1", "x"]}),
    ],
)
def test_a_postgresql_section_is_the_database_sqlalchemy_would_connect_to(settings: TrackerStoreSettings) -> None:
    """From Rasa's keys the store builds asyncpg's URL itself (no SQLAlchemy at start): the same server,
    database, user, password and parameters as SQLAlchemy's URL of the section (`sql_url`)."""
    store = SQLTrackerStore.from_settings(settings)
    assert store._postgres_at is not None and store._url is None  # not read by SQLAlchemy
    expected = sql_url(settings)
    built = make_url(store._postgres_at.dsn())
    assert (built.host, built.port, built.database, built.username, built.password, dict(built.query)) == (
        expected.host, expected.port, expected.database, expected.username, expected.password, dict(expected.query)
    )
    assert store.url.render_as_string(hide_password=False) == expected.render_as_string(hide_password=False)


async def test_the_postgresql_table_is_the_one_sqlalchemy_creates() -> None:
    """The direct path creates the table with asyncpg; it must be SQLAlchemy's: the same columns (types,
    NOT NULL, defaults), key and unique constraint."""
    from sqlalchemy.ext.asyncio import create_async_engine

    url = await require_postgres()
    direct_table, sqlalchemy_table = f"events_direct_{run_id()}", f"events_sa_{run_id()}"
    store = SQLTrackerStore(url, table_name=direct_table)
    engine = create_async_engine(url.set(drivername="postgresql+asyncpg"))
    try:
        await store.start()
        async with engine.begin() as conn:
            await conn.run_sync(events_table(sqlalchemy_table).metadata.create_all)

        async def schema(table: str) -> tuple[list[Any], list[Any]]:
            async with postgres_connection(url) as connection:
                columns = [
                    (row["column_name"], row["data_type"], row["is_nullable"],
                     (row["column_default"] or "").replace(table, "<table>"))
                    for row in await connection.fetch(
                        "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns "
                        "WHERE table_name = $1 ORDER BY ordinal_position", table
                    )
                ]
                constraints = sorted(
                    (row["contype"], row["columns"], row["conname"].replace(table, "<table>"))
                    for row in await connection.fetch(
                        "SELECT c.contype, c.conname, array_agg(a.attname::text ORDER BY a.attnum) AS columns "
                        "FROM pg_constraint c JOIN pg_attribute a "
                        "ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) "
                        "WHERE c.conrelid = to_regclass($1) GROUP BY c.contype, c.conname", f'"{table}"'
                    )
                )
            return columns, constraints

        direct, through_sqlalchemy = await schema(direct_table), await schema(sqlalchemy_table)
        assert direct == through_sqlalchemy
        assert (b"u", ["sender_id", "seq"], "<table>_sender_id_seq_key") in direct[1]
    finally:
        await store.close()
        await engine.dispose()
        await drop_postgres_table(url, direct_table)
        await drop_postgres_table(url, sqlalchemy_table)


def test_a_server_on_postgresql_answers_turns_without_importing_sqlalchemy() -> None:
    url = POSTGRES_URL
    script = f"""
import asyncio, sys
from bot.config import TrackerStoreSettings
from bot.dialogue.events import SlotSet
from bot.stores.tracker_store import create_tracker_store

async def main():
    settings = TrackerStoreSettings(type="sql", dialect="postgresql", url={url.host!r}, port={url.port!r},
                                    db={url.database!r}, username={url.username!r}, password={url.password!r})
    store = create_tracker_store(settings)
    store._table_name = {"events_noimport_" + run_id()!r}
    async with store:
        await store.append("s", [SlotSet(name="a", value=1)])
        assert [event.name for event in await store.retrieve("s")] == ["a"]
        print("turns", "sqlalchemy" in sys.modules)
        print("keys", await store.keys(), "sqlalchemy" in sys.modules)
        await store.delete("s")

asyncio.run(main())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["turns False", "keys ['s'] True"]
