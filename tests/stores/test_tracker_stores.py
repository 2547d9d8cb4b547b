"""The behaviour every tracker store shares, run against memory, SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import datetime
from pathlib import Path
from random import Random

import pytest

from bot.dialogue.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SlotSet,
    UserUttered,
    event_names,
    events_from_dicts,
    events_to_dicts,
)
from bot.errors import ConductorError
from bot.stores.tracker_store import TrackerStore

from .helpers import EVERY_EVENT_KIND, StoreFactory


def turn(n: int) -> list[Event]:
    """Three events of one turn, each marked with the turn number (the same events for the same `n`)."""
    at = 1_700_000_000.0 + n
    return [
        UserUttered(text=f"message {n}", parse_data={"intent": {"name": "greet", "confidence": 0.9}},
                    metadata={"turn": n}, timestamp=at),
        ActionExecuted(name="utter_greet", policy="RulePolicy", confidence=1.0, metadata={"turn": n},
                       timestamp=at + 0.1),
        dataclasses.replace(BotUttered.create(f"reply {n}", metadata={"turn": n}), timestamp=at + 0.2),
    ]


def dicts(events: list[Event] | None) -> list[dict[str, object]]:
    assert events is not None
    return events_to_dicts(events)


async def test_appended_events_come_back_in_order(tracker_store: TrackerStore) -> None:
    assert await tracker_store.append("alice", turn(1)) == 3
    assert await tracker_store.append("alice", turn(2)) == 6
    assert await tracker_store.append("bob", turn(9)) == 3
    assert await tracker_store.append("alice", turn(3)[:1]) == 7

    assert dicts(await tracker_store.retrieve("alice")) == dicts(turn(1) + turn(2) + turn(3)[:1])
    assert dicts(await tracker_store.retrieve("bob")) == dicts(turn(9))
    assert await tracker_store.count_events("alice") == 7
    assert dicts(await tracker_store.retrieve_since("alice", 5)) == dicts(turn(2)[2:] + turn(3)[:1])
    assert await tracker_store.retrieve_since("alice", 7) == []


async def test_every_event_kind_round_trips_exactly(tracker_store: TrackerStore) -> None:
    events = events_from_dicts(EVERY_EVENT_KIND)
    assert {event.type_name for event in events} == set(event_names())
    sender = "ünïcode sender ✓ with 'quotes' and \"double\" and * [glob]"
    await tracker_store.append(sender, events)
    stored = await tracker_store.retrieve(sender)
    assert json.dumps(dicts(stored)) == json.dumps(EVERY_EVENT_KIND)
    assert sender in await tracker_store.keys()


async def test_rasa_tracker_dumps_round_trip(tracker_store: TrackerStore, shared_data: Path) -> None:
    dumps = sorted((shared_data / "rasa-projects" / "financial-demo" / "tests" / "data").glob("*.json"))
    assert dumps
    for path in dumps:
        written = json.loads(path.read_text())["events"]
        await tracker_store.append(path.stem, events_from_dicts(written))
        assert json.dumps(dicts(await tracker_store.retrieve(path.stem))) == json.dumps(written)


async def test_an_unknown_conversation_has_nothing(tracker_store: TrackerStore) -> None:
    assert await tracker_store.retrieve("nobody") is None
    assert await tracker_store.retrieve_since("nobody", 0) == []
    assert await tracker_store.count_events("nobody") == 0
    assert not await tracker_store.exists("nobody")
    assert not await tracker_store.delete("nobody")
    assert await tracker_store.keys() == []


async def test_appending_nothing_creates_nothing(tracker_store: TrackerStore) -> None:
    assert await tracker_store.append("quiet", []) == 0
    assert not await tracker_store.exists("quiet")
    await tracker_store.append("quiet", turn(1))
    assert await tracker_store.append("quiet", []) == 3


async def test_keys_exists_and_delete(tracker_store: TrackerStore) -> None:
    for sender in ("carol", "alice", "bob"):
        await tracker_store.append(sender, turn(1))
    assert await tracker_store.keys() == ["alice", "bob", "carol"]
    assert await tracker_store.exists("bob")
    assert await tracker_store.delete("bob")
    assert not await tracker_store.exists("bob")
    assert await tracker_store.retrieve("bob") is None
    assert await tracker_store.keys() == ["alice", "carol"]
    assert await tracker_store.append("bob", turn(2)) == 3  # numbering starts again


async def test_an_event_json_cannot_hold_is_refused_and_nothing_is_written(tracker_store: TrackerStore) -> None:
    await tracker_store.append("dana", turn(1))
    bad = [SlotSet(name="ok", value=1), SlotSet(name="when", value=datetime(2024, 1, 1))]
    with pytest.raises(ConductorError, match=r"event #2 \('slot'\) cannot be stored"):
        await tracker_store.append("dana", bad)
    with pytest.raises(ConductorError):
        await tracker_store.replace("dana", bad)
    assert dicts(await tracker_store.retrieve("dana")) == dicts(turn(1))


async def test_values_beyond_plain_json_are_stored_as_the_standard_library_would(
    tracker_store: TrackerStore,
) -> None:
    """Events are encoded with orjson, and what orjson declines goes through the standard library: NumPy
    floats and integers over 64 bits are stored, numbers as keys become text, NaN and infinities become null
    (JSON has no words for them; JavaScript's JSON.stringify does the same)."""
    import numpy as np

    values = [
        SlotSet(name="score", value=np.float64(0.25)),
        SlotSet(name="big", value=2**70 + 1),
        SlotSet(name="table", value={1: "one", "é": ["ü", "😀"]}),
        SlotSet(name="unknown", value=float("nan")),
        SlotSet(name="far", value=[float("inf"), 1.5]),
    ]
    await tracker_store.append("erin", values)
    stored = [(event.name, event.value) for event in await tracker_store.retrieve("erin") or []]
    assert stored == [
        ("score", 0.25), ("big", 2**70 + 1), ("table", {"1": "one", "é": ["ü", "😀"]}),
        ("unknown", None), ("far", [None, 1.5]),
    ]


async def test_concurrent_appends_keep_each_batch_whole_and_lose_nothing(store_factory: StoreFactory) -> None:
    # two store objects on one storage place stand for two server processes
    stores = [store_factory(), store_factory()]
    for store in stores:
        await store.start()
    writers, turns = 12, 8

    async def writer(number: int) -> None:
        for n in range(turns):
            await stores[number % 2].append("shared", turn(number * 100 + n))

    await asyncio.gather(*(writer(number) for number in range(writers)))

    stored = await stores[0].retrieve("shared")
    assert stored is not None and len(stored) == writers * turns * 3
    assert await stores[1].count_events("shared") == writers * turns * 3
    marks = [event.metadata["turn"] for event in stored]
    batches = [marks[i:i + 3] for i in range(0, len(marks), 3)]
    assert all(len(set(batch)) == 1 for batch in batches), "the events of one append were split up"
    for number in range(writers):
        own = [batch[0] for batch in batches if batch[0] // 100 == number]
        assert own == [number * 100 + n for n in range(turns)], "a writer's turns were lost or reordered"


async def test_replace_is_atomic_for_readers_and_writers(store_factory: StoreFactory) -> None:
    store, other = store_factory(), store_factory()
    await store.start()
    await other.start()
    old = [event for n in range(20) for event in turn(n)]
    new = [event for n in range(500, 510) for event in turn(n)]
    await store.append("erin", old)
    seen: list[int] = []
    done = asyncio.Event()

    async def reader() -> None:
        while not done.is_set():
            events = await other.retrieve("erin")
            assert events is not None
            marks = [event.metadata["turn"] for event in events]
            assert marks in ([n for n in range(20) for _ in range(3)], [n for n in range(500, 510) for _ in range(3)])
            seen.append(len(events))
            await asyncio.sleep(0)

    async def replacer() -> None:
        for _ in range(5):
            await store.replace("erin", new)
            await store.replace("erin", old)
        await store.replace("erin", new)
        done.set()

    await asyncio.gather(reader(), replacer())
    assert seen, "the reader never ran"
    assert dicts(await store.retrieve("erin")) == dicts(new)
    assert await store.count_events("erin") == 30
    assert await store.append("erin", turn(999)) == 33

    await store.replace("erin", [])
    assert not await store.exists("erin")


async def test_appends_racing_a_replace_land_whole_after_it_or_not_at_all(store_factory: StoreFactory) -> None:
    store, other = store_factory(), store_factory()
    await store.start()
    await other.start()
    await store.append("frank", turn(0))

    async def appender() -> None:
        for n in range(1, 11):
            await other.append("frank", turn(n))

    await asyncio.gather(appender(), store.replace("frank", turn(500)))
    events = await store.retrieve("frank")
    assert events is not None
    assert await store.count_events("frank") == len(events), "sequence numbers have a gap"
    marks = [event.metadata["turn"] for event in events]
    assert 500 in marks and 0 not in marks
    after = marks[marks.index(500) + 3:]
    assert marks[:marks.index(500)] == []
    assert after == sorted(after) and all(after.count(n) == 3 for n in after)


async def test_a_long_conversation_reads_whole_and_appends_at_its_end(tracker_store: TrackerStore) -> None:
    batch = [event for n in range(250) for event in [*turn(n), SlotSet(name="n", value=n)]]
    for _ in range(10):
        await tracker_store.append("long", batch)
    assert await tracker_store.count_events("long") == 10_000
    events = await tracker_store.retrieve("long")
    assert events is not None and len(events) == 10_000
    assert dicts(events[:1000]) == dicts(batch) and dicts(events[-1000:]) == dicts(batch)

    assert await tracker_store.append("long", [SlotSet(name="last", value=True)]) == 10_001
    tail = await tracker_store.retrieve_since("long", 10_000)
    assert [event.as_dict()["name"] for event in tail] == ["last"]


async def test_a_cancelled_operation_always_stops(tracker_store: TrackerStore) -> None:
    """A request handler cancelled at any moment (its client left, the server stops) must stop: redis-py's
    socket timeout once made Python 3.11 lose such cancellations (CPython gh-86296)."""
    await tracker_store.append("gina", turn(1))
    random = Random(7)

    async def busy() -> None:
        while True:
            await tracker_store.count_events("gina")
            await tracker_store.retrieve_since("gina", 2)
            await asyncio.sleep(0)  # the in-memory store never waits, so let the loop run here

    for _ in range(150):
        task = asyncio.create_task(busy())
        await asyncio.sleep(random.uniform(0, 0.002))
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2)
        assert done, "a cancellation was lost: the task went on running"
