"""A local stand-in of the Telegram Bot API, for tests: an aiohttp server on 127.0.0.1 (a random port).

It serves `/bot<token>/<method>` the way https://core.telegram.org/bots/api documents it: parameters from
the query string, a form (url-encoded or multipart) or a JSON body; answers `{"ok": true, "result": ...}`, or
`{"ok": false, "error_code": ..., "description": ...}` (with `parameters.retry_after` for 429) under the same
HTTP status. A wrong token gets 401 Unauthorized, an unknown method 404 Not Found. It keeps the rules that
catch client mistakes: a message needs text (at most 4,096 characters), a button's `callback_data` at most 64
bytes, a callback query can be answered once, getUpdates is refused (409) while a webhook is set, and a
second getUpdates ends a pending long poll with 409 "terminated by other getUpdates request".

Tests play the user's side with `message_update` / `callback_update` (Telegram-shaped updates, entities
with UTF-16 offsets as Telegram computes them), then `deliver` them to the registered webhook with its secret
header, as Telegram does, or `queue_update` them for getUpdates. Every request is recorded in `calls`;
`fail_next` makes the next calls of a method fail with a given error.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Self

import aiohttp
from aiohttp import web

__all__ = ["ApiCall", "TelegramApiStandin"]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_JSON_FIELDS = frozenset({"reply_markup", "allowed_updates", "entities", "caption_entities", "reply_parameters"})
_INT_FIELDS = frozenset({"chat_id", "offset", "limit", "timeout", "message_id", "max_connections"})
_SEND_METHODS: dict[str, tuple[str, ...]] = {
    "sendPhoto": ("photo",),
    "sendAudio": ("audio",),
    "sendDocument": ("document",),
    "sendSticker": ("sticker",),
    "sendVideo": ("video",),
    "sendVideoNote": ("video_note",),
    "sendAnimation": ("animation",),
    "sendVoice": ("voice",),
    "sendLocation": ("latitude", "longitude"),
    "sendVenue": ("latitude", "longitude", "title", "address"),
    "sendContact": ("phone_number", "first_name"),
}
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{3,32})?")
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@[A-Za-z0-9_]{5,32}")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")

Params = dict[str, Any]
Result = tuple[int, dict[str, Any]]


class _ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


@dataclass
class ApiCall:
    """One request the stand-in received."""

    method: str
    params: Params
    authorized: bool = True


@dataclass
class _Failure:
    code: int
    description: str
    retry_after: int | None
    times: int


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class TelegramApiStandin:
    """The Bot API of one bot (`token`), whose account is `bot_user`."""

    def __init__(
        self, token: str, *, bot_id: int = 7_000_000_001, bot_username: str = "conductor_test_bot"
    ) -> None:
        self.token = token
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Conductor Test",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[ApiCall] = []
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.allowed_updates: list[str] | None = None
        self._failures: dict[str, list[_Failure]] = {}
        self._queue: list[dict[str, Any]] = []
        self._chats: dict[int, dict[str, Any]] = {}
        self._open_callbacks: set[str] = set()
        self._next_update_id = 500_000
        self._next_message_id = 1
        self._next_callback_id = 9_000
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._arrival: asyncio.Future[None] | None = None
        self._active_poll: asyncio.Future[None] | None = None
        self._closing = False

    # --- server ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._serve)
        # No access log: it would print the token of every request path, as Telegram's own logs would.
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        self._arrival = asyncio.get_running_loop().create_future()

    async def close(self) -> None:
        """Stop serving; pending long polls end at once."""
        self._closing = True
        self._wake_pollers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """The server's root URL, as credentials.yml's `base_url` takes it."""
        return f"http://127.0.0.1:{self._port}"

    # --- what tests look at and control --------------------------------------------------------------------

    def calls_to(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    def fail_next(
        self, method: str, code: int, description: str, *, retry_after: int | None = None, times: int = 1
    ) -> None:
        """Answer the next `times` calls of `method` with this error instead of doing it."""
        self._failures.setdefault(method, []).append(_Failure(code, description, retry_after, times))

    def queue_update(self, update: dict[str, Any]) -> None:
        """Make `update` available to getUpdates."""
        self._queue.append(update)
        self._wake_pollers()

    async def deliver(self, update: dict[str, Any], *, secret: str | None = None) -> int:
        """POST `update` to the registered webhook as Telegram does; the HTTP status of the answer."""
        if not self.webhook_url:
            raise AssertionError("no webhook is set: the channel has not called setWebhook")
        headers = {}
        token = secret if secret is not None else self.webhook_secret
        if token is not None:
            headers[SECRET_HEADER] = token
        async with aiohttp.ClientSession() as session, session.post(
            self.webhook_url, json=update, headers=headers
        ) as response:
            return response.status

    # --- updates as Telegram shapes them -------------------------------------------------------------------

    def user(self, user_id: int = 1001, first_name: str = "Ada", username: str | None = "ada") -> dict[str, Any]:
        found: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
        if username is not None:
            found["username"] = username
        return found

    def chat(self, chat_id: int = 1001, chat_type: str = "private") -> dict[str, Any]:
        if chat_type == "private":
            return {"id": chat_id, "type": "private", "first_name": "Ada", "username": "ada"}
        return {"id": chat_id, "type": chat_type, "title": "Conductor testers"}

    def message_update(
        self,
        text: str,
        *,
        chat: dict[str, Any] | None = None,
        sender: dict[str, Any] | None = None,
        reply_to: dict[str, Any] | None = None,
        text_mention: tuple[int, int] | None = None,
        as_caption: bool = False,
        edited: bool = False,
        update_id: int | None = None,
    ) -> dict[str, Any]:
        """An update with a new (or `edited`) message; `reply_to` is the user (or `bot_user`) replied to.

        `text_mention` marks (offset, length) as a mention of the bot's account (a name without @username).
        """
        chat = chat or self.chat()
        sender = sender or self.user()
        self._chats.setdefault(chat["id"], chat)
        entities = self._entities(text)
        if text_mention is not None:
            offset, length = text_mention
            entities.append({"type": "text_mention", "offset": offset, "length": length, "user": self.bot_user})
        message: dict[str, Any] = {
            "message_id": self._message_id(),
            "from": sender,
            "chat": chat,
            "date": int(time.time()),
        }
        if as_caption:
            message["photo"] = [{"file_id": "photo-1", "file_unique_id": "u1", "width": 90, "height": 90}]
            message["caption"] = text
            if entities:
                message["caption_entities"] = entities
        else:
            message["text"] = text
            if entities:
                message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = {
                "message_id": self._message_id(),
                "from": reply_to,
                "chat": chat,
                "date": int(time.time()) - 60,
                "text": "an earlier message",
            }
        if edited:
            message["edit_date"] = int(time.time())
        return {"update_id": self._update_id(update_id), "edited_message" if edited else "message": message}

    def callback_update(
        self,
        data: str,
        *,
        chat: dict[str, Any] | None = None,
        sender: dict[str, Any] | None = None,
        update_id: int | None = None,
    ) -> dict[str, Any]:
        """An update for a press on an inline button (of a bot message in `chat`) whose callback_data is `data`."""
        chat = chat or self.chat()
        self._next_callback_id += 1
        query_id = str(self._next_callback_id)
        self._open_callbacks.add(query_id)
        message = {
            "message_id": self._message_id(),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
            "text": "a message with buttons",
        }
        query = {
            "id": query_id,
            "from": sender or self.user(),
            "message": message,
            "chat_instance": f"ci-{chat['id']}",
            "data": data,
        }
        return {"update_id": self._update_id(update_id), "callback_query": query}

    def _entities(self, text: str) -> list[dict[str, Any]]:
        """bot_command at the start and @mentions anywhere, with UTF-16 offsets and lengths."""
        entities = []
        command = _COMMAND.match(text)
        if command:
            entities.append({"type": "bot_command", "offset": 0, "length": _utf16_len(command.group())})
        for mention in _MENTION.finditer(text):
            entities.append(
                {
                    "type": "mention",
                    "offset": _utf16_len(text[: mention.start()]),
                    "length": _utf16_len(mention.group()),
                }
            )
        return entities

    def _update_id(self, given: int | None) -> int:
        if given is not None:
            return given
        self._next_update_id += 1
        return self._next_update_id

    def _message_id(self) -> int:
        self._next_message_id += 1
        return self._next_message_id

    # --- the API -------------------------------------------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await self._params(request)
        except _ApiError as error:
            return self._error(error)
        authorized = request.match_info["token"] == self.token
        self.calls.append(ApiCall(method, params, authorized))
        if not authorized:
            return self._error(_ApiError(401, "Unauthorized"))
        handler = self._methods().get(method)
        if handler is None:
            return self._error(_ApiError(404, "Not Found"))
        failure = self._take_failure(method)
        if failure is not None:
            extra = {"retry_after": failure.retry_after} if failure.retry_after is not None else None
            return self._error(_ApiError(failure.code, failure.description, extra))
        try:
            result = await handler(params)
        except _ApiError as error:
            return self._error(error)
        return web.json_response({"ok": True, "result": result})

    def _methods(self) -> dict[str, Callable[[Params], Awaitable[Any]]]:
        methods: dict[str, Callable[[Params], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "answerCallbackQuery": self._answer_callback_query,
        }
        for name in _SEND_METHODS:
            methods[name] = self._sender(name)
        return methods

    async def _params(self, request: web.Request) -> Params:
        params: Params = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise _ApiError(400, "Bad Request: the request body must be a JSON object")
            params.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            params.update({key: value for key, value in form.items() if isinstance(value, str)})
        for key, value in list(params.items()):
            if key in _JSON_FIELDS and isinstance(value, str):
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    raise _ApiError(400, f"Bad Request: can't parse {key} JSON object") from None
            elif key in _INT_FIELDS and isinstance(value, str) and re.fullmatch(r"-?\d+", value):
                params[key] = int(value)
        return params

    def _take_failure(self, method: str) -> _Failure | None:
        pending = self._failures.get(method)
        if not pending:
            return None
        failure = pending[0]
        failure.times -= 1
        if failure.times <= 0:
            pending.pop(0)
        return failure

    @staticmethod
    def _error(error: _ApiError) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": error.code, "description": error.description}
        if error.parameters:
            body["parameters"] = error.parameters
        return web.json_response(body, status=error.code)

    async def _get_me(self, params: Params) -> Any:
        return self.bot_user

    async def _set_webhook(self, params: Params) -> Any:
        url = str(params.get("url", ""))
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
            raise _ApiError(400, "Bad Request: secret token contains unallowed characters")
        if url and not url.startswith(("http://", "https://")):
            raise _ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook_url = url
        self.webhook_secret = str(secret) if secret is not None and url else None
        self.allowed_updates = params.get("allowed_updates")
        return True

    async def _delete_webhook(self, params: Params) -> Any:
        self.webhook_url, self.webhook_secret = "", None
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            self._queue.clear()
        return True

    async def _get_webhook_info(self, params: Params) -> Any:
        return {"url": self.webhook_url, "has_custom_certificate": False, "pending_update_count": len(self._queue)}

    async def _get_updates(self, params: Params) -> Any:
        if self.webhook_url:
            raise _ApiError(
                409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
                "the webhook first"
            )
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self._queue = [update for update in self._queue if update["update_id"] >= offset]
        if self._active_poll is not None and not self._active_poll.done():
            self._active_poll.set_result(None)  # the earlier long poll loses
        loop = asyncio.get_running_loop()
        terminated: asyncio.Future[None] = loop.create_future()
        self._active_poll = terminated
        deadline = loop.time() + timeout
        while True:
            if terminated.done():
                raise _ApiError(
                    409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
                    "is running"
                )
            ready = self._queue[:limit]
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or self._closing:
                if self._active_poll is terminated:
                    self._active_poll = None
                return ready
            assert self._arrival is not None
            await asyncio.wait([self._arrival, terminated], timeout=remaining, return_when=asyncio.FIRST_COMPLETED)

    def _wake_pollers(self) -> None:
        if self._arrival is not None and not self._arrival.done():
            self._arrival.set_result(None)
            self._arrival = asyncio.get_running_loop().create_future()

    async def _send_message(self, params: Params) -> Any:
        chat_id = self._chat_id(params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        self._check_markup(markup)
        message = self._bot_message(chat_id, text=text)
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message

    def _sender(self, method: str) -> Callable[[Params], Awaitable[Any]]:
        async def send(params: Params) -> Any:
            chat_id = self._chat_id(params)
            missing = [key for key in _SEND_METHODS[method] if params.get(key) in (None, "")]
            if missing:
                raise _ApiError(400, f"Bad Request: there is no {missing[0]} in the request")
            self._check_markup(params.get("reply_markup"))
            return self._bot_message(chat_id)

        return send

    async def _answer_callback_query(self, params: Params) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._open_callbacks:
            raise _ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self._open_callbacks.discard(query_id)
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    def _chat_id(self, params: Params) -> int | str:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise _ApiError(400, "Bad Request: chat_id is empty")
        return chat_id if isinstance(chat_id, int) else str(chat_id)

    @staticmethod
    def _check_markup(markup: Any) -> None:
        if markup is None:
            return
        if not isinstance(markup, dict):
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                    raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if data is None and not button.get("url"):
                    raise _ApiError(400, "Bad Request: can't parse inline keyboard button: field is missing")

    def _bot_message(self, chat_id: int | str, text: str | None = None) -> dict[str, Any]:
        known = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        chat = known if known is not None else {"id": chat_id, "type": "private", "first_name": "Someone"}
        message: dict[str, Any] = {
            "message_id": self._message_id(),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
        }
        if text is not None:
            message["text"] = text
        return message
