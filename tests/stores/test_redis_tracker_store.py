"""What only the Redis tracker store does: Rasa's key layout, record_exp, a key of the wrong type, errors."""

from __future__ import annotations

import json
import logging

import pytest
import redis.asyncio as redis
from pydantic import SecretStr

from bot.config import TrackerStoreSettings
from bot.dialogue.events import SlotSet
from bot.errors import ConductorError
from bot.stores.redis_store import RedisServer, RedisTrackerStore

from .helpers import delete_redis_keys, redis_server, run_id


def settings_for(server: RedisServer, **keys: object) -> TrackerStoreSettings:
    return TrackerStoreSettings.model_validate(
        {"type": "redis", "url": server.host, "port": server.port, "db": server.db, **keys}
    )


async def test_each_conversation_is_a_list_under_rasas_key_prefix(redis_client: redis.Redis) -> None:
    prefix = f"test{run_id()}"
    store = RedisTrackerStore.from_settings(settings_for(redis_server(), key_prefix=prefix))
    assert store.key_prefix == f"{prefix}:tracker:"
    try:
        async with store:
            await store.append("ann", [SlotSet(name="a", value=1, timestamp=1.0)])
            await store.append("ann", [SlotSet(name="b", value=2, timestamp=2.0)])
            items = await redis_client.lrange(f"{prefix}:tracker:ann", 0, -1)
            assert [json.loads(item) for item in items] == [
                {"event": "slot", "timestamp": 1.0, "name": "a", "value": 1},
                {"event": "slot", "timestamp": 2.0, "name": "b", "value": 2},
            ]
            assert await redis_client.ttl(f"{prefix}:tracker:ann") == -1  # no record_exp: kept for good
    finally:
        await delete_redis_keys(redis_client, f"{prefix}:*")


def test_a_prefix_that_is_not_alphanumeric_falls_back_to_the_default(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        store = RedisTrackerStore.from_settings(settings_for(redis_server(), key_prefix="my-bot"), "endpoints.yml")
    assert store.key_prefix == "tracker:"
    assert "endpoints.yml" in caplog.text and "'my-bot' is not alphanumeric" in caplog.text


async def test_record_exp_expires_a_conversation_after_its_last_event(redis_client: redis.Redis) -> None:
    prefix = f"test{run_id()}"
    store = RedisTrackerStore.from_settings(settings_for(redis_server(), key_prefix=prefix, record_exp=30))
    try:
        async with store:
            await store.append("ben", [SlotSet(name="a")])
            assert 29_000 < await redis_client.pttl(f"{prefix}:tracker:ben") <= 30_000
            await store.replace("ben", [SlotSet(name="b")])
            assert 29_000 < await redis_client.pttl(f"{prefix}:tracker:ben") <= 30_000
    finally:
        await delete_redis_keys(redis_client, f"{prefix}:*")


async def test_a_key_holding_a_rasa_tracker_is_reported(redis_client: redis.Redis) -> None:
    prefix = f"test{run_id()}:tracker:"
    await redis_client.set(prefix + "old", json.dumps({"sender_id": "old", "events": []}))
    try:
        async with RedisTrackerStore(redis_server(), key_prefix=prefix, source="endpoints.yml") as store:
            for attempt in (store.append("old", [SlotSet(name="a")]), store.retrieve("old")):
                with pytest.raises(ConductorError, match="holds something other than a list of events"):
                    await attempt
    finally:
        await redis_client.delete(prefix + "old")


async def test_an_unreachable_server_is_named_without_the_password() -> None:
    settings = TrackerStoreSettings(type="redis", url="127.0.0.1", port=1, password=SecretStr("pw-s3cret"))
    store = RedisTrackerStore.from_settings(settings, "endpoints.yml")
    with pytest.raises(ConductorError) as caught:
        await store.start()
    text = str(caught.value)
    assert "Redis server at 127.0.0.1:1" in text and "pw-s3cret" not in text
    assert caught.value.problems[0].file == "endpoints.yml"


def test_a_database_that_is_not_a_number_is_a_clear_error() -> None:
    with pytest.raises(ConductorError, match="'db' should be a number, not 'rasa'"):
        RedisTrackerStore.from_settings(TrackerStoreSettings(type="redis", db="rasa"))


def test_a_whole_redis_url_is_used_as_given_and_printed_without_its_password() -> None:
    server = RedisServer.from_settings(
        TrackerStoreSettings(type="redis", url="redis://user:pw-s3cret@cache.local:6380/2"), 0, None
    )
    assert server.url == "redis://user:pw-s3cret@cache.local:6380/2"
    assert server.describe() == "the Redis server at cache.local:6380 (db 2)"
