"""The Telegram channel's settings, read from its section of credentials.yml.

Rasa's keys (`access_token`, `verify`, `webhook_url`) keep their meaning; Conductor adds `mode`
(`webhook` or `polling`), `secret_token` (checked on every webhook request), `base_url` (a self-hosted Bot API
server, or a local stand-in in tests) and `start_message` (what Telegram's `/start` command means to the bot).
Everything is checked before any network call, and every mistake is reported at once, at its file and line.
Secret values never appear in a message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from bot.errors import ConductorError, Problem, Severity, did_you_mean

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_START_MESSAGE", "TelegramSettings"]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.telegram.org"
DEFAULT_START_MESSAGE = "/greet"
"""`/start` becomes this text: Rasa's `/intent` form, so the base assistant's `greet` intent answers it."""

Mode = Literal["webhook", "polling"]

_KNOWN_KEYS = ("access_token", "verify", "webhook_url", "secret_token", "mode", "base_url", "start_message")
_TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_SECRET_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_USERNAME_SHAPE = re.compile(r"[A-Za-z0-9_]{1,64}")
_EXAMPLE = (
    "telegram:\n    access_token: ${TELEGRAM_TOKEN}\n    verify: my_conductor_bot\n"
    "    webhook_url: https://bot.example.com/webhooks/telegram/webhook"
)


@dataclass(frozen=True)
class TelegramSettings:
    """The checked settings. `verify` is the bot's username without `@`, when the file gives one."""

    access_token: str = field(repr=False)
    mode: Mode = "webhook"
    webhook_url: str | None = None
    secret_token: str | None = field(default=None, repr=False)
    verify: str | None = None
    base_url: str = DEFAULT_BASE_URL
    start_message: str = DEFAULT_START_MESSAGE
    file: str | None = None
    """credentials.yml, to place problems found later (a token Telegram rejects) at a line."""
    key_lines: Mapping[str, int] = field(default_factory=dict, repr=False)

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> TelegramSettings:
        """Check the `telegram:` section of credentials.yml; raise one `ConductorError` with every problem."""
        reader = _SectionReader(credentials or {})
        token = reader.text("access_token", secret=True)
        if token is None:
            reader.add(
                "the 'telegram' section of credentials.yml needs 'access_token', the bot token from @BotFather",
                None,
                f"Add it to the channel's settings, for example:\n  {_EXAMPLE}",
            )
        elif not _TOKEN_SHAPE.fullmatch(token):
            reader.add(
                "'access_token' does not look like a Telegram bot token (digits, a colon, then letters, "
                "digits, '_' or '-')",
                "access_token",
                "Copy the whole token @BotFather gave you, e.g. from /mybots > API Token.",
            )
        mode = reader.text("mode") or "webhook"
        if mode not in ("webhook", "polling"):
            reader.add(
                f"'mode' is {mode!r}, but it can only be 'webhook' or 'polling'",
                "mode",
                "Use 'webhook' in production and 'polling' for development without a public URL.",
            )
        base_url = _api_root(reader, reader.text("base_url"))
        webhook_url = _webhook_url(reader, reader.text("webhook_url"), mode, base_url)
        secret_token = reader.text("secret_token", secret=True)
        if secret_token is not None and not _SECRET_TOKEN_SHAPE.fullmatch(secret_token):
            reader.add(
                "'secret_token' may only hold 1 to 256 letters, digits, '_' and '-' (Telegram's rule)",
                "secret_token",
                "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
            )
        verify = reader.text("verify")
        if verify is not None:
            verify = verify.removeprefix("@")
            if not _USERNAME_SHAPE.fullmatch(verify):
                reader.add(
                    f"'verify' should be the bot's username (letters, digits and '_'), not {verify!r}",
                    "verify",
                    "Write the username @BotFather gave the bot, e.g. my_conductor_bot.",
                )
        start_message = reader.text("start_message") or DEFAULT_START_MESSAGE
        reader.warn_unknown_keys()
        reader.raise_problems()
        assert token is not None  # reported above otherwise
        return cls(
            access_token=token,
            mode="polling" if mode == "polling" else "webhook",
            webhook_url=webhook_url,
            secret_token=secret_token,
            verify=verify,
            base_url=base_url,
            start_message=start_message,
            file=reader.file,
            key_lines=reader.key_lines(),
        )

    @property
    def custom_server(self) -> bool:
        """Whether the Bot API is served by something other than Telegram's cloud (self-hosted, stand-in)."""
        return self.base_url != DEFAULT_BASE_URL

    def problem(self, message: str, key: str | None = None, hint: str | None = None) -> Problem:
        """A problem found after loading (e.g. when Telegram rejects a value), placed at the key's line."""
        line = self.key_lines.get(key) if key is not None else None
        return Problem(message, self.file, line, hint)


