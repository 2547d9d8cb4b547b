"""Every malformed request gets a clear 4xx JSON error in Rasa's ErrorResponse shape, and stores nothing."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from server_helpers import Served, StartServer

from bot import __version__
from bot.api.errors import MAX_TEXT_CHARS
from bot.server import DEFAULT_MAX_REQUEST_BYTES

Raw = bytes
CASES: list[tuple[str, str, Any, int, str]] = [
    # method, path, body (bytes are sent as they are, anything else as JSON), status, words in the message
    ("POST", "/webhooks/rest/webhook", b"{bad json", 400, "not valid JSON"),
    ("POST", "/webhooks/rest/webhook", b"", 400, "empty"),
    ("POST", "/webhooks/rest/webhook", b"\xff\xfe\x00garbage", 400, "JSON"),
    ("POST", "/webhooks/rest/webhook", b'{"sender": "s", "message": NaN}', 400, "not valid JSON"),
    ("POST", "/webhooks/rest/webhook", b'{"sender": "s", "message": "hi \\ud800"}', 400, "lone surrogate (\\ud800)"),
    ("POST", "/model/parse", b'{"text": "\\udc00"}', 400, "lone surrogate"),
    ("PUT", "/conversations/s/tracker/events", b'[{"event": "bot", "text": "\\ud83d"}]', 400, "lone surrogate"),
    ("POST", "/webhooks/rest/webhook", b"[" * 100_000 + b"]" * 100_000, 400, "not valid JSON"),
    ("POST", "/webhooks/rest/webhook", ["sender", "message"], 400, "must be a JSON object"),
    ("POST", "/webhooks/rest/webhook", {"sender": "s"}, 400, "'message' is missing"),
    ("POST", "/webhooks/rest/webhook", {"sender": "s", "message": 7}, 400, "'message' must be a string"),
    ("POST", "/webhooks/rest/webhook", {"sender": ["s"], "message": "/greet"}, 400, "'sender' must be a string"),
    ("POST", "/webhooks/rest/webhook", {"sender": "s", "message": "/greet", "metadata": "x"}, 400, "'metadata'"),
    ("POST", "/webhooks/rest/webhook?stream=perhaps", {"sender": "s", "message": "/greet"}, 400, "'stream'"),
    ("POST", "/conversations/s/tracker/events", b"", 400, "You must provide events"),
    ("POST", "/conversations/s/tracker/events", {"event": "teleport"}, 400, "unknown event 'teleport'"),
    ("POST", "/conversations/s/tracker/events", [], 400, "Couldn't extract a proper event"),
    ("POST", "/conversations/s/tracker/events", [{"event": "slot", "name": "x"}, 5], 400, "event #2"),
    ("PUT", "/conversations/s/tracker/events", {"event": "restart"}, 400, "must be a list of events"),
    ("PUT", "/conversations/s/tracker/events", [{"event": "bot", "text": 3}], 400, "event #1"),
    ("POST", "/conversations/s/messages", {"text": "/greet"}, 400, "only user messages"),
    ("POST", "/conversations/s/messages", {"sender": "user"}, 400, "'text' is missing"),
    ("POST", "/conversations/s/messages", {"text": 1, "sender": "user"}, 400, "'text' must be a string"),
    ("POST", "/conversations/s/messages", {"text": "hi", "sender": "user", "parse_data": []}, 400, "'parse_data'"),
    ("POST", "/conversations/s/trigger_intent", {}, 400, "'name' is missing"),
    ("POST", "/conversations/s/trigger_intent", {"name": "greet", "entities": "x"}, 400, "'entities'"),
    ("POST", "/conversations/s/trigger_intent", {"name": "fly"}, 404, "does not exist in the domain"),
    ("POST", "/conversations/s/execute", {"name": "utter_greet"}, 404, "Conversation ID not found"),
    ("POST", "/conversations/s/execute", {"name": 5}, 400, "'name' must be a string"),
    ("POST", "/conversations/s/execute", {"name": ""}, 400, "'name' is empty"),
    ("POST", "/conversations/s/predict", None, 404, "Conversation ID not found"),
    ("GET", "/conversations/s/tracker?include_events=MOST", None, 400, "include_events"),
    ("POST", "/model/parse", "just text", 400, "must be a JSON object"),
    ("POST", "/model/parse", {"text": None}, 400, "'text' is missing"),
    ("POST", "/model/parse?emulation_mode=wit", {"text": "hi"}, 400, "emulation_mode"),
    ("PUT", "/model", {}, 400, "'model_file' is missing"),
    ("PUT", "/model", {"model_file": "x", "model_server": {"url": "http://x"}}, 400, "'model_server'"),
    ("GET", "/no/such/route", None, 404, "There is no resource"),
    ("DELETE", "/webhooks/rest/webhook", None, 405, "DELETE is not allowed"),
]


def _check_error(body: Any, status: int) -> None:
    assert set(body) == {"version", "status", "message", "reason", "details", "help", "code"}
    assert body["version"] == __version__
    assert body["status"] == "failure"
    assert body["code"] == status
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)


@pytest.fixture
async def served(start_server: StartServer) -> Served:
    return await start_server(enable_api=True)


@pytest.mark.parametrize(("method", "path", "body", "status", "words"), CASES)
async def test_bad_requests_are_refused_clearly(
    served: Served, method: str, path: str, body: Any, status: int, words: str
) -> None:
    if isinstance(body, bytes):
        response = await served.client.request(
            method, path, data=body, headers={"Content-Type": "application/json"}
        )
    else:
        response = await served.client.request(method, path, json=body)
    assert response.status == status
    assert response.headers["Content-Type"].startswith("application/json")
    error = await response.json()
    _check_error(error, status)
    assert words in error["message"]
    assert await served.store.keys() == []


@pytest.mark.parametrize("path", ["/webhooks/rest/webhook", "/conversations/s/tracker/events", "/model/parse"])
async def test_a_body_over_the_limit_is_a_413(served: Served, path: str) -> None:
    text = "x" * DEFAULT_MAX_REQUEST_BYTES
    response = await served.client.post(path, json={"sender": "s", "message": text, "text": text})
    assert response.status == 413
    error = await response.json()
    _check_error(error, 413)
    assert error["details"]["limit_bytes"] == DEFAULT_MAX_REQUEST_BYTES
    assert await served.store.keys() == []


async def test_messages_up_to_the_length_limit_are_handled(served: Served) -> None:
    text = "hello " + "x" * (MAX_TEXT_CHARS - 6)
    response = await served.client.post("/webhooks/rest/webhook", json={"sender": "long", "message": text})
    assert response.status == 200
    user = next(e for e in await served.stored("long") if e["event"] == "user")
    assert user["text"] == text
    for path, body in (
        ("/webhooks/rest/webhook", {"sender": "longer", "message": text + "!"}),
        ("/model/parse", {"text": text + "!"}),
        ("/conversations/longer/messages", {"text": text + "!", "sender": "user"}),
    ):
        response = await served.client.post(path, json=body)
        assert response.status == 400
        error = await response.json()
        _check_error(error, 400)
        assert error["details"]["limit_chars"] == MAX_TEXT_CHARS
    assert await served.store.keys() == ["long"]


async def test_a_wrong_method_names_the_allowed_ones(served: Served) -> None:
    response = await served.client.request("TRACE", "/conversations/s/tracker/events")
    assert response.status == 405
    assert response.headers["Allow"] == "POST, PUT"  # RFC 9110: a 405 says which methods are allowed
    assert (await response.json())["details"]["allowed_methods"] == ["POST", "PUT"]


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekret\x00\r\n\r\n",  # a NUL in a header value
        b"GET /" + b"x" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # a request line too long
    ],
)
async def test_a_request_that_is_not_http_is_refused_with_one_log_line(
    served: Served, request_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    server = served.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(request_bytes)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    assert status_line.split()[1] in (b"400", b"414", b"431")
    logged = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert logged, "the refused request was not logged"
    assert all(r.levelno == logging.WARNING and r.exc_info is None and "not valid HTTP" in r.getMessage()
               for r in logged), [(r.levelname, r.getMessage()) for r in logged]
    assert "sekret" not in caplog.text  # the offending header is not quoted into the log
    assert (await served.client.get("/health")).status == 200  # the server goes on serving
