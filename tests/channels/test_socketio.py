"""The Socket.IO channel with python-socketio's own async client over a real socket, speaking like Rasa's web chat
widgets (rasa-webchat emits `session_request`, then `user_uttered` {message, session_id, customData}) and
expecting Rasa's `bot_uttered` payload shapes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import unused_port

from bot.api.errors import MAX_TEXT_CHARS
from bot.config import load_credentials
from bot.errors import ConductorError
from channels.base import UserMessage
from channels.socketio import CHANNEL, SocketIOInput, SocketIOSettings
from tests.conftest import REPO_ROOT

SECRET = "a-shared-secret-that-is-long-enough-for-hs256"


@dataclass
class Recorder:
    """The runtime stand-in: records each message and answers with the replies scripted for its text."""

    received: list[UserMessage] = field(default_factory=list)
    scripts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        replies = self.scripts.get(message.text or "", [{"text": f"echo: {message.text}"}])
        for reply in replies:
            await message.output_channel.send_response(message.sender_id, reply)


class Server:
    """The channel attached to an aiohttp application served on 127.0.0.1, as the server attaches it."""

    def __init__(self, channel: SocketIOInput, handler: Callable[[UserMessage], Awaitable[None]]) -> None:
        self.channel = channel
        self.handler = handler
        self.port = unused_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.widgets: list[Widget] = []
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Server:
        app = web.Application()
        routes = web.Application()
        routes.add_routes(self.channel.routes(self.handler))
        app.add_subapp("/webhooks/socketio/", routes)
        self.channel.attach(app, self.handler)
        app.on_shutdown.append(lambda _: self.channel.stop())  # as the server does
        app.on_cleanup.append(lambda _: self.channel.shutdown())
        self._runner = web.AppRunner(app, shutdown_timeout=2)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        await self.channel.start(self.handler)
        return self

    async def __aexit__(self, *exc: object) -> None:
        """python-socketio's client closes a WebSocket at once when it leaves, but a long poll only when the server
        disconnects it: WebSocket clients leave before the server stops, polling ones after."""
        polling = [w for w in self.widgets if w.client.transport() == "polling"]
        for widget in self.widgets:
            if widget not in polling:
                await widget.client.disconnect()
        assert self._runner is not None
        await self._runner.cleanup()
        for widget in polling:
            await widget.client.disconnect()


class Widget:
    """A Socket.IO client that keeps every event it receives, by name."""

    def __init__(self, bot_event: str = "bot_uttered", namespace: str | None = None) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, asyncio.Queue[Any]] = {
            "session_confirm": asyncio.Queue(), bot_event: asyncio.Queue(), "connect_error": asyncio.Queue(),
        }
        self.bot_event = bot_event
        self.namespace = namespace or "/"
        for name, queue in self.events.items():
            self.client.on(name, queue.put, namespace=self.namespace)

    async def connect(self, server: Server, **kwargs: Any) -> Widget:
        kwargs.setdefault("transports", ["websocket"])
        await self.client.connect(server.url, namespaces=[self.namespace], **kwargs)
        return self

    async def emit(self, event: str, data: Any = None) -> None:
        await self.client.emit(event, data, namespace=self.namespace)

    async def next(self, event: str) -> Any:
        return await asyncio.wait_for(self.events[event].get(), timeout=5)

    async def bot_messages(self, count: int) -> list[Any]:
        return [await self.next(self.bot_event) for _ in range(count)]

    async def session(self, session_id: str | None = None) -> Any:
        await self.emit("session_request", {"session_id": session_id})
        return await self.next("session_confirm")

    def sid(self) -> str:
        sid = self.client.get_sid(self.namespace)
        assert isinstance(sid, str)
        return sid


@pytest.fixture
def bot() -> Recorder:
    return Recorder()


async def connected(server: Server, **kwargs: Any) -> Widget:
    widget = Widget(bot_event=server.channel.settings.bot_message_evt, namespace=server.channel.settings.namespace)
    server.widgets.append(widget)
    return await widget.connect(server, **kwargs)


# --- sessions -----------------------------------------------------------------------------------------------


async def test_session_request_is_confirmed_with_the_given_or_a_new_id(bot: Recorder) -> None:
    async with Server(SocketIOInput(), bot) as server:
        widget = await connected(server)
        fresh = await widget.session()
        assert isinstance(fresh, str) and len(fresh) == 32
        assert await widget.session("my-session") == "my-session"
        await widget.emit("session_request")  # no data at all
        assert len(await widget.next("session_confirm")) == 32


async def test_without_persistence_the_conversation_is_the_socket(bot: Recorder) -> None:
    async with Server(SocketIOInput(), bot) as server:
        widget = await connected(server)
        await widget.session("ignored-for-the-sender")
        await widget.emit("user_uttered", {"message": "hello", "session_id": "ignored-for-the-sender"})
        assert await widget.bot_messages(1) == [{"text": "echo: hello"}]
        sid = widget.sid()
    [message] = bot.received
    assert (message.text, message.sender_id, message.input_channel) == ("hello", sid, "socketio")
    assert message.output_channel.name == "socketio"


async def test_with_persistence_the_conversation_is_the_session(bot: Recorder,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    channel = SocketIOInput(SocketIOSettings(session_persistence=True))
    async with Server(channel, bot) as server:
        tab1 = await connected(server)
        tab2 = await connected(server)
        session = await tab1.session("visitor-7")
        assert await tab2.session(session) == "visitor-7"

        await tab1.emit("user_uttered", {"message": "hi", "session_id": session})
        for tab in (tab1, tab2):  # Rasa's rooms: every socket of the session hears the bot
            assert await tab.bot_messages(1) == [{"text": "echo: hi"}]

        with caplog.at_level(logging.WARNING, logger="channels.socketio"):
            await tab1.emit("user_uttered", {"message": "no session"})
            await tab1.emit("user_uttered", {"message": "after", "session_id": session})
            assert await tab1.bot_messages(1) == [{"text": "echo: after"}]
        assert "without 'session_id'" in caplog.text
    assert [(m.text, m.sender_id) for m in bot.received] == [("hi", "visitor-7"), ("after", "visitor-7")]


async def test_a_message_too_long_or_not_unicode_is_ignored_with_a_warning(
    bot: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    async with Server(SocketIOInput(SocketIOSettings()), bot) as server:
        widget = await connected(server)
        with caplog.at_level(logging.WARNING, logger="channels.socketio"):
            await widget.emit("user_uttered", {"message": "x" * (MAX_TEXT_CHARS + 1)})
            await widget.emit("user_uttered", {"message": "hi \ud800"})  # a lone surrogate: not Unicode text
            await widget.emit("user_uttered", {"message": "fine"})
            assert await widget.bot_messages(1) == [{"text": "echo: fine"}]
        too_long = f"'message' is {MAX_TEXT_CHARS + 1:,} characters long; at most {MAX_TEXT_CHARS:,} are accepted"
        assert too_long in caplog.text
        assert "lone surrogate (\\ud800)" in caplog.text
    assert [m.text for m in bot.received] == ["fine"]


async def test_a_message_names_its_session_even_without_session_request(
    bot: Recorder
) -> None:
    async with Server(SocketIOInput(SocketIOSettings(session_persistence=True)), bot) as server:
        widget = await connected(server)
        await widget.emit("user_uttered", {"message": "straight in", "session_id": "s9"})
        assert await widget.bot_messages(1) == [{"text": "echo: straight in"}]


# --- Rasa's payload shapes --------------------------------------------------------------------------------


async def test_bot_uttered_payloads_have_rasas_shapes(bot: Recorder) -> None:
    bot.scripts["show me"] = [
        {"text": "First paragraph.\n\nSecond paragraph."},
        {"text": "Pick one", "buttons": [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]},
        {"image": "https://example.com/cat.png"},
        {"attachment": {"type": "video", "payload": {"src": "https://example.com/v.mp4"}}},
        {"elements": [{"title": "Card A"}, {"title": "Card B"}]},
        {"custom": {"map": {"lat": 52.5}}},
        {"custom": {"data": {"only": "this"}}},
    ]
    async with Server(SocketIOInput(), bot) as server:
        widget = await connected(server)
        await widget.emit("user_uttered", {"message": "show me"})
        received = await widget.bot_messages(9)

    assert received == [
        {"text": "First paragraph."},
        {"text": "Second paragraph."},
        {"text": "Pick one", "quick_replies": [
            {"content_type": "text", "title": "Yes", "payload": "/affirm"},
            {"content_type": "text", "title": "No", "payload": "/deny"},
        ]},
        {"attachment": {"type": "image", "payload": {"src": "https://example.com/cat.png"}}},
        {"attachment": {"type": "video", "payload": {"src": "https://example.com/v.mp4"}}},
        {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": {"title": "Card A"}}}},
        {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": {"title": "Card B"}}}},
        {"map": {"lat": 52.5}},
        {"only": "this"},
    ]


async def test_metadata_comes_from_the_metadata_key(bot: Recorder) -> None:
    channel = SocketIOInput(SocketIOSettings(metadata_key="customData"))
    async with Server(channel, bot) as server:
        widget = await connected(server)
        await widget.emit("user_uttered", {"message": "a", "customData": {"language": "de"}})
        await widget.emit("user_uttered", {"message": "b", "customData": '{"plan": "pro"}'})
        await widget.emit("user_uttered", {"message": "c", "customData": "not json"})
        await widget.bot_messages(3)
    assert [m.metadata for m in bot.received] == [{"language": "de"}, {"plan": "pro"}, {}]


async def test_event_names_path_and_namespace_follow_the_settings(bot: Recorder) -> None:
    settings = SocketIOSettings(user_message_evt="say", bot_message_evt="hear", socketio_path="/chat/io",
                                namespace="/bot")
    async with Server(SocketIOInput(settings), bot) as server:
        widget = await connected(server, socketio_path="/chat/io")
        await widget.emit("say", {"message": "custom"})
        assert await widget.bot_messages(1) == [{"text": "echo: custom"}]


async def test_the_output_channel_reaches_a_session_without_a_user_message(
    bot: Recorder
) -> None:
    channel = SocketIOInput(SocketIOSettings(session_persistence=True))
    async with Server(channel, bot) as server:
        widget = await connected(server)
        await widget.session("s1")
        await channel.get_output_channel().send_response("s1", {"text": "A reminder"})
        assert await widget.bot_messages(1) == [{"text": "A reminder"}]


async def test_long_polling_from_another_origin_works(bot: Recorder) -> None:
    async with Server(SocketIOInput(), bot) as server:
        widget = await connected(server, transports=["polling"], headers={"Origin": "https://shop.example"})
        await widget.emit("user_uttered", {"message": "over polling"})
        assert await widget.bot_messages(1) == [{"text": "echo: over polling"}]


async def test_cors_allowed_origins_limits_the_pages_that_may_connect(bot: Recorder) -> None:
    channel = SocketIOInput(SocketIOSettings(cors_allowed_origins=("https://shop.example",)))
    async with Server(channel, bot) as server:
        welcome = await connected(server, transports=["polling"], headers={"Origin": "https://shop.example"})
        await welcome.emit("user_uttered", {"message": "allowed"})
        assert await welcome.bot_messages(1) == [{"text": "echo: allowed"}]
        with pytest.raises(socketio.exceptions.ConnectionError, match="Unexpected status code 400"):
            await Widget().connect(server, transports=["polling"], headers={"Origin": "https://evil.example"})


async def test_the_health_route(bot: Recorder) -> None:
    async with Server(SocketIOInput(), bot) as server, aiohttp.ClientSession() as http, \
            http.get(server.url + "/webhooks/socketio/") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_stop_lets_the_turn_in_flight_answer_then_disconnects_the_clients() -> None:
    gate = asyncio.Event()

    async def slow(message: UserMessage) -> None:
        await gate.wait()
        await message.output_channel.send_response(message.sender_id, {"text": "finally"})

    channel = SocketIOInput()
    async with Server(channel, slow) as server:
        widget = await connected(server)
        left = asyncio.Event()
        widget.client.on("disconnect", left.set)
        await widget.emit("user_uttered", {"message": "take your time"})
        await asyncio.sleep(0.1)

        stopping = asyncio.create_task(channel.stop())
        await asyncio.sleep(0.1)
        latecomer = Widget()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await latecomer.connect(server)
        assert "shutting down" in (await latecomer.next("connect_error"))["message"]
        assert not stopping.done()

        gate.set()
        assert await widget.bot_messages(1) == [{"text": "finally"}]
        await asyncio.wait_for(left.wait(), timeout=5)
        await stopping


# --- JWT ----------------------------------------------------------------------------------------------------


def token(key: str = SECRET, **claims: Any) -> str:
    return jwt.encode({"sub": "user-1", **claims}, key, algorithm="HS256")


# Tokens are made when the test runs: one made at collection time could expire before a long run reaches it.
@pytest.mark.parametrize(
    "make_token",
    [lambda: token(), lambda: "Bearer " + token(), lambda: token(exp=int(time.time()) + 60)],
    ids=["plain", "bearer", "not-expired"],
)
async def test_a_valid_jwt_is_accepted(bot: Recorder, make_token: Callable[[], str]) -> None:
    auth = {"token": make_token()}
    async with Server(SocketIOInput(SocketIOSettings(jwt_key=SECRET, jwt_method="HS256")), bot) as server:
        widget = await connected(server, auth=auth)
        await widget.emit("user_uttered", {"message": "authenticated"})
        assert await widget.bot_messages(1) == [{"text": "echo: authenticated"}]


@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        (None, "authentication required"),
        ({"other": "x"}, "authentication required"),
        ({"token": token(key="another-secret-that-is-long-enough-too!")}, "Signature verification failed"),
        ({"token": token(exp=int(time.time()) - 60)}, "expired"),
        ({"token": "not.a.jwt"}, "authentication failed"),
    ],
)
async def test_a_missing_or_bad_jwt_is_refused(
    bot: Recorder, auth: dict[str, str] | None, reason: str
) -> None:
    async with Server(SocketIOInput(SocketIOSettings(jwt_key=SECRET)), bot) as server:
        widget = Widget()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await widget.connect(server, auth=auth)
        refusal = await widget.next("connect_error")
    assert reason in refusal["message"]
    assert bot.received == []


# --- settings -----------------------------------------------------------------------------------------------


def test_the_module_names_its_channel() -> None:
    assert CHANNEL is SocketIOInput
    assert SocketIOInput.name == "socketio"


def test_defaults_are_rasas() -> None:
    settings = SocketIOInput.from_credentials(None).settings
    assert settings == SocketIOSettings()
    assert (settings.user_message_evt, settings.bot_message_evt, settings.socketio_path) == (
        "user_uttered", "bot_uttered", "/socket.io")
    assert (settings.session_persistence, settings.jwt_key, settings.jwt_method, settings.metadata_key) == (
        False, None, "HS256", "metadata")


def test_the_base_assistants_credentials_are_read() -> None:
    credentials = load_credentials(REPO_ROOT / "domain" / "credentials.yml")
    settings = SocketIOInput.from_credentials(credentials["socketio"]).settings
    assert settings.session_persistence is True
    assert (settings.user_message_evt, settings.bot_message_evt) == ("user_uttered", "bot_uttered")


def test_a_rasa_section_with_every_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "credentials.yml"
    path.write_text(
        "socketio:\n  user_message_evt: user_says\n  bot_message_evt: bot_says\n  session_persistence: true\n"
        "  socketio_path: /ws/socket.io/\n  jwt_key: ${JWT_SECRET}\n  jwt_method: HS512\n"
        "  metadata_key: customData\n  namespace: /chat\n  cors_allowed_origins: [https://shop.example/]\n"
    )
    monkeypatch.setenv("JWT_SECRET", SECRET)
    settings = SocketIOInput.from_credentials(load_credentials(path)["socketio"]).settings
    assert settings == SocketIOSettings(
        "user_says", "bot_says", "/chat", True, "/ws/socket.io", SECRET, "HS512", "customData", ("https://shop.example",)
    )
    assert SECRET not in repr(settings)


def test_every_bad_setting_is_reported_at_its_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "credentials.yml"
    path.write_text(
        "socketio:\n  session_persistence: maybe\n  user_message_evt: [a]\n  jwt_method: HS999\n"
        "  cors_allowed_origins: 5\n  jwt_keys: x\n"
    )
    with pytest.raises(ConductorError) as raised, caplog.at_level(logging.WARNING, logger="channels.socketio"):
        SocketIOInput.from_credentials(load_credentials(path)["socketio"])
    problems = raised.value.problems
    assert sorted((p.line, p.message.split("'")[1]) for p in problems) == [
        (2, "session_persistence"), (3, "user_message_evt"), (4, "jwt_method"), (5, "cors_allowed_origins"),
    ]
    assert all(p.file == str(path) and p.hint for p in problems)
    assert f"{path}:6" in caplog.text and "'jwt_keys' is not a socketio channel setting" in caplog.text


def test_a_public_key_algorithm_without_cryptography_says_what_to_install(tmp_path: Path) -> None:
    from jwt.algorithms import has_crypto

    if has_crypto:
        pytest.skip("the cryptography package is installed here, so RS256 is available")
    with pytest.raises(ConductorError) as raised:
        SocketIOSettings.from_credentials({"jwt_key": "k", "jwt_method": "RS256"})
    assert "pyjwt[crypto]" in (raised.value.problems[0].hint or "")


def test_attach_twice_is_a_programming_error(bot: Recorder) -> None:
    channel = SocketIOInput()
    channel.attach(web.Application(), bot)
    with pytest.raises(RuntimeError, match="already attached"):
        channel.attach(web.Application(), bot)
