"""Lock stores: one conversation is handled by one task at a time, across every process of a deployment.

    async with lock_store.lock(conversation_id):
        ...  # load the tracker, run the turn, append the new events

A lock is granted first come, first served, and lasts at most its lifetime (60 s by default, or Rasa's
TICKET_LOCK_LIFETIME environment variable): a holder that dies or hangs cannot block a conversation forever.
A holder that outlives its lifetime has lost the lock; its release then changes nothing (it can never free a
lock that someone else holds since) and is logged as a warning.

The Redis lock store (`bot.stores.redis_lock`, imported only when endpoints.yml names it) keeps all of a
conversation's lock state in Redis and changes it only in Lua scripts, which Redis runs one at a time;
deciding who holds the lock and taking it are one step. (Rasa's Redis lock store reads its ticket list,
decides in Python and writes it back, so two processes can both believe they hold the lock: Rasa issue
#9213.) Keys, for conversation `c` and the default prefix `lock:`:
- `lock:c`: the holder's random token, set only when the key is absent, with the lifetime as its expiry;
- `lock-queue:c`: the waiters' tokens ordered by arrival (a sorted set), for first come, first served;
- `lock-alive:c`: each waiter's "still waiting" deadline. Waiters ask again every few milliseconds (the
  next in line every 4 ms, the second every 8 ms, ..., none less often than every 25 ms), which renews
  it; a waiter that stops asking (its process died) is dropped from the queue after 2 s;
- `lock-last:c`: the store (one per process) that took the lock last, kept for an hour.

Taking a lock also tells whether the conversation's previous holder was this same store (`HeldLock.unchanged`):
every writer of a conversation holds its lock, so nobody else can have written the conversation since, and the
runtime's cached tracker of it is current without reading the tracker store (with an in-memory lock store,
always; with Redis, when the same process took the lock last, as every turn of a deployment of one process
does). A store that cannot tell (a custom one that implements only `acquire`) answers no: the runtime then
reads what was stored since its cached tracker, which is always correct.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from abc import ABC, abstractmethod
from collections import deque
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from bot.config import LockStoreSettings
from bot.errors import ConductorError
from bot.service import Service
from bot.stores.tracker_store import import_store_class, warn_unused_settings

__all__ = [
    "DEFAULT_LOCK_KEY_PREFIX",
    "DEFAULT_LOCK_LIFETIME",
    "Acquired",
    "HeldLock",
    "InMemoryLockStore",
    "LockError",
    "LockStore",
    "LockTimeoutError",
    "create_lock_store",
    "lock_lifetime_from_environment",
]

logger = logging.getLogger(__name__)

DEFAULT_LOCK_LIFETIME = 60.0
"""Seconds a lock lasts unless its holder releases it sooner (Rasa's default)."""

DEFAULT_LOCK_KEY_PREFIX = "lock:"


class LockError(Exception):
    """A conversation's lock could not be had."""


class LockTimeoutError(LockError):
    def __init__(self, conversation_id: str, waited: float) -> None:
        super().__init__(f"gave up waiting for the lock of conversation {conversation_id!r} after {waited:g} s")
        self.conversation_id = conversation_id
        self.waited = waited


def lock_lifetime_from_environment(source: str | None = None) -> float:
    """Rasa's TICKET_LOCK_LIFETIME (seconds) when set, else the default of 60 s."""
    text = os.environ.get("TICKET_LOCK_LIFETIME", "").strip()
    if not text:
        return DEFAULT_LOCK_LIFETIME
    try:
        lifetime = float(text)
    except ValueError:
        lifetime = 0.0
    if lifetime <= 0:
        raise ConductorError.single(
            f"the environment variable TICKET_LOCK_LIFETIME should be a number of seconds above 0, not {text!r}",
            source,
            hint="Set it to, for example, 60, or unset it for the default.",
        )
    return lifetime


@dataclass(frozen=True, slots=True)
class Acquired:
    """A lock taken: the token that releases it, and whether the conversation's previous holder was this same
    store (so nobody else can have written the conversation since this store's last hold of it)."""

    token: str
    unchanged: bool = False


class LockStore(Service, ABC):
    """Per-conversation locks, granted in arrival order, each expiring after its lifetime. `start` connects
    (a server that cannot be reached is an error); `close` releases the connections."""

    release_waits: ClassVar[bool] = True
    """Whether `release` may wait (on a server): the lock then releases in a task of its own, shielded, so a
    cancelled holder still gives it back. A store whose `release` never waits sets this False and saves the
    task (a cancellation cannot interrupt a coroutine that does not wait)."""

    def __init__(self, lock_lifetime: float = DEFAULT_LOCK_LIFETIME) -> None:
        self.lock_lifetime = lock_lifetime

    @classmethod
    def from_settings(cls, settings: LockStoreSettings, source: str | None = None) -> LockStore:
        """The store an endpoints.yml `lock_store` section describes; custom stores override this."""
        del settings
        return cls(lock_lifetime_from_environment(source))

    @abstractmethod
    async def acquire(self, conversation_id: str, lifetime: float, wait_timeout: float | None) -> str:
        """Wait for the conversation's lock (at most `wait_timeout` seconds, or without limit for None) and
        take it for `lifetime` seconds; return the token that releases it. Raises `LockTimeoutError`."""

    @abstractmethod
    async def release(self, conversation_id: str, token: str) -> bool:
        """Give the lock back; False (and nothing changes) when `token` no longer holds it."""

    async def acquire_lock(self, conversation_id: str, lifetime: float, wait_timeout: float | None) -> Acquired:
        """`acquire`, telling also whether this store held the conversation's lock last (see the module
        docstring). Stores that know override it; this one answers that it cannot tell."""
        return Acquired(await self.acquire(conversation_id, lifetime, wait_timeout))

    def lock(
        self, conversation_id: str, lock_lifetime: float | None = None, wait_timeout: float | None = None
    ) -> AbstractAsyncContextManager[HeldLock]:
        """Hold the conversation's lock for the body of an `async with` (`as held`: `held.unchanged`).

        `lock_lifetime` (seconds; the store's `lock_lifetime` when None) bounds how long the lock lasts if
        it is not released; `wait_timeout` how long to wait for it (None: as long as it takes).
        """
        return HeldLock(self, conversation_id, lock_lifetime, wait_timeout)


class HeldLock:
    """`LockStore.lock`'s context manager: acquires on entry, releases on exit (a class rather than an
    `asynccontextmanager`, whose generator costs more for what every turn does once). Inside, `unchanged`
    says whether nobody else can have written the conversation since this store last held its lock."""

    __slots__ = ("_conversation_id", "_lifetime", "_store", "_token", "_wait_timeout", "unchanged")

    def __init__(
        self, store: LockStore, conversation_id: str, lock_lifetime: float | None, wait_timeout: float | None
    ) -> None:
        self._store = store
        self._conversation_id = conversation_id
        self._lifetime = store.lock_lifetime if lock_lifetime is None else lock_lifetime
        self._wait_timeout = wait_timeout
        self._token: str | None = None
        self.unchanged = False

    async def __aenter__(self) -> HeldLock:
        if self._lifetime <= 0:
            raise ValueError(f"a lock lifetime must be above 0 seconds, not {self._lifetime}")
        acquired = await self._store.acquire_lock(self._conversation_id, self._lifetime, self._wait_timeout)
        self._token, self.unchanged = acquired.token, acquired.unchanged
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        store, token = self._store, self._token
        assert token is not None  # `__aenter__` took the lock
        release = store.release(self._conversation_id, token)
        if not await (asyncio.shield(release) if store.release_waits else release):
            logger.warning(
                "the lock of conversation %r expired (lifetime %g s) before its holder released it; "
                "another handler may have run at the same time. Raise TICKET_LOCK_LIFETIME if turns "
                "take this long.",
                self._conversation_id,
                self._lifetime,
            )


# --- in memory --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _ConversationQueue:
    """One conversation's lock: its holder (with expiry) and the waiters in arrival order."""

    holder: str | None
    expires_at: float
    waiting: deque[str] = field(default_factory=deque)
    changed: asyncio.Event | None = None
    """Set when the holder or the head of the queue changes; made by the first waiter that waits for it (an
    uncontended lock never needs one)."""

    def changes(self) -> asyncio.Event:
        """The event the next change sets."""
        if self.changed is None:
            self.changed = asyncio.Event()
        return self.changed

    def notify(self) -> None:
        """Wake every waiter to look again (the holder or the head of the queue changed)."""
        if self.changed is not None:
            self.changed.set()
            self.changed = None


class InMemoryLockStore(LockStore):
    """Locks for one process: enough for a single server; use Redis when several processes share the work."""

    release_waits = False

    def __init__(self, lock_lifetime: float = DEFAULT_LOCK_LIFETIME) -> None:
        super().__init__(lock_lifetime)
        self._queues: dict[str, _ConversationQueue] = {}
        self._tokens = itertools.count(1)

    def _drop_if_idle(self, conversation_id: str, queue: _ConversationQueue) -> None:
        if queue.holder is None and not queue.waiting and self._queues.get(conversation_id) is queue:
            del self._queues[conversation_id]

    async def acquire(self, conversation_id: str, lifetime: float, wait_timeout: float | None) -> str:
        loop = asyncio.get_running_loop()
        token = str(next(self._tokens))  # unique within the process, which is all an in-memory lock needs
        queue = self._queues.get(conversation_id)
        if queue is None:  # nobody holds it or waits for it: taken at once
            self._queues[conversation_id] = _ConversationQueue(token, loop.time() + lifetime)
            return token
        queue.waiting.append(token)
        deadline = None if wait_timeout is None else loop.time() + wait_timeout
        try:
            while True:
                now = loop.time()
                if queue.holder is not None and queue.expires_at <= now:
                    queue.holder = None  # the holder outlived its lifetime
                if queue.holder is None and queue.waiting[0] == token:
                    queue.waiting.popleft()
                    queue.holder, queue.expires_at = token, now + lifetime
                    return token
                if deadline is not None and now >= deadline:
                    raise LockTimeoutError(conversation_id, wait_timeout or 0.0)
                limits = [deadline - now] if deadline is not None else []
                if queue.holder is not None:
                    limits.append(queue.expires_at - now)
                changed = queue.changes()
                with suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), min(limits) if limits else None)
        except BaseException:
            if token in queue.waiting:
                queue.waiting.remove(token)
                queue.notify()
            self._drop_if_idle(conversation_id, queue)
            raise

    async def acquire_lock(self, conversation_id: str, lifetime: float, wait_timeout: float | None) -> Acquired:
        # one process: this store is every holder there is
        return Acquired(await self.acquire(conversation_id, lifetime, wait_timeout), unchanged=True)

    async def release(self, conversation_id: str, token: str) -> bool:
        queue = self._queues.get(conversation_id)
        if queue is None or queue.holder != token:
            return False
        expired = queue.expires_at <= asyncio.get_running_loop().time()
        queue.holder = None
        queue.notify()
        self._drop_if_idle(conversation_id, queue)
        return not expired


# --- factory ----------------------------------------------------------------------------------------------


def create_lock_store(settings: LockStoreSettings | None, source: str | Path | None = None) -> LockStore:
    """The lock store an endpoints.yml `lock_store` section describes (None: in memory), not started.

    The lock lifetime comes from TICKET_LOCK_LIFETIME, as in Rasa. Call `await store.start()` before use.
    """
    where = str(source) if source is not None else None
    if settings is None:
        settings = LockStoreSettings()
    if settings.type == "in_memory":
        warn_unused_settings(settings, (), "in-memory lock store", where)
        return InMemoryLockStore(lock_lifetime_from_environment(where))
    if settings.type == "redis":
        from bot.stores.redis_lock import RedisLockStore

        return RedisLockStore.from_settings(settings, where)
    store_class = import_store_class(settings.type, LockStore, "lock store", where)
    store: LockStore = store_class.from_settings(settings, where)
    return store
