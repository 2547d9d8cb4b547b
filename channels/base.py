"""The contracts between channels and the runtime.

* `InputChannel`: receives a platform's events over HTTP routes (or a socket/polling loop it runs itself),
  verifies them, drops duplicates, and hands each user message to the runtime as a `UserMessage`.
* `OutputChannel`: sends the bot's replies back, one Rasa-shaped message dict at a time
  (`{"text", "image", "buttons", "quick_replies", "attachment", "elements", "custom"}`).

Every channel has an explicit lifecycle (`initialize` -> `start` -> `stop` -> `shutdown`), so the server can
bring channels up and down in order, and tests can drive one alone.
"""

from __future__ import annotations

import logging
import random
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Literal, Self

from aiohttp import web

from bot.errors import ConductorError, Problem
from bot.jsonio import lone_surrogate

__all__ = [
    "MAX_TEXT_CHARS",
    "CollectingOutputChannel",
    "InputChannel",
    "OnNewMessage",
    "OutputChannel",
    "RecentIds",
    "RefusalKind",
    "RefusedMessage",
    "TextRefusal",
    "UserMessage",
    "new_message_id",
    "send_replies",
    "text_refusal",
    "text_too_long",
]

logger = logging.getLogger(__name__)


class OutputChannel(ABC):
    """Sends the bot's messages to one platform. Subclasses implement at least `send_text_message`."""

    name: ClassVar[str] = "output"

    async def send_response(self, recipient_id: str, message: Mapping[str, Any]) -> None:
        """Send one Rasa-shaped bot message, choosing the richest form the channel supports."""
        text = message.get("text")
        buttons = message.get("buttons") or message.get("quick_replies")
        extras = {k: v for k, v in message.items() if k not in _MESSAGE_KEYS}
        if buttons:
            await self.send_text_with_buttons(recipient_id, text or "", list(buttons), **extras)
        elif text:
            await self.send_text_message(recipient_id, text, **extras)
        if message.get("custom"):
            await self.send_custom_json(recipient_id, dict(message["custom"]), **extras)
        if message.get("image"):
            await self.send_image_url(recipient_id, str(message["image"]), **extras)
        if message.get("attachment"):
            await self.send_attachment(recipient_id, message["attachment"], **extras)
        if message.get("elements"):
            await self.send_elements(recipient_id, list(message["elements"]), **extras)

    @abstractmethod
    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None: ...

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, f"Image: {image}")

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, f"Attachment: {attachment}")

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Channels without buttons show them as numbered choices."""
        choices = [f"{i}: {b.get('title', b.get('payload', ''))}" for i, b in enumerate(buttons, start=1)]
        await self.send_text_message(recipient_id, "\n".join([text, *choices]) if text else "\n".join(choices))

    async def send_elements(self, recipient_id: str, elements: list[Any], **kwargs: Any) -> None:
        for element in elements:
            await self.send_text_message(recipient_id, str(element.get("title", element)))

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, str(json_message))


_MESSAGE_KEYS = frozenset(
    {"text", "image", "buttons", "quick_replies", "attachment", "elements", "custom", "recipient_id"}
)


class CollectingOutputChannel(OutputChannel):
    """Keeps the messages instead of sending them: the REST channel answers with this list."""

    name: ClassVar[str] = "collector"

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def send_response(self, recipient_id: str, message: Mapping[str, Any]) -> None:
        keys = ("text", "image", "buttons", "attachment", "custom", "quick_replies", "elements")
        record: dict[str, Any] = {"recipient_id": recipient_id}
        record.update({k: message[k] for k in keys if message.get(k) is not None})
        self.messages.append(record)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.messages.append({"recipient_id": recipient_id, "text": text})


async def send_replies(channel: OutputChannel, recipient_id: str, replies: Iterable[Mapping[str, Any]]) -> None:
    """Send the bot's messages in order. Output channels log their platform's refusals and outages themselves;
    anything else a send raises is logged here, and the remaining messages still go."""
    for reply in replies:
        try:
            await channel.send_response(recipient_id, reply)
        except Exception:
            logger.exception("sending a reply to %s on %s failed", recipient_id, channel.name)


_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_message_id() -> str:
    """A new message id, shaped as `uuid.uuid4().hex` (32 hex digits, version 4), as Rasa's are.

    The bits come from Python's `random` (seeded from the operating system at start and again in a forked
    child), not from `os.urandom`: a message id must be unique, not secret. `os.urandom` lets go of the GIL
    for its system call, and in the server, whose store works in another thread, getting it back cost 9 µs
    a call on average (under 1 µs alone), twice per message with the lock token.
    """
    return f"{(random.getrandbits(128) & _UUID4_CLEAR) | _UUID4_SET:032x}"


MAX_TEXT_CHARS: Final = 10_000
"""The longest user message the runtime takes. The NLU's time grows with the text and runs on the event loop
(a few milliseconds for 10,000 characters; about 80 ms for the 40,000 a Slack message may hold, measured on
the rasa-init bot), so a longer text would stall every other conversation."""


def _too_long(subject: str, length: int) -> str:
    """The one wording of the length rule, for the web channels' clients and for the log."""
    return f"{subject} is {length:,} characters long; at most {MAX_TEXT_CHARS:,} are accepted"


