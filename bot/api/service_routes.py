"""The routes that are always served, with or without `--enable-api`: hello, version, health, metrics and the
API's OpenAPI description."""

from __future__ import annotations

import asyncio
import json
from functools import cache
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from bot import __version__
from bot.api.errors import json_response
from bot.api.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from bot.api.state import SERVER_STATE, ServerState
from bot.errors import ConductorError
from bot.yamlio import read_yaml

__all__ = ["HEALTH_PROBE_ID", "MINIMUM_COMPATIBLE_VERSION", "OPENAPI_FILE", "hello", "service_routes"]

MINIMUM_COMPATIBLE_VERSION: Final = "0.1.0"
"""The oldest Conductor whose trained models this version serves (model format 1)."""

OPENAPI_FILE: Final = Path(__file__).resolve().parents[1] / "openapi.yml"

HEALTH_PROBE_ID: Final = "__conductor_health_probe__"
"""The conversation id the health check reads and locks (it never stores anything under it)."""

PROBE_TIMEOUT_SECONDS: Final = 2.0


async def hello(request: web.Request) -> web.StreamResponse:
    return web.Response(text=f"Hello from Conductor: {__version__}")


async def version(request: web.Request) -> web.StreamResponse:
    return json_response({"version": __version__, "minimum_compatible_version": MINIMUM_COMPATIBLE_VERSION})


async def _probe(check: Any) -> dict[str, Any]:
    """Run one store check; its outcome without secrets (an exception shows its type and message only when
    it is Conductor's own, whose messages never hold credentials)."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            await check
    except TimeoutError:
        return {"status": "failing", "error": f"no answer within {PROBE_TIMEOUT_SECONDS:g} s"}
    except Exception as exc:
        detail = str(exc) if isinstance(exc, ConductorError) else type(exc).__name__
        return {"status": "failing", "error": detail}
    return {"status": "ok"}


async def _lock_probe(state: ServerState) -> None:
    async with state.runtime.lock_store.lock(HEALTH_PROBE_ID, wait_timeout=PROBE_TIMEOUT_SECONDS):
        pass


async def health(request: web.Request) -> web.StreamResponse:
    """200 when the server takes messages and both stores answer; 503 (with what fails) otherwise."""
    state = request.app[SERVER_STATE]
    tracker_store, lock_store = await asyncio.gather(
        _probe(state.runtime.tracker_store.count_events(HEALTH_PROBE_ID)), _probe(_lock_probe(state))
    )
    healthy = state.accepting and tracker_store["status"] == lock_store["status"] == "ok"
    body = {
        "status": "ok" if healthy else ("stopping" if not state.accepting else "unavailable"),
        "model": state.runtime.model.path.name,
        "tracker_store": tracker_store,
        "lock_store": lock_store,
    }
    return json_response(body, 200 if healthy else 503)


async def metrics(request: web.Request) -> web.StreamResponse:
    exposition = request.app[SERVER_STATE].metrics.exposition()
    return web.Response(body=exposition, headers={"Content-Type": METRICS_CONTENT_TYPE})


@cache
def _openapi_text() -> str:
    return OPENAPI_FILE.read_text(encoding="utf-8")


@cache
def _openapi_json() -> str:
    return json.dumps(read_yaml(OPENAPI_FILE, "OpenAPI description"), ensure_ascii=False)


async def openapi_yaml(request: web.Request) -> web.StreamResponse:
    return web.Response(text=_openapi_text(), content_type="application/x-yaml")


async def openapi_json(request: web.Request) -> web.StreamResponse:
    return web.Response(text=_openapi_json(), content_type="application/json")


def service_routes() -> list[web.RouteDef]:
    return [
        web.get("/version", version),
        web.get("/health", health),
        web.get("/metrics", metrics),
        web.get("/openapi.yml", openapi_yaml),
        web.get("/openapi.json", openapi_json),
    ]
