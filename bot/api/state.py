"""What the server's handlers share: the runtime, the channels, the access rule and the metrics."""

from __future__ import annotations

import time
from collections.abc import Sequence

from aiohttp import web

from bot.api.auth import ApiAuth
from bot.api.metrics import ServerMetrics
from bot.runtime import Runtime
from channels.base import (
    CollectingOutputChannel,
    InputChannel,
    OnNewMessage,
    OutputChannel,
    RefusedMessage,
    UserMessage,
)

__all__ = ["LATEST_INPUT_CHANNEL", "SERVER_STATE", "ServerState"]

LATEST_INPUT_CHANNEL = "latest"
"""`?output_channel=latest`: answer on the channel the conversation's latest message came from (Rasa's)."""


class ServerState:
    def __init__(
        self, runtime: Runtime, channels: Sequence[InputChannel], auth: ApiAuth, metrics: ServerMetrics
    ) -> None:
        self.runtime = runtime
        self.channels = list(channels)
        self.started_channels: list[InputChannel] = []
        """The channels that were started (and so are stopped when the server stops)."""
        self.auth = auth
        self.metrics = metrics
        self._handlers: dict[str, OnNewMessage] = {}
        self.accepting = True
        """False once the server is shutting down (`/health` then answers 503 so load balancers drain it)."""

    def message_handler(self, channel_name: str) -> OnNewMessage:
        """The `on_new_message` given to one channel: the runtime's turn, counted in that channel's metrics.

        Errors propagate to the channel, which answers its platform as it must (the REST channel with a 500).
        """
        found = self._handlers.get(channel_name)
        if found is None:
            found = self._handlers[channel_name] = self._new_handler(channel_name)
        return found

    def _new_handler(self, channel_name: str) -> OnNewMessage:
        metrics = self.metrics.channel(channel_name)
        runtime = self.runtime

        async def on_new_message(message: UserMessage) -> None:
            metrics.turn_started()
            started = time.perf_counter()
            try:
                result = await runtime.handle_message(message)
            except RefusedMessage as refused:
                metrics.turn_refused(refused.refusal.kind)
                raise
            except BaseException:
                metrics.turn_failed()
                raise
            metrics.turn_finished(result.events, time.perf_counter() - started)

        return on_new_message

    def output_channel(self, requested: str | None, latest_input_channel: str | None) -> OutputChannel:
        """The output channel `?output_channel=` asks for, as Rasa picks it: a channel's own output channel
        when that channel is running and has one, otherwise the collector (its messages go in the response)."""
        name = latest_input_channel if requested == LATEST_INPUT_CHANNEL else requested
        for channel in self.channels:
            if channel.name == name:
                output = channel.get_output_channel()
                if output is not None:
                    return output
        return CollectingOutputChannel()


SERVER_STATE = web.AppKey("conductor_server_state", ServerState)