class _SectionReader:
    """Reads values from one credentials section and collects the problems, each at its file and line."""

    def __init__(self, section: Mapping[str, Any]) -> None:
        self.section = section
        self.file: str | None = getattr(section, "file", None)
        self.problems: list[Problem] = []

    def line(self, key: str | None) -> int | None:
        line_of = getattr(self.section, "line_of", None)
        if key is not None and callable(line_of):
            found = line_of(key)
            return found if isinstance(found, int) else None
        line = getattr(self.section, "line", None)
        return line if isinstance(line, int) else None

    def key_lines(self) -> dict[str, int]:
        return {key: line for key in _KNOWN_KEYS if (line := self.line(key)) is not None and key in self.section}

    def add(self, message: str, key: str | None, hint: str, severity: Severity = Severity.ERROR) -> None:
        self.problems.append(Problem(message, self.file, self.line(key), hint, severity))

    def text(self, key: str, *, secret: bool = False) -> str | None:
        """The value of `key` as text; None when it is missing or empty. Numbers are read as text."""
        value = self.section.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return value.strip() or None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        shown = "" if secret else f", not {type(value).__name__} {value!r}"
        self.add(f"'{key}' should be text{shown}", key, f"Write it as one line of text, for example:\n  {_EXAMPLE}")
        return None

    def warn_unknown_keys(self) -> None:
        for key in self.section:
            if key in _KNOWN_KEYS:
                continue
            known = f"The known keys are: {', '.join(_KNOWN_KEYS)}."
            hint = did_you_mean(key, _KNOWN_KEYS, otherwise=known, cutoff=0.7)
            logger.warning(
                "%s", Problem(f"'{key}' is not a Telegram channel setting; it is ignored", self.file,
                              self.line(key), hint, Severity.WARNING)
            )

    def raise_problems(self) -> None:
        if self.problems:
            raise ConductorError(sorted(self.problems, key=lambda p: p.line or 0))


def _api_root(reader: _SectionReader, base_url: str | None) -> str:
    """The Bot API server's root URL. PTB's own form (`.../bot`) is accepted and reduced to the root."""
    if base_url is None:
        return DEFAULT_BASE_URL
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or "{" in base_url:
        reader.add(
            f"'base_url' should be the root URL of a Bot API server, like http://localhost:8081, not {base_url!r}",
            "base_url",
            "Leave 'base_url' out to use Telegram's cloud API; the bot token is added by Conductor.",
        )
        return DEFAULT_BASE_URL
    root = base_url.rstrip("/")
    return root.removesuffix("/bot") if root.endswith("/bot") else root


def _webhook_url(reader: _SectionReader, url: str | None, mode: str, base_url: str) -> str | None:
    if url is None:
        if mode == "webhook":
            reader.add(
                "the 'telegram' section of credentials.yml needs 'webhook_url' in 'webhook' mode: the public "
                "HTTPS address of /webhooks/telegram/webhook",
                "mode" if "mode" in reader.section else None,
                "Set webhook_url: https://<your host>/webhooks/telegram/webhook, or use 'mode: polling' "
                "while developing without a public URL.",
            )
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        reader.add(
            f"'webhook_url' should be a full URL starting with https://, not {url!r}",
            "webhook_url",
            "Write the public address of this server's Telegram webhook, e.g. "
            "https://bot.example.com/webhooks/telegram/webhook",
        )
    elif parts.scheme == "http" and base_url == DEFAULT_BASE_URL and mode == "webhook":
        reader.add(
            "'webhook_url' uses http://, but Telegram's cloud API sends updates only to https:// URLs",
            "webhook_url",
            "Put the server behind HTTPS (ports 443, 80, 88 or 8443), or use 'mode: polling' for development.",
        )
    return url