def text_too_long(text: str, name: str) -> str | None:
    """What is wrong with a user message `name` longer than `MAX_TEXT_CHARS`, as the web channels word it for
    their clients, or None."""
    if len(text) <= MAX_TEXT_CHARS:
        return None
    return _too_long(f"'{name}'", len(text))


RefusalKind = Literal["too_long", "not_text"]


@dataclass(frozen=True)
class TextRefusal:
    """Why the runtime refuses a user message's text: `kind` (longer than `MAX_TEXT_CHARS`, or not Unicode
    text) and the text's `length` in characters. It holds nothing of the text itself, so it may be logged."""

    kind: RefusalKind
    length: int
    surrogate: str | None = None
    """The lone surrogate a `not_text` message holds, escaped (`\\ud800`)."""

    @property
    def reason(self) -> str:
        """What is wrong, for the log."""
        if self.kind == "too_long":
            return _too_long("the message", self.length)
        return f"the message holds a lone surrogate ({self.surrogate}), which is not text"

    @property
    def hint(self) -> str:
        """What the sender should do instead."""
        if self.kind == "too_long":
            return f"Send at most {MAX_TEXT_CHARS:,} characters of text."
        return "Send the message as Unicode text (without lone surrogates such as \\ud800)."

    def default_reply(self) -> str:
        """What the user is told when the domain has no `utter_message_refused` response."""
        if self.kind == "too_long":
            return (
                f"Sorry, that message is too long for me ({self.length:,} characters). "
                f"Please send at most {MAX_TEXT_CHARS:,} characters at a time."
            )
        return "Sorry, I could not read that message. Please send it again as plain text."


def text_refusal(text: str) -> TextRefusal | None:
    """Why the runtime refuses a user message's text, or None: it is longer than `MAX_TEXT_CHARS`, or it is not
    Unicode text (a lone surrogate, which JSON can write and nothing after the channel can encode)."""
    if len(text) > MAX_TEXT_CHARS:
        return TextRefusal("too_long", len(text))
    surrogate = lone_surrogate(text)
    if surrogate is not None:
        return TextRefusal("not_text", len(text), surrogate)
    return None


class RefusedMessage(ConductorError):
    """A user message the runtime does not take (`text_refusal`): nothing is stored. `replies` tell the user
    why (the runtime renders them for the message's output channel): Slack and Telegram send them with
    `send_replies`. The web channels refuse such a text before it reaches the runtime (a 400, an error frame)."""

    def __init__(self, refusal: TextRefusal, replies: Sequence[Mapping[str, Any]] = ()) -> None:
        super().__init__(Problem(refusal.reason, hint=refusal.hint))
        self.refusal = refusal
        self.replies: list[Mapping[str, Any]] = list(replies)

    @property
    def reason(self) -> str:
        return self.refusal.reason


@dataclass
class UserMessage:
    """One message from an end user, normalised by its channel.

    `sender_id` is the conversation key (the tracker's id): the channel decides it, e.g. Slack's
    `conversation_granularity`. `message_id` is the platform's id of the message, used to drop duplicates.
    """

    text: str | None
    sender_id: str
    input_channel: str
    output_channel: OutputChannel = field(default_factory=CollectingOutputChannel)
    message_id: str = field(default_factory=new_message_id)
    metadata: dict[str, Any] = field(default_factory=dict)
    parse_data: dict[str, Any] | None = None
    """A parse to use instead of running the NLU (e.g. `/trigger_intent`)."""


OnNewMessage = Callable[[UserMessage], Awaitable[None]]
"""The runtime's entry point: handle one user message, sending replies through its output channel."""


class InputChannel(ABC):
    """Receives messages from one platform and hands them to the runtime.

    HTTP channels return their routes from `routes`; the server mounts them under `/webhooks/<url_prefix>/`.
    Channels that hold a connection of their own (Slack socket mode, Telegram polling) start it in `start`.
    """

    name: ClassVar[str]

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> Self:
        """Build the channel from its section of credentials.yml (None when the section is empty)."""
        return cls()

    def url_prefix(self) -> str:
        return self.name

    @abstractmethod
    def routes(self, on_new_message: OnNewMessage) -> list[web.RouteDef]:
        """The channel's HTTP routes, relative to `/webhooks/<url_prefix>`."""

    def get_output_channel(self) -> OutputChannel | None:
        """An output channel for messages the bot sends on its own (e.g. `/trigger_intent`), if it can."""
        return None

    async def initialize(self) -> None:
        """Check settings and prepare clients; nothing is received yet."""

    async def start(self, on_new_message: OnNewMessage) -> None:
        """Begin receiving (e.g. register a webhook, open a socket, start polling)."""

    async def stop(self) -> None:
        """Stop receiving; turns in flight may still send their replies."""

    async def shutdown(self) -> None:
        """Release clients and connections."""


class RecentIds:
    """A bounded set of recently seen ids, to drop platform retries and duplicates within one process."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def seen(self, key: str) -> bool:
        """True if `key` was seen before; records it otherwise."""
        if key in self._seen:
            self._seen.move_to_end(key)
            return True
        self._seen[key] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return False
