"""The RabbitMQ event broker (`event_broker: {type: pika}` in endpoints.yml), in the format of Rasa's
PikaEventBroker.

Each stored event becomes one message: the event's Rasa JSON with `sender_id` added (first), UTF-8, content
type `application/json`, persistent; `app_id` is $RASA_ENVIRONMENT when that is set, as in Rasa. Messages go to
a fanout exchange (`exchange_name`, default `rasa-exchange`, declared as Rasa declares it) to which each of
the `queues` (default `rasa_core_events`) is bound as a durable queue, so every queue gets every event.

Publishing is off the turn path: `publish` appends to a bounded in-memory queue and returns; a publisher on a
thread of its own (with its own event loop) sends the events in order, each confirmed by RabbitMQ (publisher
confirms), so a conversation's events arrive in the order they were stored. The thread matters under load:
the AMQP client needs several event loop iterations per message, and on the server's busy loop, where one
iteration runs many turns' work, it fell behind a saturated server; on its own loop it keeps up, at the price of
the CPU it uses. When RabbitMQ cannot be reached (not running, gone away, refusing the login) the publisher
retries with a growing delay, at most `retry_delay_in_seconds` (5 s) apart, while new events wait in the
queue; a full queue drops its oldest events, counted and reported at most every 30 s. While RabbitMQ is
reachable, nothing is dropped: when the publisher falls behind a busy server (a fifth of the queue waiting),
new turns wait in `room()` until it has sent the next batch, so the server answers at the pace RabbitMQ takes
its events. An outage is logged once when it begins and once when it ends, naming the host and port, never
the password. `close()` sends what it can within `flush_timeout` seconds. Delivery is at least once: an event
whose confirmation was lost with the connection is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Coroutine, Sequence
from typing import Any, Final, TypeVar

import aio_pika
import aiormq
from aio_pika.abc import AbstractConnection
from aiormq.abc import AbstractChannel
from yarl import URL

from bot.brokers.broker import EventBroker
from bot.config import EventBrokerSettings
from bot.dialogue.events import Event
from bot.errors import ConductorError

__all__ = ["DEFAULT_EXCHANGE", "DEFAULT_QUEUE", "PikaEventBroker"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _OutageReportedOnce(logging.Filter):
    """aiormq logs every failed connection attempt and every broken connection (with a traceback); this broker
    reports an outage itself, once, in one line."""

    _REPORTED = ("error when creating transport", "Cancelling cause reader exited abnormally")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self._REPORTED)


logging.getLogger("aiormq.connection").addFilter(_OutageReportedOnce())

DEFAULT_EXCHANGE: Final = "rasa-exchange"
DEFAULT_QUEUE: Final = "rasa_core_events"
DEFAULT_PORT: Final = 5672
DEFAULT_CAPACITY: Final = 10_000
"""Events kept while RabbitMQ is away; beyond that the oldest are dropped."""
DROP_REPORT_INTERVAL: Final = 30.0
FIRST_RETRY_DELAY: Final = 0.25
HIGH_WATER: Final = 0.2
"""While RabbitMQ is reachable, new turns wait while this share of the queue's capacity is waiting (the rest
is for an outage). They go on as soon as a batch has brought it under: short waits, not long ones."""
BATCH: Final = 200
"""Events whose confirmations are awaited together."""

_USED_KEYS = (
    "url", "port", "username", "password", "queues", "exchange_name", "raise_on_failure", "retry_delay_in_seconds"
)


class PikaEventBroker(EventBroker):
    """Publishes every stored event to RabbitMQ; see the module docstring."""

    def __init__(
        self,
        host: str = "localhost",
        port: int = DEFAULT_PORT,
        *,
        username: str = "guest",
        password: str = "guest",
        url: str | None = None,
        queues: Sequence[str] = (DEFAULT_QUEUE,),
        exchange_name: str = DEFAULT_EXCHANGE,
        raise_on_failure: bool = False,
        retry_delay_in_seconds: float = 5.0,
        capacity: int = DEFAULT_CAPACITY,
        flush_timeout: float = 2.0,
        connect_timeout: float = 5.0,
        publish_timeout: float = 10.0,
        source: str | None = None,
    ) -> None:
        """`url`, an `amqp://` or `amqps://` URL, takes the place of `host` (and of `port`, user name and
        password where it has them)."""
        if url is not None:
            parsed = URL(url)
            if parsed.scheme not in ("amqp", "amqps") or not parsed.host:
                raise ConductorError.single(
                    f"the event broker 'url' {_without_password(url)!r} is neither a host name nor an "
                    "amqp:// or amqps:// URL",
                    source,
                    hint="For example 'url: localhost', or 'url: amqps://rabbit.example.com:5671/vhost'.",
                )
            self._url = parsed
        else:
            self._url = URL.build(scheme="amqp", host=host, port=port, user=username, password=password, path="/")
        self.queues = tuple(queues) or (DEFAULT_QUEUE,)
        self.exchange_name = exchange_name
        self.raise_on_failure = raise_on_failure
        self.retry_delay_in_seconds = retry_delay_in_seconds
        self.flush_timeout = flush_timeout
        self.connect_timeout = connect_timeout
        self.publish_timeout = publish_timeout
        self._source = source
        self._app_id = os.environ.get("RASA_ENVIRONMENT")
        self._capacity = capacity
        self._high_water = capacity * HIGH_WATER
        # shared with the publisher's thread: the queue and the drop counters, under `_lock`
        self._lock = threading.Lock()
        self._pending: deque[tuple[str, Event]] = deque()
        self._unconfirmed = 0
        # the publisher's thread, its event loop and what only that loop touches
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake_scheduled = False
        self._wakeup = asyncio.Event()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._connected_before = False
        self._in_outage = False
        # turns waiting for room (`room`), on the caller's event loop; the publisher's thread wakes them
        self._caller_loop: asyncio.AbstractEventLoop | None = None
        self._room_free: asyncio.Event | None = None
        self._room_wanted = False
        self.dropped = 0
        """Events dropped because the queue was full, since start."""
        self._dropped_unreported = 0
        self._last_drop_report = float("-inf")

    @classmethod
    def from_settings(cls, settings: EventBrokerSettings, source: str | None = None) -> PikaEventBroker:
        from bot.stores.tracker_store import warn_unused_settings

        warn_unused_settings(settings, _USED_KEYS, "RabbitMQ event broker", source)
        if not settings.queues:
            logger.warning(
                "%sthe event broker has no 'queues'; events go to the queue %r (as in Rasa). Name the queues "
                "your consumers read, e.g. 'queues: [conductor_events]'.",
                f"{source}: " if source else "",
                DEFAULT_QUEUE,
            )
        password = settings.password.get_secret_value() if settings.password is not None else None
        make = functools.partial(
            cls,
            queues=settings.queues or (),
            exchange_name=settings.exchange_name or DEFAULT_EXCHANGE,
            raise_on_failure=bool(settings.raise_on_failure),
            retry_delay_in_seconds=settings.retry_delay_in_seconds or 5.0,
            source=source,
        )
        url = settings.url or "localhost"
        if "://" not in url:
            return make(
                url,
                settings.port or DEFAULT_PORT,
                username=settings.username or "guest",
                password=password if password is not None else "guest",
            )
        parsed = URL(url)
        if settings.username:
            parsed = parsed.with_user(settings.username)
        if password is not None:
            parsed = parsed.with_password(password)
        if settings.port is not None and parsed.host:
            parsed = parsed.with_port(settings.port)
        return make(url=str(parsed))

    def describe(self) -> str:
        """The server for messages: host and port, never the credentials."""
        port = self._url.explicit_port or (5671 if self._url.scheme == "amqps" else DEFAULT_PORT)
        return f"RabbitMQ at {self._url.host}:{port}"

    @property
    def pending(self) -> int:
        """Events not published yet: waiting, or sent and not yet confirmed by RabbitMQ."""
        return len(self._pending) + self._unconfirmed

    # --- lifecycle ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the publisher's thread. With `raise_on_failure`, a RabbitMQ that cannot be reached now is a
        `ConductorError`; otherwise the publisher keeps trying in the background."""
        if self._thread is not None:
            return
        self._caller_loop, self._room_free = asyncio.get_running_loop(), asyncio.Event()
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=_serve, args=(loop,), name="event broker (RabbitMQ)", daemon=True)
        self._loop = loop
        self._thread.start()
        try:
            await self._in_thread(self._begin())
        except BaseException:
            await self._stop_thread()
            raise

    async def close(self) -> None:
        """Publish what is pending for at most `flush_timeout` seconds, then disconnect and stop the thread."""
        if self._thread is not None:
            await self._in_thread(self._finish())
            await self._stop_thread()
        if self._room_free is not None:  # turns waiting for room go on (their events wait or are dropped)
            self._room_free.set()
        self._report_drops(now=True)
        if self._pending:
            logger.warning(
                "%d conversation events were not published to %s before shutdown; they are only in the "
                "tracker store",
                len(self._pending),
                self.describe(),
            )

    async def _in_thread(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` on the publisher's event loop and wait for it from the caller's."""
        assert self._loop is not None
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    async def _stop_thread(self) -> None:
        loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.to_thread(thread.join)

    # --- on the publisher's thread ------------------------------------------------------------------------

    async def _begin(self) -> None:
        self._wakeup, self._closing = asyncio.Event(), asyncio.Event()
        self._wake_scheduled = False
        if self.raise_on_failure:
            try:
                await self._connect()
            except Exception as exc:
                raise ConductorError.single(
                    f"cannot reach the event broker, {self.describe()}: {self._reason(exc)}",
                    self._source,
                    hint="Start RabbitMQ or correct 'event_broker' in the endpoints file. Without "
                    "'raise_on_failure: true' the server starts anyway and publishes once RabbitMQ is back.",
                ) from None
        self._task = asyncio.create_task(self._run(), name="event broker: RabbitMQ")

    async def _finish(self) -> None:
        self._closing.set()
        self._wakeup.set()
        task = self._task
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), self.flush_timeout)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._disconnect()

    def _wake(self) -> None:
        self._wake_scheduled = False
        self._wakeup.set()

    # --- the turn's side ----------------------------------------------------------------------------------

    def publish(self, sender_id: str, events: Sequence[Event]) -> None:
        with self._lock:
            for event in events:
                if len(self._pending) >= self._capacity:
                    self._pending.popleft()
                    self._count_dropped(1)
                self._pending.append((sender_id, event))
        loop = self._loop
        if loop is not None and not self._wake_scheduled:
            self._wake_scheduled = True
            with contextlib.suppress(RuntimeError):  # the loop just stopped: `close` reports what is left
                loop.call_soon_threadsafe(self._wake)

    async def room(self) -> None:
        while self._room_free is not None:
            self._room_wanted = True  # before looking: the publisher wakes whoever wants room after each batch
            self._room_free.clear()
            if not self._behind():
                return
            await self._room_free.wait()

    def _behind(self) -> bool:
        """RabbitMQ takes events (connected, not in an outage) and HIGH_WATER of the queue is waiting."""
        return (
            self._channel is not None
            and not self._in_outage
            and self._thread is not None
            and len(self._pending) >= self._high_water
        )

    def _make_room(self, *, caught_up: bool) -> None:
        """On the publisher's thread, after a batch: wake the turns waiting for room once the queue is under
        HIGH_WATER, or at once when they should not wait (`caught_up`: nothing left, an outage)."""
        if not self._room_wanted or not (caught_up or len(self._pending) < self._high_water):
            return
        self._room_wanted = False
        loop, room_free = self._caller_loop, self._room_free
        if loop is not None and room_free is not None:
            with contextlib.suppress(RuntimeError):  # the caller's loop is closed: nobody waits any more
                loop.call_soon_threadsafe(room_free.set)

    def _count_dropped(self, count: int) -> None:
        self.dropped += count
        self._dropped_unreported += count
        self._report_drops()

    def _report_drops(self, *, now: bool = False) -> None:
        """Log the drops not logged yet: at once the first time, then at most every DROP_REPORT_INTERVAL."""
        clock = time.monotonic()
        if self._dropped_unreported and (now or clock - self._last_drop_report >= DROP_REPORT_INTERVAL):
            logger.warning(
                "the event broker's queue is full (%d events waiting for %s): dropped the %d oldest "
                "(%d since start); they are only in the tracker store",
                self._capacity,
                self.describe(),
                self._dropped_unreported,
                self.dropped,
            )
            self._dropped_unreported = 0
            self._last_drop_report = clock

    # --- the publishing task ------------------------------------------------------------------------------

    async def _run(self) -> None:
        delay = FIRST_RETRY_DELAY
        while True:
            if self._closing.is_set() and not self._pending:
                return
            channel = self._channel
            if channel is None:
                try:
                    await self._connect()
                except Exception as exc:
                    self._report_outage(exc)
                    if self._closing.is_set():
                        return
                    delay = await self._pause(delay)
                continue
            if not self._pending:
                self._make_room(caught_up=True)
                self._wakeup.clear()
                await self._wakeup.wait()
            elif await self._publish_batch(channel):
                self._report_recovery()
                self._make_room(caught_up=False)
                delay = FIRST_RETRY_DELAY
            elif self._closing.is_set():
                return
            else:  # wait even though connecting may work at once: RabbitMQ may refuse every message
                delay = await self._pause(delay)

    async def _pause(self, delay: float) -> float:
        """Wait `delay` seconds (less when closing); the next, longer delay."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), delay)
        return min(delay * 2, self.retry_delay_in_seconds)

    async def _publish_batch(self, channel: AbstractChannel) -> bool:
        """Publish up to BATCH pending events; whether all were confirmed. On a failure, put back the first
        unconfirmed one and all after it (so nothing is lost or reordered; a few may be sent twice) and drop
        the connection."""
        with self._lock:
            batch = [self._pending.popleft() for _ in range(min(BATCH, len(self._pending)))]
        prepared = [(item, body) for item in batch if (body := self._body(*item)) is not None]
        self._unconfirmed = len(prepared)
        results: list[Any]
        try:
            # Started in this order, the publishes take the channel's (first come, first served) lock in this
            # order, so RabbitMQ receives the messages in order; only the confirmations are awaited together.
            # (aiormq's channel directly: aio-pika's Message and Exchange layers cost a third more CPU.)
            async with asyncio.timeout(self.publish_timeout):
                results = await asyncio.gather(
                    *(
                        channel.basic_publish(
                            body, exchange=self.exchange_name, routing_key="", properties=self._properties()
                        )
                        for _, body in prepared
                    ),
                    return_exceptions=True,
                )
        except TimeoutError as exc:
            results = [exc] * len(prepared)  # which were confirmed is unknown: all are sent again
        except asyncio.CancelledError:
            self._put_back([item for item, _ in prepared])
            raise
        finally:
            self._unconfirmed = 0
        failed = next((i for i, result in enumerate(results) if isinstance(result, BaseException)), None)
        if failed is None:
            return True
        error = results[failed]
        assert isinstance(error, BaseException)
        self._put_back([item for item, _ in prepared[failed:]])
        self._report_outage(error)
        await self._disconnect()
        return False

    @staticmethod
    def _body(sender_id: str, event: Event) -> bytes | None:
        """The event's message body (None, logged, for one that JSON cannot express)."""
        try:
            return json.dumps(
                {"sender_id": sender_id, **event.as_shared_dict()}, ensure_ascii=False, separators=(",", ":")
            ).encode()
        except (TypeError, ValueError) as exc:  # the store refuses such events; a custom store might not
            logger.error("an event of %r cannot be published as JSON and is skipped: %s", sender_id, exc)
            return None

    def _properties(self) -> aiormq.spec.Basic.Properties:
        """A message's properties (one object per message: the client writes a message id into it)."""
        return aiormq.spec.Basic.Properties(
            content_type="application/json",
            delivery_mode=int(aio_pika.DeliveryMode.PERSISTENT),
            app_id=self._app_id,
        )

    def _put_back(self, items: Sequence[tuple[str, Event]]) -> None:
        """Return unpublished events to the front of the queue; what no longer fits (the oldest) is dropped."""
        with self._lock:
            excess = max(0, len(self._pending) + len(items) - self._capacity)
            if excess:
                self._count_dropped(min(excess, len(items)))
            self._pending.extendleft(reversed(items[excess:]))

    async def _connect(self) -> None:
        """Connect, declare the exchange and the queues and bind them, as Rasa does."""
        async with asyncio.timeout(self.connect_timeout):
            connection = await aio_pika.connect(self._url)
            try:
                channel = await connection.channel(publisher_confirms=True)
                exchange = await channel.declare_exchange(self.exchange_name, aio_pika.ExchangeType.FANOUT)
                for name in self.queues:
                    queue = await channel.declare_queue(name, durable=True)
                    await queue.bind(exchange, routing_key="")
            except BaseException:
                with contextlib.suppress(Exception):
                    await connection.close()
                raise
        connection.close_callbacks.add(self._connection_lost)
        self._connection, self._channel = connection, await channel.get_underlay_channel()
        if not self._connected_before:
            self._connected_before = True
            logger.info(
                "publishing conversation events to %s (exchange %r, queues %s)",
                self.describe(),
                self.exchange_name,
                ", ".join(self.queues),
            )
        if not self._pending:
            self._report_recovery()

    def _connection_lost(self, connection: Any, exc: BaseException | None = None) -> None:
        """RabbitMQ closed the connection (or it broke) while it was in use: reconnect from the task."""
        if connection is not self._connection:
            return  # one this broker closed itself
        self._connection, self._channel = None, None
        self._report_outage(exc if exc is not None else ConnectionError("RabbitMQ closed the connection"))
        self._wakeup.set()

    async def _disconnect(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.connect_timeout):
                    await connection.close()

    # --- reporting ----------------------------------------------------------------------------------------

    def _report_outage(self, exc: BaseException) -> None:
        self._make_room(caught_up=True)  # while RabbitMQ is away, turns never wait for it
        if self._in_outage:
            return
        self._in_outage = True
        logger.warning(
            "cannot publish conversation events to %s: %s. Turns go on; up to %d events wait in memory and "
            "are published when it is reachable again (retrying at most %g s apart).",
            self.describe(),
            self._reason(exc),
            self._capacity,
            self.retry_delay_in_seconds,
        )

    def _report_recovery(self) -> None:
        """The outage is over once RabbitMQ takes messages again (connecting alone is not enough: it may
        accept connections and refuse every message)."""
        if not self._in_outage:
            return
        self._in_outage = False
        logger.info(
            "%s is reachable again; %d conversation events kept meanwhile are left to publish",
            self.describe(),
            self.pending,
        )

    def _reason(self, exc: BaseException) -> str:
        """What went wrong, in one line, with the password (should a library include it) blanked out."""
        if isinstance(exc, TimeoutError):
            text = "no answer in time"
        else:
            text = str(exc).strip() or type(exc).__name__
            if type(exc).__name__ not in text:
                text = f"{type(exc).__name__}: {text}"
        password = self._url.password
        return text.replace(password, "******") if password else text


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    """The publisher's thread: run its event loop until stopped, then end what is left on it and close it."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
        leftovers = asyncio.all_tasks(loop)
        for task in leftovers:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
    finally:
        loop.close()


def _without_password(url: str) -> str:
    parsed = URL(url)
    return str(parsed.with_password("******")) if parsed.password else url
