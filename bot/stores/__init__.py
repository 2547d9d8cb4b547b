"""Where conversations and their locks are kept: tracker stores and lock stores, chosen in endpoints.yml.

    tracker_store = create_tracker_store(endpoints.tracker_store, "endpoints.yml")
    lock_store = create_lock_store(endpoints.lock_store, "endpoints.yml")
    await tracker_store.start()
    await lock_store.start()
    async with lock_store.lock(sender_id):
        events = await tracker_store.retrieve(sender_id) or []
        ...
        await tracker_store.append(sender_id, new_events)

The names below are imported on first use, so a server that keeps conversations in memory never loads the
database drivers (SQLAlchemy alone takes most of a second to import).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.stores.lock_store import (
        InMemoryLockStore,
        LockError,
        LockStore,
        LockTimeoutError,
        create_lock_store,
    )
    from bot.stores.memory import InMemoryTrackerStore
    from bot.stores.redis_lock import RedisLockStore
    from bot.stores.redis_store import RedisServer, RedisTrackerStore
    from bot.stores.sql import SQLTrackerStore
    from bot.stores.tracker_store import TrackerStore, create_tracker_store

_HOMES = {
    "InMemoryLockStore": "lock_store",
    "LockError": "lock_store",
    "LockStore": "lock_store",
    "LockTimeoutError": "lock_store",
    "RedisLockStore": "redis_lock",
    "create_lock_store": "lock_store",
    "InMemoryTrackerStore": "memory",
    "RedisServer": "redis_store",
    "RedisTrackerStore": "redis_store",
    "SQLTrackerStore": "sql",
    "TrackerStore": "tracker_store",
    "create_tracker_store": "tracker_store",
}

__all__ = [
    "InMemoryLockStore",
    "InMemoryTrackerStore",
    "LockError",
    "LockStore",
    "LockTimeoutError",
    "RedisLockStore",
    "RedisServer",
    "RedisTrackerStore",
    "SQLTrackerStore",
    "TrackerStore",
    "create_lock_store",
    "create_tracker_store",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'bot.stores' has no attribute {name!r}")
    return getattr(importlib.import_module(f"bot.stores.{_HOMES[name]}"), name)
