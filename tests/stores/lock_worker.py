"""A separate OS process for the Redis lock tests, run as `python lock_worker.py MODE JSON-ARGUMENTS`.

Modes:
- hammer: print "ready", wait for a line on stdin (so that both processes start hammering together), then
  several tasks each take the lock `rounds` times; inside, each reads a Redis counter, sleeps, and
  writes it back plus one (a lost update shows if two holders overlap), and records when it entered and
  left (CLOCK_MONOTONIC, shared by all processes of the machine). The intervals go to `out` as JSON.
- hold: take the lock for `lifetime` seconds, print "held" and sleep until killed.
- wait: print "waiting" and wait for the lock until killed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from bot.stores.redis_lock import RedisLockStore
from bot.stores.redis_store import RedisServer


async def hammer(store: RedisLockStore, server: RedisServer, arguments: dict[str, Any]) -> None:
    client = server.client()
    intervals: list[tuple[float, float]] = []

    async def task() -> None:
        for _ in range(arguments["rounds"]):
            async with store.lock(arguments["conversation"], lock_lifetime=30):
                entered = time.monotonic()
                value = int(await client.get(arguments["counter"]) or 0)
                await asyncio.sleep(0.001)
                await client.set(arguments["counter"], value + 1)
                intervals.append((entered, time.monotonic()))

    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    await asyncio.gather(*(task() for _ in range(arguments["tasks"])))
    await client.aclose()
    Path(arguments["out"]).write_text(json.dumps(intervals))


async def main(mode: str, arguments: dict[str, Any]) -> None:
    server = RedisServer(host=arguments["host"], port=arguments["port"], db=arguments["db"])
    store = RedisLockStore(server, key_prefix=arguments["prefix"])
    await store.start()
    if mode == "hammer":
        await hammer(store, server, arguments)
    elif mode == "hold":
        async with store.lock(arguments["conversation"], lock_lifetime=arguments["lifetime"]):
            print("held", flush=True)
            await asyncio.sleep(3600)
    else:
        print("waiting", flush=True)
        async with store.lock(arguments["conversation"]):
            await asyncio.sleep(3600)
    await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
