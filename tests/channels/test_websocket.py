"""The WebSocket channel over a real socket: aiohttp's client against the channel's routes, served on 127.0.0.1
as the server mounts them (`/webhooks/websocket/`). The conversation side is `Scripted`, a stand-in for the
runtime with its entry point (`async (UserMessage) -> None`, replying through `message.output_channel`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from bot.api.errors import MAX_TEXT_CHARS
from bot.config import load_credentials
from bot.errors import ConductorError
from channels.base import UserMessage
from channels.websocket import (
    CHANNEL,
    MAX_SESSION_ID_LENGTH,
    PROTOCOL_VERSION,
    WebSocketInput,
    WebSocketSettings,
)

WS = "/webhooks/websocket/ws"
Handler = Callable[[UserMessage], Awaitable[None]]


class Scripted:
    """Replies by the user's text; `gate` holds the second reply of "two" until the test opens it."""

    def __init__(self) -> None:
        self.received: list[UserMessage] = []
        self.gate = asyncio.Event()

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        out, to = message.output_channel, message.sender_id
        text = message.text or ""
        if text == "two":
            await out.send_response(to, {"text": "first"})
            await self.gate.wait()
            await out.send_response(to, {"text": "second"})
        elif text == "rich":
            await out.send_response(to, {"text": "Pick", "buttons": [{"title": "Yes", "payload": "/affirm"}]})
            await out.send_response(to, {"image": "https://example.com/a.png"})
            await out.send_response(to, {"custom": {"kind": "map", "lat": 1.5}})
            await out.send_response(to, {"attachment": {"type": "video", "payload": {"src": "https://v"}}})
            await out.send_response(to, {"elements": [{"title": "Card"}]})
        elif text == "fail":
            raise RuntimeError("the bot broke")
        elif text.startswith("wait"):
            await self.gate.wait()
            await out.send_response(to, {"text": f"done {text}"})
        else:
            await out.send_response(to, {"text": f"echo: {text}"})


async def serve(channel: WebSocketInput, handler: Handler) -> TestClient[web.Request, web.Application]:
    sub = web.Application()
    sub.add_routes(channel.routes(handler))
    app = web.Application()
    app.add_subapp("/webhooks/websocket/", sub)
    app.on_shutdown.append(lambda _: channel.stop())  # as the server does
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    await channel.start(handler)
    return client


@pytest.fixture
def bot() -> Scripted:
    return Scripted()


@pytest.fixture
def channel() -> WebSocketInput:
    return WebSocketInput()


@pytest.fixture
async def client(channel: WebSocketInput, bot: Scripted) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    served = await serve(channel, bot)
    yield served
    await served.close()


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    frame = await asyncio.wait_for(ws.receive_json(), timeout=5)
    assert isinstance(frame, dict)
    return frame


