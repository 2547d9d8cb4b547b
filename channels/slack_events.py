"""Reading Slack's payloads: which events are user messages for the bot, and what they say.

These are the channel's matchers, kept apart from its handlers (slack-bolt's split): pure functions from a
verified payload (an Events API `event_callback` envelope, or a `block_actions` interaction) to a
`SlackInbound`, or to a `Skipped` with the reason. The same payloads arrive over HTTP and over Socket Mode.

Which messages the bot answers follows Rasa: direct messages, mentions of the bot (`app_mention`), and every
message in `slack_channel` when one is set. Messages from bots (the bot's own included), edits, deletions and
other subtypes are skipped.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from channels.slack_format import plain_text_from_slack

__all__ = ["ANSWERED_SUBTYPES", "Skipped", "SlackInbound", "bot_user_ids_of", "read_event", "read_interaction"]

ANSWERED_SUBTYPES = frozenset({"file_share", "thread_broadcast", "me_message"})
"""Message subtypes that carry a user's own words; every other subtype (edits, deletions, joins, bot
messages, ...) is not a new user message."""


@dataclass(frozen=True)
class SlackInbound:
    """One user message or button click, ready to become a `UserMessage`."""

    text: str
    user_id: str
    channel_id: str | None
    thread_ts: str | None
    """The thread the message is in, or the message's own ts when it starts one (Rasa's `thread_id`)."""
    message_id: str
    dedupe_keys: tuple[str, ...]
    """Ids under which this delivery is remembered: a second delivery with any of them is a duplicate."""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Skipped:
    """A payload the bot does not answer, and why (for the debug log)."""

    reason: str


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def bot_user_ids_of(envelope: Mapping[str, Any]) -> set[str]:
    """The bot users an event was delivered for (`authorizations` entries with `is_bot`)."""
    authorizations = envelope.get("authorizations")
    if not isinstance(authorizations, list):
        return set()
    return {
        user for entry in authorizations
        if isinstance(entry, Mapping) and entry.get("is_bot") and (user := _text(entry.get("user_id")))
    }


def read_event(
    envelope: Mapping[str, Any], bot_user_ids: Collection[str], slack_channel: str | None
) -> SlackInbound | Skipped:
    """The user message in an `event_callback` envelope (`message` or `app_mention`), if the bot answers it."""
    event = _mapping(envelope.get("event"))
    kind = event.get("type")
    if kind not in ("message", "app_mention"):
        return Skipped(f"event type {kind!r}")
    subtype = event.get("subtype")
    if subtype is not None and subtype not in ANSWERED_SUBTYPES:
        return Skipped(f"message subtype {subtype!r}")
    if event.get("bot_id") or event.get("bot_profile"):
        return Skipped("a message from a bot")
    user, channel, ts = _text(event.get("user")), _text(event.get("channel")), _text(event.get("ts"))
    bots = {*bot_user_ids, *bot_user_ids_of(envelope)}
    if user is None or user in bots:
        return Skipped("no user, or the bot's own message")
    if not (kind == "app_mention" or event.get("channel_type") == "im"
            or (slack_channel is not None and channel == slack_channel)):
        return Skipped(f"a message in channel {channel} that neither mentions the bot nor is in slack_channel")
    text = plain_text_from_slack(_text(event.get("text")) or "", bots)
    if not text:
        return Skipped("no text")
    thread = _text(event.get("thread_ts")) or ts
    keys = [f"message:{channel}:{ts}"] if ts else []
    if event_id := _text(envelope.get("event_id")):
        keys.append(f"event:{event_id}")
    return SlackInbound(
        text=text,
        user_id=user,
        channel_id=channel,
        thread_ts=thread,
        message_id=_text(event.get("client_msg_id")) or f"{channel}:{ts}",
        dedupe_keys=tuple(keys),
        metadata={"out_channel": channel, "thread_id": thread, "users": sorted(bots)},
    )


def read_interaction(payload: Mapping[str, Any], bot_user_ids: Collection[str]) -> SlackInbound | Skipped:
    """The choice in a `block_actions` payload (a button click or a menu choice), as the text the bot gets."""
    if payload.get("type") != "block_actions":
        return Skipped(f"interaction type {payload.get('type')!r}")
    actions = payload.get("actions")
    action = _mapping(actions[0]) if isinstance(actions, list) and actions else {}
    value = _chosen_value(action)
    if value is None:
        return Skipped(f"an action of type {action.get('type')!r} without a value (e.g. a link button)")
    user = _text(_mapping(payload.get("user")).get("id"))
    if user is None:
        return Skipped("no user")
    container = _mapping(payload.get("container"))
    message = _mapping(payload.get("message"))
    channel = _text(_mapping(payload.get("channel")).get("id")) or _text(container.get("channel_id"))
    thread = _text(message.get("thread_ts")) or _text(message.get("ts")) or _text(container.get("message_ts"))
    action_ts = _text(action.get("action_ts"))
    trigger = _text(payload.get("trigger_id"))
    keys = [f"trigger:{trigger}"] if trigger else []
    if action_ts:
        keys.append(f"action:{channel}:{action_ts}")
    return SlackInbound(
        text=value,
        user_id=user,
        channel_id=channel,
        thread_ts=thread,
        message_id=trigger or f"{channel}:{action_ts}",
        dedupe_keys=tuple(keys),
        metadata={"out_channel": channel, "thread_id": thread, "users": sorted(bot_user_ids)},
    )


def _chosen_value(action: Mapping[str, Any]) -> str | None:
    """What an interactive element sends as the user's message, by element type (Block Kit's payload keys)."""
    kind = action.get("type")
    if kind == "button":
        return _text(action.get("value"))
    if kind in ("static_select", "external_select", "overflow", "radio_buttons"):
        return _text(_mapping(action.get("selected_option")).get("value"))
    chosen = {
        "users_select": "selected_user",
        "conversations_select": "selected_conversation",
        "channels_select": "selected_channel",
        "datepicker": "selected_date",
        "timepicker": "selected_time",
    }.get(str(kind))
    return _text(action.get(chosen)) if chosen else None
