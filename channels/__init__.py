"""Channel adapters: each turns one platform's events into `UserMessage`s and the bot's replies into native
messages. A channel knows its platform and nothing of NLU or dialogue."""

from channels.base import (
    CollectingOutputChannel,
    InputChannel,
    OnNewMessage,
    OutputChannel,
    RecentIds,
    UserMessage,
)

__all__ = [
    "CollectingOutputChannel",
    "InputChannel",
    "OnNewMessage",
    "OutputChannel",
    "RecentIds",
    "UserMessage",
]
