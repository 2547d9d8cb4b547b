"""The Redis lock store across real OS processes: mutual exclusion, and locks of killed processes."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import redis.asyncio as redis

from bot.stores.lock_store import LockTimeoutError
from bot.stores.redis_lock import RedisLockStore

from .helpers import delete_redis_keys, redis_server, run_id

WORKER = Path(__file__).with_name("lock_worker.py")
REPO_ROOT = Path(__file__).resolve().parents[2]


async def spawn(mode: str, arguments: dict[str, Any]) -> asyncio.subprocess.Process:
    server = redis_server()
    full = {"host": server.host, "port": server.port, "db": server.db, **arguments}
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), mode, json.dumps(full),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=environment, cwd=REPO_ROOT,
    )


async def read_line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    return (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode().strip()


async def kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGKILL)
    await process.wait()


async def test_two_processes_never_hold_one_lock_together(redis_client: redis.Redis, tmp_path: Path) -> None:
    stem = f"test{run_id()}"
    counter = f"{stem}counter"
    tasks, rounds = 2, 20
    arguments = {"prefix": f"{stem}:lock:", "conversation": "shared", "counter": counter, "tasks": tasks,
                 "rounds": rounds}
    processes = [await spawn("hammer", {**arguments, "out": str(tmp_path / f"{n}.json")}) for n in range(2)]
    try:
        # Both processes connect first and start together: otherwise one may finish before the other begins.
        assert [await read_line(process) for process in processes] == ["ready", "ready"]
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        results = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in processes)), timeout=60)
        assert results == [0, 0]
        assert int(await redis_client.get(counter) or 0) == 2 * tasks * rounds, "an update was lost"
        intervals = sorted(
            (entered, left, n)
            for n in range(2)
            for entered, left in json.loads((tmp_path / f"{n}.json").read_text())
        )
        assert len(intervals) == 2 * tasks * rounds
        for before, after in itertools.pairwise(intervals):
            assert after[0] >= before[1], f"two holders at once: {before} and {after}"
        switches = sum(1 for before, after in itertools.pairwise(intervals) if before[2] != after[2])
        assert switches >= 5, "the processes did not contend for the lock"
        left = [key async for key in redis_client.scan_iter(match=f"{stem}:*")]
        assert left == [f"{stem}:lock-last:shared".encode()], "lock keys were left"  # the last holder, for an hour
        assert 0 < await redis_client.pttl(left[0]) <= 3_600_000
    finally:
        for process in processes:
            await kill(process)
        await redis_client.delete(counter)
        await delete_redis_keys(redis_client, f"{stem}:*")


async def test_the_lock_of_a_killed_holder_frees_itself_after_its_lifetime(redis_client: redis.Redis) -> None:
    stem = f"test{run_id()}"
    store = RedisLockStore(redis_server(), key_prefix=f"{stem}:lock:")
    await store.start()
    holder = await spawn("hold", {"prefix": f"{stem}:lock:", "conversation": "c", "lifetime": 1.0})
    try:
        assert await read_line(holder) == "held"
        held_since = time.monotonic()
        await kill(holder)
        try:
            async with store.lock("c", wait_timeout=0.3):
                raise AssertionError("the lock was free before its lifetime ended")
        except LockTimeoutError:
            pass
        async with store.lock("c", wait_timeout=3):
            freed_after = time.monotonic() - held_since
        assert 0.9 <= freed_after < 1.6, f"the lock was free after {freed_after:.2f} s, not after its 1 s lifetime"
    finally:
        await kill(holder)
        await store.close()
        await delete_redis_keys(redis_client, f"{stem}:*")


async def test_a_killed_waiter_does_not_block_the_queue(redis_client: redis.Redis) -> None:
    stem = f"test{run_id()}"
    store = RedisLockStore(redis_server(), key_prefix=f"{stem}:lock:")
    await store.start()
    waiter = await spawn("wait", {"prefix": f"{stem}:lock:", "conversation": "c"})
    try:
        async with store.lock("c"):
            assert await read_line(waiter) == "waiting"
            await asyncio.sleep(0.3)  # the waiter is queued, first in line
            assert await redis_client.zcard(f"{stem}:lock-queue:c") == 1
            await kill(waiter)
        started = time.monotonic()
        async with store.lock("c", wait_timeout=4):
            waited = time.monotonic() - started
        assert waited < 2.5, f"a dead waiter blocked the queue for {waited:.2f} s"
    finally:
        await kill(waiter)
        await store.close()
        await delete_redis_keys(redis_client, f"{stem}:*")


async def test_a_lock_says_whether_its_store_held_it_last(redis_client: redis.Redis) -> None:
    """`unchanged`: no other store (process) has held the conversation's lock since this one last did, so
    nothing can have been written to it since; the runtime then skips reading the tracker store."""
    stem = f"test{run_id()}"
    first, second = (RedisLockStore(redis_server(), key_prefix=f"{stem}:lock:") for _ in range(2))
    await first.start()
    await second.start()

    async def unchanged(store: RedisLockStore, conversation: str = "c") -> bool:
        async with store.lock(conversation) as held:
            return held.unchanged

    try:
        assert [await unchanged(first), await unchanged(first), await unchanged(first)] == [False, True, True]
        assert await unchanged(second) is False
        assert await unchanged(first) is False  # the second store held it in between
        assert await unchanged(first) is True
        assert await unchanged(first, "other") is False  # per conversation
        await redis_client.delete(f"{stem}:lock-last:c")  # forgotten (expired): as after another holder
        assert await unchanged(first) is False

        # a waiter that gets the lock after another store's turn is told so too
        async with second.lock("c"):
            waiting = asyncio.ensure_future(unchanged(first))
            await asyncio.sleep(0.05)
            assert not waiting.done()
        assert await waiting is False
    finally:
        await first.close()
        await second.close()
        await delete_redis_keys(redis_client, f"{stem}:*")
