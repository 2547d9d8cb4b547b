"""The behaviour every lock store shares, run against the in-memory and the Redis lock store."""

from __future__ import annotations

import asyncio
import logging
import time
from random import Random

import pytest

from bot.stores.lock_store import LockStore, LockTimeoutError


async def hold(lock_store: LockStore, release: asyncio.Event) -> None:
    """Hold the lock of conversation "c" until `release` is set."""
    async with lock_store.lock("c"):
        await release.wait()


async def must_not_get(lock_store: LockStore, failure: str) -> None:
    """Wait for the lock of conversation "c"; getting it fails the test with `failure`."""
    async with lock_store.lock("c"):
        raise AssertionError(failure)


async def test_one_holder_at_a_time_and_no_lost_update(lock_store: LockStore) -> None:
    counter = 0
    inside = 0
    most_inside = 0

    async def worker() -> None:
        nonlocal counter, inside, most_inside
        for _ in range(8):
            async with lock_store.lock("c"):
                inside += 1
                most_inside = max(most_inside, inside)
                seen = counter
                await asyncio.sleep(0)  # let every other task run between the read and the write
                counter = seen + 1
                inside -= 1

    await asyncio.gather(*(worker() for _ in range(8)))
    assert counter == 64
    assert most_inside == 1


async def test_waiters_are_served_in_arrival_order(lock_store: LockStore) -> None:
    order: list[int] = []
    release = asyncio.Event()

    async def waiter(number: int) -> None:
        async with lock_store.lock("c"):
            order.append(number)

    tasks = [asyncio.create_task(hold(lock_store, release))]
    await asyncio.sleep(0.02)
    for number in range(6):
        tasks.append(asyncio.create_task(waiter(number)))
        await asyncio.sleep(0.02)  # each waiter is queued before the next arrives
    release.set()
    await asyncio.gather(*tasks)
    assert order == list(range(6))


async def test_other_conversations_are_not_blocked(lock_store: LockStore) -> None:
    async with lock_store.lock("c"), lock_store.lock("d", wait_timeout=0.5):
        pass


async def test_a_waiter_gives_up_after_its_timeout_and_leaves_the_queue(lock_store: LockStore) -> None:
    release = asyncio.Event()

    task = asyncio.create_task(hold(lock_store, release))
    await asyncio.sleep(0.02)
    started = time.monotonic()
    with pytest.raises(LockTimeoutError, match=r"after 0\.1 s"):
        async with lock_store.lock("c", wait_timeout=0.1):
            pass
    assert 0.09 <= time.monotonic() - started < 0.5
    release.set()
    await task
    started = time.monotonic()
    async with lock_store.lock("c", wait_timeout=1):
        assert time.monotonic() - started < 0.2, "the waiter that gave up still blocked the queue"


async def test_a_cancelled_waiter_leaves_the_queue(lock_store: LockStore) -> None:
    release = asyncio.Event()

    held = asyncio.create_task(hold(lock_store, release))
    await asyncio.sleep(0.02)
    waiting = asyncio.create_task(must_not_get(lock_store, "the cancelled waiter got the lock"))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await held
    started = time.monotonic()
    async with lock_store.lock("c", wait_timeout=1):
        assert time.monotonic() - started < 0.2


async def test_a_lock_expires_after_its_lifetime(lock_store: LockStore, caplog: pytest.LogCaptureFixture) -> None:
    slow_done = asyncio.Event()

    async def slow_holder() -> None:
        async with lock_store.lock("c", lock_lifetime=0.2):
            await asyncio.sleep(0.5)  # outlives its lock
        slow_done.set()

    task = asyncio.create_task(slow_holder())
    await asyncio.sleep(0.02)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        async with lock_store.lock("c", lock_lifetime=5, wait_timeout=2):
            waited = time.monotonic() - started
            assert 0.1 < waited < 0.45, f"got the lock after {waited:.2f} s, not when the first one expired"
            await slow_done.wait()  # the slow holder finishes while we hold the lock ...
            with pytest.raises(LockTimeoutError):  # ... and its release did not free our lock
                async with lock_store.lock("c", wait_timeout=0.1):
                    pass
    await task
    assert "expired (lifetime 0.2 s) before its holder released it" in caplog.text


async def test_a_cancelled_holder_releases_its_lock(lock_store: LockStore) -> None:
    entered = asyncio.Event()

    async def holder() -> None:
        async with lock_store.lock("c"):
            entered.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(holder())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with lock_store.lock("c", wait_timeout=0.5):
        pass


async def test_a_lifetime_must_be_positive(lock_store: LockStore) -> None:
    with pytest.raises(ValueError, match="above 0"):
        async with lock_store.lock("c", lock_lifetime=0):
            pass


async def test_a_cancelled_waiter_always_stops(lock_store: LockStore) -> None:
    """Cancelled at any moment of its polling, a waiter stops (see the tracker store test of the same name)."""
    random = Random(11)
    release = asyncio.Event()

    held = asyncio.create_task(hold(lock_store, release))
    await asyncio.sleep(0.02)
    for _ in range(100):
        task = asyncio.create_task(must_not_get(lock_store, "the waiter got a held lock"))
        await asyncio.sleep(random.uniform(0, 0.003))
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2)
        assert done, "a cancellation was lost: the waiter went on waiting"
        assert task.cancelled()
    release.set()
    await held
