"""The Redis lock store: one conversation at a time across every process that shares a Redis server.

How it works (keys, Lua scripts, first come first served) is described in `bot.stores.lock_store`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import NamedTuple

import redis.asyncio as redis
from redis.commands.core import AsyncScript

from bot.config import LockStoreSettings
from bot.stores.lock_store import (
    DEFAULT_LOCK_KEY_PREFIX,
    DEFAULT_LOCK_LIFETIME,
    Acquired,
    LockStore,
    LockTimeoutError,
    lock_lifetime_from_environment,
)
from bot.stores.redis_store import RedisServer, redis_key_prefix
from bot.stores.tracker_store import warn_unused_settings

__all__ = ["RedisLockStore"]

logger = logging.getLogger(__name__)

_WAITER_TTL_MS = 2000
_FIRST_POLL_SECONDS = 0.001
_POLL_SECONDS_PER_PLACE = 0.004
"""A waiter sleeps at most this long per place in the queue between asks: the next in line asks often."""
_LONGEST_POLL_SECONDS = 0.025

_LAST_HOLDER_TTL_MS = 3_600_000
"""How long Redis remembers which store took a conversation's lock last: a conversation idle for longer reads
the tracker store once at its next turn, as after any other holder."""

# KEYS: lock, queue, alive, last. ARGV: token, lifetime in ms, waiter ttl in ms, this store's id, last ttl in ms.
# Returns -1 when the lock is taken and this store took it last before, 0 when it is taken after another holder
# (or none remembered), else the waiter's place in the queue (1: next in line).
_ACQUIRE_SCRIPT = """
local lock, queue, alive, last = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local token, lifetime, waiter_ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local function take()
  redis.call('SET', lock, token, 'PX', lifetime)
  local previous = redis.call('GET', last)
  redis.call('SET', last, ARGV[4], 'PX', ARGV[5])
  if previous == ARGV[4] then return -1 end
  return 0
end
if redis.call('EXISTS', lock) == 0 and redis.call('ZCARD', queue) == 0 then
  return take()
end
local clock = redis.call('TIME')
local now_us = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local now_ms = math.floor(now_us / 1000)
if not redis.call('ZSCORE', queue, token) then
  redis.call('ZADD', queue, now_us, token)
end
redis.call('HSET', alive, token, now_ms + waiter_ttl)
local place, live = 0, 0
for _, waiter in ipairs(redis.call('ZRANGE', queue, 0, -1)) do
  if tonumber(redis.call('HGET', alive, waiter) or 0) < now_ms then
    redis.call('ZREM', queue, waiter)
    redis.call('HDEL', alive, waiter)
  else
    live = live + 1
    if waiter == token then place = live end
  end
end
if place == 1 and redis.call('EXISTS', lock) == 0 then
  redis.call('ZREM', queue, token)
  redis.call('HDEL', alive, token)
  place = take()
end
redis.call('PEXPIRE', queue, waiter_ttl)
redis.call('PEXPIRE', alive, waiter_ttl)
return place
"""

# KEYS: lock, queue, alive (and last, unused). ARGV: token. Leaves the queue; frees the lock only if this token
# holds it.
_RELEASE_SCRIPT = """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


class _Scripts(NamedTuple):
    acquire: AsyncScript
    release: AsyncScript


