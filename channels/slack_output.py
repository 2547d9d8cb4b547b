"""Sending the bot's replies to Slack with `chat.postMessage` (slack-sdk's `AsyncWebClient`).

A reply goes to the channel (and, with `use_threads`, the thread) the user wrote in. Without one (a message
the bot sends on its own), the recipient id says where: Rasa's conversation keys `U123`, `U123_C123` and
`U123_C123_1700000000.000100` name a user (Slack opens the app's direct message), a channel, or a thread.

Slack's refusals and outages are logged (the method, Slack's error code, never a token) and do not raise:
one lost reply must not end the turn that sends it. Rate limits are the client's business: its
`AsyncRateLimitErrorRetryHandler` waits out `Retry-After` a bounded number of times.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from channels.base import OutputChannel
from channels.slack_format import (
    MAX_BLOCKS,
    MAX_MESSAGE_TEXT,
    action_blocks,
    escape_mrkdwn,
    image_block,
    section_blocks,
    split_text,
)

__all__ = ["SlackOutput"]

logger = logging.getLogger(__name__)


class SlackOutput(OutputChannel):
    """Replies in one Slack conversation, or (without a `channel`) wherever the recipient id points."""

    name: ClassVar[str] = "slack"

    def __init__(
        self,
        client: AsyncWebClient,
        channel: str | None = None,
        thread_ts: str | None = None,
        use_threads: bool = False,
    ) -> None:
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self.use_threads = use_threads

    def destination(self, recipient_id: str) -> tuple[str, str | None]:
        """The Slack channel (or user) and thread a reply to `recipient_id` goes to."""
        if self.channel:
            return self.channel, self.thread_ts
        parts = recipient_id.split("_")
        if len(parts) == 3:
            return parts[1], parts[2] if self.use_threads else None
        if len(parts) == 2:
            return parts[1], None
        return recipient_id, None

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for piece in split_text(escape_mrkdwn(text), MAX_MESSAGE_TEXT):
            await self._post(recipient_id, text=piece)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """The text as section blocks, then the buttons as actions blocks, in one message.

        A text too long to fit next to the buttons in Slack's 50 blocks sends its leading part first.
        """
        buttons_blocks = action_blocks(buttons)
        sections = section_blocks(escape_mrkdwn(text))
        room = MAX_BLOCKS - len(buttons_blocks)
        for leading in sections[: max(0, len(sections) - room)]:
            await self._post(recipient_id, text=leading["text"]["text"])
        sections = sections[max(0, len(sections) - room):]
        fallback = sections[0]["text"]["text"] if sections else " | ".join(
            str(b.get("title") or b.get("payload") or "") for b in buttons
        )
        await self._post(recipient_id, text=fallback, blocks=[*sections, *buttons_blocks])

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._post(recipient_id, text=image, blocks=[image_block(image)])

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:
        """A Slack (legacy) message attachment, as Rasa sends it; anything else is shown as text."""
        if not isinstance(attachment, Mapping):
            await self.send_text_message(recipient_id, str(attachment))
            return
        fallback = str(attachment.get("fallback") or attachment.get("text") or attachment.get("title") or "")
        await self._post(recipient_id, text=fallback, attachments=[dict(attachment)])

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        """A `custom` response passed to `chat.postMessage` as it is (e.g. `blocks`), in this conversation."""
        fields = dict(json_message)
        channel = fields.pop("channel", None)
        await self._post(recipient_id, channel_override=channel if isinstance(channel, str) else None, **fields)

    async def _post(self, recipient_id: str, channel_override: str | None = None, **fields: Any) -> None:
        channel, thread_ts = self.destination(recipient_id)
        channel = channel_override or channel
        if thread_ts and "thread_ts" not in fields:
            fields["thread_ts"] = thread_ts
        try:
            await self.client.chat_postMessage(channel=channel, **fields)
        except SlackApiError as error:
            logger.error("Slack refused chat.postMessage to %s: %s", channel, error.response.get("error"))
        except (TimeoutError, aiohttp.ClientError, SlackClientError) as error:
            logger.error(
                "The reply to %s was not sent: Slack's Web API at %s is unreachable (%s: %s)",
                channel, self.client.base_url, type(error).__name__, error,
            )
