"""The REST channel through the running server: Rasa's request and answer shapes, streaming, what is stored."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from server_helpers import Served, StartServer, needs_nlu, say


async def test_a_message_is_answered_with_the_bots_replies(start_server: StartServer) -> None:
    served = await start_server()
    assert await say(served, "alice", "/greet") == [{"recipient_id": "alice", "text": "Hey! How are you?"}]
    replies = await say(served, "alice", "/mood_unhappy")
    assert [reply.get("text") for reply in replies] == ["Here is something to cheer you up:", "Did that help you?"]
    assert replies[0]["image"].startswith("https://")
    assert all(reply["recipient_id"] == "alice" for reply in replies)


async def test_the_turn_is_stored_with_the_channel_and_metadata(start_server: StartServer) -> None:
    served = await start_server()
    response = await served.client.post(
        "/webhooks/rest/webhook",
        json={"sender": "bob", "message": "/greet", "metadata": {"locale": "de", "page": "/pricing"}},
    )
    assert response.status == 200
    events = await served.stored("bob")
    # as in Rasa, the metadata of a session's first message is kept in the session_started_metadata slot
    assert events[0] == {**events[0], "event": "slot", "name": "session_started_metadata",
                         "value": {"locale": "de", "page": "/pricing"}}
    assert [event["event"] for event in events[1:3]] == ["action", "session_started"]
    user = next(event for event in events if event["event"] == "user")
    assert user["text"] == "/greet"
    assert user["input_channel"] == "rest"
    assert user["metadata"] == {"locale": "de", "page": "/pricing"}
    assert user["parse_data"]["intent"]["name"] == "greet"
    bot = next(event for event in events if event["event"] == "bot")
    assert bot["text"] == "Hey! How are you?"
    assert events[-1]["event"] == "action" and events[-1]["name"] == "action_listen"


async def test_sender_defaults_and_numbers_and_input_channel(start_server: StartServer) -> None:
    served = await start_server()
    response = await served.client.post("/webhooks/rest/webhook", json={"message": "/greet"})
    assert (await response.json())[0]["recipient_id"] == "default"
    response = await served.client.post(
        "/webhooks/rest/webhook", json={"sender": 42, "message": "/greet", "input_channel": "my_site"}
    )
    assert (await response.json())[0]["recipient_id"] == "42"
    user = next(event for event in await served.stored("42") if event["event"] == "user")
    assert user["input_channel"] == "my_site"
    # a Telegram- or Discord-sized id, and one beyond 64 bits, are kept digit for digit
    for sender in (5_123_456_789_012_345_678, 2**70 + 1):
        response = await served.client.post("/webhooks/rest/webhook", json={"sender": sender, "message": "/greet"})
        assert (await response.json())[0]["recipient_id"] == str(sender)


async def test_streamed_replies_are_one_json_object_per_line(start_server: StartServer) -> None:
    served = await start_server()
    await say(served, "carol", "/greet")
    response = await served.client.post(
        "/webhooks/rest/webhook?stream=true", json={"sender": "carol", "message": "/mood_unhappy"}
    )
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    lines = (await response.text()).splitlines()
    streamed = [json.loads(line) for line in lines]
    assert [message.get("text") for message in streamed] == [
        "Here is something to cheer you up:",
        "Did that help you?",
    ]
    assert "image" in streamed[0]
    assert any(event["event"] == "bot" for event in await served.stored("carol"))


async def test_the_channel_reports_its_health(start_server: StartServer) -> None:
    served = await start_server()
    response = await served.client.get("/webhooks/rest/")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_a_failing_turn_is_a_500_and_counted(start_server: StartServer, tmp_path: Path) -> None:
    served = await start_server()
    await say(served, "dave", "/greet")
    database = next(tmp_path.glob("events*.db"))
    with sqlite3.connect(database) as connection:
        connection.execute("DROP TABLE events")
    served.runtime.swap_model(served.runtime.model)  # forget cached trackers: the next turn reads the store
    response = await served.client.post("/webhooks/rest/webhook", json={"sender": "dave", "message": "/greet"})
    assert response.status == 500
    body = await response.json()
    assert body["status"] == "failure" and body["reason"] == "ConversationError" and body["code"] == 500
    metrics = await (await served.client.get("/metrics")).text()
    assert 'conductor_turn_errors_total{channel="rest"} 1.0' in metrics


@needs_nlu
async def test_plain_text_goes_through_the_nlu(start_server: StartServer) -> None:
    served: Served = await start_server()
    replies = await say(served, "erin", "hello there")
    assert replies == [{"recipient_id": "erin", "text": "Hey! How are you?"}]
