"""Channels by name: the built-in ones, those third-party packages declare, and Rasa-style `module.Class` paths.

credentials.yml names each channel the server runs:

    rest:                                 # built in: rest, socketio, websocket, slack, telegram
    slack:
      slack_token: ${SLACK_TOKEN}
    my_company.channels.TeamsInput:        # a module.Class path, as in Rasa
      app_id: ...

A package adds channels through the entry-point group `bot.channels` (name = "package.module:ChannelClass",
or a module with a `CHANNEL` attribute). Each channel module of Conductor names its `InputChannel` subclass in
a module-level `CHANNEL`; modules are imported only when a channel is used, so a server without Slack never
imports the Slack SDK.

Rasa's channels that Conductor does not have (facebook, twilio, ...) and Rasa X's `rasa:` login section are
skipped with a warning, so a Rasa project's credentials.yml works unchanged; any other unknown name is an
error at its line.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Final, Protocol, runtime_checkable

from aiohttp import web

from bot.config import Credentials
from bot.errors import ConductorError, Problem, did_you_mean
from channels.base import InputChannel, OnNewMessage

__all__ = [
    "BUILTIN_CHANNELS",
    "ENTRY_POINT_GROUP",
    "AttachesToApp",
    "available_channels",
    "channel_class",
    "channels_from_credentials",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP: Final = "bot.channels"

BUILTIN_CHANNELS: Final[Mapping[str, str]] = {
    "rest": "channels.rest",
    "socketio": "channels.socketio",
    "websocket": "channels.websocket",
    "slack": "channels.slack",
    "telegram": "channels.telegram",
}
"""Channel name -> the module whose `CHANNEL` attribute is the channel's class."""

RASA_ONLY_CHANNELS: Final[Mapping[str, str]] = {
    "rasa": "the Rasa X / Rasa Enterprise login, not a chat channel",
    "callback": "Rasa's callback channel",
    "cmdline": "Rasa's command-line channel (use `bot shell`)",
    "console": "Rasa's command-line channel (use `bot shell`)",
    "facebook": "Facebook Messenger",
    "botframework": "Microsoft Bot Framework",
    "mattermost": "Mattermost",
    "rocketchat": "Rocket.Chat",
    "twilio": "Twilio",
    "twilio_voice": "Twilio Voice",
    "webexteams": "Webex Teams",
    "hangouts": "Google Hangouts Chat",
    "audiocodes": "AudioCodes",
}
"""Rasa's built-in channels that Conductor does not provide, with what they are."""


@runtime_checkable
class AttachesToApp(Protocol):
    """A channel that also serves routes outside `/webhooks/<prefix>/` (socket.io at `/socket.io/`): the
    server calls `attach(app, on_new_message)` while it builds the application."""

    def attach(self, app: web.Application, on_new_message: OnNewMessage) -> None: ...


def _entry_points() -> dict[str, EntryPoint]:
    return {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}


def available_channels() -> dict[str, str]:
    """Every channel name that can be used, with where it comes from (`built-in` or a distribution)."""
    found = {name: "built-in" for name in BUILTIN_CHANNELS}
    for name, point in _entry_points().items():
        found.setdefault(name, point.dist.name if point.dist is not None else point.value)
    return found


def _as_channel_class(found: Any, what: str, where: Problem) -> type[InputChannel]:
    """`found` (a class, or a module with `CHANNEL`) as an `InputChannel` subclass."""
    candidate = getattr(found, "CHANNEL", found) if not isinstance(found, type) else found
    if isinstance(candidate, type) and issubclass(candidate, InputChannel):
        return candidate
    raise ConductorError(
        Problem(
            f"the channel {what} is not an input channel (a subclass of channels.base.InputChannel)",
            where.file,
            where.line,
            "Point it at the channel's class, or give its module a CHANNEL attribute naming the class.",
        )
    )


def _import(module_name: str, what: str, where: Problem) -> Any:
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise ConductorError(
            Problem(
                f"the channel {what} cannot be loaded: {exc}",
                where.file,
                where.line,
                "Install the package that provides it (and its dependencies), or remove the channel from "
                "credentials.yml.",
            )
        ) from None


def channel_class(name: str, file: str | None = None, line: int | None = None) -> type[InputChannel] | None:
    """The class of the channel `name`; None (with a warning) for a Rasa channel Conductor does not have.

    `file` and `line` place errors (an unknown name, a class that cannot be imported) in credentials.yml.
    """
    where = Problem("", file, line)
    if name in BUILTIN_CHANNELS:
        return _as_channel_class(_import(BUILTIN_CHANNELS[name], f"'{name}'", where), f"'{name}'", where)
    point = _entry_points().get(name)
    if point is not None:
        try:
            loaded = point.load()
        except Exception as exc:
            raise ConductorError(
                Problem(
                    f"the channel '{name}' (entry point {point.value}) cannot be loaded: {exc}",
                    file,
                    line,
                    "Reinstall the package that provides it, or remove the channel from credentials.yml.",
                )
            ) from None
        return _as_channel_class(loaded, f"'{name}' ({point.value})", where)
    if name in RASA_ONLY_CHANNELS:
        place = f"{file}:{line}: " if file and line else f"{file}: " if file else ""
        logger.warning(
            "%sthe channel '%s' (%s) is not available in Conductor; it is ignored. Conductor's channels: %s.",
            place,
            name,
            RASA_ONLY_CHANNELS[name],
            ", ".join(available_channels()),
        )
        return None
    if "." in name:
        module_name, _, class_name = name.rpartition(".")
        module = _import(module_name, f"'{name}'", where)
        if not hasattr(module, class_name):
            raise ConductorError(
                Problem(
                    f"the channel '{name}': module '{module_name}' has no class named '{class_name}'",
                    file,
                    line,
                    "Check the spelling of the module.Class path.",
                )
            )
        return _as_channel_class(getattr(module, class_name), f"'{name}'", where)
    known = list(available_channels())
    hint = did_you_mean(name, known, otherwise=f"Use one of: {', '.join(known)}, or a module.Class path.")
    raise ConductorError(Problem(f"there is no channel named '{name}'", file, line, hint))


def channels_from_credentials(credentials: Credentials) -> list[InputChannel]:
    """The channels credentials.yml asks for, built from their sections. When it names none that Conductor
    runs (a missing file included), the `rest` channel, as Rasa does. Every problem is reported at once."""
    channels: list[InputChannel] = []
    problems: list[Problem] = []
    prefixes: dict[str, str] = {}
    for name, settings in credentials.items():
        line = credentials.line_of(name)
        try:
            found = channel_class(name, credentials.file, line)
            if found is None:
                continue
            channel = found.from_credentials(settings)
        except ConductorError as error:
            problems.extend(problem.at(credentials.file, line) for problem in error.problems)
            continue
        prefix = channel.url_prefix()
        if prefix in prefixes:
            problems.append(
                Problem(
                    f"the channels '{prefixes[prefix]}' and '{name}' both serve /webhooks/{prefix}/",
                    credentials.file,
                    line,
                    "Keep one of them.",
                )
            )
            continue
        prefixes[prefix] = name
        channels.append(channel)
    if problems:
        raise ConductorError(problems)
    if not channels:
        from channels.rest import RestInput

        channels.append(RestInput())
    return channels
