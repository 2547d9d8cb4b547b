"""What one Telegram update asks of the bot: the cheap, synchronous part of receiving, apart from any I/O.

* A text message (or a photo's caption) in a private chat is for the bot. In a group or supergroup it is for
  the bot only when it mentions the bot (`@username`, or a mention of the bot's account), replies to one of
  the bot's messages, or is a command (`/help`, or `/help@username`; a command for another bot is not).
  Mentions of the bot are taken out of the text.
* Commands are passed on as text with the bot's `@username` taken off (`/help@my_bot` becomes `/help`), except
  `/start`, which becomes the configured start message; a deep-link parameter (`/start abc`) goes into the
  metadata as `start_parameter`.
* A pressed inline button (a callback query) sends its payload as the text.
* Edited messages, messages without text, and every other kind of update are not for the bot.

The conversation key (`chat_id`) is the chat's id, as in Rasa: one conversation per private chat, and one
per group shared by its members.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telegram import CallbackQuery, Message, MessageEntity, Update
from telegram.constants import ChatType

from channels.telegram_keyboards import CallbackPayloads

__all__ = ["EXPIRED_BUTTON_NOTICE", "BotIdentity", "Incoming", "read_update"]

EXPIRED_BUTTON_NOTICE = "This button has expired. Please type your answer instead."
"""Shown when a pressed button stands for a payload this process no longer knows (see telegram_keyboards)."""

_GROUP_CHATS = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})


@dataclass(frozen=True)
class BotIdentity:
    """The bot's own account, from getMe: to recognise mentions of it and replies to it."""

    id: int
    username: str

    def is_named(self, name: str) -> bool:
        return name.removeprefix("@").casefold() == self.username.casefold()


@dataclass(frozen=True)
class Incoming:
    """What to do with one update: hand `text` to the runtime (when set) and answer a callback query."""

    chat_id: int
    text: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    callback_query_id: str | None = None
    callback_notice: str | None = None
    """Shown to the user as the answer to the callback query (None: the button just stops spinning)."""


def read_update(
    update: Update, bot: BotIdentity, payloads: CallbackPayloads, start_message: str
) -> Incoming | None:
    """What `update` asks of the bot; None when it is not for the bot at all."""
    if update.callback_query is not None:
        return _read_callback(update.update_id, update.callback_query, payloads)
    if update.message is not None:
        return _read_message(update.update_id, update.message, bot, start_message)
    return None


def _read_message(update_id: int, message: Message, bot: BotIdentity, start_message: str) -> Incoming | None:
    text = message.text if message.text is not None else message.caption
    if not text:
        return None
    entities = message.entities if message.text is not None else message.caption_entities
    in_group = message.chat.type in _GROUP_CHATS
    mentions = [entity for entity in entities if _mentions_bot(message, text, entity, bot)]
    command = _leading_command(text, entities)
    command_name, _, command_target = command[0].partition("@") if command else ("", "", "")
    if command_target and not bot.is_named(command_target):
        return None
    replied = message.reply_to_message
    replied_to_bot = (
        replied is not None
        and replied.forum_topic_created is None  # in a forum, every message "replies" to its topic's start
        and replied.from_user is not None
        and replied.from_user.id == bot.id
    )
    if in_group and not (mentions or command or replied_to_bot):
        return None
    metadata = _message_metadata(update_id, message)
    spans = [(entity.offset, entity.length) for entity in mentions]
    if command:
        spans.append((0, command[1]))
    rest = " ".join(_without_spans(text, spans).split())
    if command_name == "/start":
        if rest:
            metadata["start_parameter"] = rest
        return Incoming(message.chat.id, start_message, metadata)
    if command:
        rest = f"{command_name} {rest}".strip()
    return Incoming(message.chat.id, rest, metadata) if rest else None


def _read_callback(update_id: int, query: CallbackQuery, payloads: CallbackPayloads) -> Incoming:
    chat = query.message.chat if query.message is not None else None
    metadata: dict[str, Any] = {
        "update_id": update_id,
        "user_id": query.from_user.id,
        "chat_id": chat.id if chat is not None else query.from_user.id,
        "chat_type": str(chat.type) if chat is not None else str(ChatType.PRIVATE),
        "callback_query_id": query.id,
    }
    if query.message is not None:
        metadata["message_id"] = query.message.message_id
    chat_id = int(metadata["chat_id"])
    if query.data is None:  # a game's button: nothing for the runtime
        return Incoming(chat_id, None, metadata, callback_query_id=query.id)
    payload = payloads.payload_for(query.data)
    if payload is None:
        return Incoming(chat_id, None, metadata, query.id, EXPIRED_BUTTON_NOTICE)
    return Incoming(chat_id, payload, metadata, callback_query_id=query.id)


def _message_metadata(update_id: int, message: Message) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "update_id": update_id,
        "message_id": message.message_id,
        "chat_id": message.chat.id,
        "chat_type": str(message.chat.type),
    }
    if message.from_user is not None:
        metadata["user_id"] = message.from_user.id
        if message.from_user.username:
            metadata["username"] = message.from_user.username
        if message.from_user.language_code:
            metadata["language_code"] = message.from_user.language_code
    return metadata


def _mentions_bot(message: Message, text: str, entity: MessageEntity, bot: BotIdentity) -> bool:
    if entity.type == MessageEntity.MENTION:
        return bot.is_named(_entity_text(text, entity))
    if entity.type == MessageEntity.TEXT_MENTION:
        return entity.user is not None and entity.user.id == bot.id
    return False


def _leading_command(text: str, entities: tuple[MessageEntity, ...]) -> tuple[str, int] | None:
    """The command the text starts with (`/help@my_bot`) and its length in UTF-16 units, if it starts so."""
    for entity in entities:
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            return _entity_text(text, entity), entity.length
    return None


def _utf16(text: str) -> bytes:
    """`text` as UTF-16 code units, a lone surrogate (which JSON can carry) as the one unit it is: the text
    must reach the runtime, which refuses it and tells the user why."""
    return text.encode("utf-16-le", "surrogatepass")


def _entity_text(text: str, entity: MessageEntity) -> str:
    """The part of `text` an entity covers. Telegram counts offsets in UTF-16 code units, not characters."""
    encoded = _utf16(text)
    return encoded[entity.offset * 2 : (entity.offset + entity.length) * 2].decode("utf-16-le", "surrogatepass")


def _without_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` without the given (offset, length) spans, counted in UTF-16 code units; spans may overlap."""
    encoded = _utf16(text)
    kept = bytearray()
    position = 0
    for offset, length in sorted(spans):
        start, end = offset * 2, (offset + length) * 2
        if start > position:
            kept += encoded[position:start]
        position = max(position, end)
    kept += encoded[position:]
    return kept.decode("utf-16-le", "surrogatepass")
