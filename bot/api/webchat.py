"""The web chat widget's files (`channels/webchat/`), served at `/webchat/` and, for browsers, at `/`.

`GET /` answers a browser (one that accepts `text/html`) with the widget's `index.html` and anything else
with the hello text Rasa's `/` gives; files the page refers to relatively (`widget.js`) are served from `/`
too, so the page works at either address.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from aiohttp import web

import channels.base
from bot.api.service_routes import hello

__all__ = ["WEBCHAT_DIR", "add_webchat_routes"]

WEBCHAT_DIR: Final = Path(channels.base.__file__).resolve().parent / "webchat"

_ASSET_PATTERN: Final = r"[^/]+\.(?:js|mjs|css|map|png|jpg|jpeg|gif|svg|webp|ico|woff|woff2|ttf)"
"""Files at the root that may be the widget's; `/openapi.json` and the API's paths never match."""


def add_webchat_routes(app: web.Application, folder: Path) -> None:
    index = folder / "index.html"

    async def root(request: web.Request) -> web.StreamResponse:
        if index.is_file() and "text/html" in request.headers.get("Accept", ""):
            return web.FileResponse(index)
        return await hello(request)

    async def page(request: web.Request) -> web.StreamResponse:
        if not index.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(index)

    async def asset(request: web.Request) -> web.StreamResponse:
        path = folder / request.match_info["asset"]
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    app.router.add_get("/", root)
    app.router.add_get("/webchat", page)
    app.router.add_get("/webchat/", page)
    app.router.add_static("/webchat/", folder, follow_symlinks=False)
    app.router.add_get("/{asset:" + _ASSET_PATTERN + "}", asset)
