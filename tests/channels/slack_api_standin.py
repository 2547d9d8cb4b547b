"""A local stand-in of Slack for tests, playing Slack's three parts the channel talks to:

* the Web API (`auth.test`, `chat.postMessage`, `apps.connections.open`) on 127.0.0.1, with Slack's documented
  request and response shapes: form or JSON bodies, `Authorization: Bearer <token>`, `{"ok": true, ...}` or
  `{"ok": false, "error": ...}`, HTTP 429 with `Retry-After` when a test scripts one. It checks what Slack
  checks of a message (Block Kit limits, text length) and records every request;
* Socket Mode: `apps.connections.open` returns a `ws://` URL of the stand-in, which greets with `hello`, sends
  the envelopes a test pushes and records the acknowledgements;
* the Events API and interactivity deliveries to the app's Request URL, signed as Slack signs them
  (`X-Slack-Signature: v0=HMAC-SHA256(signing secret, "v0:{timestamp}:{body}")`).

The payload builders follow the sample payloads in Slack's docs (`event_callback` envelope, `message`,
`app_mention`, `block_actions`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import aiohttp
from aiohttp import web

__all__ = [
    "APP_ID",
    "APP_TOKEN",
    "BOT_ID",
    "BOT_TOKEN",
    "BOT_USER_ID",
    "DM_CHANNEL",
    "PUBLIC_CHANNEL",
    "SIGNING_SECRET",
    "TEAM_ID",
    "USER_ID",
    "ApiCall",
    "Delivery",
    "Posted",
    "SlackStandIn",
    "app_mention_event",
    "block_actions_payload",
    "message_event",
    "sign",
]

BOT_TOKEN = "xoxb-17653672481-19874698323-standinbottoken"
APP_TOKEN = "xapp-1-A0STANDIN-1234567890-standinapptoken"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM_ID = "T0STANDIN"
APP_ID = "A0STANDIN"
BOT_USER_ID = "U0BOTUSER"
BOT_ID = "B0BOTID"
USER_ID = "U0HUMAN1"
DM_CHANNEL = "D0DIRECT1"
PUBLIC_CHANNEL = "C0GENERAL"

_SECTION_TEXT_LIMIT = 3_000
_MESSAGE_TEXT_LIMIT = 40_000


@dataclass
class ApiCall:
    """One request the stand-in's Web API received."""

    method: str
    token: str | None
    args: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Posted:
    """A message Slack accepted: the `chat.postMessage` arguments and Slack's reply (`channel`, `ts`, `message`)."""

    args: dict[str, Any]
    reply: dict[str, Any]


@dataclass
class Delivery:
    """The app's answer to one event delivery."""

    status: int
    headers: dict[str, str]
    text: str


