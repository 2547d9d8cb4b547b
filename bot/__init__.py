"""Conductor: an async, multi-channel chatbot runtime that reads Rasa 3.x projects."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("conductor-bot")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
