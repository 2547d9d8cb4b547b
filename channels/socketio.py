"""The Socket.IO channel, compatible with Rasa's `socketio` channel, so existing Rasa web chat widgets (e.g.
rasa-webchat) talk to Conductor unchanged.

Built on python-socketio's `AsyncServer` attached to the aiohttp application at `socketio_path`
(`/socket.io` by default). The input-channel contract mounts routes only, so the server calls `attach(app,
on_new_message)` while it builds the application; `routes` adds Rasa's health route `GET /webhooks/socketio/`.

The events, as in Rasa: after `connect` the client emits `session_request` (`{"session_id": ...}`, or nothing)
and receives `session_confirm` with the session id (a new one when none was given). It emits the user's text as
`user_uttered` (`{"message": ..., "session_id": ..., <metadata_key>: {...}}`) and receives each bot message as
`bot_uttered`: `{"text"}`, `{"text", "quick_replies": [{"content_type": "text", "title", "payload"}]}` for
buttons, `{"attachment": {"type": "image", "payload": {"src"}}}` for images, generic templates for elements,
and custom payloads as given. Without `session_persistence` the conversation is the socket (a reload starts
over); with it, the conversation is the client's session id, and replies go to every socket of that session.
With `jwt_key`, a connection must carry a JWT under `token` in its auth payload, verified with `jwt_method`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import jwt
import socketio
from aiohttp import web
from jwt.algorithms import get_default_algorithms, has_crypto

from bot.errors import ConductorError, Problem, Severity
from bot.jsonio import lone_surrogate
from channels.base import InputChannel, OnNewMessage, OutputChannel, UserMessage, text_too_long

__all__ = ["CHANNEL", "SocketIOInput", "SocketIOOutput", "SocketIOSettings"]

logger = logging.getLogger(__name__)

SHUTDOWN_WAIT_SECONDS = 10.0
_KNOWN_KEYS = (
    "user_message_evt", "bot_message_evt", "namespace", "session_persistence", "socketio_path", "jwt_key",
    "jwt_method", "metadata_key", "cors_allowed_origins",
)
_PUBLIC_KEY_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES256K", "ES384", "ES512", "EdDSA"}
)
_EXAMPLE = "socketio:\n  user_message_evt: user_uttered\n  bot_message_evt: bot_uttered\n  session_persistence: true"


@dataclass(frozen=True)
class SocketIOSettings:
    """The `socketio:` section of credentials.yml: Rasa's keys and defaults, plus `cors_allowed_origins`.

    `cors_allowed_origins` (Conductor's) lists the web pages allowed to connect, or `"*"` (the default) for any.
    """

    user_message_evt: str = "user_uttered"
    bot_message_evt: str = "bot_uttered"
    namespace: str | None = None
    session_persistence: bool = False
    socketio_path: str = "/socket.io"
    jwt_key: str | None = field(default=None, repr=False)
    jwt_method: str = "HS256"
    metadata_key: str = "metadata"
    cors_allowed_origins: str | tuple[str, ...] = "*"

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> SocketIOSettings:
        """Check the section; raise one `ConductorError` listing every problem, each at its line."""
        reader = _SectionReader(credentials or {})
        defaults = cls()
        settings = cls(
            user_message_evt=reader.name("user_message_evt") or defaults.user_message_evt,
            bot_message_evt=reader.name("bot_message_evt") or defaults.bot_message_evt,
            namespace=reader.name("namespace"),
            session_persistence=reader.boolean("session_persistence"),
            socketio_path="/" + (reader.name("socketio_path") or defaults.socketio_path).strip("/"),
            jwt_key=reader.name("jwt_key", secret=True),
            jwt_method=reader.jwt_method(),
            metadata_key=reader.name("metadata_key") or defaults.metadata_key,
            cors_allowed_origins=reader.origins(),
        )
        reader.warn_unknown_keys()
        if reader.problems:
            raise ConductorError(reader.problems)
        return settings


class _SectionReader:
    def __init__(self, section: Mapping[str, Any]) -> None:
        self.section = section
        self.file: str | None = getattr(section, "file", None)
        self.problems: list[Problem] = []

    def line(self, key: str) -> int | None:
        line_of = getattr(self.section, "line_of", None)
        line = line_of(key) if callable(line_of) else getattr(self.section, "line", None)
        return line if isinstance(line, int) else None

    def problem(self, message: str, key: str, hint: str) -> None:
        self.problems.append(Problem(message, self.file, self.line(key), hint))

    def name(self, key: str, *, secret: bool = False) -> str | None:
        value = self.section.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return value.strip() or None
        shown = "" if secret else f", not {type(value).__name__} {value!r}"
        self.problem(f"'{key}' should be text{shown}", key, f"For example:\n{_EXAMPLE}")
        return None

    def boolean(self, key: str) -> bool:
        value = self.section.get(key, False)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        self.problem(f"'{key}' should be true or false, not {value!r}", key, f"For example:\n{_EXAMPLE}")
        return False

    def jwt_method(self) -> str:
        method = self.name("jwt_method") or "HS256"
        usable = set(get_default_algorithms()) - {"none"}
        if method in usable:
            return method
        if method in _PUBLIC_KEY_ALGORITHMS and not has_crypto:
            self.problem(
                f"'jwt_method' {method} needs the cryptography package, which is not installed",
                "jwt_method", "Install it with: pip install 'pyjwt[crypto]', or use HS256 with a shared secret.",
            )
        else:
            self.problem(
                f"'jwt_method' should be a JWT signing algorithm such as HS256 or RS256, not {method!r}",
                "jwt_method", f"The algorithms available here are: {', '.join(sorted(usable))}.",
            )
        return "HS256"

    def origins(self) -> str | tuple[str, ...]:
        value = self.section.get("cors_allowed_origins")
        if value is None or value == "*":
            return "*"
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple) and value and all(isinstance(o, str) and o for o in value):
            return tuple(o.rstrip("/") for o in value)
        self.problem(
            "'cors_allowed_origins' should be \"*\" or a list of web origins like https://www.example.com",
            "cors_allowed_origins", "Leave it out to let any page connect.",
        )
        return "*"

    def warn_unknown_keys(self) -> None:
        for key in self.section:
            if key not in _KNOWN_KEYS:
                logger.warning("%s", Problem(
                    f"'{key}' is not a socketio channel setting; it is ignored", self.file, self.line(key),
                    f"The known keys are: {', '.join(_KNOWN_KEYS)}.", Severity.WARNING,
                ))


class SocketIOOutput(OutputChannel):
    """Emits each bot message as a `bot_message_evt` event to the recipient's room, in Rasa's shapes."""

    name: ClassVar[str] = "socketio"

    def __init__(self, sio: socketio.AsyncServer, bot_message_evt: str, namespace: str | None = None) -> None:
        self._sio = sio
        self._event = bot_message_evt
        self._namespace = namespace

    async def _emit(self, recipient_id: str, payload: Any) -> None:
        await self._sio.emit(self._event, payload, room=recipient_id, namespace=self._namespace)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Each paragraph (text split at blank lines) is its own message, as Rasa sends them."""
        for part in text.strip().split("\n\n"):
            await self._emit(recipient_id, {"text": part})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._emit(recipient_id, {"attachment": {"type": "image", "payload": {"src": image}}})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        replies = [
            {"content_type": "text", "title": b.get("title", ""), "payload": b.get("payload", b.get("title", ""))}
            for b in buttons
        ]
        await self._emit(recipient_id, {"text": text, "quick_replies": replies})

    async def send_elements(self, recipient_id: str, elements: list[Any], **kwargs: Any) -> None:
        for element in elements:
            template = {"template_type": "generic", "elements": element}
            await self._emit(recipient_id, {"attachment": {"type": "template", "payload": template}})

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        """The custom payload as it is; Rasa's `{"data": ...}` form emits only its `data`."""
        await self._emit(recipient_id, json_message.get("data", json_message))

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:
        await self._emit(recipient_id, {"attachment": attachment})


class SocketIOInput(InputChannel):
    """Rasa's socket.io channel. Call `attach(app, on_new_message)` before the application starts."""

    name: ClassVar[str] = "socketio"

    def __init__(self, settings: SocketIOSettings | None = None) -> None:
        self.settings = settings or SocketIOSettings()
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            cors_allowed_origins=(
                self.settings.cors_allowed_origins
                if isinstance(self.settings.cors_allowed_origins, str)
                else list(self.settings.cors_allowed_origins)
            ),
            logger=False,
            engineio_logger=False,
        )
        self._attached = False
        self._receiving = True
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._clients: set[str] = set()
        self._shut_down = False

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> Self:
        return cls(SocketIOSettings.from_credentials(credentials))

    def routes(self, on_new_message: OnNewMessage) -> list[web.RouteDef]:
        async def health(request: web.Request) -> web.Response:
            return web.json_response({"status": "ok"})

        return [web.get("/", health)]

    def get_output_channel(self) -> SocketIOOutput:
        return SocketIOOutput(self.sio, self.settings.bot_message_evt, self.settings.namespace)

    def attach(self, app: web.Application, on_new_message: OnNewMessage) -> None:
        """Serve Socket.IO at `socketio_path` on `app` (before it starts) and hand user messages to the runtime."""
        if self._attached:
            raise RuntimeError("the socketio channel is already attached to an application")
        namespace = self.settings.namespace

        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
            if not self._receiving:
                raise socketio.exceptions.ConnectionRefusedError("the server is shutting down; retry shortly")
            if self.settings.jwt_key is not None:
                self._check_token(auth)
            self._clients.add(sid)
            return True

        async def disconnect(sid: str, reason: Any = None) -> None:
            self._clients.discard(sid)

        async def session_request(sid: str, data: Any = None) -> None:
            given = data.get("session_id") if isinstance(data, dict) else None
            session_id = str(given) if given not in (None, "") else uuid.uuid4().hex
            if self.settings.session_persistence:
                await self.sio.enter_room(sid, session_id, namespace=namespace)
            await self.sio.emit("session_confirm", session_id, room=sid, namespace=namespace)

        async def user_uttered(sid: str, data: Any = None) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._in_flight.add(task)
            try:
                await self._handle_user_message(sid, data, on_new_message)
            finally:
                if task is not None:
                    self._in_flight.discard(task)

        self.sio.on("connect", connect, namespace=namespace)
        self.sio.on("disconnect", disconnect, namespace=namespace)
        self.sio.on("session_request", session_request, namespace=namespace)
        self.sio.on(self.settings.user_message_evt, user_uttered, namespace=namespace)
        self.sio.attach(app, socketio_path=self.settings.socketio_path)
        self._attached = True

    async def start(self, on_new_message: OnNewMessage) -> None:
        self._receiving = True
        if not self._attached:
            logger.error(
                "The socketio channel was not attached to the web application, so %s does not answer; the "
                "server must call channel.attach(app, on_new_message) while it builds the application.",
                self.settings.socketio_path,
            )

    async def stop(self) -> None:
        """Refuse new connections and messages, let turns in flight send their replies (waiting at most
        `SHUTDOWN_WAIT_SECONDS`), then disconnect every client: they reconnect to the next server. An open
        connection is a request in flight, which the web server would otherwise wait for until its timeout."""
        self._receiving = False
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=SHUTDOWN_WAIT_SECONDS)
        for sid in list(self._clients):
            await self.sio.disconnect(sid, namespace=self.settings.namespace)

    async def shutdown(self) -> None:
        """Stop python-socketio's background tasks."""
        if self._attached and not self._shut_down:
            self._shut_down = True
            await self.sio.shutdown()

    def _check_token(self, auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token:
            logger.warning("Refused a socket.io connection without a JWT (jwt_key is set)")
            raise socketio.exceptions.ConnectionRefusedError(
                "authentication required: connect with a JWT in the auth payload, e.g. {token: '<jwt>'}"
            )
        assert self.settings.jwt_key is not None
        try:
            jwt.decode(token.removeprefix("Bearer "), self.settings.jwt_key, algorithms=[self.settings.jwt_method])
        except jwt.InvalidTokenError as error:
            logger.warning("Refused a socket.io connection: its JWT is not valid (%s)", error)
            raise socketio.exceptions.ConnectionRefusedError(f"authentication failed: {error}") from None

    async def _handle_user_message(self, sid: str, data: Any, on_new_message: OnNewMessage) -> None:
        if not self._receiving:
            logger.warning("Ignored a socket.io message from %s: the channel is stopping", sid)
            return
        if not isinstance(data, dict):
            logger.warning("Ignored a socket.io %s event whose data is not an object: %r",
                           self.settings.user_message_evt, data)
            return
        if self.settings.session_persistence:
            session_id = data.get("session_id")
            if not session_id:
                logger.warning(
                    "Ignored a socket.io message without 'session_id' (session_persistence is on): the client "
                    "should emit session_request after connecting and send the confirmed id with each message"
                )
                return
            sender_id = str(session_id)
            await self.sio.enter_room(sid, sender_id, namespace=self.settings.namespace)
        else:
            sender_id = sid
        text = data.get("message")
        too_long = text_too_long(text, "message") if isinstance(text, str) else None
        if too_long is not None:
            logger.warning("Ignored a socket.io message from %s: %s", sender_id, too_long)
            return
        surrogate = lone_surrogate(data)
        if surrogate is not None:
            logger.warning("Ignored a socket.io message from %s holding a lone surrogate (%s), which is not Unicode "
                           "text", sender_id, surrogate)
            return
        message = UserMessage(
            text=text if isinstance(text, str) else "",
            sender_id=sender_id,
            input_channel=self.name,
            output_channel=self.get_output_channel(),
            metadata=self._metadata(data),
        )
        try:
            await on_new_message(message)
        except Exception:
            logger.exception("the socket.io message of %s could not be handled", sender_id)

    def _metadata(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The client's metadata under `metadata_key`: an object, or a JSON string of one."""
        metadata = data.get(self.settings.metadata_key)
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata)
            except ValueError:
                logger.warning("Ignored socket.io metadata that is not JSON: %r", metadata[:200])
                return {}
        if metadata is None:
            return {}
        if not isinstance(metadata, dict):
            logger.warning("Ignored socket.io metadata that is not an object: %r", metadata)
            return {}
        return metadata


CHANNEL = SocketIOInput