@dataclass
class _Scripted:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class SlackStandIn:
    """Slack, as far as the channel can tell. `start()` it, point `api_url` at it, `stop()` it."""

    def __init__(
        self,
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        signing_secret: str = SIGNING_SECRET,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.calls: list[ApiCall] = []
        self.acks: list[dict[str, Any]] = []
        self.posted: list[Posted] = []
        """Every message `chat.postMessage` accepted, in order."""
        self.port = 0
        self._scripted: dict[str, deque[_Scripted]] = defaultdict(deque)
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._tickets: set[str] = set()
        self._changed = asyncio.Condition()
        self._ts = itertools.count(1)

    # --- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1 (a random port the first time, the same port after a `stop`)."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/link/", self._socket)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Go down as Slack would in an outage: open sockets are closed, new connections refused."""
        for socket in self._sockets:
            await socket.close()
        self._sockets.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    # --- what a test looks at --------------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    async def wait_for_posts(self, count: int, timeout: float = 5.0) -> list[Posted]:
        """The messages Slack accepted (`chat.postMessage`), once there are at least `count` of them."""
        await self._wait(lambda: len(self.posted) >= count, timeout, f"{count} posted message(s)")
        return self.posted

    async def wait_for_calls(self, method: str, count: int, timeout: float = 5.0) -> list[ApiCall]:
        await self._wait(lambda: len(self.calls_to(method)) >= count, timeout, f"{count} call(s) to {method}")
        return self.calls_to(method)

    def script(self, method: str, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        """The next call to `method` gets this reply instead of the normal one (e.g. 429 with Retry-After)."""
        self._scripted[method].append(_Scripted(status, body, headers or {}))

    async def _wait(self, done: Any, timeout: float, what: str) -> None:
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(done), timeout)
            except TimeoutError:
                raise AssertionError(f"Slack stand-in: waited {timeout} s for {what}") from None

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- Web API ---------------------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _request_args(request)
        authorization = request.headers.get("Authorization", "")
        token = authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else None
        call = ApiCall(method, token, args)
        self.calls.append(call)
        try:
            if self._scripted[method]:
                scripted = self._scripted[method].popleft()
                return web.json_response(scripted.body, status=scripted.status, headers=scripted.headers)
            body = self._answer(method, token, args)
            if method == "chat.postMessage" and body.get("ok"):
                self.posted.append(Posted(args, body))
            return web.json_response(body)
        finally:
            await self._notify()

    def _answer(self, method: str, token: str | None, args: dict[str, Any]) -> dict[str, Any]:
        if token is None:
            return {"ok": False, "error": "not_authed"}
        if method == "apps.connections.open":
            if token.startswith("xoxb-"):
                return {"ok": False, "error": "not_allowed_token_type"}
            if token != self.app_token:
                return {"ok": False, "error": "invalid_auth"}
            ticket = uuid.uuid4().hex
            self._tickets.add(ticket)
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={APP_ID}"}
        if token != self.bot_token:
            return {"ok": False, "error": "invalid_auth"}
        if method == "auth.test":
            return {
                "ok": True, "url": "https://standin.slack.com/", "team": "Stand-in Workspace",
                "user": "conductor", "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method == "chat.postMessage":
            return self._post_message(args)
        return {"ok": False, "error": "unknown_method"}

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if not isinstance(channel, str) or not channel:
            return {"ok": False, "error": "channel_not_found"}
        text, blocks, attachments = args.get("text"), args.get("blocks"), args.get("attachments")
        if not text and not blocks and not attachments:
            return {"ok": False, "error": "no_text"}
        if isinstance(text, str) and len(text) > _MESSAGE_TEXT_LIMIT:
            return {"ok": False, "error": "msg_too_long"}
        if blocks is not None:
            problems = _block_problems(blocks)
            if problems:
                return {"ok": False, "error": "invalid_blocks", "errors": problems}
        if channel.startswith(("U", "W")):  # a user id: Slack posts in the app's direct message with them
            channel = "D" + channel[1:]
        ts = f"{1_700_000_000 + next(self._ts)}.000100"
        message: dict[str, Any] = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": ts,
                                   "app_id": APP_ID, "team": TEAM_ID, "text": text or ""}
        for key in ("blocks", "attachments", "thread_ts"):
            if args.get(key) is not None:
                message[key] = args[key]
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    # --- Socket Mode -----------------------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("ticket") not in self._tickets:
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(request.query["ticket"])
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json({
            "type": "hello", "num_connections": 1,
            "debug_info": {"host": "standin", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": APP_ID},
        })
        await self._notify()
        async for frame in socket:
            if frame.type == aiohttp.WSMsgType.TEXT:
                self.acks.append(json.loads(frame.data))
                await self._notify()
        if socket in self._sockets:
            self._sockets.remove(socket)
        return socket

    async def wait_for_socket(self, timeout: float = 5.0) -> None:
        await self._wait(lambda: bool(self._sockets), timeout, "a Socket Mode connection")

    async def push(
        self, envelope_type: str, payload: dict[str, Any], retry_attempt: int = 0, retry_reason: str = ""
    ) -> str:
        """Send one envelope over the open Socket Mode connection; returns its `envelope_id`."""
        envelope_id = str(uuid.uuid4())
        envelope = {"envelope_id": envelope_id, "type": envelope_type, "payload": payload,
                    "accepts_response_payload": envelope_type != "events_api"}
        if envelope_type == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        await self._sockets[-1].send_json(envelope)
        return envelope_id

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        def acked() -> bool:
            return any(ack.get("envelope_id") == envelope_id for ack in self.acks)

        await self._wait(acked, timeout, f"the ack of envelope {envelope_id}")
        return next(ack for ack in self.acks if ack.get("envelope_id") == envelope_id)

    # --- deliveries to the app -------------------------------------------------------------------------------

    async def deliver(
        self,
        url: str,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> Delivery:
        """POST `body` to the app as Slack does: signed with the signing secret (or `secret`), at `timestamp`."""
        sent = {"Content-Type": content_type, **sign(body, secret or self.signing_secret, timestamp)}
        sent.update(headers or {})
        async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=sent) as answer:
            return Delivery(answer.status, dict(answer.headers), await answer.text())

    async def deliver_event(
        self, url: str, envelope: dict[str, Any], retry_num: int | None = None, retry_reason: str = "http_timeout",
        **options: Any,
    ) -> Delivery:
        """An Events API request (JSON); `retry_num` makes it one of Slack's retries."""
        headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason} if retry_num else {}
        return await self.deliver(url, json.dumps(envelope).encode(), "application/json", headers, **options)

    async def deliver_interaction(self, url: str, payload: dict[str, Any], **options: Any) -> Delivery:
        """An interactivity request: a form with one field, `payload`, holding the JSON."""
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.deliver(url, body, "application/x-www-form-urlencoded", **options)


def sign(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Slack's signature headers for `body` (https://api.slack.com/authentication/verifying-requests-from-slack)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + stamp.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


async def _request_args(request: web.Request) -> dict[str, Any]:
    """A Web API call's arguments: query string, then a form or JSON body (JSON-valued form fields decoded)."""
    args: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            args.update(body)
    elif request.can_read_body:
        for key, values in parse_qs((await request.read()).decode()).items():
            value: Any = values[0]
            if key in ("blocks", "attachments"):
                value = json.loads(value)
            args[key] = value
    return args


def _block_problems(blocks: Any) -> list[str]:
    """What Slack's `invalid_blocks` would complain of, for the block types the channel sends."""
    if not isinstance(blocks, list):
        return ["blocks must be an array"]
    problems = [] if len(blocks) <= 50 else [f"must provide at most 50 items [json-pointer:/blocks] ({len(blocks)})"]
    action_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"[json-pointer:/blocks/{index}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "section":
            text = block.get("text", {}).get("text", "")
            if not 1 <= len(text) <= _SECTION_TEXT_LIMIT:
                problems.append(f"section text must be 1..3000 characters {where} ({len(text)})")
        elif kind == "actions":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 25:
                problems.append(f"actions must have 1..25 elements {where}")
            for element in elements:
                label = element.get("text", {}).get("text", "")
                if not 1 <= len(label) <= 75:
                    problems.append(f"button text must be 1..75 characters {where}")
                if len(str(element.get("value", ""))) > 2000:
                    problems.append(f"button value must be at most 2000 characters {where}")
                action_id = element.get("action_id")
                if action_id in action_ids:
                    problems.append(f"action_id {action_id!r} is not unique {where}")
                action_ids.add(action_id)
        elif kind == "image":
            if not block.get("image_url") or not block.get("alt_text"):
                problems.append(f"image needs image_url and alt_text {where}")
        elif kind is None:
            problems.append(f"a block needs a type {where}")
    return problems


# --- payloads, as in Slack's docs ----------------------------------------------------------------------------

_next_ts = itertools.count(1)


def _fresh_ts() -> str:
    return f"{1_700_000_000 + next(_next_ts)}.{next(_next_ts):06d}"


def message_event(
    text: str,
    user: str = USER_ID,
    channel: str = DM_CHANNEL,
    channel_type: str = "im",
    ts: str | None = None,
    thread_ts: str | None = None,
    event_id: str | None = None,
    **event_fields: Any,
) -> dict[str, Any]:
    """An `event_callback` envelope holding a `message` event (a user's message, unless `event_fields` say
    otherwise, e.g. `subtype` or `bot_id`)."""
    ts = ts or _fresh_ts()
    event: dict[str, Any] = {
        "type": "message", "channel": channel, "user": user, "text": text, "ts": ts, "event_ts": ts,
        "channel_type": channel_type, "client_msg_id": str(uuid.uuid4()), "team": TEAM_ID,
        "blocks": [{"type": "rich_text", "block_id": "b1", "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}],
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    event.update(event_fields)
    return _envelope(event, event_id)


def app_mention_event(
    text: str,
    user: str = USER_ID,
    channel: str = PUBLIC_CHANNEL,
    ts: str | None = None,
    thread_ts: str | None = None,
    event_id: str | None = None,
    client_msg_id: str | None = None,
) -> dict[str, Any]:
    """An `event_callback` envelope holding an `app_mention` event; `text` should contain `<@U0BOTUSER>`."""
    ts = ts or _fresh_ts()
    event: dict[str, Any] = {
        "type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel, "event_ts": ts,
        "team": TEAM_ID, "client_msg_id": client_msg_id or str(uuid.uuid4()),
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return _envelope(event, event_id)


def _envelope(event: dict[str, Any], event_id: str | None) -> dict[str, Any]:
    return {
        "token": "XXYYZZ",  # the deprecated verification token: Slack still sends it; apps must not rely on it
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True,
             "is_enterprise_install": False}
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{uuid.uuid4().hex}",
    }


def block_actions_payload(
    posted: dict[str, Any],
    value: str,
    user: str = USER_ID,
    action_type: str = "button",
) -> dict[str, Any]:
    """A `block_actions` payload for a click on the button with `value` in a message the bot posted.

    `posted` is the stand-in's `chat.postMessage` reply (`{"channel", "ts", "message"}`), so the click refers
    to a message Slack really holds.
    """
    message = posted["message"]
    button = next(
        element
        for block in message.get("blocks", []) if block.get("type") == "actions"
        for element in block["elements"] if element.get("value") == value
    )
    action_ts = f"{time.time():.6f}"
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "human", "name": "human", "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "XXYYZZ",
        "container": {"type": "message", "message_ts": posted["ts"], "channel_id": posted["channel"],
                      "is_ephemeral": False},
        "trigger_id": f"{uuid.uuid4().int % 10**12}.{TEAM_ID}.{uuid.uuid4().hex}",
        "team": {"id": TEAM_ID, "domain": "standin"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": posted["channel"], "name": "directmessage"},
        "message": message,
        "state": {"values": {}},
        "response_url": f"https://hooks.slack.com/actions/{TEAM_ID}/1/standin",
        "actions": [{
            "action_id": button["action_id"], "block_id": "actions", "text": button["text"],
            "value": value, "type": action_type, "action_ts": action_ts,
        }],
    }
