"""The server side of the web chat widget's browser tests: a real aiohttp server on 127.0.0.1 serving the
widget's files, the WebSocket channel and the REST channel, with `EchoBot` answering.

`build_webchat_app` is the default `AppFactory` (`(on_new_message) -> web.Application`). A factory for the real
server must likewise serve the widget at `/` and `/webchat/`, the `websocket` and `rest` channels (with CORS
for the embedding scenarios), and a picture at `/picture.svg` for the image scenario.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import unused_port

from bot.api.webchat import WEBCHAT_DIR
from channels.base import InputChannel, OnNewMessage, UserMessage
from channels.rest import RestInput
from channels.websocket import WebSocketInput

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PICTURE_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="160" viewBox="0 0 240 160">'
    '<rect width="240" height="160" fill="#ffb74d"/><circle cx="120" cy="80" r="50" fill="#3949ab"/></svg>'
)
COLOURS = [
    {"title": "Red", "payload": '/pick{"colour": "red"}'},
    {"title": "Blue", "payload": '/pick{"colour": "blue"}'},
]

AppFactory = Callable[[OnNewMessage], web.Application]


@dataclass
class EchoBot:
    """A stand-in for the runtime with its entry point: replies through `message.output_channel`."""

    received: list[UserMessage] = field(default_factory=list)
    slow_seconds: float = 1.5

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        for reply in await self._replies(message.text or ""):
            await message.output_channel.send_response(message.sender_id, reply)

    async def _replies(self, text: str) -> list[dict[str, Any]]:
        if text == "slow":
            await asyncio.sleep(self.slow_seconds)
            return [{"text": "Sorry for the wait!"}]
        if text == "buttons":
            return [{"text": "Pick a colour", "buttons": COLOURS}]
        if text.startswith("/pick"):
            return [{"text": f"You picked {json.loads(text.removeprefix('/pick'))['colour']}."}]
        if text == "image":
            return [{"text": "Here is a picture:", "image": "/picture.svg"}]
        if text == "link":
            return [{"text": "Docs: https://example.com/docs. Not a link: javascript:alert(1)"}]
        return [{"text": f"echo: {text}"}]

    def texts(self) -> list[str]:
        return [m.text or "" for m in self.received]


def _mount(app: web.Application, channel: InputChannel, on_new_message: OnNewMessage) -> None:
    sub = web.Application()
    sub.add_routes(channel.routes(on_new_message))
    app.add_subapp(f"/webhooks/{channel.url_prefix()}/", sub)

    async def start(_: web.Application) -> None:
        await channel.initialize()
        await channel.start(on_new_message)

    async def stop(_: web.Application) -> None:
        await channel.stop()
        await channel.shutdown()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)


@web.middleware
async def _cors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """What the embedded widget needs from a server on another origin: CORS on the REST channel."""
    headers = {
        "Access-Control-Allow-Origin": request.headers.get("Origin", "*"),
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type",
    }
    if request.method == "OPTIONS":
        return web.Response(status=204, headers=headers)
    response = await handler(request)
    response.headers.update(headers)
    return response


def build_webchat_app(on_new_message: OnNewMessage, *, websocket: bool = True) -> web.Application:
    """The widget's files, the `websocket` channel (unless `websocket=False`) and the `rest` channel."""
    app = web.Application(middlewares=[_cors])
    channels: list[InputChannel] = [RestInput()]
    if websocket:
        channels.append(WebSocketInput())
    for channel in channels:
        _mount(app, channel, on_new_message)

    async def index(_: web.Request) -> web.FileResponse:
        return web.FileResponse(WEBCHAT_DIR / "index.html")

    async def picture(_: web.Request) -> web.Response:
        return web.Response(text=PICTURE_SVG, content_type="image/svg+xml")

    app.router.add_get("/", index)
    app.router.add_get("/picture.svg", picture)
    app.router.add_static("/webchat/", WEBCHAT_DIR)
    return app


class WebchatServer:
    """One application on a fixed port of 127.0.0.1 that can be stopped and started again (a new application,
    as after a restart: nothing in memory survives, the client keeps its session id)."""

    def __init__(self, factory: AppFactory, bot: EchoBot) -> None:
        self.factory = factory
        self.bot = bot
        self.port = unused_port()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        runner = web.AppRunner(self.factory(self.bot), shutdown_timeout=5)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def serve_page(html: str) -> tuple[str, web.AppRunner]:
    """Serve `html` at `/` of another origin (another port); returns its URL and runner (to clean up)."""

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = unused_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return f"http://127.0.0.1:{port}/", runner


