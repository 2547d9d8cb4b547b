"""The WebSocket channel: the web chat widget's connection to the bot, at `/webhooks/websocket/ws`.

One JSON object per text frame, each with a `type` (protocol version 1; docs/webchat.md has the full table):

client -> server
  `{"type": "session_request", "session_id": "<id or null>"}`  bind this socket to a conversation; the server
                                                               answers `session_confirm` (a new id if none)
  `{"type": "message", "text": "...", "session_id": "...", "message_id": "...", "metadata": {...}}`
  `{"type": "ping"}`                                           answered with `{"type": "pong"}`
server -> client
  `{"type": "session_confirm", "session_id": "...", "protocol": 1}`
  `{"type": "ack", "message_id": "..."}`                       the message (if it had an id) was taken; a client
                                                               sends unacknowledged messages again after a
                                                               reconnect (repeats are recognised by their id)
  `{"type": "typing_start", "session_id": "..."}` ... `{"type": "typing_stop", "session_id": "..."}` around
  each turn, and in between one `{"type": "bot_message", "session_id": "...", "text": ..., "buttons": ...}`
  frame per reply, sent as the runtime produces it (the Rasa message keys, unchanged)
  `{"type": "error", "code": "...", "message": "...", "message_id": "..."}`  the socket stays open; the
                                                               client's message_id when about a message

The client keeps the session id (the widget stores it), so a reconnect or a page reload continues the same
conversation. Replies go to the socket that sent the message; if it closed meanwhile, to another socket of the
session, or they wait (a few, for a few minutes) until the session's next `session_request`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from aiohttp import WSCloseCode, WSMsgType, web

from bot.errors import ConductorError, Problem, Severity
from bot.jsonio import lone_surrogate
from channels.base import (
    InputChannel,
    OnNewMessage,
    OutputChannel,
    RecentIds,
    UserMessage,
    new_message_id,
    text_too_long,
)

__all__ = [
    "CHANNEL",
    "PROTOCOL_VERSION",
    "SessionSockets",
    "WebSocketInput",
    "WebSocketOutput",
    "WebSocketSettings",
]

logger = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
MAX_SESSION_ID_LENGTH = 128
MESSAGE_KEYS = ("text", "buttons", "quick_replies", "image", "attachment", "elements", "custom")
"""The Rasa message keys a `bot_message` frame carries."""

PENDING_PER_SESSION = 50
PENDING_SESSIONS = 1_000
PENDING_SECONDS = 300.0
SHUTDOWN_WAIT_SECONDS = 10.0

_KNOWN_KEYS = ("heartbeat", "max_message_size", "allowed_origins")
_EXAMPLE = "websocket:\n  heartbeat: 25\n  allowed_origins: [https://www.example.com]"

Frame = dict[str, Any]


@dataclass(frozen=True)
class WebSocketSettings:
    """The `websocket:` section of credentials.yml; every key is optional.

    `heartbeat`: seconds between WebSocket pings (a peer that does not answer is dropped);
    `max_message_size`: the largest frame accepted, in bytes (a larger one closes the socket with 1009);
    `allowed_origins`: the web pages (scheme://host[:port]) that may open a socket; any page when not set.
    """

    heartbeat: float = 25.0
    max_message_size: int = 64 * 1024
    allowed_origins: tuple[str, ...] = ()

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> WebSocketSettings:
        """Check the section; raise one `ConductorError` listing every problem, each at its line."""
        section = credentials or {}
        file: str | None = getattr(section, "file", None)
        problems: list[Problem] = []

        def problem(message: str, key: str, hint: str) -> None:
            problems.append(Problem(message, file, _line_of(section, key), hint))

        heartbeat = section.get("heartbeat", cls.heartbeat)
        if isinstance(heartbeat, bool) or not isinstance(heartbeat, int | float) or not 1 <= heartbeat <= 3600:
            problem(f"'heartbeat' should be a number of seconds between 1 and 3600, not {heartbeat!r}",
                    "heartbeat", f"For example:\n{_EXAMPLE}")
            heartbeat = cls.heartbeat
        size = section.get("max_message_size", cls.max_message_size)
        if isinstance(size, bool) or not isinstance(size, int) or not 1024 <= size <= 16 * 1024 * 1024:
            problem(f"'max_message_size' should be a number of bytes between 1024 and 16777216, not {size!r}",
                    "max_message_size", "Leave it out to accept frames of up to 64 KiB.")
            size = cls.max_message_size
        origins = section.get("allowed_origins") or ()
        if isinstance(origins, str):
            origins = [origins]
        if not isinstance(origins, list | tuple) or not all(isinstance(o, str) and o for o in origins):
            problem("'allowed_origins' should be a list of web origins like https://www.example.com",
                    "allowed_origins", f"For example:\n{_EXAMPLE}\nLeave it out to let any page connect.")
            origins = ()
        for key in section:
            if key not in _KNOWN_KEYS:
                logger.warning("%s", Problem(
                    f"'{key}' is not a websocket channel setting; it is ignored", file, _line_of(section, key),
                    f"The known keys are: {', '.join(_KNOWN_KEYS)}.", Severity.WARNING,
                ))
        if problems:
            raise ConductorError(problems)
        return cls(float(heartbeat), size, tuple(o.rstrip("/") for o in origins))

    def allows_origin(self, origin: str | None) -> bool:
        if not self.allowed_origins or "*" in self.allowed_origins:
            return True
        return origin is not None and origin.rstrip("/") in self.allowed_origins


def _line_of(section: Mapping[str, Any], key: str) -> int | None:
    line_of = getattr(section, "line_of", None)
    line = line_of(key) if callable(line_of) else getattr(section, "line", None)
    return line if isinstance(line, int) else None


class SessionSockets:
    """The open sockets of each session, and the replies kept for a session while none of them is open."""

    def __init__(self) -> None:
        self._sockets: dict[str, set[web.WebSocketResponse]] = {}
        self._session_of: dict[web.WebSocketResponse, str] = {}
        self._pending: OrderedDict[str, deque[tuple[float, Frame]]] = OrderedDict()

    def bind(self, ws: web.WebSocketResponse, session_id: str) -> None:
        self.unbind(ws)
        self._sockets.setdefault(session_id, set()).add(ws)
        self._session_of[ws] = session_id

    def unbind(self, ws: web.WebSocketResponse) -> None:
        session_id = self._session_of.pop(ws, None)
        if session_id is not None:
            sockets = self._sockets.get(session_id, set())
            sockets.discard(ws)
            if not sockets:
                self._sockets.pop(session_id, None)

    def session_of(self, ws: web.WebSocketResponse) -> str | None:
        return self._session_of.get(ws)

    def open_sockets(self) -> list[web.WebSocketResponse]:
        return list(self._session_of)

    async def send(
        self, session_id: str, frame: Frame, prefer: web.WebSocketResponse | None = None, *, keep: bool = True
    ) -> bool:
        """Send `frame` to `prefer` if it is open, else to every open socket of the session.

        Returns whether a socket took it; if none did and `keep` is set, the frame waits for the session's next
        `session_request`.
        """
        if prefer is not None and await _send_frame(prefer, frame):
            return True
        delivered = False
        for ws in list(self._sockets.get(session_id, ())):
            delivered = await _send_frame(ws, frame) or delivered
        if not delivered and keep:
            self._keep(session_id, frame)
        return delivered

    def _keep(self, session_id: str, frame: Frame) -> None:
        queue = self._pending.setdefault(session_id, deque(maxlen=PENDING_PER_SESSION))
        queue.append((time.monotonic(), frame))
        self._pending.move_to_end(session_id)
        while len(self._pending) > PENDING_SESSIONS:
            self._pending.popitem(last=False)

    def take_pending(self, session_id: str) -> list[Frame]:
        """The frames kept for the session (those younger than `PENDING_SECONDS`), removed from the store."""
        queue = self._pending.pop(session_id, None)
        if queue is None:
            return []
        oldest = time.monotonic() - PENDING_SECONDS
        return [frame for kept_at, frame in queue if kept_at >= oldest]


async def _send_frame(ws: web.WebSocketResponse, frame: Frame) -> bool:
    if ws.closed:
        return False
    try:
        await ws.send_json(frame)
    except (ConnectionError, RuntimeError):  # closing meanwhile
        return False
    return True


class WebSocketOutput(OutputChannel):
    """Writes each bot message as its own `bot_message` frame, as soon as the runtime sends it."""

    name: ClassVar[str] = "websocket"

    def __init__(self, sockets: SessionSockets, origin: web.WebSocketResponse | None = None) -> None:
        self._sockets = sockets
        self._origin = origin

    async def send_response(self, recipient_id: str, message: Mapping[str, Any]) -> None:
        frame: Frame = {"type": "bot_message", "session_id": recipient_id}
        frame.update({key: message[key] for key in MESSAGE_KEYS if message.get(key) is not None})
        await self._sockets.send(recipient_id, frame, self._origin)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"image": image})

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"attachment": attachment})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_response(recipient_id, {"text": text, "buttons": buttons})

    async def send_elements(self, recipient_id: str, elements: list[Any], **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"elements": elements})

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"custom": json_message})


class ProtocolError(Exception):
    """A frame that breaks the protocol; answered with an `error` frame, the socket stays open."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    turns: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Keeps one socket's messages in the order they arrived."""


class WebSocketInput(InputChannel):
    """Serves `GET /webhooks/websocket/ws` (the socket) and `GET /webhooks/websocket/` (health)."""

    name: ClassVar[str] = "websocket"

    def __init__(self, settings: WebSocketSettings | None = None) -> None:
        self.settings = settings or WebSocketSettings()
        self.sockets = SessionSockets()
        self._recent_messages = RecentIds()
        self._receiving = True
        self._in_flight: set[asyncio.Task[None]] = set()

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> Self:
        return cls(WebSocketSettings.from_credentials(credentials))

    def routes(self, on_new_message: OnNewMessage) -> list[web.RouteDef]:
        async def health(request: web.Request) -> web.Response:
            return web.json_response({"status": "ok", "protocol": PROTOCOL_VERSION})

        async def socket(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, on_new_message)

        return [web.get("/", health), web.get("/ws", socket)]

    def get_output_channel(self) -> WebSocketOutput:
        """Sends to every open socket of the recipient's session (or keeps the message for its return)."""
        return WebSocketOutput(self.sockets)

    async def start(self, on_new_message: OnNewMessage) -> None:
        self._receiving = True

    async def stop(self) -> None:
        """Refuse new sockets and messages, let turns in flight send their replies (waiting at most
        `SHUTDOWN_WAIT_SECONDS`), then close every socket with 1001 (going away): clients reconnect to the next
        server. Closing here, not in `shutdown`, matters: an open socket is a request in flight, which the web
        server would otherwise wait for until its shutdown timeout."""
        self._receiving = False
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=SHUTDOWN_WAIT_SECONDS)
        for ws in self.sockets.open_sockets():
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")

    # --- one socket ----------------------------------------------------------------------------------------

    async def _serve(self, request: web.Request, on_new_message: OnNewMessage) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if not self.settings.allows_origin(origin):
            logger.warning("Refused a web chat socket from origin %s (not in allowed_origins)", origin)
            return web.json_response(
                {"error": f"origin {origin} may not open a chat socket; add it to allowed_origins"}, status=403
            )
        if not self._receiving:
            return web.json_response({"error": "the server is shutting down; retry shortly"}, status=503)
        ws = web.WebSocketResponse(heartbeat=self.settings.heartbeat, max_msg_size=self.settings.max_message_size)
        if not ws.can_prepare(request).ok:
            return web.json_response(
                {"error": "this address speaks WebSocket: open ws://<host>/webhooks/websocket/ws from a client"},
                status=426, headers={"Upgrade": "websocket"},
            )
        await ws.prepare(request)
        connection = _Connection(ws)
        try:
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    await self._on_text(connection, frame.data, on_new_message)
                elif frame.type == WSMsgType.BINARY:
                    await _send_frame(ws, _error_frame(
                        "bad_frame", "binary frames are not part of the protocol; send JSON text"
                    ))
        finally:
            self.sockets.unbind(ws)
        return ws

    async def _on_text(self, connection: _Connection, data: str, on_new_message: OnNewMessage) -> None:
        frame: Frame = {}
        try:
            frame = _read_frame(data)
            kind = frame.get("type")
            if kind == "ping":
                await _send_frame(connection.ws, {"type": "pong"})
            elif kind == "session_request":
                await self._confirm_session(connection, frame)
            elif kind == "message":
                message_id = self._begin_turn(connection, frame, on_new_message)
                if message_id is not None:
                    await _send_frame(connection.ws, {"type": "ack", "message_id": message_id})
            else:
                raise ProtocolError(
                    "unknown_type", f"unknown frame type {kind!r}; use session_request, message or ping"
                )
        except ProtocolError as error:
            await _send_frame(connection.ws, _error_frame(error.code, str(error), frame.get("message_id")))

    async def _confirm_session(self, connection: _Connection, frame: Frame) -> None:
        session_id = _session_id(frame.get("session_id")) or uuid.uuid4().hex
        self.sockets.bind(connection.ws, session_id)
        await _send_frame(
            connection.ws, {"type": "session_confirm", "session_id": session_id, "protocol": PROTOCOL_VERSION}
        )
        for kept in self.sockets.take_pending(session_id):
            await self.sockets.send(session_id, kept, connection.ws)

    def _begin_turn(self, connection: _Connection, frame: Frame, on_new_message: OnNewMessage) -> str | None:
        """Start the turn of a `message` frame (or recognise a repeat); returns the client's message_id."""
        if not self._receiving:
            raise ProtocolError("unavailable", "the server is shutting down; send the message again shortly")
        text = frame.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ProtocolError("bad_message", "a message needs 'text': a non-empty string")
        too_long = text_too_long(text, "text")
        if too_long is not None:
            raise ProtocolError("bad_message", too_long)
        session_id = _session_id(frame.get("session_id")) or self.sockets.session_of(connection.ws)
        if session_id is None:
            raise ProtocolError(
                "no_session", "send a session_request first, or give the message a 'session_id'"
            )
        if self.sockets.session_of(connection.ws) != session_id:
            self.sockets.bind(connection.ws, session_id)
        metadata = frame.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ProtocolError("bad_message", "'metadata' should be a JSON object")
        message_id = frame.get("message_id")
        if message_id is not None and (not isinstance(message_id, str) or not message_id):
            raise ProtocolError("bad_message", "'message_id' should be a non-empty string")
        if message_id is not None and self._recent_messages.seen(f"{session_id}\x00{message_id}"):
            logger.debug("dropped a repeated web chat message %s of %s", message_id, session_id)
            return message_id
        message = UserMessage(
            text=text,
            sender_id=session_id,
            input_channel=self.name,
            output_channel=WebSocketOutput(self.sockets, connection.ws),
            message_id=message_id or new_message_id(),
            metadata=dict(metadata),
        )
        task = asyncio.create_task(self._run_turn(connection, message, on_new_message))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        return message_id

    async def _run_turn(self, connection: _Connection, message: UserMessage, on_new_message: OnNewMessage) -> None:
        """One turn: typing_start, the replies (sent by the runtime through the output), typing_stop."""
        session_id = message.sender_id
        async with connection.turns:
            await self.sockets.send(session_id, {"type": "typing_start", "session_id": session_id},
                                    connection.ws, keep=False)
            try:
                await on_new_message(message)
            except Exception:
                logger.exception("the web chat message %s of %s could not be handled", message.message_id, session_id)
                await self.sockets.send(session_id, _error_frame(
                    "internal", "the assistant could not handle that message; please try again", message.message_id
                ), connection.ws, keep=False)
            finally:
                await self.sockets.send(session_id, {"type": "typing_stop", "session_id": session_id},
                                        connection.ws, keep=False)


def _read_frame(data: str) -> Frame:
    try:
        frame = json.loads(data)
    except ValueError:
        raise ProtocolError("bad_json", "frames must be JSON objects like {\"type\": \"message\", ...}") from None
    if not isinstance(frame, dict):
        raise ProtocolError("bad_json", "frames must be JSON objects like {\"type\": \"message\", ...}")
    surrogate = lone_surrogate(frame)
    if surrogate is not None:
        raise ProtocolError("bad_json", f"the frame holds a lone surrogate ({surrogate}), which is not Unicode text")
    return frame


def _session_id(value: Any) -> str | None:
    """A usable session id, None when absent; `ProtocolError` when present but unusable."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_SESSION_ID_LENGTH or not value.isprintable():
        raise ProtocolError(
            "bad_session_id", f"'session_id' should be printable text of at most {MAX_SESSION_ID_LENGTH} characters"
        )
    return value


def _error_frame(code: str, message: str, message_id: Any = None) -> Frame:
    """An `error` frame; it names the client's `message_id` when the error is about that message."""
    frame: Frame = {"type": "error", "code": code, "message": message}
    if isinstance(message_id, str) and message_id:
        frame["message_id"] = message_id
    return frame


CHANNEL = WebSocketInput
