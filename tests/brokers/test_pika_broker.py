"""The RabbitMQ event broker against the real RabbitMQ: what arrives (Rasa's event JSON, every queue, in order),
and that RabbitMQ being down, going away or coming back never holds up or fails a turn and loses nothing it
could keep. RabbitMQ going away is real: the broker talks to it through a relay that the test cuts off."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

import aio_pika
import aiormq
import pytest
from aiohttp.test_utils import TestClient, TestServer, unused_port

from bot.brokers.broker import EventBroker
from bot.brokers.pika import PikaEventBroker
from bot.dialogue.events import Event, SlotSet
from bot.errors import ConductorError
from bot.runtime import Runtime
from bot.server import create_app
from channels.base import UserMessage

from .conftest import MakeRuntime
from .helpers import RABBITMQ_HOST, RABBITMQ_PORT, RABBITMQ_URL, Rabbit, Relay

USERNAME = RABBITMQ_URL.user or "guest"
PASSWORD = RABBITMQ_URL.password or "guest"
BROKER_LOG = "bot.brokers.pika"


def broker_for(rabbit: Rabbit, host: str = RABBITMQ_HOST, port: int = RABBITMQ_PORT, **options: Any) -> PikaEventBroker:
    options.setdefault("queues", rabbit.queues)
    return PikaEventBroker(
        host, port, username=USERNAME, password=PASSWORD, exchange_name=rabbit.exchange,
        retry_delay_in_seconds=0.2, **options,
    )


def published(sender_id: str, events: list[Event]) -> list[dict[str, Any]]:
    """What Rasa's PikaEventBroker publishes for these events: each one's JSON with `sender_id` added."""
    return [{"sender_id": sender_id, **event.as_dict()} for event in events]


async def stored(runtime: Runtime, sender_id: str) -> list[dict[str, Any]]:
    return published(sender_id, await runtime.tracker_store.retrieve_since(sender_id, 0))


async def timed_turn(runtime: Runtime, text: str, sender_id: str) -> list[Event]:
    """A turn that must answer within a second; its events."""
    started = time.perf_counter()
    result = await runtime.handle_message(UserMessage(text, sender_id, "rest"))
    assert time.perf_counter() - started < 1.0, "a turn waited for the event broker"
    assert result.replies, "the turn gave no answer"
    return result.events


async def all_sent(broker: PikaEventBroker, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while broker.pending:
        assert time.monotonic() < deadline, f"{broker.pending} events still unpublished"
        await asyncio.sleep(0.02)


def broker_messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == BROKER_LOG and text in r.getMessage()]


async def test_a_turns_events_reach_every_queue_in_rasa_json(rabbit: Rabbit, make_runtime: MakeRuntime) -> None:
    runtime = await make_runtime(broker_for(rabbit))
    await runtime.handle_message(UserMessage("/greet", "alice", "rest"))
    await runtime.handle_message(UserMessage("/mood_great", "alice", "rest"))
    expected = await stored(runtime, "alice")
    assert {"user", "bot", "action"} <= {event["event"] for event in expected}
    for queue in rabbit.queues:
        messages = await rabbit.read(queue, len(expected))
        assert [json.loads(message.body) for message in messages] == expected
        assert all(next(iter(json.loads(message.body))) == "sender_id" for message in messages)
        assert {message.content_type for message in messages} == {"application/json"}
        assert {message.delivery_mode for message in messages} == {aio_pika.DeliveryMode.PERSISTENT}
        await rabbit.assert_empty(queue)
    # the queues are durable: declaring one as not durable is refused
    channel = await rabbit.connection.channel()
    with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed):
        await channel.declare_queue(rabbit.queues[0], durable=False)


async def test_events_appended_through_the_http_api_are_published(
    rabbit: Rabbit, make_runtime: MakeRuntime
) -> None:
    runtime = await make_runtime(broker_for(rabbit, queues=rabbit.queues[:1]))
    client = TestClient(TestServer(create_app(runtime, enable_api=True, webchat_dir=None)))
    await client.start_server()
    try:
        response = await client.post("/webhooks/rest/webhook", json={"sender": "bea", "message": "/greet"})
        assert response.status == 200
        response = await client.post(
            "/conversations/bea/tracker/events", json=[{"event": "slot", "name": "colour", "value": "teal"}]
        )
        assert response.status == 200, await response.text()
        response = await client.get("/conversations/bea/tracker")
        tracker = await response.json()
    finally:
        await client.close()
    expected = published("bea", [Event.from_dict(event) for event in tracker["events"]])
    assert expected[-1]["event"] == "slot"
    assert await rabbit.bodies(rabbit.queues[0], len(expected)) == expected
    await rabbit.assert_empty(rabbit.queues[0])


async def test_each_conversations_events_arrive_in_the_order_they_were_stored(
    rabbit: Rabbit, make_runtime: MakeRuntime
) -> None:
    runtime = await make_runtime(broker_for(rabbit, queues=rabbit.queues[:1]))
    senders = [f"user{index}" for index in range(12)]

    async def chat(sender: str) -> None:
        for text in ("/greet", "/mood_unhappy", "/affirm", "/goodbye"):
            await runtime.handle_message(UserMessage(text, sender, "rest"))
            # each message arrives on its own, as over a channel (with stores in memory a turn need not wait)
            await asyncio.sleep(0)

    await asyncio.gather(*(chat(sender) for sender in senders))
    expected = {sender: await stored(runtime, sender) for sender in senders}
    bodies = await rabbit.bodies(rabbit.queues[0], sum(len(events) for events in expected.values()))
    for sender in senders:
        assert [body for body in bodies if body["sender_id"] == sender] == expected[sender]
    # the conversations were interleaved, not published one after another
    assert len({body["sender_id"] for body in bodies[:20]}) > 1


async def test_turns_answer_promptly_while_rabbitmq_is_not_running(
    make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = unused_port()  # nothing listens there
    broker = PikaEventBroker("127.0.0.1", port, queues=["never_declared"], retry_delay_in_seconds=0.2)
    runtime = await make_runtime(broker)
    kept = 0
    for index in range(5):
        kept += len(await timed_turn(runtime, "/greet", f"sender{index}"))
    await asyncio.sleep(1.0)  # several reconnection attempts
    assert broker.pending == kept
    [outage] = broker_messages(caplog, "cannot publish")
    assert f"RabbitMQ at 127.0.0.1:{port}" in outage
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "an outage is a warning, logged once"
    started = time.perf_counter()
    await broker.close()
    assert time.perf_counter() - started < 1.0
    [not_published] = broker_messages(caplog, "were not published")
    assert not_published.startswith(f"{kept} conversation events")


async def test_rabbitmq_going_away_and_coming_back_loses_nothing(
    rabbit: Rabbit, make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    relay = Relay()
    await relay.up()
    broker = broker_for(rabbit, "127.0.0.1", relay.port, queues=rabbit.queues[:1])
    runtime = await make_runtime(broker)
    try:
        await timed_turn(runtime, "/greet", "bob")
        await all_sent(broker)
        await relay.down()
        await timed_turn(runtime, "/mood_unhappy", "bob")
        await timed_turn(runtime, "/deny", "bob")
        await asyncio.sleep(0.5)
        assert broker.pending > 0
        await relay.up()
        await timed_turn(runtime, "/goodbye", "bob")
        expected = await stored(runtime, "bob")
        assert await rabbit.bodies(rabbit.queues[0], len(expected)) == expected
        await rabbit.assert_empty(rabbit.queues[0])
        assert len(broker_messages(caplog, "cannot publish")) == 1
        assert len(broker_messages(caplog, "is reachable again;")) == 1
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name != BROKER_LOG]
    finally:
        await relay.down()


async def test_rabbitmq_started_later_gets_the_newest_events_that_fit(
    rabbit: Rabbit, make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    relay = Relay()  # not up yet: RabbitMQ is not there when the server starts
    broker = broker_for(rabbit, "127.0.0.1", relay.port, queues=rabbit.queues[:1], capacity=10)
    runtime = await make_runtime(broker)
    expected: list[dict[str, Any]] = []
    for sender in ("carol", "dave", "erin"):
        for text in ("/greet", "/mood_great"):
            expected += published(sender, await timed_turn(runtime, text, sender))
    assert len(expected) > 10
    assert (broker.pending, broker.dropped) == (10, len(expected) - 10)
    [full] = broker_messages(caplog, "queue is full")  # reported once, not once per dropped event
    assert "RabbitMQ at 127.0.0.1" in full
    await relay.up()
    try:
        assert await rabbit.bodies(rabbit.queues[0], 10) == expected[-10:]
        await rabbit.assert_empty(rabbit.queues[0])
    finally:
        await relay.down()


async def test_closing_publishes_what_is_pending(rabbit: Rabbit) -> None:
    broker = broker_for(rabbit, queues=rabbit.queues[:1])
    await broker.start()
    broker.publish("frank", [SlotSet(name="n", value=index) for index in range(500)])
    await broker.close()
    assert broker.pending == 0
    bodies = await rabbit.bodies(rabbit.queues[0], 500, timeout=2)
    assert [body["value"] for body in bodies] == list(range(500))


async def test_the_password_never_reaches_the_logs(
    rabbit: Rabbit, make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, the AMQP libraries' too
    secret = f"pw-{uuid.uuid4().hex}"
    # RabbitMQ refuses the login
    refused = PikaEventBroker(
        RABBITMQ_HOST, RABBITMQ_PORT, username=USERNAME, password=secret, queues=rabbit.queues,
        exchange_name=rabbit.exchange, retry_delay_in_seconds=0.2,
    )
    runtime = await make_runtime(refused)
    await timed_turn(runtime, "/greet", "gina")
    await asyncio.sleep(0.5)
    await refused.close()
    [outage] = broker_messages(caplog, "cannot publish")
    assert "ACCESS_REFUSED" in outage
    # the password inside an amqp:// URL, nothing listening
    closed = unused_port()
    by_url = PikaEventBroker(url=f"amqp://guest:{secret}@127.0.0.1:{closed}/", retry_delay_in_seconds=0.2)
    await by_url.start()
    by_url.publish("gina", [SlotSet(name="x", value=1)])
    await asyncio.sleep(0.3)
    await by_url.close()
    # refusing to start
    with pytest.raises(ConductorError) as error:
        await PikaEventBroker("127.0.0.1", closed, password=secret, raise_on_failure=True).start()
    assert f"RabbitMQ at 127.0.0.1:{closed}" in str(error.value)
    assert secret not in str(error.value)
    assert len(broker_messages(caplog, "cannot publish")) == 2
    assert secret not in caplog.text
    assert all(secret not in record.getMessage() for record in caplog.records)


async def test_a_reachable_rabbitmq_slower_than_the_turns_holds_them_up_and_loses_nothing(rabbit: Rabbit) -> None:
    """Turns that store events faster than the publisher sends them wait in `room()` (as the runtime awaits it
    before each turn) while RabbitMQ is reachable: every event arrives, in order, and none is dropped. (Without
    the wait, these 40 turns put 200 events into a queue of 50 before the publisher could send any.)"""
    broker = broker_for(rabbit, queues=rabbit.queues[:1], capacity=50)
    await broker.start()
    waited = 0
    try:
        broker.publish("henry", [SlotSet(name="n", value=-1)])
        await all_sent(broker)  # connected: RabbitMQ takes events
        for turn in range(40):
            started = time.perf_counter()
            await broker.room()
            waited += time.perf_counter() - started > 0.001
            broker.publish("henry", [SlotSet(name="n", value=turn * 5 + index) for index in range(5)])
        await all_sent(broker)
    finally:
        await broker.close()
    assert broker.dropped == 0
    assert waited > 0, "no turn waited for the publisher"
    bodies = await rabbit.bodies(rabbit.queues[0], 201, timeout=5)
    assert [body["value"] for body in bodies] == list(range(-1, 200))


async def test_the_runtime_waits_for_room_before_a_turn(make_runtime: MakeRuntime) -> None:
    """The runtime awaits the broker's `room()` before taking the conversation's lock, so a broker that is
    behind holds up new turns, not turns in flight."""

    class Gated(EventBroker):
        def __init__(self) -> None:
            self.open = asyncio.Event()
            self.events: list[Event] = []

        def publish(self, sender_id: str, events: Sequence[Event]) -> None:
            self.events += events

        async def room(self) -> None:
            await self.open.wait()

    broker = Gated()
    runtime = await make_runtime(broker)
    turn = asyncio.ensure_future(runtime.handle_message(UserMessage("/greet", "ivan", "rest")))
    await asyncio.sleep(0.2)
    assert not turn.done() and broker.events == []
    broker.open.set()
    result = await asyncio.wait_for(turn, 5)
    assert result.replies and broker.events == result.events
