"""Cross-origin requests (`--cors`), for web pages on other origins that call the webhooks or the API.

Allowed origins get `Access-Control-Allow-Origin` (their own origin echoed) with credentials allowed, on every
response, streamed ones included (the headers are added as the response is prepared). A preflight `OPTIONS`
request to a route that has no `OPTIONS` handler of its own is answered here. `*` allows every origin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

__all__ = ["cors_middleware", "cors_response_headers"]

_PREFLIGHT_MAX_AGE: Final = "600"


def _allows(origins: Sequence[str]) -> Callable[[str], bool]:
    allowed = frozenset(origins)
    if "*" in allowed:
        return lambda origin: True
    return lambda origin: origin in allowed


def cors_middleware(origins: Sequence[str]) -> Middleware:
    allows = _allows(origins)

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        asked_method = request.headers.get("Access-Control-Request-Method")
        if request.method != "OPTIONS" or origin is None or asked_method is None:
            return await handler(request)
        if request.match_info.http_exception is None and request.match_info.route.method == "OPTIONS":
            return await handler(request)  # the route answers preflights itself (e.g. socket.io)
        if not allows(origin):
            return web.Response(status=403, text=f"The origin {origin} may not call this server.")
        headers = {
            "Access-Control-Allow-Methods": asked_method,
            "Access-Control-Max-Age": _PREFLIGHT_MAX_AGE,
        }
        asked_headers = request.headers.get("Access-Control-Request-Headers")
        if asked_headers:
            headers["Access-Control-Allow-Headers"] = asked_headers
        return web.Response(status=204, headers=headers)

    return cors


def cors_response_headers(origins: Sequence[str]) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """An `on_response_prepare` hook adding the CORS headers for allowed origins."""
    allows = _allows(origins)

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get("Origin")
        if origin is None or not allows(origin) or "Access-Control-Allow-Origin" in response.headers:
            return
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers.add("Vary", "Origin")

    return add_headers
