"""Socket Mode: Slack pushes events and interactions over a websocket the app opens, for hosts without a public
URL. slack-sdk's aiohttp `SocketModeClient` holds the connection (pings, reconnects, `disconnect` requests);
this wrapper acknowledges each envelope at once and hands its payload on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

__all__ = ["EnvelopeHandler", "SlackSocketMode"]

logger = logging.getLogger(__name__)

EnvelopeHandler = Callable[[str, Mapping[str, Any], int, str | None], None]
"""Called with an envelope's type (`events_api`, `interactive`, ...), payload, retry attempt and retry reason,
after the envelope was acknowledged. It must not block: the turn itself runs elsewhere."""


class SlackSocketMode:
    """One Socket Mode connection, opened by `start` and closed by `stop`."""

    def __init__(self, app_token: str, web_client: AsyncWebClient, handle: EnvelopeHandler) -> None:
        self._app_token = app_token
        self._web_client = web_client
        self._handle = handle
        self._client: SocketModeClient | None = None
        self._connecting: asyncio.Task[None] | None = None

    async def start(self, first_url: str | None = None) -> None:
        """Connect in the background; `first_url` is a fresh URL from `apps.connections.open`, if one is at hand.

        The client keeps retrying while Slack cannot be reached, so starting never waits for Slack.
        """
        client = SocketModeClient(self._app_token, logger=logger, web_client=self._web_client)
        client.socket_mode_request_listeners.append(self._on_request)
        client.wss_uri = first_url
        self._client = client
        self._connecting = asyncio.create_task(self._connect(client), name="slack socket mode connect")

    @staticmethod
    async def _connect(client: SocketModeClient) -> None:
        try:
            await client.connect()  # type: ignore[no-untyped-call]
        except Exception:
            logger.exception("Slack Socket Mode could not connect")

    async def _on_request(self, client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        self._handle(request.type, request.payload, request.retry_attempt or 0, request.retry_reason or None)

    async def stop(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
            self._connecting = None
        if self._client is not None:
            await self._client.close()  # type: ignore[no-untyped-call]
            self._client = None
