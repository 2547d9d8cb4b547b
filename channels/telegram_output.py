"""Sending the bot's replies to a Telegram chat.

Every Bot API call goes through `call_with_rate_limit_retries` (429s waited out, a bounded number of times).
A call that still fails (rate limit, network down, a chat that blocked the bot, a bad request) is logged,
without the token, and counted in `failed_sends`; it never raises into the runtime, so a platform problem
cannot cost a conversation the events of its turn.

Text is sent as Rasa's Telegram channel sends it: each paragraph (split at blank lines) as its own message;
a paragraph longer than Telegram's 4,096 characters is cut at line or word boundaries. A `custom` message uses
Rasa's Telegram format: `{"photo": url, "caption": ...}`, `{"document": ...}`, `{"latitude", "longitude"}`,
... (see `_CUSTOM_FORMS`); its other keys are passed to the Bot API method as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, ClassVar

from telegram import Bot
from telegram.constants import MessageLimit
from telegram.error import Forbidden, RetryAfter, TelegramError

from channels.base import OutputChannel
from channels.telegram_client import (
    call_with_rate_limit_retries,
    protected_logger,
    redact,
    retry_after_seconds,
)
from channels.telegram_keyboards import CallbackPayloads, keyboard_for

__all__ = ["BUTTONS_ONLY_TEXT", "TelegramOutput", "message_parts"]

logger = protected_logger(__name__)

BUTTONS_ONLY_TEXT = "👇"
"""The text of a message that has buttons but no text: Telegram refuses a message without text."""

_CUSTOM_FORMS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("text",), "send_message"),
    (("photo",), "send_photo"),
    (("audio",), "send_audio"),
    (("document",), "send_document"),
    (("sticker",), "send_sticker"),
    (("video",), "send_video"),
    (("video_note",), "send_video_note"),
    (("animation",), "send_animation"),
    (("voice",), "send_voice"),
    (("latitude", "longitude", "title", "address"), "send_venue"),
    (("latitude", "longitude"), "send_location"),
    (("phone_number", "first_name"), "send_contact"),
)
"""Rasa's Telegram custom-message forms: the keys that select a `Bot` method, in the order they are tried.
Each matching form is sent, and its keys are used up (so a venue is not also sent as a location)."""


def message_parts(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """`text` as the messages to send: one per paragraph, each at most `limit` characters."""
    parts: list[str] = []
    for paragraph in text.strip().split("\n\n"):
        remaining = paragraph.strip()
        while len(remaining) > limit:
            cut = max(remaining.rfind("\n", 0, limit), remaining.rfind(" ", 0, limit))
            cut = cut if cut > 0 else limit
            parts.append(remaining[:cut].rstrip())
            remaining = remaining[cut:].lstrip()
        if remaining:
            parts.append(remaining)
    return parts


class TelegramOutput(OutputChannel):
    """Sends Rasa-shaped bot messages to Telegram chats; `recipient_id` is the chat id."""

    name: ClassVar[str] = "telegram"

    def __init__(self, bot: Bot, payloads: CallbackPayloads) -> None:
        self._bot = bot
        self._payloads = payloads
        self.failed_sends = 0
        """Bot API calls that failed for good (after any rate-limit retries): for health checks and tests."""

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in message_parts(text):
            await self._send("send_message", recipient_id, partial(self._bot.send_message, recipient_id, part))

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Buttons go with the last part of the text, laid out as `button_type` (Rasa's key) says."""
        keyboard = keyboard_for(buttons, str(kwargs.get("button_type") or "inline"), self._payloads)
        *leading, last = message_parts(text) or [BUTTONS_ONLY_TEXT]
        for part in leading:
            await self._send("send_message", recipient_id, partial(self._bot.send_message, recipient_id, part))
        await self._send(
            "send_message", recipient_id, partial(self._bot.send_message, recipient_id, last, reply_markup=keyboard)
        )

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._send("send_photo", recipient_id, partial(self._bot.send_photo, recipient_id, photo=image))

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        remaining = dict(json_message)
        calls: list[tuple[str, dict[str, Any]]] = []
        for keys, method in _CUSTOM_FORMS:
            if all(remaining.get(key) is not None for key in keys):
                calls.append((method, {key: remaining.pop(key) for key in keys}))
        if not calls:
            logger.warning(
                "A custom message for chat %s has none of the keys of Telegram's custom forms (%s); not sent",
                recipient_id,
                ", ".join(sorted({keys[0] for keys, _ in _CUSTOM_FORMS})),
            )
            return
        for method, arguments in calls:
            send = getattr(self._bot, method)
            await self._send(method, recipient_id, partial(send, recipient_id, **arguments, api_kwargs=remaining))

    async def _send(self, method: str, chat_id: str, call: Callable[[], Awaitable[object]]) -> None:
        """Make one Bot API call; report a failure in the log and `failed_sends`, never by raising."""
        try:
            await call_with_rate_limit_retries(call, method)
            return
        except RetryAfter as error:
            logger.error(
                "Telegram %s to chat %s failed: rate limited, asked to wait %.0f s; the message was not sent",
                method, chat_id, retry_after_seconds(error),
            )
        except Forbidden as error:
            logger.warning(
                "Telegram %s to chat %s was refused: %s (the user may have blocked the bot, or it was removed "
                "from the group)", method, chat_id, redact(str(error)),
            )
        except TelegramError as error:
            logger.error(
                "Telegram %s to chat %s failed: %s: %s", method, chat_id, type(error).__name__, redact(str(error))
            )
        self.failed_sends += 1

