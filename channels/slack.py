"""The Slack channel: Slack's Events API and interactivity over HTTP, or Socket Mode, with replies through the
Web API. Built on the official slack-sdk (`SignatureVerifier`, `AsyncWebClient`, the aiohttp
`SocketModeClient`).

Over HTTP every request to `/webhooks/slack/webhook` (events *and* interactive payloads, as with Rasa) is
checked first: a missing, wrong or stale (older than 5 minutes) signature gets 401 and nothing else happens.
A verified event is acknowledged at once with 200 and its turn runs in a background task, so Slack always has
its answer within its 3 seconds, however long the turn takes. Retries (`X-Slack-Retry-Num`) and duplicates
(the same `event_id`, or one message delivered as both `message` and `app_mention`) never make a second
answer, also when the retry reaches another process of the deployment (`channels.dedup`, with a Redis lock
store); a retry whose reason is in `errors_ignore_retry` is answered with `X-Slack-No-Retry: 1` and dropped.
A message the runtime refuses (too long, or not text) is logged without its text, and the user gets the reply
that says why (`RefusedMessage.replies`) where the answer would have gone.

slack-bolt's `AsyncApp` is not used on purpose: its single-workspace authorization calls `auth.test` inside
the request path (so an event is answered with 500 while Slack's Web API is down), and it runs listeners in
futures the channel could not wait for on `stop`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import ConductorError
from channels.base import InputChannel, OnNewMessage, RefusedMessage, UserMessage, send_replies
from channels.dedup import Redeliveries
from channels.slack_events import Skipped, SlackInbound, read_event, read_interaction
from channels.slack_output import SlackOutput
from channels.slack_settings import SlackSettings
from channels.slack_socket import SlackSocketMode

__all__ = ["CHANNEL", "RATE_LIMIT_RETRIES", "WEB_API_TIMEOUT", "SlackInput"]

logger = logging.getLogger(__name__)

RATE_LIMIT_RETRIES = 3
"""How many times a rate-limited Web API call (HTTP 429) is retried after waiting out its `Retry-After`."""

WEB_API_TIMEOUT = 15
"""Seconds one Web API call may take before it counts as failed."""

_TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type"}
)
"""Web API errors that mean the configured token is wrong: the operator's to fix, so they stop the start-up."""

_UNREACHABLE = (aiohttp.ClientError, TimeoutError, SlackClientError)

Outcome = Literal["accepted", "skipped", "duplicate", "retry ignored"]


