"""Serving a new model as soon as it appears: `bot run` on a folder of models watches it.

Every `interval` seconds the watcher stats the folder; only when the folder changed (a model was renamed into
it, or one was removed) does it look for the newest model there, as `bot run` does at start. When that newest
model is another one than before, it is loaded and its actions are built in a worker thread, then it is served
from the next turn on (`Runtime`: turns in flight finish with the model they started with). A model that cannot
be loaded is logged as an error and the one being served stays.

A model must appear whole: `bot train` writes it into a hidden folder and renames it into place, and hidden
folders are never read. Copy a model in the same way (into `models/.incoming`, then `mv` it to its name).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from pathlib import Path
from typing import Final

from aiohttp import web

from bot.errors import ConductorError
from bot.model import find_model
from bot.runtime import Runtime

__all__ = ["DEFAULT_WATCH_INTERVAL", "ModelWatcher"]

logger = logging.getLogger(__name__)

DEFAULT_WATCH_INTERVAL: Final = 2.0
"""Seconds between two looks at the folder of models."""

_RECENT_CHANGE_NS: Final = 2_000_000_000
"""A folder changed this recently is listed again even if its stamp did not change: a second change within
the file system's timestamp granularity would leave the stamp as it was."""

_ModelId = tuple[str, int]
"""A model folder's name and inode: a model replaced under the same name is another model."""


class ModelWatcher:
    """Serves the newest model of `folder` whenever it changes (see the module docstring)."""

    def __init__(self, runtime: Runtime, folder: Path, interval: float = DEFAULT_WATCH_INTERVAL) -> None:
        self.runtime = runtime
        self.folder = folder
        self.interval = interval
        self._stamp: tuple[int, int] | None = None
        self._newest: _ModelId | None = _model_id(runtime.model.path)

    def cleanup_context(self) -> Callable[[web.Application], AsyncIterator[None]]:
        """For `app.cleanup_ctx`: watch while the application runs."""

        async def watching(_: web.Application) -> AsyncIterator[None]:
            logger.info("Watching %s for new models (every %g s)", self.folder, self.interval)
            task = asyncio.create_task(self.watch(), name=f"watch {self.folder} for new models")
            yield
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

        return watching

    async def watch(self) -> None:
        """Look every `interval` seconds until cancelled; nothing that goes wrong in one look stops it."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.look()
            except Exception:
                logger.exception("Looking for a new model in %s failed; looking again in %g s",
                                 self.folder, self.interval)

    async def look(self) -> bool:
        """One look at the folder; True if a new model is served now."""
        try:
            stat = os.stat(self.folder)
        except OSError:
            return False
        stamp = (stat.st_mtime_ns, stat.st_ino)
        if stamp == self._stamp and time.time_ns() - stat.st_mtime_ns > _RECENT_CHANGE_NS:
            return False
        self._stamp = stamp
        newest = await asyncio.to_thread(self._find_newest)
        newest_id = _model_id(newest) if newest is not None else None
        if newest is None or newest_id is None or newest_id == self._newest:
            return False
        self._newest = newest_id
        if newest_id == _model_id(self.runtime.model.path):
            return False  # already served (PUT /model chose it)
        return await self._serve(newest)

    def _find_newest(self) -> Path | None:
        try:
            return find_model(self.folder)
        except ConductorError:
            return None  # no model left in the folder: keep serving the loaded one

    async def _serve(self, path: Path) -> bool:
        serving = self.runtime.model.path.name
        try:
            model = await self.runtime.serve_model_from(path)
        except ConductorError as error:
            logger.error("The new model %s cannot be served; still serving %s:\n%s", path.name, serving, error)
            return False
        logger.info("Now serving the new model %s (was %s)", model.path.name, serving)
        return True


def _model_id(path: Path) -> _ModelId | None:
    try:
        return path.name, path.stat().st_ino
    except OSError:
        return None
