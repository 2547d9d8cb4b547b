"""Dropping a platform's redeliveries of one event (a Slack retry, a Telegram update sent again), within one
process and, when the lock store is Redis, across every process that shares it.

    seen = Redeliveries("slack")                     # what a channel keeps
    if await seen.seen(["event:Ev123", "message:C1:1700000000.0001"]):
        return                                       # delivered before: answered once already
    ...                                              # handle it

In one process the record is a bounded set of recent ids. Behind a proxy a retry may reach another process, so
`share_redeliveries` gives the channels a record in Redis as well (when endpoints.yml has `lock_store: type:
redis`, on the lock store's server): each id is claimed with one `SET <key> 1 NX EX <ttl>`, which Redis runs
atomically, so of two processes receiving one event exactly one claims it. Keys are
`seen:<channel>:<id>`, or `<key_prefix>:seen:<channel>:<id>` with the lock store's `key_prefix`.

Redis failing never drops a message: the event is handled (a redelivery to another process may then be
answered twice), with a warning when Redis stops answering and a note when it answers again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

from channels.base import RecentIds

if TYPE_CHECKING:
    import redis.asyncio as redis

    from bot.config import LockStoreSettings
    from bot.stores.redis_store import RedisServer

__all__ = [
    "DEFAULT_SEEN_KEY_PREFIX",
    "DEFAULT_SEEN_TTL",
    "HasRedeliveries",
    "Redeliveries",
    "RedisSeenRecord",
    "share_redeliveries",
]

logger = logging.getLogger(__name__)

DEFAULT_SEEN_KEY_PREFIX: Final = "seen:"
DEFAULT_SEEN_TTL: Final = 3600
"""Seconds an id is remembered in Redis: Slack retries within minutes, Telegram redelivers sooner."""
SEEN_TIMEOUT: Final = 2.0
"""Seconds the Redis record may take to answer before the event is handled without it."""


class RedisSeenRecord:
    """The ids claimed by any process, in Redis (see the module docstring)."""

    def __init__(self, server: RedisServer, key_prefix: str = DEFAULT_SEEN_KEY_PREFIX, ttl: int = DEFAULT_SEEN_TTL):
        self.server = server
        self.key_prefix = key_prefix
        self.ttl = ttl
        self._client: redis.Redis | None = None
        self._failing = False

    async def claim(self, keys: Sequence[str]) -> bool:
        """Claim every key; False if some key was claimed before (by any process). True when Redis cannot be
        asked: a message is never dropped for want of an answer."""
        if self._client is None:
            self._client = self.server.client()
        try:
            async with asyncio.timeout(SEEN_TIMEOUT):
                async with self._client.pipeline(transaction=False) as pipe:
                    for key in keys:
                        pipe.set(self.key_prefix + key, 1, nx=True, ex=self.ttl)
                    claimed = await pipe.execute()
        except Exception as exc:  # whatever stops Redis answering, the message is handled
            if not self._failing:
                self._failing = True
                logger.warning(
                    "Could not check %s for redelivered events (%s); handling every event this process "
                    "receives until it answers (a retry that reaches another process may be answered twice)",
                    self.server.describe(), type(exc).__name__ if isinstance(exc, TimeoutError) else exc,
                )
            return True
        if self._failing:
            self._failing = False
            logger.info("%s answers again: redelivered events are dropped across processes", self.server.describe())
        return all(claimed)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


class Redeliveries:
    """What one channel has received: in this process, and in a shared record once `share` is called.

    `namespace` (the channel's name) keeps the ids of different channels apart in the shared record.
    """

    def __init__(self, namespace: str, capacity: int = 10_000) -> None:
        self.namespace = namespace
        self._here = RecentIds(capacity)
        self._shared: RedisSeenRecord | None = None

    def share(self, record: RedisSeenRecord) -> None:
        self._shared = record

    def seen_here(self, keys: Sequence[str]) -> bool:
        """True if this process received any of `keys` before; every key is recorded."""
        return any([self._here.seen(key) for key in keys])  # a list: every key is recorded

    async def seen_elsewhere(self, keys: Sequence[str]) -> bool:
        """True if another process claimed any of `keys` first (always False without a shared record)."""
        if self._shared is None:
            return False
        return not await self._shared.claim([f"{self.namespace}:{key}" for key in keys])

    async def seen(self, keys: Sequence[str]) -> bool:
        """True if any of `keys` was received before, here or (with a shared record) in another process."""
        return self.seen_here(keys) or await self.seen_elsewhere(keys)


@runtime_checkable
class HasRedeliveries(Protocol):
    """A channel that drops redeliveries: the server shares a cross-process record with it."""

    redeliveries: Redeliveries


def share_redeliveries(
    channels: Iterable[object], settings: LockStoreSettings | None, source: str | Path | None = None
) -> RedisSeenRecord | None:
    """When `settings` (endpoints.yml's `lock_store`) is Redis: a record on its server, shared with every
    channel that has `redeliveries` (close it when the channels have stopped). None for any other lock store:
    each channel keeps its in-process record."""
    if settings is None or settings.type != "redis":
        return None
    from bot.stores.redis_store import RedisServer, redis_key_prefix

    where = str(source) if source is not None else None
    record = RedisSeenRecord(
        RedisServer.from_settings(settings, default_db=1, source=where),
        redis_key_prefix(settings.key_prefix, DEFAULT_SEEN_KEY_PREFIX, where),
    )
    for channel in channels:
        if isinstance(channel, HasRedeliveries):
            channel.redeliveries.share(record)
    return record
