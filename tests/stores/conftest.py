"""Fixtures: tracker stores of every kind and lock stores, each on its own table or key prefix.

See helpers.py for where the test servers are found.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis

from bot.stores.lock_store import InMemoryLockStore, LockStore
from bot.stores.memory import InMemoryTrackerStore
from bot.stores.redis_lock import RedisLockStore
from bot.stores.redis_store import RedisTrackerStore
from bot.stores.sql import SQLTrackerStore
from bot.stores.tracker_store import TrackerStore

from .helpers import (
    LOCK_STORE_KINDS,
    TRACKER_STORE_KINDS,
    StoreFactory,
    delete_redis_keys,
    drop_postgres_table,
    redis_server,
    require_postgres,
    require_redis,
    run_id,
)


@pytest.fixture
async def redis_client() -> AsyncIterator[redis.Redis]:
    client = await require_redis()
    yield client
    await client.aclose()


@pytest.fixture(params=TRACKER_STORE_KINDS)
async def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Makes stores of one kind that share one storage place (as several server processes would)."""
    kind: str = request.param
    made: list[TrackerStore] = []
    run = run_id()
    cleanup: Callable[[], Any] | None = None
    if kind == "memory":
        shared = InMemoryTrackerStore()

        def make() -> TrackerStore:
            return shared
    elif kind == "sqlite":
        def make() -> TrackerStore:
            return SQLTrackerStore(f"sqlite:///{tmp_path / 'conductor.db'}")

        async def cleanup() -> None:
            # a connection dropped by a cancelled operation is stopped without waiting: its aiosqlite thread
            # finishes the last statement a moment later and must find the event loop still open
            await asyncio.sleep(0.1)
    elif kind == "postgresql":
        url = await require_postgres()
        table = f"events_test_{run}"

        def make() -> TrackerStore:
            return SQLTrackerStore(url, table_name=table)

        async def cleanup() -> None:
            await drop_postgres_table(url, table)
    else:
        client = await require_redis()
        prefix = f"test{run}:tracker:"

        def make() -> TrackerStore:
            return RedisTrackerStore(redis_server(), key_prefix=prefix)

        async def cleanup() -> None:
            await delete_redis_keys(client, prefix + "*")
            await client.aclose()

    def tracked() -> TrackerStore:
        store = make()
        made.append(store)
        return store

    yield tracked
    for store in made:
        await store.close()
    if cleanup is not None:
        await cleanup()


@pytest.fixture
async def tracker_store(store_factory: StoreFactory) -> TrackerStore:
    store = store_factory()
    await store.start()
    return store


@pytest.fixture(params=LOCK_STORE_KINDS)
async def lock_store(request: pytest.FixtureRequest) -> AsyncIterator[LockStore]:
    if request.param == "memory":
        yield InMemoryLockStore()
        return
    client = await require_redis()
    stem = f"test{run_id()}"
    store = RedisLockStore(redis_server(), key_prefix=f"{stem}:lock:")
    await store.start()
    yield store
    await store.close()
    await delete_redis_keys(client, f"{stem}:*")
    await client.aclose()
