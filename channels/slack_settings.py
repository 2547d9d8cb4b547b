"""The Slack channel's settings, read from its section of credentials.yml.

The keys are Rasa's (`slack_token`, `slack_signing_secret`, `slack_channel`, `use_threads`,
`conversation_granularity`, `errors_ignore_retry`, `proxy`, `slack_retry_reason_header`,
`slack_retry_number_header`) plus two of Conductor's: `app_token` (Socket Mode) and `api_url` (the Web API's
base URL, for GovSlack or a local stand-in). Every problem in the section is reported at once, at the line of
its key; secrets never appear in messages or in `repr()`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from bot.errors import ConductorError, Problem, Severity, did_you_mean

__all__ = ["DEFAULT_API_URL", "RETRY_REASONS", "Granularity", "SlackSettings"]

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"

Granularity = Literal["sender", "channel", "thread"]
_GRANULARITIES: tuple[Granularity, ...] = ("sender", "channel", "thread")

RETRY_REASONS = ("http_timeout", "too_many_redirects", "ssl_error", "connection_failed", "http_error",
                 "unknown_error")
"""The values Slack sends in `X-Slack-Retry-Reason` (Events API docs, "Failure conditions")."""

_EXAMPLE = (
    "slack:\n  slack_token: ${SLACK_BOT_TOKEN}\n  slack_signing_secret: ${SLACK_SIGNING_SECRET}"
)
_TOKEN_HINT = (
    "Use the app's Bot User OAuth Token (xoxb-...) from 'OAuth & Permissions' on api.slack.com/apps, "
    "preferably from the environment: slack_token: ${SLACK_BOT_TOKEN}"
)
_SECRET_HINT = (
    "Use the Signing Secret from 'Basic Information' > 'App Credentials' on api.slack.com/apps, "
    "preferably from the environment: slack_signing_secret: ${SLACK_SIGNING_SECRET}. "
    "With Socket Mode (app_token) no signing secret is needed."
)
_APP_TOKEN_HINT = (
    "Use an app-level token (xapp-...) with the connections:write scope, from 'Basic Information' > "
    "'App-Level Tokens' on api.slack.com/apps; leave app_token out to receive events over HTTP."
)


@dataclass(frozen=True)
class SlackSettings:
    """What the Slack channel needs to know; built with `from_credentials`."""

    slack_token: str = field(repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)
    slack_channel: str | None = None
    use_threads: bool = False
    conversation_granularity: Granularity = "sender"
    errors_ignore_retry: tuple[str, ...] = ("http_timeout",)
    api_url: str = DEFAULT_API_URL
    proxy: str | None = field(default=None, repr=False)
    retry_reason_header: str = "X-Slack-Retry-Reason"
    retry_number_header: str = "X-Slack-Retry-Num"
    source: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    """The credentials section the settings came from, to place later problems at its lines."""

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    def problem(self, message: str, key: str | None = None, hint: str | None = None) -> Problem:
        """A problem placed at `key` in credentials.yml, when the settings were read from that file."""
        return _problem_at(self.source, message, key, hint)

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> SlackSettings:
        """Check the `slack` section of credentials.yml; all its problems are raised as one `ConductorError`."""
        if not credentials:
            raise ConductorError.single(
                "the slack channel has no settings: it needs slack_token and slack_signing_secret "
                "(or app_token for Socket Mode)",
                _file_of(credentials),
                getattr(credentials, "line", None),
                f"Add them to credentials.yml, for example:\n{_EXAMPLE}",
            )
        reader = _SectionReader(credentials)
        app_token = reader.text("app_token", _APP_TOKEN_HINT)
        if app_token is not None and not app_token.startswith("xapp-"):
            reader.report("'app_token' should be an app-level token starting with xapp-", "app_token",
                          _APP_TOKEN_HINT)
        token = reader.text("slack_token", _TOKEN_HINT, required=True)
        if token is not None and token.startswith("xapp-"):
            reader.report("'slack_token' holds an app-level token (xapp-...), not a bot token", "slack_token",
                          "Put the xapp- token under app_token and the Bot User OAuth Token (xoxb-...) under "
                          "slack_token.")
        secret = reader.text("slack_signing_secret", _SECRET_HINT, required=app_token is None)
        settings = cls(
            slack_token=token or "",
            slack_signing_secret=secret,
            app_token=app_token,
            slack_channel=reader.channel_id(),
            use_threads=reader.boolean("use_threads"),
            conversation_granularity=reader.granularity(),
            errors_ignore_retry=reader.retry_reasons(),
            api_url=reader.url("api_url") or DEFAULT_API_URL,
            proxy=reader.url("proxy"),
            retry_reason_header=reader.text("slack_retry_reason_header", None) or "X-Slack-Retry-Reason",
            retry_number_header=reader.text("slack_retry_number_header", None) or "X-Slack-Retry-Num",
            source=credentials,
        )
        reader.warn_unknown_keys()
        reader.raise_problems()
        return settings


_KNOWN_KEYS = (
    "slack_token", "slack_signing_secret", "app_token", "slack_channel", "use_threads",
    "conversation_granularity", "errors_ignore_retry", "api_url", "proxy", "slack_retry_reason_header",
    "slack_retry_number_header",
)


def _problem_at(section: Mapping[str, Any] | None, message: str, key: str | None, hint: str | None) -> Problem:
    """A problem at `key` of a `ChannelCredentials` section (which knows its file and lines), else unplaced."""
    place = getattr(section, "problem", None)
    if callable(place):
        return cast(Problem, place(message, key, hint))
    return Problem(message, hint=hint)


def _file_of(credentials: Mapping[str, Any] | None) -> str | None:
    file = getattr(credentials, "file", None)
    return file if isinstance(file, str) else None


class _SectionReader:
    """Reads typed values out of one credentials section, collecting problems instead of stopping."""

    def __init__(self, section: Mapping[str, Any]) -> None:
        self.section = section
        self.problems: list[Problem] = []

    def report(self, message: str, key: str | None, hint: str | None,
               severity: Severity = Severity.ERROR) -> None:
        found = _problem_at(self.section, message, key, hint)
        if severity is not Severity.ERROR:
            found = Problem(found.message, found.file, found.line, found.hint, severity)
        self.problems.append(found)

    def text(self, key: str, hint: str | None, required: bool = False) -> str | None:
        value = self.section.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                state = "is empty" if key in self.section else "is missing"
                self.report(f"'{key}' {state}: the slack channel needs it", key if key in self.section else None,
                            hint)
            return None
        if not isinstance(value, str):
            self.report(f"'{key}' should be text", key, hint)
            return None
        return value.strip()

    def channel_id(self) -> str | None:
        hint = "Use the channel's id (channel details > About, at the bottom), such as C0123456789."
        value = self.text("slack_channel", hint)
        if value is not None and value.startswith("#"):
            self.report(f"'slack_channel' names the channel {value!r}; Slack's events carry channel ids, so "
                        "messages in it are only answered when they mention the bot", "slack_channel", hint,
                        Severity.WARNING)
        return value

    def boolean(self, key: str) -> bool:
        value = self.section.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            shown = f"the text {value!r}" if isinstance(value, str) else type(value).__name__
            self.report(f"'{key}' should be true or false, not {shown}", key, f"Write {key}: true or {key}: false.")
            return False
        return value

    def granularity(self) -> Granularity:
        value = self.section.get("conversation_granularity")
        if value is None:
            return "sender"
        if value not in _GRANULARITIES:
            self.report(
                f"'conversation_granularity' should be sender, channel or thread, not {value!r}",
                "conversation_granularity",
                "sender: one conversation per user; channel: per user and channel; "
                "thread: per user, channel and thread.",
            )
            return "sender"
        return cast(Granularity, value)

    def retry_reasons(self) -> tuple[str, ...]:
        value = self.section.get("errors_ignore_retry")
        if value is None or value == []:
            return ("http_timeout",)
        hint = "Write a list of Slack retry reasons, for example: errors_ignore_retry: [http_timeout]"
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.report("'errors_ignore_retry' should be a list of retry reasons", "errors_ignore_retry", hint)
            return ("http_timeout",)
        for reason in value:
            if reason not in RETRY_REASONS:
                self.report(
                    f"'errors_ignore_retry' names {reason!r}, which is not a reason Slack sends",
                    "errors_ignore_retry",
                    did_you_mean(reason, RETRY_REASONS, otherwise=f"Slack's reasons are: {', '.join(RETRY_REASONS)}."),
                    Severity.WARNING,
                )
        return tuple(value)

    def url(self, key: str) -> str | None:
        value = self.text(key, None)
        if value is not None and not value.startswith(("http://", "https://")):
            self.report(f"'{key}' should be an http:// or https:// URL", key,
                        "For example api_url: https://slack.com/api/" if key == "api_url" else None)
            return None
        return value

    def warn_unknown_keys(self) -> None:
        for key in self.section:
            if key in _KNOWN_KEYS:
                continue
            self.report(
                f"'{key}' is not a setting of the slack channel; it is ignored",
                str(key),
                did_you_mean(key, _KNOWN_KEYS, otherwise=f"The known keys are: {', '.join(_KNOWN_KEYS)}.", cutoff=0.8),
                Severity.WARNING,
            )

    def raise_problems(self) -> None:
        errors = [p for p in self.problems if p.severity is Severity.ERROR]
        if errors:
            raise ConductorError(sorted(self.problems, key=lambda p: p.line or 0))
        for warning in self.problems:
            logger.warning("%s", warning)
