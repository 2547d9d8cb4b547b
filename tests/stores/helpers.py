"""Helpers of the store tests: the test servers, unique names, cleanup, and sample events.

The servers are found at CONDUCTOR_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test) and
CONDUCTOR_TEST_REDIS_URL (default redis://127.0.0.1:6379/0). A test that needs one fails when it is missing.
Every test gets its own table (PostgreSQL) or key prefix (Redis), removed afterwards, so parallel runs do not
collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
import redis.asyncio as redis
from sqlalchemy.engine import URL, make_url

from bot.stores.postgres_direct import append_function_name
from bot.stores.redis_store import RedisServer
from bot.stores.tracker_store import TrackerStore
from tests.event_samples import RASA_EVENTS

POSTGRES_URL = make_url(os.environ.get("CONDUCTOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
REDIS_URL = os.environ.get("CONDUCTOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

TRACKER_STORE_KINDS = ["memory", "sqlite", "postgresql", "redis"]
LOCK_STORE_KINDS = ["memory", "redis"]

# One event of every kind, then what stores must keep exactly: non-ASCII text, nested JSON values, unknown keys.
EVERY_EVENT_KIND: list[dict[str, Any]] = [
    *RASA_EVENTS,
    {"event": "user", "timestamp": 1700000004.0, "metadata": {"channel": "slack"}, "text": "Grüße, 你好 👋",
     "parse_data": {"intent": {"name": "greet", "confidence": 0.97}, "entities": [],
                    "text": "Grüße, 你好 👋", "message_id": "m1", "metadata": {},
                    "intent_ranking": [{"name": "greet", "confidence": 0.97}]},
     "input_channel": "slack", "message_id": "m1"},
    {"event": "slot", "timestamp": 1700000004.1, "name": "guests", "value": [1, 2.5, None, {"x": True}]},
    {"event": "restart", "timestamp": 1700000004.2, "metadata": {"why": "test"}, "unknown_key": "kept"},
]


StoreFactory = Callable[[], TrackerStore]
"""Makes tracker stores of one kind that share one storage place, as several server processes would."""


def run_id() -> str:
    """A short id unique to this test: names its table, key prefix or database."""
    return uuid.uuid4().hex[:12]


async def require_postgres() -> URL:
    """The test PostgreSQL server's URL; the test fails when the server cannot be reached."""
    try:
        async with postgres_connection(POSTGRES_URL):
            pass
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is needed at {POSTGRES_URL.render_as_string()}: {exc}")
    return POSTGRES_URL


@asynccontextmanager
async def postgres_connection(url: URL) -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own to the database `url` names (to look at or change what a store wrote)."""
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database=url.database, timeout=5
    )
    try:
        yield connection
    finally:
        await connection.close()


async def require_redis() -> redis.Redis:
    """A client of the test Redis server; the test fails when the server cannot be reached."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as exc:
        await client.aclose()
        pytest.fail(f"Redis is needed at {REDIS_URL}: {exc}")
    return client


def redis_server() -> RedisServer:
    url = urlsplit(REDIS_URL)
    return RedisServer(host=url.hostname or "127.0.0.1", port=url.port or 6379, db=int(url.path.strip("/") or 0))


async def delete_redis_keys(client: redis.Redis, pattern: str) -> None:
    keys = [key async for key in client.scan_iter(match=pattern, count=1000)]
    if keys:
        await client.delete(*keys)


async def drop_postgres_table(url: URL, table: str) -> None:
    async with postgres_connection(url) as connection:
        await connection.execute(f'DROP TABLE IF EXISTS "{table}"')
        await connection.execute(f"DROP FUNCTION IF EXISTS {append_function_name(table)}")
