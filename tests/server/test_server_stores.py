"""The server on the PostgreSQL tracker store and the Redis stores, set up from endpoints.yml as `bot run` does.

The servers are found at CONDUCTOR_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test) and
CONDUCTOR_TEST_REDIS_URL (default redis://127.0.0.1:6379/0); a test fails when its server is missing. Every
test uses conversation ids and key prefixes of its own, removed afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import Served, StartServer, say

from bot.config import load_endpoints
from bot.stores import create_lock_store, create_tracker_store
from bot.stores.lock_store import LockStore
from bot.stores.tracker_store import TrackerStore
from tests.process_helpers import remove_run, store_endpoints


@pytest.fixture(params=["postgresql", "redis"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """(run id, endpoints.yml) for the tracker store kind; the run's conversations and keys go afterwards."""
    run = uuid.uuid4().hex[:10]
    path = store_endpoints(tmp_path, request.param, run)
    yield run, path
    await remove_run(run, path)


def _from_endpoints(path: Path) -> tuple[TrackerStore, LockStore]:
    endpoints = load_endpoints(path)
    return create_tracker_store(endpoints.tracker_store, path), create_lock_store(endpoints.lock_store, path)


async def test_a_conversation_is_stored(start_server: StartServer, stores: tuple[str, Path]) -> None:
    run, endpoints = stores
    tracker_store, lock_store = _from_endpoints(endpoints)
    served = await start_server(store=tracker_store, lock_store=lock_store, enable_api=True)
    sender = f"{run}-alice"
    assert await say(served, sender, "/greet") == [{"recipient_id": sender, "text": "Hey! How are you?"}]
    await say(served, sender, "/mood_great")
    stored = await served.stored(sender)
    assert [e["parse_data"]["intent"]["name"] for e in stored if e["event"] == "user"] == ["greet", "mood_great"]
    response = await served.client.get(f"/conversations/{sender}/tracker?include_events=ALL")
    assert (await response.json())["events"] == stored
    health = await (await served.client.get("/health")).json()
    assert (health["tracker_store"], health["lock_store"]) == ({"status": "ok"}, {"status": "ok"})


async def test_two_servers_on_shared_stores_take_turns(start_server: StartServer, stores: tuple[str, Path]) -> None:
    """Two servers (as two processes would) answer one conversation at once: the lock keeps turns whole."""
    run, endpoints = stores
    servers: list[Served] = []
    for _ in range(2):
        tracker_store, lock_store = _from_endpoints(endpoints)
        servers.append(await start_server(store=tracker_store, lock_store=lock_store))
    sender = f"{run}-shared"
    await say(servers[0], sender, "/greet")
    messages = ["/mood_great", "/mood_unhappy", "/affirm", "/deny", "/goodbye", "/greet"] * 2

    async def post(index: int, message: str) -> Any:
        return await say(servers[index % 2], sender, message)

    await asyncio.gather(*(post(i, m) for i, m in enumerate(messages)))
    stored = await servers[0].stored(sender)
    assert stored == await servers[1].stored(sender)
    users = [i for i, e in enumerate(stored) if e["event"] == "user"]
    assert len(users) == len(messages) + 1
    for start, end in zip(users, [*users[1:], len(stored)], strict=True):
        turn = stored[start:end]
        assert turn[-1] == {**turn[-1], "event": "action", "name": "action_listen"}, turn


def _counting_reads(path: Path) -> tuple[TrackerStore, list[int]]:
    """The endpoints' tracker store, noting the `after_seq` of each read of conversation events."""
    endpoints = load_endpoints(path)
    reads: list[int] = []
    base: Any = type(create_tracker_store(endpoints.tracker_store, path))

    class Counting(base):  # type: ignore[misc, valid-type]
        async def retrieve_since(self, sender_id: str, after_seq: int) -> Any:
            reads.append(after_seq)
            return await super().retrieve_since(sender_id, after_seq)

    store: TrackerStore = Counting.from_settings(endpoints.tracker_store, str(path))
    return store, reads


async def test_a_server_reads_a_cached_conversation_only_after_another_server_held_it(
    start_server: StartServer, stores: tuple[str, Path]
) -> None:
    """Every writer holds the conversation's lock, and the Redis lock store says whether this process held it
    last: a server that did skips reading the tracker store; after another server's turn it reads what that
    server stored, and answers from the whole conversation."""
    run, endpoints = stores
    servers: list[Served] = []
    reads: list[list[int]] = []
    for _ in range(2):
        tracker_store, counted = _counting_reads(endpoints)
        servers.append(await start_server(store=tracker_store, lock_store=_from_endpoints(endpoints)[1],
                                          enable_api=True))
        reads.append(counted)
    first, second = servers
    sender = f"{run}-reads"
    await say(first, sender, "/greet")
    await say(first, sender, "/mood_great")
    await say(first, sender, "/greet")
    assert reads == [[0], []], "the first server read a conversation it held last"
    await say(second, sender, "/mood_unhappy")
    assert reads[1] == [0]  # not cached there: read whole
    stored_before = len(await second.stored(sender))
    del reads[1][:]
    answer = await say(first, sender, "/deny")
    assert reads[0][1:] and reads[0][1] > 0, "the first server did not read what the second one stored"
    assert answer == [{"recipient_id": sender, "text": "Bye"}]  # the rasa-init stories: sad path, then deny
    tracker = await (await first.client.get(f"/conversations/{sender}/tracker?include_events=ALL")).json()
    assert tracker["events"] == await second.stored(sender)
    assert len(tracker["events"]) > stored_before
