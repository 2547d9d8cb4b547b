"""The REST channel, compatible with Rasa's `rest` channel.

    POST /webhooks/rest/webhook   {"sender": "u1", "message": "hi", "metadata": {...}, "input_channel": "x"}
      -> 200 [{"recipient_id": "u1", "text": "Hey! How are you?"}, {"recipient_id": "u1", "image": "..."}]
    POST /webhooks/rest/webhook?stream=true
      -> 200, each bot message as one line of JSON as it is sent (Rasa's content type `text/event-stream`)
    GET  /webhooks/rest/          -> {"status": "ok"}

`sender` defaults to `default` (as in Rasa); `input_channel` (Rasa's) names the channel recorded on the user
event, `rest` when absent. A body that is not a JSON object, a `message` that is missing, not text or longer
than 10,000 characters, or a `sender`/`metadata` of the wrong type is answered with a 400 in the HTTP API's
error shape and never reaches the runtime. A turn that fails is answered with a 500 (Rasa answers 200 with no
messages, which hides it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from aiohttp import web

from bot.api.errors import (
    ApiError,
    bool_query,
    check_text_length,
    json_response,
    read_json_object,
)
from bot.jsonio import compact_bytes
from channels.base import CollectingOutputChannel, InputChannel, OnNewMessage, UserMessage

__all__ = ["CHANNEL", "RestInput", "StreamingOutputChannel"]

logger = logging.getLogger(__name__)

DEFAULT_SENDER = "default"
"""The conversation of a message without `sender` (Rasa's `DEFAULT_SENDER_ID`)."""

STREAM_CONTENT_TYPE = "text/event-stream"
"""What Rasa sends streamed replies as (the body is one JSON object per line, not server-sent events)."""


class StreamingOutputChannel(CollectingOutputChannel):
    """Writes each bot message to the HTTP response as a line of JSON the moment it is sent."""

    def __init__(self, response: web.StreamResponse) -> None:
        super().__init__()
        self._response = response

    async def send_response(self, recipient_id: str, message: Mapping[str, Any]) -> None:
        await super().send_response(recipient_id, message)
        await self._flush()

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await super().send_text_message(recipient_id, text, **kwargs)
        await self._flush()

    async def _flush(self) -> None:
        while self.messages:
            await self._response.write(compact_bytes(self.messages.pop(0)) + b"\n")


class RestInput(InputChannel):
    """Messages posted over HTTP; the bot's replies come back in the response."""

    name: ClassVar[str] = "rest"

    def routes(self, on_new_message: OnNewMessage) -> list[web.RouteDef]:
        async def health(request: web.Request) -> web.Response:
            return json_response({"status": "ok"})

        async def receive(request: web.Request) -> web.StreamResponse:
            try:
                message = await self.read_message(request)
                stream = bool_query(request, "stream")
            except ApiError as error:
                return error.response()
            if stream:
                return await self._answer_streaming(request, message, on_new_message)
            return await self._answer(message, on_new_message)

        return [web.get("/", health), web.post("/webhook", receive)]

    async def read_message(self, request: web.Request) -> UserMessage:
        """The user message in the request, checked (an `ApiError` for a malformed one)."""
        body = await read_json_object(
            request, "The request body is empty; send {\"sender\": ..., \"message\": ...} as JSON."
        )
        text = body.get("message")
        if not isinstance(text, str):
            raise ApiError(
                400,
                "'message' is missing from the request body."
                if text is None
                else "'message' must be a string.",
                details={"parameter": "message", "in": "body"},
            )
        check_text_length(text, "message")
        sender = body.get("sender")
        if sender is None or sender == "":
            sender = DEFAULT_SENDER
        elif isinstance(sender, int) and not isinstance(sender, bool):
            sender = str(sender)
        elif not isinstance(sender, str):
            raise ApiError(
                400, "'sender' must be a string (the conversation id).", details={"parameter": "sender", "in": "body"}
            )
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise ApiError(400, "'metadata' must be an object.", details={"parameter": "metadata", "in": "body"})
        input_channel = body.get("input_channel")
        if input_channel is not None and not isinstance(input_channel, str):
            raise ApiError(
                400, "'input_channel' must be a string.", details={"parameter": "input_channel", "in": "body"}
            )
        return UserMessage(
            text=text,
            sender_id=sender,
            input_channel=input_channel or self.name,
            metadata=metadata or {},
        )

    async def _answer(self, message: UserMessage, on_new_message: OnNewMessage) -> web.Response:
        collector = CollectingOutputChannel()
        message.output_channel = collector
        try:
            await on_new_message(message)
        except Exception:
            logger.exception("the REST channel could not handle a message of %r", message.sender_id)
            return _turn_failed().response()
        return json_response(collector.messages)

    async def _answer_streaming(
        self, request: web.Request, message: UserMessage, on_new_message: OnNewMessage
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": STREAM_CONTENT_TYPE})
        await response.prepare(request)
        message.output_channel = StreamingOutputChannel(response)
        try:
            await on_new_message(message)
        except Exception:
            logger.exception("the REST channel could not handle a message of %r", message.sender_id)
        await response.write_eof()
        return response


def _turn_failed() -> ApiError:
    return ApiError(
        500,
        "The bot could not handle this message; the server log has the details.",
        reason="ConversationError",
    )


CHANNEL = RestInput