class SlackInput(InputChannel):
    """Receives Slack messages and button clicks; answers in the same conversation (see the module doc)."""

    name: ClassVar[str] = "slack"
    stop_timeout: float = 10.0
    """Seconds `stop` waits for turns in flight before cancelling them."""

    def __init__(self, settings: SlackSettings) -> None:
        self.settings = settings
        self.client = AsyncWebClient(
            token=settings.slack_token,
            base_url=settings.api_url,
            proxy=settings.proxy,
            timeout=WEB_API_TIMEOUT,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(),
                AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
            ],
            logger=logging.getLogger("channels.slack.web_api"),
        )
        secret = settings.slack_signing_secret
        self._verifier = SignatureVerifier(secret) if secret else None
        self.redeliveries = Redeliveries(self.name)
        self._turns: set[asyncio.Task[None]] = set()
        self._bot_user_ids: set[str] = set()
        self._socket: SlackSocketMode | None = None
        self._receiving = True

    def __repr__(self) -> str:
        return f"SlackInput({self.settings!r})"

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> Self:
        return cls(SlackSettings.from_credentials(credentials))

    def routes(self, on_new_message: OnNewMessage) -> list[web.RouteDef]:
        async def webhook(request: web.Request) -> web.Response:
            return await self._webhook(request, on_new_message)

        return [web.get("/", self._health), web.post("/webhook", webhook)]

    def get_output_channel(self) -> SlackOutput:
        """Replies to `slack_channel` if set, else wherever the recipient id (a conversation key) points."""
        return SlackOutput(self.client, self.settings.slack_channel, None, self.settings.use_threads)

    # --- lifecycle -------------------------------------------------------------------------------------------

    async def initialize(self) -> None:
        """Open the Web API session and learn the bot's own user id (`auth.test`).

        A token Slack refuses stops the start-up with a `ConductorError`; Slack being unreachable does not:
        the channel starts, and replies fail (logged) until Slack is back.
        """
        if self.client.session is None or self.client.session.closed:
            self.client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WEB_API_TIMEOUT))
        try:
            identity = await self.client.auth_test()
        except SlackApiError as error:
            refused = self._token_refused(error, "slack_token")
            if refused is not None:
                await self.shutdown()
                raise refused from None
            logger.warning("Slack's auth.test failed (%s); the bot's own messages are still recognised by bot_id",
                           error.response.get("error"))
            return
        except _UNREACHABLE as error:
            logger.warning("Slack's Web API at %s is unreachable (%s); the channel starts anyway",
                           self.settings.api_url, type(error).__name__)
            return
        user_id = identity.get("user_id")
        if isinstance(user_id, str):
            self._bot_user_ids.add(user_id)

    async def start(self, on_new_message: OnNewMessage) -> None:
        """With an `app_token`, open the Socket Mode connection; over HTTP there is nothing to start."""
        self._receiving = True
        app_token = self.settings.app_token
        if app_token is None or self._socket is not None:
            return
        first_url = await self._open_socket_url(app_token)

        def handle(kind: str, payload: Mapping[str, Any], retry_number: int, retry_reason: str | None) -> None:
            self._receive_envelope(kind, payload, retry_number, retry_reason, on_new_message)

        self._socket = SlackSocketMode(app_token, self.client, handle)
        await self._socket.start(first_url)

    async def stop(self) -> None:
        """Stop receiving (the webhook answers 503, so Slack retries later) and let turns in flight finish."""
        self._receiving = False
        if self._socket is not None:
            await self._socket.stop()
            self._socket = None
        await self.finish_turns(self.stop_timeout)

    async def shutdown(self) -> None:
        if self.client.session is not None:
            await self.client.session.close()
            self.client.session = None

    async def finish_turns(self, timeout: float) -> None:
        """Wait for the turns in flight; those still running after `timeout` seconds are cancelled."""
        if not self._turns:
            return
        _, pending = await asyncio.wait(set(self._turns), timeout=timeout)
        if pending:
            logger.warning("%d Slack turn(s) did not finish within %s s and were cancelled", len(pending), timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # --- HTTP ------------------------------------------------------------------------------------------------

    @staticmethod
    async def _health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _webhook(self, request: web.Request, on_new_message: OnNewMessage) -> web.Response:
        if not self._receiving:
            return web.Response(status=503, text="The Slack channel is stopping; Slack retries later.")
        body = await request.read()
        if not self._is_signed_by_slack(body, request.headers):
            logger.warning("Refused a request to the Slack webhook: its signature is missing, wrong or stale")
            return web.Response(
                status=401,
                text="The request is not signed with the app's signing secret, or is older than 5 minutes.",
            )
        retry_number, retry_reason = self._retry_of(request.headers)
        if request.content_type == "application/json":
            envelope = _json_object(body)
            if envelope is None:
                return web.Response(status=400, text="The body is not a JSON object.")
            if envelope.get("type") == "url_verification":
                return web.json_response({"challenge": envelope.get("challenge")})
            if envelope.get("type") != "event_callback":
                logger.debug("Slack sent a %r request; nothing to do", envelope.get("type"))
                return web.Response(status=200)
            found: SlackInbound | Skipped = read_event(envelope, self._bot_user_ids, self.settings.slack_channel)
        elif request.content_type == "application/x-www-form-urlencoded":
            payload = _json_object(_form_field(body, "payload"))
            if payload is None:
                return web.Response(status=400, text="The form has no 'payload' field holding a JSON object.")
            found = read_interaction(payload, self._bot_user_ids)
        else:
            return web.Response(status=415, text="Slack sends application/json or a form; this is neither.")
        outcome = self._receive(found, retry_number, retry_reason, on_new_message)
        headers = {"X-Slack-No-Retry": "1"} if outcome == "retry ignored" else None
        return web.Response(status=200, headers=headers)

    def _is_signed_by_slack(self, body: bytes, headers: Mapping[str, str]) -> bool:
        if self._verifier is None:
            return False  # Socket Mode without a signing secret: nothing over HTTP can be trusted
        try:
            return self._verifier.is_valid_request(body, headers)
        except ValueError:  # a timestamp that is not a number, a body that is not UTF-8
            return False

    def _retry_of(self, headers: Mapping[str, str]) -> tuple[int, str | None]:
        number = headers.get(self.settings.retry_number_header, "0")
        return (int(number) if number.isdigit() else 1), headers.get(self.settings.retry_reason_header)

    # --- Socket Mode -----------------------------------------------------------------------------------------

    async def _open_socket_url(self, app_token: str) -> str | None:
        """A first websocket URL (`apps.connections.open`); a refused app token stops the start-up."""
        try:
            opened = await self.client.apps_connections_open(app_token=app_token)
        except SlackApiError as error:
            refused = self._token_refused(error, "app_token")
            if refused is not None:
                raise refused from None
            logger.warning("Slack's apps.connections.open failed (%s); Socket Mode keeps trying",
                           error.response.get("error"))
            return None
        except _UNREACHABLE as error:
            logger.warning("Slack's Web API at %s is unreachable (%s); Socket Mode keeps trying",
                           self.settings.api_url, type(error).__name__)
            return None
        url = opened.get("url")
        return url if isinstance(url, str) else None

    def _receive_envelope(
        self,
        kind: str,
        payload: Mapping[str, Any],
        retry_number: int,
        retry_reason: str | None,
        on_new_message: OnNewMessage,
    ) -> None:
        if kind == "events_api" and payload.get("type") == "event_callback":
            found: SlackInbound | Skipped = read_event(payload, self._bot_user_ids, self.settings.slack_channel)
        elif kind == "interactive":
            found = read_interaction(payload, self._bot_user_ids)
        else:
            found = Skipped(f"Socket Mode envelope of type {kind!r}")
        self._receive(found, retry_number, retry_reason, on_new_message)

    # --- turns -----------------------------------------------------------------------------------------------

    def _receive(
        self,
        found: SlackInbound | Skipped,
        retry_number: int,
        retry_reason: str | None,
        on_new_message: OnNewMessage,
    ) -> Outcome:
        """Start a turn for a new user message; everything else is only logged. Never waits for the turn."""
        if isinstance(found, Skipped):
            logger.debug("Slack payload skipped: %s", found.reason)
            return "skipped"
        if retry_number and retry_reason in self.settings.errors_ignore_retry:
            logger.info("Slack retry #%d (%s) ignored, as errors_ignore_retry asks", retry_number, retry_reason)
            return "retry ignored"
        if self.redeliveries.seen_here(found.dedupe_keys):
            logger.debug("Slack delivered message %s again; it is answered once", found.message_id)
            return "duplicate"
        message = UserMessage(
            text=found.text,
            sender_id=self._conversation_key(found),
            input_channel=self.name,
            output_channel=SlackOutput(
                self.client,
                found.channel_id or self.settings.slack_channel,
                found.thread_ts if self.settings.use_threads else None,
                self.settings.use_threads,
            ),
            message_id=found.message_id,
            metadata=found.metadata,
        )
        task = asyncio.create_task(
            self._run_turn(message, found.dedupe_keys, on_new_message), name=f"slack turn {message.message_id}"
        )
        self._turns.add(task)
        task.add_done_callback(self._turns.discard)
        return "accepted"

    def _conversation_key(self, found: SlackInbound) -> str:
        """Rasa's conversation ids: `U1`, `U1_C1` (channel) or `U1_C1_<thread ts>` (thread)."""
        granularity = self.settings.conversation_granularity
        if granularity == "channel" and found.channel_id:
            return f"{found.user_id}_{found.channel_id}"
        if granularity == "thread" and found.channel_id and found.thread_ts:
            return f"{found.user_id}_{found.channel_id}_{found.thread_ts}"
        return found.user_id

    async def _run_turn(self, message: UserMessage, keys: tuple[str, ...], on_new_message: OnNewMessage) -> None:
        if await self.redeliveries.seen_elsewhere(keys):
            logger.debug("Slack message %s was received by another process; it answers it", message.message_id)
            return
        try:
            await on_new_message(message)
        except RefusedMessage as refused:
            logger.warning("Refused Slack message %s (conversation %s): %s",
                           message.message_id, message.sender_id, refused.reason)
            await send_replies(message.output_channel, message.sender_id, refused.replies)
        except Exception:
            logger.exception("The turn for Slack message %s (conversation %s) failed",
                             message.message_id, message.sender_id)

    def _token_refused(self, error: SlackApiError, key: str) -> ConductorError | None:
        """A `ConductorError` at `key` when Slack's error says the token itself is wrong, else None."""
        code = error.response.get("error")
        if code not in _TOKEN_ERRORS:
            return None
        return ConductorError(self.settings.problem(
            f"Slack refused the token in '{key}' ({code})",
            key,
            "Check that the token is current and of the right kind: slack_token is the Bot User OAuth "
            "Token (xoxb-...), app_token an app-level token (xapp-...) with connections:write.",
        ))


def _json_object(text: bytes | str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _form_field(body: bytes, name: str) -> str | None:
    try:
        values = parse_qs(body.decode("utf-8"), strict_parsing=False).get(name)
    except UnicodeDecodeError:
        return None
    return values[0] if values else None


CHANNEL = SlackInput
"""What the channel registry finds under the names `slack` (Conductor's and Rasa's)."""
