"""Conductor: an async, multi-channel chatbot runtime that reads Rasa 3.x projects."""

from importlib.metadata import PackageNotFoundError, version

from bot import compiled

compiled.select()  # before any compiled module is imported: a stale build must not run

try:
    __version__ = version("conductor-bot")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""How Conductor's log lines look, whether `bot run` or `bot.server.run` sets up logging."""

__all__ = ["LOG_FORMAT", "__version__"]