async def receive_turn(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Frames up to and including the turn's typing_stop."""
    frames = [await receive(ws)]
    while frames[-1]["type"] != "typing_stop":
        frames.append(await receive(ws))
    return frames


async def start_session(ws: aiohttp.ClientWebSocketResponse, session_id: str | None = None) -> str:
    await ws.send_json({"type": "session_request", "session_id": session_id})
    confirm = await receive(ws)
    assert confirm["type"] == "session_confirm"
    assert isinstance(confirm["session_id"], str)
    return confirm["session_id"]


def bot_texts(frames: list[dict[str, Any]]) -> list[str]:
    return [f["text"] for f in frames if f["type"] == "bot_message"]


# --- sessions and turns -----------------------------------------------------------------------------------


async def test_session_request_confirms_the_given_id_or_a_new_one(client: TestClient[Any, Any]) -> None:
    async with client.ws_connect(WS) as ws:
        await ws.send_json({"type": "session_request"})
        fresh = await receive(ws)
        assert fresh["type"] == "session_confirm" and fresh["protocol"] == PROTOCOL_VERSION
        assert len(fresh["session_id"]) == 32
        assert await start_session(ws, "visitor-42") == "visitor-42"


async def test_a_turn_streams_each_reply_as_its_own_frame(client: TestClient[Any, Any], bot: Scripted) -> None:
    async with client.ws_connect(WS) as ws:
        session = await start_session(ws, "s1")
        await ws.send_json({"type": "message", "text": "two", "message_id": "m1", "metadata": {"page": "/faq"}})

        assert await receive(ws) == {"type": "ack", "message_id": "m1"}
        assert await receive(ws) == {"type": "typing_start", "session_id": "s1"}
        assert await receive(ws) == {"type": "bot_message", "session_id": "s1", "text": "first"}
        bot.gate.set()  # the second reply exists only after the first reached the client
        assert await receive(ws) == {"type": "bot_message", "session_id": "s1", "text": "second"}
        assert await receive(ws) == {"type": "typing_stop", "session_id": "s1"}

    [message] = bot.received
    assert (message.text, message.sender_id, message.input_channel) == ("two", session, "websocket")
    assert message.message_id == "m1"
    assert message.metadata == {"page": "/faq"}
    assert message.output_channel.name == "websocket"


async def test_bot_messages_carry_rasas_keys_unchanged(client: TestClient[Any, Any]) -> None:
    async with client.ws_connect(WS) as ws:
        await start_session(ws, "s1")
        await ws.send_json({"type": "message", "text": "rich"})
        frames = [f for f in await receive_turn(ws) if f["type"] == "bot_message"]

    assert [{k: v for k, v in f.items() if k not in ("type", "session_id")} for f in frames] == [
        {"text": "Pick", "buttons": [{"title": "Yes", "payload": "/affirm"}]},
        {"image": "https://example.com/a.png"},
        {"custom": {"kind": "map", "lat": 1.5}},
        {"attachment": {"type": "video", "payload": {"src": "https://v"}}},
        {"elements": [{"title": "Card"}]},
    ]


async def test_a_message_may_name_its_session_without_a_session_request(
    client: TestClient[Any, Any], bot: Scripted
) -> None:
    async with client.ws_connect(WS) as ws:
        await ws.send_json({"type": "message", "text": "hi", "session_id": "abc"})
        assert bot_texts(await receive_turn(ws)) == ["echo: hi"]
        await ws.send_json({"type": "message", "text": "again"})  # the socket is now bound to "abc"
        assert bot_texts(await receive_turn(ws)) == ["echo: again"]
    assert [m.sender_id for m in bot.received] == ["abc", "abc"]


async def test_messages_of_one_socket_are_handled_in_order(client: TestClient[Any, Any], bot: Scripted) -> None:
    async with client.ws_connect(WS) as ws:
        await start_session(ws, "s1")
        await ws.send_json({"type": "message", "text": "wait 1"})
        await ws.send_json({"type": "message", "text": "quick"})
        assert await receive(ws) == {"type": "typing_start", "session_id": "s1"}
        await asyncio.sleep(0.1)
        assert [m.text for m in bot.received] == ["wait 1"]  # "quick" waits for the first turn
        bot.gate.set()
        assert bot_texts(await receive_turn(ws)) == ["done wait 1"]
        assert bot_texts(await receive_turn(ws)) == ["echo: quick"]


async def test_a_repeated_message_id_is_handled_once(client: TestClient[Any, Any], bot: Scripted) -> None:
    async with client.ws_connect(WS) as ws:
        await start_session(ws, "s1")
        await ws.send_json({"type": "message", "text": "hi", "message_id": "m-1"})
        await ws.send_json({"type": "message", "text": "hi", "message_id": "m-1"})  # sent again after a reconnect
        await ws.send_json({"type": "message", "text": "next", "message_id": "m-2"})
        first, second = await receive_turn(ws), await receive_turn(ws)
        assert bot_texts(first) == ["echo: hi"] and bot_texts(second) == ["echo: next"]
        acks = [f["message_id"] for f in first + second if f["type"] == "ack"]
        assert acks == ["m-1", "m-1", "m-2"]  # the repeat is acknowledged too, so the client stops sending it
    assert [m.text for m in bot.received] == ["hi", "next"]


async def test_a_failing_turn_is_reported_and_the_socket_stays_usable(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    async with client.ws_connect(WS) as ws:
        await start_session(ws, "s1")
        with caplog.at_level(logging.ERROR, logger="channels.websocket"):
            await ws.send_json({"type": "message", "text": "fail", "message_id": "m-9"})
            frames = await receive_turn(ws)
        assert [f["type"] for f in frames] == ["ack", "typing_start", "error", "typing_stop"]
        assert (frames[2]["code"], frames[2]["message_id"]) == ("internal", "m-9")
        assert "the bot broke" in caplog.text
        await ws.send_json({"type": "message", "text": "still there?"})
        assert bot_texts(await receive_turn(ws)) == ["echo: still there?"]


# --- reconnecting and several sockets -----------------------------------------------------------------------


async def test_replies_wait_for_the_session_to_come_back(client: TestClient[Any, Any], bot: Scripted) -> None:
    ws = await client.ws_connect(WS)
    await start_session(ws, "s1")
    await ws.send_json({"type": "message", "text": "wait for me"})
    assert (await receive(ws))["type"] == "typing_start"
    await ws.close()  # the network drops mid-turn
    bot.gate.set()
    await asyncio.sleep(0.1)

    async with client.ws_connect(WS) as again:
        assert await start_session(again, "s1") == "s1"
        assert await receive(again) == {"type": "bot_message", "session_id": "s1", "text": "done wait for me"}
        await again.send_json({"type": "ping"})
        assert await receive(again) == {"type": "pong"}  # typing frames were not kept


async def test_replies_go_to_the_asking_socket_and_proactive_messages_to_all(
    client: TestClient[Any, Any], channel: WebSocketInput
) -> None:
    async with client.ws_connect(WS) as tab1, client.ws_connect(WS) as tab2:
        await start_session(tab1, "s1")
        await start_session(tab2, "s1")
        await tab1.send_json({"type": "message", "text": "hi"})
        assert bot_texts(await receive_turn(tab1)) == ["echo: hi"]

        await channel.get_output_channel().send_response("s1", {"text": "reminder"})
        for tab in (tab2, tab1):  # tab2 saw nothing of tab1's turn: its first frame is the reminder
            assert await receive(tab) == {"type": "bot_message", "session_id": "s1", "text": "reminder"}


# --- protocol errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"type": "shout"}', "unknown_type"),
        ('{"type": "message", "text": "  "}', "bad_message"),
        ('{"type": "message", "text": 7, "session_id": "s"}', "bad_message"),
        ('{"type": "message", "text": "hi"}', "no_session"),
        ('{"type": "message", "text": "hi", "session_id": "s", "metadata": [1]}', "bad_message"),
        ('{"type": "message", "text": "hi", "session_id": "s", "message_id": 5}', "bad_message"),
        ('{"type": "message", "text": "' + "x" * (MAX_TEXT_CHARS + 1) + '", "session_id": "s"}', "bad_message"),
        ('{"type": "message", "text": "hi \\ud800", "session_id": "s"}', "bad_json"),  # not Unicode text
        ('{"type": "session_request", "session_id": "' + "x" * (MAX_SESSION_ID_LENGTH + 1) + '"}', "bad_session_id"),
        ('{"type": "session_request", "session_id": "tab\\tinside"}', "bad_session_id"),
    ],
)
async def test_a_bad_frame_gets_an_error_and_the_socket_stays_open(
    client: TestClient[Any, Any], bot: Scripted, frame: str, code: str
) -> None:
    async with client.ws_connect(WS) as ws:
        await ws.send_str(frame)
        error = await receive(ws)
        assert error["type"] == "error" and error["code"] == code and error["message"]
        await ws.send_json({"type": "ping"})
        assert await receive(ws) == {"type": "pong"}
    assert bot.received == []