class RedisLockStore(LockStore):
    """Locks shared by every process that uses the same Redis database (see the module docstring)."""

    def __init__(
        self,
        server: RedisServer | None = None,
        *,
        key_prefix: str = DEFAULT_LOCK_KEY_PREFIX,
        lock_lifetime: float = DEFAULT_LOCK_LIFETIME,
        source: str | None = None,
    ) -> None:
        super().__init__(lock_lifetime)
        self._server = server or RedisServer(db=1)
        self._prefix = key_prefix
        stem = key_prefix[:-1] if key_prefix.endswith(":") else key_prefix
        self._queue_prefix = f"{stem}-queue:"
        self._alive_prefix = f"{stem}-alive:"
        self._last_prefix = f"{stem}-last:"
        self._id = uuid.uuid4().hex
        """This store's name in `lock-last:` keys: one per process (a process has one lock store)."""
        self._source = source
        self._redis: redis.Redis | None = None
        self._scripts: _Scripts | None = None

    @classmethod
    def from_settings(cls, settings: LockStoreSettings, source: str | None = None) -> RedisLockStore:
        used = ["url", "port", "db", "username", "password", "use_ssl", "key_prefix", "socket_timeout",
                "ssl_keyfile", "ssl_certfile", "ssl_ca_certs"]
        warn_unused_settings(settings, used, "Redis lock store", source)
        return cls(
            RedisServer.from_settings(settings, default_db=1, source=source),
            key_prefix=redis_key_prefix(settings.key_prefix, DEFAULT_LOCK_KEY_PREFIX, source),
            lock_lifetime=lock_lifetime_from_environment(source),
            source=source,
        )

    def keys_of(self, conversation_id: str) -> list[str]:
        """The lock, queue, waiter and last-holder keys of a conversation."""
        return [
            self._prefix + conversation_id,
            self._queue_prefix + conversation_id,
            self._alive_prefix + conversation_id,
            self._last_prefix + conversation_id,
        ]

    async def start(self) -> None:
        if self._redis is None:
            client = await self._server.connect("Redis lock store", "lock_store", self._source)
            self._scripts = _Scripts(client.register_script(_ACQUIRE_SCRIPT), client.register_script(_RELEASE_SCRIPT))
            self._redis = client

    async def close(self) -> None:
        if self._redis is not None:
            client, self._redis, self._scripts = self._redis, None, None
            await client.aclose()

    def _started(self) -> _Scripts:
        if self._scripts is None:
            raise RuntimeError("the Redis lock store is not started: call `await store.start()` first")
        return self._scripts

    async def acquire(self, conversation_id: str, lifetime: float, wait_timeout: float | None) -> str:
        return (await self.acquire_lock(conversation_id, lifetime, wait_timeout)).token

    async def acquire_lock(self, conversation_id: str, lifetime: float, wait_timeout: float | None) -> Acquired:
        scripts = self._started()
        loop = asyncio.get_running_loop()
        token = uuid.uuid4().hex
        keys = self.keys_of(conversation_id)
        arguments: list[str | int] = [
            token, max(1, round(lifetime * 1000)), _WAITER_TTL_MS, self._id, _LAST_HOLDER_TTL_MS
        ]
        deadline = None if wait_timeout is None else loop.time() + wait_timeout
        pause = _FIRST_POLL_SECONDS
        try:
            while True:
                async with self._server.answer_within():
                    place = int(await scripts.acquire(keys=keys, args=arguments))
                if place <= 0:
                    return Acquired(token, unchanged=place < 0)
                now = loop.time()
                if deadline is not None and now >= deadline:
                    raise LockTimeoutError(conversation_id, wait_timeout or 0.0)
                pause = min(pause, _POLL_SECONDS_PER_PLACE * place, _LONGEST_POLL_SECONDS)
                await asyncio.sleep(pause if deadline is None else min(pause, deadline - now))
                pause *= 2
        except BaseException:
            # leave the queue, and free the lock if the script took it but its answer was lost
            await asyncio.shield(self._leave(scripts, keys, token))
            raise

    async def _leave(self, scripts: _Scripts, keys: list[str], token: str) -> None:
        try:
            async with self._server.answer_within():
                await scripts.release(keys=keys, args=[token])
        except (OSError, redis.RedisError) as exc:
            logger.warning(
                "could not leave the lock queue of %r (a waiter that stops asking is dropped within 2 s): %s",
                keys[0],
                exc,
            )

    async def release(self, conversation_id: str, token: str) -> bool:
        scripts = self._started()
        async with self._server.answer_within():
            return bool(await scripts.release(keys=self.keys_of(conversation_id), args=[token]))
