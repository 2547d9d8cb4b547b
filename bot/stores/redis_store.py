"""The Redis tracker store: one Redis list per conversation, one JSON event per item (redis-py asyncio).

Appending is one RPUSH, which Redis runs atomically: the events of one append stay together and in order,
and the list's length after the push is the number of the last event. Reading is one LRANGE. Nothing is
read back to save a turn (Rasa's Redis store reads, merges and rewrites the whole tracker as one string).

endpoints.yml keys are Rasa's: `url` (the host, or a whole redis:// URL), `port`, `db` (a number),
`username`, `password`, `use_ssl` (plus `ssl_keyfile`, `ssl_certfile`, `ssl_ca_certs`), `key_prefix` and
`record_exp` (seconds a conversation is kept after its last event). As in Rasa, keys are
`tracker:<sender_id>`, or `<key_prefix>:tracker:<sender_id>` with an alphanumeric `key_prefix`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ResponseError

from bot.config import LockStoreSettings, TrackerStoreSettings
from bot.dialogue.events import Event
from bot.errors import ConductorError
from bot.stores.tracker_store import TrackerStore, decode_events, encode_events, warn_unused_settings

__all__ = ["DEFAULT_TRACKER_KEY_PREFIX", "RedisServer", "RedisTrackerStore", "redis_key_prefix"]

logger = logging.getLogger(__name__)

DEFAULT_TRACKER_KEY_PREFIX = "tracker:"
_SSL_KEYS = ("ssl_keyfile", "ssl_certfile", "ssl_ca_certs")


def redis_key_prefix(key_prefix: str | None, default: str, source: str | None) -> str:
    """Rasa's key layout: `default` alone, or `<key_prefix>:<default>` for an alphanumeric `key_prefix`."""
    if not key_prefix:
        return default
    if key_prefix.isalnum():
        return f"{key_prefix}:{default}"
    where = f"{source}: " if source else ""
    logger.warning(
        "%sthe Redis key_prefix %r is not alphanumeric (letters and digits only, as in Rasa); "
        "using the default prefix %r instead",
        where,
        key_prefix,
        default,
    )
    return default


@dataclass(frozen=True)
class RedisServer:
    """Where a Redis server is and how to log in: what both Redis stores need to connect."""

    host: str = "localhost"
    port: int = 6379
    db: int = 0
    username: str | None = None
    password: str | None = None
    use_ssl: bool = False
    ssl_options: tuple[tuple[str, str], ...] = ()
    socket_timeout: float = 10.0
    url: str | None = None

    @classmethod
    def from_settings(
        cls, settings: TrackerStoreSettings | LockStoreSettings, default_db: int, source: str | None
    ) -> RedisServer:
        db = settings.db if settings.db is not None else default_db
        if isinstance(db, str):
            if not db.isdigit():
                raise ConductorError.single(
                    f"the Redis database 'db' should be a number, not {db!r}",
                    source,
                    hint="Redis numbers its databases 0, 1, 2, ...; for example 'db: 0'.",
                )
            db = int(db)
        url = settings.url if settings.url and "://" in settings.url else None
        ssl = tuple((key, str(settings.extra[key])) for key in _SSL_KEYS if settings.extra.get(key))
        timeout = getattr(settings, "socket_timeout", None) or cls.socket_timeout
        return cls(
            host=settings.url if settings.url and url is None else "localhost",
            port=settings.port or 6379,
            db=db,
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            use_ssl=bool(settings.use_ssl),
            ssl_options=ssl,
            socket_timeout=timeout,
            url=url,
        )

    def describe(self) -> str:
        """The server for messages: host, port and database, never the password."""
        if self.url is not None:
            parts = urlsplit(self.url)
            database = parts.path.strip("/") or "0"
            return f"the Redis server at {parts.hostname}:{parts.port or 6379} (db {database})"
        return f"the Redis server at {self.host}:{self.port} (db {self.db})"

    def client(self) -> redis.Redis:
        """A client without a socket timeout: see `answer_within` for why and for the timeout instead."""
        options: dict[str, Any] = {
            "socket_timeout": None,
            "socket_connect_timeout": self.socket_timeout,
            # ride out a brief disconnection, but report a server that is down within a second
            "retry": Retry(ExponentialWithJitterBackoff(cap=0.5, base=0.01), 3),
            **dict(self.ssl_options),
        }
        if self.url is not None:
            return redis.Redis.from_url(self.url, **options)
        return redis.Redis(
            host=self.host,
            port=self.port,
            db=self.db,
            username=self.username,
            password=self.password,
            ssl=self.use_ssl,
            **options,
        )

    @asynccontextmanager
    async def answer_within(self) -> AsyncIterator[None]:
        """Bound the Redis commands in the block by `socket_timeout`.

        redis-py applies its socket timeout to sending with `asyncio.wait_for`, which on Python 3.11 loses a
        cancellation that arrives as the send completes (CPython gh-86296): a cancelled request handler
        would go on running. So clients are made without a socket timeout, and the stores bound each
        command with `asyncio.timeout`, which does not have that flaw.
        """
        try:
            async with asyncio.timeout(self.socket_timeout):
                yield
        except TimeoutError:
            raise redis.TimeoutError(
                f"{self.describe()} did not answer within {self.socket_timeout:g} s"
            ) from None

    async def connect(self, what: str, section: str, source: str | None) -> redis.Redis:
        """A client whose server answered PING; an unreachable server is a `ConductorError`."""
        client = self.client()
        try:
            async with self.answer_within():
                await client.ping()
        except (OSError, redis.RedisError) as exc:
            await client.aclose()
            reason = str(exc) or type(exc).__name__
            if self.password:
                reason = reason.replace(self.password, "***")
            raise ConductorError.single(
                f"cannot open the {what}, {self.describe()}: {reason}",
                source,
                hint=f"Check that Redis runs and that the {section} url, port, db and password in "
                "endpoints.yml are right.",
            ) from None
        return client


