"""Stores built from endpoints.yml: the right kind for each `type`, clear errors for the wrong ones."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import LockStoreSettings, TrackerStoreSettings, load_endpoints
from bot.errors import ConductorError
from bot.stores.lock_store import InMemoryLockStore, create_lock_store
from bot.stores.memory import InMemoryTrackerStore
from bot.stores.redis_lock import RedisLockStore
from bot.stores.redis_store import RedisTrackerStore
from bot.stores.sql import SQLTrackerStore
from bot.stores.tracker_store import create_tracker_store


def test_no_section_means_in_memory_stores() -> None:
    assert isinstance(create_tracker_store(None), InMemoryTrackerStore)
    assert isinstance(create_lock_store(None), InMemoryLockStore)


async def test_stores_from_an_endpoints_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_DB", str(tmp_path / "bot.db"))
    path = tmp_path / "endpoints.yml"
    path.write_text(
        "tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: ${TRACKER_DB}\n"
        "lock_store:\n  type: redis\n  url: localhost\n  port: 6380\n  key_prefix: bot\n"
    )
    endpoints = load_endpoints(path)
    tracker_store = create_tracker_store(endpoints.tracker_store, path)
    assert isinstance(tracker_store, SQLTrackerStore)
    assert tracker_store.url.database == str(tmp_path / "bot.db")
    async with tracker_store:
        assert (tmp_path / "bot.db").exists()
    lock_store = create_lock_store(endpoints.lock_store, path)
    assert isinstance(lock_store, RedisLockStore)
    assert lock_store.keys_of("c1")[0] == "bot:lock:c1"


def test_redis_tracker_store_from_settings() -> None:
    store = create_tracker_store(TrackerStoreSettings(type="redis", url="localhost", key_prefix="acme"))
    assert isinstance(store, RedisTrackerStore) and store.key("u1") == "acme:tracker:u1"


def test_redis_lock_store_uses_database_1_by_default_as_rasa_does() -> None:
    store = create_lock_store(LockStoreSettings(type="redis"))
    assert isinstance(store, RedisLockStore)
    assert store.keys_of("c") == ["lock:c", "lock-queue:c", "lock-alive:c", "lock-last:c"]


@pytest.mark.parametrize("kind", ["mongod", "dynamo"])
def test_rasa_stores_conductor_lacks_are_clear_errors(kind: str) -> None:
    with pytest.raises(ConductorError) as caught:
        create_tracker_store(TrackerStoreSettings(type=kind), "endpoints.yml")
    problem = caught.value.problems[0]
    assert problem.file == "endpoints.yml" and "is not supported by Conductor" in problem.message
    assert problem.hint is not None and "type: sql" in problem.hint


def test_a_custom_store_class_is_loaded_by_its_path() -> None:
    store = create_tracker_store(TrackerStoreSettings(type="bot.stores.memory.InMemoryTrackerStore"))
    assert isinstance(store, InMemoryTrackerStore)
    lock_store = create_lock_store(LockStoreSettings(type="bot.stores.lock_store.InMemoryLockStore"))
    assert isinstance(lock_store, InMemoryLockStore)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("no_such_package.Store", "names the module 'no_such_package', which cannot be imported"),
        ("bot.stores.memory.NoSuchStore", "has no class named 'NoSuchStore'"),
        ("collections.OrderedDict", "is not a subclass of TrackerStore"),
    ],
)
def test_a_custom_store_that_cannot_be_loaded_is_a_clear_error(kind: str, message: str) -> None:
    with pytest.raises(ConductorError) as caught:
        create_tracker_store(TrackerStoreSettings(type=kind), "endpoints.yml")
    problem = caught.value.problems[0]
    assert message in problem.message and problem.file == "endpoints.yml"
    assert problem.hint is not None and "bot.stores.tracker_store.TrackerStore" in problem.hint


def test_keys_a_store_does_not_use_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    settings = TrackerStoreSettings.model_validate(
        {"type": "sql", "dialect": "sqlite", "record_exp": 60, "key_prefix": "x", "pool": 3}
    )
    with caplog.at_level(logging.WARNING):
        create_tracker_store(settings, "endpoints.yml")
    for key in ("record_exp", "key_prefix", "pool"):
        assert f"endpoints.yml: the SQL tracker store does not use the key '{key}'" in caplog.text


def test_the_lock_lifetime_comes_from_ticket_lock_lifetime(monkeypatch: pytest.MonkeyPatch) -> None:
    assert create_lock_store(None).lock_lifetime == 60.0
    monkeypatch.setenv("TICKET_LOCK_LIFETIME", "5")
    assert create_lock_store(None).lock_lifetime == 5.0
    assert create_lock_store(LockStoreSettings(type="redis")).lock_lifetime == 5.0
    monkeypatch.setenv("TICKET_LOCK_LIFETIME", "soon")
    with pytest.raises(ConductorError, match="TICKET_LOCK_LIFETIME should be a number of seconds"):
        create_lock_store(None, "endpoints.yml")