async def test_binary_frames_are_refused(client: TestClient[Any, Any]) -> None:
    async with client.ws_connect(WS) as ws:
        await ws.send_bytes(b'{"type": "ping"}')
        assert (await receive(ws))["code"] == "bad_frame"


async def test_a_frame_over_the_size_limit_closes_the_socket(bot: Scripted) -> None:
    channel = WebSocketInput(WebSocketSettings(max_message_size=1024))
    client = await serve(channel, bot)
    try:
        async with client.ws_connect(WS) as ws:
            await ws.send_json({"type": "message", "text": "x" * 2000, "session_id": "s"})
            closing = await asyncio.wait_for(ws.receive(), timeout=5)
            assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
            assert ws.close_code == WSCloseCode.MESSAGE_TOO_BIG
    finally:
        await client.close()
    assert bot.received == []


# --- HTTP side --------------------------------------------------------------------------------------------


async def test_health_and_a_plain_get_of_the_socket_address(client: TestClient[Any, Any]) -> None:
    health = await client.get("/webhooks/websocket/")
    assert health.status == 200
    assert await health.json() == {"status": "ok", "protocol": PROTOCOL_VERSION}
    plain = await client.get(WS)
    assert plain.status == 426
    assert "ws://" in (await plain.json())["error"]


