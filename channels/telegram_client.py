"""The python-telegram-bot client as the channel uses it: built for the configured server, quiet about the
token, and patient with Telegram's rate limits.

The bot token is part of every Bot API URL (`<server>/bot<token>/<method>`), and both httpx (at INFO, "HTTP
Request: POST https://...") and PTB (at DEBUG) log those URLs. `make_bot` therefore puts a filter on those
loggers, and on the channel's own, that replaces any bot token in a log record with `<token>` before any
handler sees it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import ssl
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import httpx
from telegram import Bot
from telegram.error import RetryAfter
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from channels.telegram_settings import TelegramSettings

__all__ = [
    "MAX_RATE_LIMIT_WAIT",
    "RATE_LIMIT_ATTEMPTS",
    "call_with_rate_limit_retries",
    "make_bot",
    "protected_logger",
    "redact",
    "retry_after_seconds",
]

_T = TypeVar("_T")

RATE_LIMIT_ATTEMPTS = 3
"""How many times one Bot API call is tried when Telegram answers 429 Too Many Requests."""
MAX_RATE_LIMIT_WAIT = 30.0
"""The longest wait (seconds) Conductor accepts from a 429's `retry_after`; a longer one fails the call."""

_TOKEN_PATTERN = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")
_known_tokens: set[str] = set()
_THIRD_PARTY_LOGGERS = ("httpx", "telegram.Bot", "telegram.request.BaseRequest", "telegram.request.HTTPXRequest")


def redact(text: str) -> str:
    """`text` with every bot token (the configured ones, and anything shaped like one) replaced."""
    for token in _known_tokens:
        text = text.replace(token, "<token>")
    return _TOKEN_PATTERN.sub("<token>", text)


class _TokenRedaction(logging.Filter):
    """Rewrites a record whose message or traceback holds a bot token. It never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_REDACTION = _TokenRedaction()


def protected_logger(name: str) -> logging.Logger:
    """The logger `name`, with the token filter on it (a logger's filters see only its own records)."""
    found = logging.getLogger(name)
    if _REDACTION not in found.filters:
        found.addFilter(_REDACTION)
    return found


def make_bot(settings: TelegramSettings) -> Bot:
    """A PTB `Bot` for the configured Bot API server. No network call is made here."""
    _known_tokens.add(settings.access_token)
    for name in _THIRD_PARTY_LOGGERS:
        protected_logger(name)
    # The long-poll request gets its own connection, so replies never wait behind a pending getUpdates.
    tls = {"verify": _tls_context()}
    return Bot(
        settings.access_token,
        base_url=f"{settings.base_url}/bot{{token}}",
        base_file_url=f"{settings.base_url}/file/bot{{token}}",
        request=HTTPXRequest(connection_pool_size=64, read_timeout=15.0, write_timeout=15.0, httpx_kwargs=tls),
        get_updates_request=HTTPXRequest(connection_pool_size=1, httpx_kwargs=tls),
    )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every client (httpx would load the CA bundle for each, ~0.1 s a time)."""
    return httpx.create_ssl_context()


def retry_after_seconds(error: RetryAfter) -> float:
    """The wait a 429 asked for, whichever type this PTB version uses for it (int, or timedelta from v23)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def call_with_rate_limit_retries(
    call: Callable[[], Awaitable[_T]],
    what: str,
    *,
    attempts: int = RATE_LIMIT_ATTEMPTS,
    max_wait: float = MAX_RATE_LIMIT_WAIT,
) -> _T:
    """Run one Bot API call, waiting out 429 answers as Telegram asks, at most `attempts` times in all.

    A wait longer than `max_wait` is not waited for: the `RetryAfter` is raised at once, like any other
    error from the call, for the caller to report.
    """
    logger = protected_logger(__name__)
    attempt = 1
    while True:
        try:
            return await call()
        except RetryAfter as error:
            wait = retry_after_seconds(error)
            if attempt >= attempts or wait > max_wait:
                raise
            attempt += 1
            logger.warning(
                "Telegram rate limit on %s: retrying in %.0f s (attempt %d of %d)", what, wait, attempt, attempts
            )
            await asyncio.sleep(wait)
