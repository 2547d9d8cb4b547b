"""Starting and stopping: channel lifecycle order, graceful shutdown with a turn in flight, health, CORS and the
widget's files."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import unused_port
from server_helpers import SLOW_ACTION, StartServer, say, slow_actions

from bot.errors import ConductorError
from bot.model import load_model
from bot.runtime import Runtime
from bot.server import create_app, serve
from bot.stores.sql import SQLTrackerStore
from channels.base import InputChannel, OnNewMessage, UserMessage
from channels.rest import RestInput
from tests.process_helpers import wait_until_healthy


class RecordingChannel(InputChannel):
    """A channel that records its lifecycle; its webhook waits a little before handing the message over."""

    name: ClassVar[str] = "recorder"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def routes(self, on_new_message: OnNewMessage) -> list[web.RouteDef]:
        async def hook(request: web.Request) -> web.Response:
            await asyncio.sleep(0.3)
            await on_new_message(UserMessage("/greet", "recorded", self.name))
            self.calls.append("turn done")
            return web.json_response({"ok": True})

        return [web.post("/hook", hook)]

    async def initialize(self) -> None:
        self.calls.append("initialize")

    async def start(self, on_new_message: OnNewMessage) -> None:
        self.calls.append("start")

    async def stop(self) -> None:
        self.calls.append("stop")

    async def shutdown(self) -> None:
        self.calls.append("shutdown")


async def test_stopping_finishes_turns_in_flight_then_shuts_channels_down(
    trained_model: Path, tmp_path: Path
) -> None:
    database = tmp_path / "events.db"
    recorder = RecordingChannel()
    runtime = Runtime(load_model(trained_model), SQLTrackerStore(f"sqlite:///{database}"), actions=slow_actions())
    app = create_app(runtime, channels=[RestInput(), recorder], enable_api=True)
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(app, "127.0.0.1", port, stop=stop))
    async with aiohttp.ClientSession() as session:
        await wait_until_healthy(base)
        assert recorder.calls == ["initialize", "start"]
        async with session.post(f"{base}/webhooks/rest/webhook", json={"sender": "s", "message": "/greet"}) as r:
            assert r.status == 200
        slow = asyncio.create_task(session.post(f"{base}/conversations/s/execute", json={"name": SLOW_ACTION}))
        hooked = asyncio.create_task(session.post(f"{base}/webhooks/recorder/hook"))
        await asyncio.sleep(0.15)
        stop.set()
        slow_response, hook_response = await slow, await hooked
        assert slow_response.status == 200
        assert (await slow_response.json())["messages"][0]["text"] == "done slowly"
        assert hook_response.status == 200
        await asyncio.wait_for(serving, 10)
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"{base}/health")
    assert recorder.calls == ["initialize", "start", "stop", "turn done", "shutdown"]
    with sqlite3.connect(database) as connection:
        stored = [row[0] for row in connection.execute("SELECT sender_id FROM events")]
    assert stored.count("recorded") > 0
    reopened = SQLTrackerStore(f"sqlite:///{database}")
    async with reopened:
        events = [e.as_dict() for e in await reopened.retrieve_since("s", 0)]
    assert events[-2]["name"] == SLOW_ACTION
    assert events[-1]["text"] == "done slowly"


async def test_the_access_log_never_holds_a_token(
    trained_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = Runtime(load_model(trained_model))
    app = create_app(runtime, channels=[RestInput()], enable_api=True, auth_token="s3cret-t0ken")
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    serving = asyncio.create_task(serve(app, "127.0.0.1", port, stop=stop, access_log=True))
    try:
        await wait_until_healthy(base)
        async with aiohttp.ClientSession() as session:
            for query in ("?token=s3cret-t0ken", "?include_events=ALL&token=s3cret-t0ken&x=1", "?TOKEN=s3cret-t0ken"):
                async with session.get(f"{base}/conversations/a/tracker{query}") as response:
                    assert response.status in (200, 401, 404)
    finally:
        stop.set()
        await asyncio.wait_for(serving, 10)
    lines = [record.getMessage() for record in caplog.records if record.name == "aiohttp.access"]
    assert len([line for line in lines if "/conversations/a/tracker" in line]) == 3, lines
    assert not [line for line in lines if "s3cret" in line], lines
    assert any("include_events=ALL&token=<redacted>&x=1" in line for line in lines), lines


async def test_a_port_in_use_is_a_clear_error(trained_model: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = create_app(Runtime(load_model(trained_model)))
        with pytest.raises(ConductorError, match=f"cannot listen on 127.0.0.1:{port}"):
            await serve(app, "127.0.0.1", port)


async def test_health_reports_a_failing_store(start_server: StartServer, tmp_path: Path) -> None:
    served = await start_server()
    await say(served, "h", "/greet")
    with sqlite3.connect(next(tmp_path.glob("events*.db"))) as connection:
        connection.execute("DROP TABLE events")
    response = await served.client.get("/health")
    assert response.status == 503
    health = await response.json()
    assert health["status"] == "unavailable"
    assert health["tracker_store"]["status"] == "failing"
    assert health["lock_store"] == {"status": "ok"}


async def test_cors_for_allowed_origins_only(start_server: StartServer) -> None:
    served = await start_server(cors=["https://shop.example"])
    client = served.client
    preflight = await client.options(
        "/webhooks/rest/webhook",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"},
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert preflight.headers["Access-Control-Allow-Headers"] == "content-type"
    message = {"sender": "c", "message": "/greet"}
    allowed = await client.post("/webhooks/rest/webhook", json=message, headers={"Origin": "https://shop.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    streamed = await client.post(
        "/webhooks/rest/webhook?stream=true", json=message, headers={"Origin": "https://shop.example"}
    )
    assert streamed.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    other = await client.post("/webhooks/rest/webhook", json=message, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    refused = await client.options(
        "/webhooks/rest/webhook", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert refused.status == 403


async def test_without_cors_no_cors_headers(start_server: StartServer) -> None:
    served = await start_server()
    response = await served.client.get("/version", headers={"Origin": "https://shop.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_the_widget_is_served_at_root_and_webchat(start_server: StartServer, tmp_path: Path) -> None:
    folder = tmp_path / "webchat"
    folder.mkdir()
    (folder / "index.html").write_text("<html><script src='widget.js'></script></html>")
    (folder / "widget.js").write_text("console.log('chat')")
    served = await start_server(webchat_dir=folder)
    client = served.client

    async def get(path: str, **headers: Any) -> tuple[int, str]:
        response = await client.get(path, headers=headers)
        return response.status, await response.text()

    assert await get("/", Accept="text/html,application/xhtml+xml") == (200, (folder / "index.html").read_text())
    status, text = await get("/")
    assert status == 200 and text.startswith("Hello from Conductor")
    assert (await get("/webchat/"))[1].startswith("<html>")
    assert (await get("/webchat"))[1].startswith("<html>")
    assert await get("/webchat/widget.js") == (200, "console.log('chat')")
    assert await get("/widget.js") == (200, "console.log('chat')")
    assert (await get("/missing.js"))[0] == 404
    assert (await get("/openapi.json"))[1].startswith("{")
    assert (await get("/webhooks/rest/"))[0] == 200