class RedisTrackerStore(TrackerStore):
    """Conversations as Redis lists under `key_prefix` (see the module docstring)."""

    def __init__(
        self,
        server: RedisServer | None = None,
        *,
        key_prefix: str = DEFAULT_TRACKER_KEY_PREFIX,
        record_exp: float | None = None,
        source: str | None = None,
    ) -> None:
        self._server = server or RedisServer()
        self._prefix = key_prefix
        self._expiry_ms = int(record_exp * 1000) if record_exp else None
        self._source = source
        self._redis: redis.Redis | None = None

    @classmethod
    def from_settings(cls, settings: TrackerStoreSettings, source: str | None = None) -> RedisTrackerStore:
        used = ["url", "port", "db", "username", "password", "use_ssl", "key_prefix", "record_exp", *_SSL_KEYS]
        warn_unused_settings(settings, used, "Redis tracker store", source)
        return cls(
            RedisServer.from_settings(settings, default_db=0, source=source),
            key_prefix=redis_key_prefix(settings.key_prefix, DEFAULT_TRACKER_KEY_PREFIX, source),
            record_exp=settings.record_exp,
            source=source,
        )

    @property
    def key_prefix(self) -> str:
        return self._prefix

    def key(self, sender_id: str) -> str:
        """The Redis key of a conversation's list."""
        return self._prefix + sender_id

    async def start(self) -> None:
        if self._redis is None:
            self._redis = await self._server.connect("Redis tracker store", "tracker_store", self._source)

    async def close(self) -> None:
        if self._redis is not None:
            client, self._redis = self._redis, None
            await client.aclose()

    @asynccontextmanager
    async def _command(self, sender_id: str | None = None) -> AsyncIterator[redis.Redis]:
        """The client, for commands bounded in time; a conversation key of the wrong type is reported."""
        if self._redis is None:
            raise RuntimeError("the Redis tracker store is not started: call `await store.start()` first")
        try:
            async with self._server.answer_within():
                yield self._redis
        except ResponseError as exc:
            if sender_id is not None and "WRONGTYPE" in str(exc):
                raise self._not_a_list(sender_id) from None
            raise

    def _not_a_list(self, sender_id: str) -> ConductorError:
        return ConductorError.single(
            f"the Redis key {self.key(sender_id)!r} on {self._server.describe()} holds something other than a "
            "list of events (perhaps a tracker written by Rasa's RedisTrackerStore, which keeps one JSON "
            "string per conversation)",
            self._source,
            hint="Give the tracker store another 'key_prefix' or 'db', or delete the old keys.",
        )

    async def append(self, sender_id: str, events: Sequence[Event]) -> int:
        texts = [encoded.data for encoded in encode_events(events)]
        if not texts:
            return await self.count_events(sender_id)
        key = self.key(sender_id)
        if not self._expiry_ms:  # one RPUSH is atomic: no transaction to wrap it in
            async with self._command(sender_id) as client:
                return int(await client.rpush(key, *texts))
        async with self._command(sender_id) as client, client.pipeline(transaction=True) as pipe:
            pipe.rpush(key, *texts)
            pipe.pexpire(key, self._expiry_ms)
            results = await pipe.execute()
        return int(results[0])

    async def retrieve_since(self, sender_id: str, after_seq: int) -> list[Event]:
        async with self._command(sender_id) as client:
            texts = await client.lrange(self.key(sender_id), max(after_seq, 0), -1)
        return decode_events(texts, sender_id)

    async def count_events(self, sender_id: str) -> int:
        async with self._command(sender_id) as client:
            return int(await client.llen(self.key(sender_id)))

    async def keys(self) -> list[str]:
        pattern = _escape_glob(self._prefix) + "*"
        async with self._command() as client:
            found = [key.decode("utf-8") async for key in client.scan_iter(match=pattern, count=1000)]
        return sorted(key[len(self._prefix):] for key in found)

    async def delete(self, sender_id: str) -> bool:
        async with self._command() as client:
            return bool(await client.delete(self.key(sender_id)))

    async def replace(self, sender_id: str, events: Sequence[Event]) -> None:
        texts = [encoded.data for encoded in encode_events(events)]
        key = self.key(sender_id)
        async with self._command() as client, client.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if texts:
                pipe.rpush(key, *texts)
                if self._expiry_ms:
                    pipe.pexpire(key, self._expiry_ms)
            await pipe.execute()


def _escape_glob(text: str) -> str:
    """`text` matched literally by a Redis SCAN pattern."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)

