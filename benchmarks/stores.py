"""Tracker and lock store figures, against the real servers.

Run: `.venv/bin/python benchmarks/stores.py [--samples N] [memory sqlite postgresql redis]`. PostgreSQL and
Redis are found as the tests find them (CONDUCTOR_TEST_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/test; CONDUCTOR_TEST_REDIS_URL, default redis://127.0.0.1:6379/0). SQLite
writes to a temporary folder. Every run uses its own table and key prefixes and removes them afterwards.

Per tracker store: the latency of appending one turn (user message, action, bot reply: 3 events) to a new
conversation and to one that already holds 10,000 events (p50/p99 over N samples), and the time to read the
10,000 events back (median of 5). Per lock store: acquiring and releasing an uncontended lock (p50/p99), and
handing a lock over between 8 tasks that want it at once (time per holder).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable
from urllib.parse import urlsplit

import asyncpg
from sqlalchemy.engine import make_url

from bot.dialogue.events import ActionExecuted, BotUttered, Event, UserUttered
from bot.stores.lock_store import InMemoryLockStore, LockStore
from bot.stores.memory import InMemoryTrackerStore
from bot.stores.postgres_direct import append_function_name
from bot.stores.redis_lock import RedisLockStore
from bot.stores.redis_store import RedisServer, RedisTrackerStore
from bot.stores.sql import SQLTrackerStore
from bot.stores.tracker_store import TrackerStore, decode_events, encode_events

POSTGRES_URL = os.environ.get("CONDUCTOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CONDUCTOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LONG = 10_000


def turn(n: int) -> list[Event]:
    """One turn as a bot would store it, with realistic NLU output."""
    ranking = [{"name": f"intent_{i}", "confidence": round(0.9 / (i + 1), 4)} for i in range(10)]
    return [
        UserUttered(
            text=f"I would like to book a table for {n % 6 + 1} people tonight",
            parse_data={"intent": ranking[0], "entities": [{"entity": "guests", "value": n % 6 + 1, "start": 34,
                                                            "end": 35, "extractor": "RegexEntityExtractor"}],
                        "intent_ranking": ranking, "text": "...", "message_id": uuid.uuid4().hex},
            input_channel="rest", message_id=uuid.uuid4().hex,
        ),
        ActionExecuted(name="utter_confirm", policy="RulePolicy", confidence=1.0),
        BotUttered.create("Done! See you tonight.", metadata={"utter_action": "utter_confirm"}),
    ]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def milliseconds(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5) * 1000:7.2f} ms  p99 {percentile(values, 0.99) * 1000:7.2f} ms"


async def timed(action: Awaitable[object]) -> float:
    started = time.perf_counter()
    await action
    return time.perf_counter() - started


async def measure_tracker_store(name: str, store: TrackerStore, samples: int) -> None:
    await store.start()
    try:
        long_id = "long"
        batch = [event for n in range(LONG // 3 + 1) for event in turn(n)][:LONG]
        for start in range(0, LONG, 1000):
            await store.append(long_id, batch[start:start + 1000])
        one_turn = turn(1)
        new = [await timed(store.append(f"new-{i}", one_turn)) for i in range(samples)]
        onto_long = [await timed(store.append(long_id, one_turn)) for _ in range(samples)]
        assert await store.count_events(long_id) == LONG + 3 * samples
        tails = [await timed(store.retrieve_since(long_id, LONG + 3 * samples - 3)) for _ in range(samples)]
        await store.replace(long_id, batch)
        reads = [await timed(store.retrieve(long_id)) for _ in range(5)]
        print(f"{name:10} append a turn, new conversation       {milliseconds(new)}")
        print(f"{name:10} append a turn, 10,000-event conv.     {milliseconds(onto_long)}")
        print(f"{name:10} retrieve_since: last turn of 10,000   {milliseconds(tails)}")
        print(f"{name:10} retrieve 10,000 events                median {statistics.median(reads) * 1000:7.1f} ms")
    finally:
        await store.close()


async def measure_lock_store(name: str, store: LockStore, samples: int) -> None:
    await store.start()
    try:
        acquire: list[float] = []
        release: list[float] = []
        for i in range(samples):
            started = time.perf_counter()
            token = await store.acquire(f"c{i % 10}", 60, None)
            acquired = time.perf_counter()
            await store.release(f"c{i % 10}", token)
            acquire.append(acquired - started)
            release.append(time.perf_counter() - acquired)

        async def contender() -> None:
            for _ in range(10):
                async with store.lock("hot"):
                    await asyncio.sleep(0.001)

        handover = await timed(asyncio.gather(*(contender() for _ in range(8))))
        print(f"{name:10} lock acquire, free                    {milliseconds(acquire)}")
        print(f"{name:10} lock release                          {milliseconds(release)}")
        each = handover / 80 * 1000
        print(f"{name:10} lock, 8 tasks contending              {each:7.2f} ms per holder (1 ms inside)")
    finally:
        await store.close()


def measure_decoding() -> None:
    """Turning 10,000 stored JSON texts into events: the share of every store's full read spent in
    `bot.dialogue.events` rather than in the store."""
    texts = [item.data for item in encode_events([e for n in range(LONG // 3 + 1) for e in turn(n)][:LONG])]
    parsing: list[float] = []
    decoding: list[float] = []
    for _ in range(5):
        started = time.perf_counter()
        for text in texts:
            json.loads(text)
        parsing.append(time.perf_counter() - started)
        started = time.perf_counter()
        decode_events(texts, "bench")
        decoding.append(time.perf_counter() - started)
    print(f"{'(any)':10} decode 10,000 events                  median {statistics.median(decoding) * 1000:7.1f} ms "
          f"(json.loads alone {statistics.median(parsing) * 1000:.1f} ms)")


async def main(kinds: list[str], samples: int) -> None:
    run = uuid.uuid4().hex[:10]
    redis_url = urlsplit(REDIS_URL)
    server = RedisServer(host=redis_url.hostname or "127.0.0.1", port=redis_url.port or 6379,
                         db=int(redis_url.path.strip("/") or 0))
    table = f"events_bench_{run}"
    measure_decoding()
    with tempfile.TemporaryDirectory() as folder:
        try:
            for kind in kinds:
                if kind == "memory":
                    await measure_tracker_store(kind, InMemoryTrackerStore(), samples)
                    await measure_lock_store(kind, InMemoryLockStore(), samples)
                elif kind == "sqlite":
                    await measure_tracker_store(kind, SQLTrackerStore(f"sqlite:///{folder}/bench.db"), samples)
                elif kind == "postgresql":
                    await measure_tracker_store(kind, SQLTrackerStore(POSTGRES_URL, table_name=table), samples)
                elif kind == "redis":
                    tracker_store = RedisTrackerStore(server, key_prefix=f"bench{run}:tracker:")
                    await measure_tracker_store(kind, tracker_store, samples)
                    await measure_lock_store(kind, RedisLockStore(server, key_prefix=f"bench{run}:lock:"), samples)
                else:
                    raise SystemExit(f"unknown store {kind!r}: use memory, sqlite, postgresql or redis")
        finally:
            if "postgresql" in kinds:
                url = make_url(POSTGRES_URL)
                connection = await asyncpg.connect(host=url.host, port=url.port, user=url.username,
                                                   password=url.password, database=url.database)
                await connection.execute(f'DROP TABLE IF EXISTS "{table}"')
                await connection.execute(f"DROP FUNCTION IF EXISTS {append_function_name(table)}")
                await connection.close()
            if "redis" in kinds:
                client = server.client()
                keys = [key async for key in client.scan_iter(match=f"bench{run}:*", count=1000)]
                if keys:
                    await client.delete(*keys)
                await client.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stores", nargs="*", default=["memory", "sqlite", "postgresql", "redis"])
    parser.add_argument("--samples", type=int, default=300, help="appends and locks measured per store")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.stores, arguments.samples))