async def test_allowed_origins_are_checked(bot: Scripted) -> None:
    channel = WebSocketInput(WebSocketSettings(allowed_origins=("https://shop.example.com",)))
    client = await serve(channel, bot)
    try:
        async with client.ws_connect(WS, origin="https://shop.example.com") as ws:
            assert await start_session(ws, "s") == "s"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(WS, origin="https://evil.example.net")
        assert refused.value.status == 403
    finally:
        await client.close()


async def test_stop_lets_the_turn_in_flight_answer_then_closes_the_sockets(
    client: TestClient[Any, Any], channel: WebSocketInput, bot: Scripted
) -> None:
    ws = await client.ws_connect(WS)
    await start_session(ws, "s1")
    await ws.send_json({"type": "message", "text": "wait for the reply"})
    assert (await receive(ws))["type"] == "typing_start"

    stopping = asyncio.create_task(channel.stop())
    await asyncio.sleep(0.05)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(WS)
    assert refused.value.status == 503
    await ws.send_json({"type": "message", "text": "late", "message_id": "m-late"})
    refusal = await receive(ws)
    assert (refusal["code"], refusal["message_id"]) == ("unavailable", "m-late")  # the client sends it again later
    assert not stopping.done()

    bot.gate.set()
    assert bot_texts([await receive(ws), await receive(ws)]) == ["done wait for the reply"]
    closing = await asyncio.wait_for(ws.receive(), timeout=5)
    assert (closing.type, closing.data) == (WSMsgType.CLOSE, WSCloseCode.GOING_AWAY)
    await stopping
    assert [m.text for m in bot.received] == ["wait for the reply"]


# --- settings -----------------------------------------------------------------------------------------------


def test_the_module_names_its_channel() -> None:
    assert CHANNEL is WebSocketInput
    assert WebSocketInput.name == "websocket"


def test_settings_default_to_an_open_channel() -> None:
    settings = WebSocketInput.from_credentials(None).settings
    assert settings == WebSocketSettings()
    assert settings.allows_origin("https://anywhere.example") and settings.allows_origin(None)


def test_settings_are_read_from_credentials(tmp_path: Path) -> None:
    path = tmp_path / "credentials.yml"
    path.write_text("websocket:\n  heartbeat: 10\n  max_message_size: 4096\n"
                    "  allowed_origins: [https://a.example/, https://b.example]\n")
    settings = WebSocketInput.from_credentials(load_credentials(path)["websocket"]).settings
    assert settings == WebSocketSettings(10.0, 4096, ("https://a.example", "https://b.example"))
    assert settings.allows_origin("https://a.example") and not settings.allows_origin("https://c.example")


def test_every_bad_setting_is_reported_at_its_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "credentials.yml"
    path.write_text("rest:\nwebsocket:\n  heartbeat: soon\n  max_message_size: 10\n"
                    "  allowed_origins: {a: 1}\n  hearbeat: 5\n")
    with pytest.raises(ConductorError) as raised, caplog.at_level(logging.WARNING, logger="channels.websocket"):
        WebSocketInput.from_credentials(load_credentials(path)["websocket"])
    problems = raised.value.problems
    assert [(p.file, p.line) for p in problems] == [(str(path), 3), (str(path), 4), (str(path), 5)]
    assert "'heartbeat'" in problems[0].message and "soon" in problems[0].message
    assert "'max_message_size'" in problems[1].message
    assert "'allowed_origins'" in problems[2].message and problems[2].hint
    assert f"{path}:6" in caplog.text and "'hearbeat' is not a websocket channel setting" in caplog.text
