"""The Telegram channel: receives updates by webhook (production) or long polling (development) through
python-telegram-bot, and answers through `TelegramOutput`.

Webhook mode: `start` calls getMe and then setWebhook with `webhook_url` and a secret token (the configured
`secret_token`, or one generated for this process), and `POST /webhooks/telegram/webhook` accepts only
requests carrying that token in `X-Telegram-Bot-Api-Secret-Token` (others get 401 and are not read). Webhook
mode never polls. `stop` leaves the webhook in place, so Telegram keeps updates while the server restarts.

Polling mode: `start` calls getMe, deletes any webhook, then long-polls getUpdates, confirming each batch with
the next offset; `stop` confirms the last batch. A 409 Conflict (another process polling with the same token,
or a webhook set behind its back) is logged as an error and polling stops: two receivers never fight.

Either way each update is handled once (its `update_id` is remembered, across the processes of a deployment
with a Redis lock store: `channels.dedup`), callback queries are answered at once, and the user's text goes to
the runtime as a `UserMessage` whose `sender_id` is the chat id. A message the runtime refuses (too long, or
not text) is logged without its text, and the chat gets the reply that says why (`RefusedMessage.replies`).
A failure of the runtime or of Telegram is logged, never raised into the web server or the polling loop. If
Telegram cannot be reached at start, the channel says so and keeps trying in the background.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, ClassVar, Self

from aiohttp import web
from telegram import Update
from telegram.error import BadRequest, Conflict, InvalidToken, RetryAfter, TelegramError

from bot.errors import ConductorError
from channels.base import InputChannel, OnNewMessage, RefusedMessage, UserMessage, send_replies
from channels.dedup import Redeliveries
from channels.telegram_client import (
    call_with_rate_limit_retries,
    make_bot,
    protected_logger,
    redact,
    retry_after_seconds,
)
from channels.telegram_keyboards import CallbackPayloads
from channels.telegram_output import TelegramOutput
from channels.telegram_settings import TelegramSettings
from channels.telegram_updates import BotIdentity, Incoming, read_update

__all__ = ["ALLOWED_UPDATES", "CHANNEL", "SECRET_HEADER", "TelegramInput"]

logger = protected_logger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ("message", "callback_query")
"""The update kinds Conductor asks Telegram for (edited messages and the rest are not wanted)."""

POLL_TIMEOUT = 30
"""Seconds one getUpdates long poll may wait for an update."""
MAX_RECONNECT_DELAY = 60.0
"""The longest pause between two attempts to reach Telegram after a failure."""


class TelegramInput(InputChannel):
    """Telegram, by webhook or long polling. Build it with `from_credentials` (the `telegram:` section)."""

    name: ClassVar[str] = "telegram"

    def __init__(self, settings: TelegramSettings) -> None:
        self.settings = settings
        self._secret_token = settings.secret_token or secrets.token_urlsafe(32)
        self._payloads = CallbackPayloads()
        self._bot = make_bot(settings)
        self._output = TelegramOutput(self._bot, self._payloads)
        self.redeliveries = Redeliveries(self.name)
        self._identity: BotIdentity | None = None
        self._receiving = False
        self._background: asyncio.Task[object] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._offset: int | None = None
        self._confirmed_offset: int | None = None

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> Self:
        """Check the settings (raising one `ConductorError` with every problem) and build the channel."""
        return cls(TelegramSettings.from_credentials(credentials))

    @property
    def receiving(self) -> bool:
        """Whether updates are being received: the webhook is set, or the polling loop is running."""
        return self._receiving

    def routes(self, on_new_message: OnNewMessage) -> list[web.RouteDef]:
        async def health(request: web.Request) -> web.Response:
            return web.json_response({"status": "ok"})

        async def webhook(request: web.Request) -> web.Response:
            return await self._receive_webhook(request, on_new_message)

        if self.settings.mode == "polling":
            return [web.get("/", health)]
        return [web.get("/", health), web.post("/webhook", webhook)]

    def get_output_channel(self) -> TelegramOutput:
        return self._output

    async def start(self, on_new_message: OnNewMessage) -> None:
        """Reach Telegram and begin receiving. Raises `ConductorError` when Telegram rejects the settings."""
        connected = await self._try_to_connect()
        if self.settings.mode == "polling":
            self._background = asyncio.create_task(self._poll(on_new_message, connected))
        elif connected:
            self._receiving = True
        else:
            self._background = asyncio.create_task(self._reconnect())

    async def stop(self) -> None:
        """Stop receiving. Turns already handed to the runtime go on and may still send replies."""
        self._receiving = False
        if self._background is not None:
            self._background.cancel()
            await asyncio.wait([self._background])
            self._background = None
        if self.settings.mode == "polling" and self._offset != self._confirmed_offset:
            await self._confirm_offset()

    async def shutdown(self) -> None:
        """Wait (at most 30 s) for turns in flight, then close the HTTP clients."""
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=30)
        await self._bot.shutdown()
        await self._bot.request.shutdown()

    # --- reaching Telegram -----------------------------------------------------------------------------

    async def _connect(self) -> None:
        """getMe (checking `verify`), then setWebhook or deleteWebhook.

        Settings Telegram rejects raise `ConductorError`; anything else (network, rate limits) raises the
        `TelegramError` for the caller to retry.
        """
        try:
            await self._bot.initialize()
        except InvalidToken:
            raise ConductorError(
                self.settings.problem(
                    "Telegram rejected the bot token in 'access_token'",
                    "access_token",
                    "Check the token with @BotFather (/mybots > API Token); it changes when revoked.",
                )
            ) from None
        me = self._bot.bot
        identity = BotIdentity(me.id, me.username or "")
        if self.settings.verify is not None and not identity.is_named(self.settings.verify):
            raise ConductorError(
                self.settings.problem(
                    f"'verify' names the bot '{self.settings.verify}', but the token belongs to "
                    f"@{identity.username}",
                    "verify",
                    f"Set 'verify: {identity.username}', or check that 'access_token' is this bot's token.",
                )
            )
        self._identity = identity
        if self.settings.mode == "polling":
            await call_with_rate_limit_retries(self._bot.delete_webhook, "deleteWebhook")
            return
        url = self.settings.webhook_url or ""
        try:
            await call_with_rate_limit_retries(
                lambda: self._bot.set_webhook(url, secret_token=self._secret_token, allowed_updates=ALLOWED_UPDATES),
                "setWebhook",
            )
        except BadRequest as error:
            raise ConductorError(
                self.settings.problem(
                    f"Telegram refused 'webhook_url' {url!r}: {redact(error.message)}",
                    "webhook_url",
                    "Telegram needs a public https:// URL on port 443, 80, 88 or 8443 that reaches "
                    "/webhooks/telegram/webhook on this server.",
                )
            ) from None
        logger.info("Telegram webhook set to %s for @%s", url, identity.username)

    async def _try_to_connect(self) -> bool:
        try:
            await self._connect()
        except TelegramError as error:
            logger.error(
                "Could not reach the Telegram Bot API at %s (%s: %s); retrying in the background",
                self.settings.base_url, type(error).__name__, redact(str(error)),
            )
            return False
        return True

    async def _reconnect(self) -> bool:
        """Try `_connect` until it works (waits doubling up to a minute); False if Telegram refuses the settings."""
        delay = 1.0
        while True:
            await asyncio.sleep(delay)
            try:
                await self._connect()
            except ConductorError as error:
                logger.error("The Telegram channel cannot start:\n%s", error)
                return False
            except TelegramError as error:
                wait = retry_after_seconds(error) if isinstance(error, RetryAfter) else delay
                delay = min(max(delay * 2, wait), MAX_RECONNECT_DELAY)
                logger.warning(
                    "Still cannot reach the Telegram Bot API (%s: %s); next try in %.0f s",
                    type(error).__name__, redact(str(error)), delay,
                )
                continue
            if self.settings.mode == "webhook":
                self._receiving = True
            logger.info("Reached the Telegram Bot API at %s", self.settings.base_url)
            return True

    # --- polling -----------------------------------------------------------------------------------------

    async def _poll(self, on_new_message: OnNewMessage, connected: bool) -> None:
        if not connected and not await self._reconnect():
            return
        self._receiving = True
        username = self._identity.username if self._identity is not None else "?"
        logger.info("Receiving Telegram updates for @%s by long polling", username)
        failures = 0
        try:
            while True:
                offset = self._offset
                try:
                    updates = await self._bot.get_updates(
                        offset=offset, timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES
                    )
                except Conflict as error:
                    logger.error(
                        "Telegram refused getUpdates with 409 Conflict (%s): another process is receiving this "
                        "bot's updates (a second instance in polling mode, or a webhook someone set). Polling has "
                        "stopped. Stop the other process, or delete its webhook, and restart; run one receiver "
                        "per bot token.", redact(error.message),
                    )
                    return
                except InvalidToken:
                    logger.error("%s", self.settings.problem(
                        "Telegram rejected the bot token in 'access_token' (revoked?); polling has stopped",
                        "access_token",
                    ))
                    return
                except TelegramError as error:
                    failures += 1
                    wait = (
                        retry_after_seconds(error)
                        if isinstance(error, RetryAfter)
                        else min(2.0 ** (failures - 1), MAX_RECONNECT_DELAY)
                    )
                    logger.warning(
                        "Telegram getUpdates failed (%s: %s); retrying in %.0f s",
                        type(error).__name__, redact(str(error)), wait,
                    )
                    await asyncio.sleep(wait)
                    continue
                failures = 0
                self._confirmed_offset = offset
                if updates:
                    self._offset = updates[-1].update_id + 1
                    await self._keep_going(self._handle_batch(updates, on_new_message))
        finally:
            self._receiving = False

    async def _keep_going(self, batch: Coroutine[Any, Any, None]) -> None:
        """Run `batch` so that cancelling the polling loop (stop) does not cancel turns in flight."""
        task: asyncio.Task[None] = asyncio.create_task(batch)
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        await asyncio.shield(task)

    async def _handle_batch(self, updates: Sequence[Update], on_new_message: OnNewMessage) -> None:
        """Each chat's updates in order; different chats at the same time."""
        by_chat: dict[int | None, list[Update]] = {}
        for update in updates:
            chat = update.effective_chat
            by_chat.setdefault(chat.id if chat is not None else None, []).append(update)

        async def in_order(chat_updates: list[Update]) -> None:
            for update in chat_updates:
                await self._handle(update, on_new_message)

        results = await asyncio.gather(*(in_order(group) for group in by_chat.values()), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                logger.error("A Telegram update could not be handled: %s", redact(repr(result)))

    async def _confirm_offset(self) -> None:
        """Tell Telegram the last batch is done, so a restart does not receive it again."""
        try:
            await self._bot.get_updates(offset=self._offset, timeout=0, limit=1)
            self._confirmed_offset = self._offset
        except TelegramError as error:
            logger.warning("Could not confirm the last Telegram updates: %s", redact(str(error)))

    # --- webhook -----------------------------------------------------------------------------------------

    async def _receive_webhook(self, request: web.Request, on_new_message: OnNewMessage) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8"), self._secret_token.encode("utf-8")):
            logger.warning("Refused a Telegram webhook request without the right secret token (%s)", request.remote)
            return web.Response(status=401, text="unauthorized")
        if not self._receiving or self._identity is None:
            return web.Response(status=503, text="not ready")  # Telegram delivers it again later
        try:
            data = await request.json()
            update = Update.de_json(data, self._bot) if isinstance(data, dict) else None
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            logger.warning("Refused a malformed Telegram update: %s", type(error).__name__)
            update = None
        if update is None:
            return web.Response(status=400, text="malformed update")
        await self._handle(update, on_new_message)
        return web.Response(text="success")

    # --- one update --------------------------------------------------------------------------------------

    async def _handle(self, update: Update, on_new_message: OnNewMessage) -> None:
        if self._identity is None or await self.redeliveries.seen([f"{self._identity.id}:{update.update_id}"]):
            return
        incoming = read_update(update, self._identity, self._payloads, self.settings.start_message)
        if incoming is None:
            return
        if incoming.callback_query_id is not None:
            await self._answer_callback(incoming)
        if incoming.text is None:
            return
        message = UserMessage(
            text=incoming.text,
            sender_id=str(incoming.chat_id),
            input_channel=self.name,
            output_channel=self._output,
            message_id=str(update.update_id),
            metadata=incoming.metadata,
        )
        try:
            await on_new_message(message)
        except RefusedMessage as refused:
            logger.warning(
                "Refused Telegram update %s (chat %s): %s", update.update_id, incoming.chat_id, refused.reason
            )
            await send_replies(message.output_channel, message.sender_id, refused.replies)
        except Exception:
            logger.exception("The runtime failed on Telegram update %s (chat %s)", update.update_id, incoming.chat_id)

    async def _answer_callback(self, incoming: Incoming) -> None:
        query_id = incoming.callback_query_id or ""
        try:
            await call_with_rate_limit_retries(
                lambda: self._bot.answer_callback_query(query_id, text=incoming.callback_notice),
                "answerCallbackQuery",
            )
        except TelegramError as error:
            logger.warning("Could not answer Telegram callback query %s: %s", query_id, redact(str(error)))


CHANNEL = TelegramInput
"""The class the channel registry maps the name `telegram` to."""
