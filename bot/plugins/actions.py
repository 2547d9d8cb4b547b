"""Plugin actions as the dialogue engine's actions: a timeout, and a failure that never breaks the conversation.

`GuardedAction` is the engine `Action` every action from outside the core runs as (plugin actions, rasa-sdk
actions in-process, actions on an action server): it runs `execute` within its timeout; an action that raises
or times out is logged with its provider and answered with `utter_default` (or a polite built-in text when
the domain has none), and the processor carries on with the next prediction. `ActionExecutionRejection`
passes through: refusing to run is part of the protocol (forms), not a failure. A failed `validate_<form>`
(or `action_validate_slot_mappings`, which fails silently) also rejects the values it was asked to check, so
nothing unvalidated is kept.

Messages an action sends have rasa-sdk's shape (`Dispatcher`, an action server's `responses`);
`bot_events_from_messages` renders them into `bot` events as Rasa does: `response` names a domain response,
rendered with the message's extra keys as placeholder values, and buttons are appended to the response's own.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import importlib.util
import inspect
import logging
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from bot.dialogue.actions import Action, ActionContext, ActionExecutionRejection
from bot.dialogue.events import Event, SlotSet
from bot.dialogue.responses import bot_utterance
from bot.dialogue.tracker import DialogueStateTracker
from bot.errors import ConductorError
from bot.plugins.discovery import DiscoveredPlugin
from bot.plugins.sdk import ActionContext as PluginActionContext

if TYPE_CHECKING:  # aiohttp is imported when an action first needs HTTP: `bot train` never does
    import aiohttp
from bot.plugins.sdk import (
    DecoratedAction,
    Dispatcher,
    PluginAction,
    PluginActionFunction,
    PluginInfo,
    slots_to_validate,
)
from bot.project.domain import Domain

__all__ = [
    "DEFAULT_ACTION_TIMEOUT",
    "FALLBACK_TEXT",
    "ActionFailed",
    "FoundAction",
    "GuardedAction",
    "PluginActionAdapter",
    "SharedHttp",
    "actions_in_module",
    "bot_events_from_messages",
    "checked_events",
    "fallback_events",
    "import_plugin_module",
    "is_validation_action",
]

logger = logging.getLogger(__name__)

DEFAULT_ACTION_TIMEOUT: Final = 10.0
"""Seconds an action may take before it is given up and answered with the fallback."""
FALLBACK_TEXT: Final = "Sorry, something went wrong on my side. Please try again in a moment."
"""Said when an action fails and the domain has no `utter_default`."""
FALLBACK_RESPONSE: Final = "utter_default"
_VALIDATE_SLOT_MAPPINGS: Final = "action_validate_slot_mappings"
_MESSAGE_KEYS: Final = frozenset(
    {"text", "buttons", "elements", "custom", "image", "attachment", "quick_replies", "response", "template"}
)
_INSTANCE_PACKAGE: Final = "conductor_instance_plugins"
"""The package folder plugins are imported under (they are not on sys.path)."""


class ActionFailed(Exception):
    """A failure that is no bug in Conductor (an action server that is down or answers an error): logged as one
    line, without a traceback, before the fallback."""


class SharedHttp:
    """One aiohttp session for the actions of a registry, opened on first use in the running event loop
    (and opened again if a later call runs in another loop). `close` at shutdown."""

    def __init__(self, timeout: float = DEFAULT_ACTION_TIMEOUT) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            import aiohttp

            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
            self._loop = loop
        return self._session

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()


# --- rendering what an action says ---------------------------------------------------------------------------


async def bot_events_from_messages(
    messages: Sequence[Mapping[str, Any]], tracker: DialogueStateTracker, context: ActionContext
) -> list[Event]:
    """The `bot` events for rasa-sdk-shaped messages (see the module docstring)."""
    events: list[Event] = []
    for raw in messages:
        message = dict(raw)
        response = message.pop("response", None) or message.pop("template", None)
        message.pop("template", None)
        draft: dict[str, Any] = {}
        if response:
            values = {key: value for key, value in message.items() if key not in _MESSAGE_KEYS}
            generated = await context.nlg.generate(str(response), tracker, context.channel, **values)
            if generated is None:
                logger.error(
                    "conversation %s: an action asked for the response '%s', which the domain does not have "
                    "(or none of its variations fits); nothing is sent for it",
                    tracker.sender_id,
                    response,
                )
                continue
            draft = {**generated, "utter_action": response}
        buttons = message.pop("buttons", None) or []
        if buttons:
            draft["buttons"] = [*(draft.get("buttons") or []), *buttons]
        draft.update({key: value for key, value in message.items() if value})
        if draft:
            events.append(bot_utterance(draft))
    return events


def is_validation_action(name: str) -> bool:
    return name.startswith("validate_") or name == _VALIDATE_SLOT_MAPPINGS


async def fallback_events(action_name: str, tracker: DialogueStateTracker, context: ActionContext) -> list[Event]:
    """What the user gets instead of a failed action's events: `utter_default` (or `FALLBACK_TEXT`). A failed
    validation action also rejects the values it was to check; `action_validate_slot_mappings`, which runs
    after every message without the user asking for anything, fails without a word."""
    events: list[Event] = []
    if action_name != _VALIDATE_SLOT_MAPPINGS:
        message = await context.nlg.generate(FALLBACK_RESPONSE, tracker, context.channel)
        events.append(
            bot_utterance({**message, "utter_action": FALLBACK_RESPONSE} if message else {"text": FALLBACK_TEXT})
        )
    if is_validation_action(action_name):
        events += [SlotSet(name=slot, value=None) for slot in slots_to_validate(tracker)]
    return events


def checked_events(returned: object, action_name: str) -> list[Event]:
    """An action's return value as events (None is no events); anything else is a programming error."""
    if returned is None:
        return []
    if isinstance(returned, list | tuple) and all(isinstance(event, Event) for event in returned):
        return list(returned)
    raise TypeError(
        f"the action '{action_name}' returned {returned!r}; an action returns a list of events "
        "(bot.dialogue.events) or None"
    )


class GuardedAction(Action, ABC):
    """An action from outside the core, run within a timeout, its failures answered with the fallback."""

    def __init__(self, name: str, provider: str, timeout: float = DEFAULT_ACTION_TIMEOUT) -> None:
        self.name = name
        self.provider = provider
        """Who provides it, for log messages: `plugin 'legal'`, `the action server at ...`."""
        self.timeout = timeout

    async def run(self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        scope = asyncio.timeout(self.timeout)
        try:
            async with scope:
                return await self.execute(tracker, domain, context)
        except ActionExecutionRejection:
            raise
        except ActionFailed as failure:
            logger.error(
                "conversation %s: the action '%s' (%s) failed: %s; the bot answers with utter_default and "
                "carries on",
                tracker.sender_id,
                self.name,
                self.provider,
                failure,
            )
        except TimeoutError:
            if not scope.expired():
                raise
            logger.error(
                "conversation %s: the action '%s' (%s) took longer than %.3g s and was stopped; the bot "
                "answers with utter_default and carries on",
                tracker.sender_id,
                self.name,
                self.provider,
                self.timeout,
            )
        except Exception:
            logger.exception(
                "conversation %s: the action '%s' (%s) failed; the bot answers with utter_default and carries on",
                tracker.sender_id,
                self.name,
                self.provider,
            )
        return await fallback_events(self.name, tracker, context)

    @abstractmethod
    async def execute(
        self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext
    ) -> list[Event]:
        """The action's events, bot messages first."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.provider})"


# --- plugin actions ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FoundAction:
    """A plugin action found in an actions module."""

    name: str
    function: PluginActionFunction
    timeout: float | None
    where: str
    """The Python name it was found under, for messages."""


class PluginActionAdapter(GuardedAction):
    """A plugin's action (`@action` function or `PluginAction` class) as an engine action."""

    def __init__(
        self,
        found: FoundAction,
        plugin: PluginInfo,
        settings: Any,
        http: SharedHttp,
        timeout: float = DEFAULT_ACTION_TIMEOUT,
    ) -> None:
        super().__init__(found.name, f"plugin '{plugin.name}'", found.timeout or timeout)
        self.function = found.function
        self.plugin = plugin
        self.settings = settings
        self.http = http

    async def execute(
        self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext
    ) -> list[Event]:
        dispatcher = Dispatcher()
        ctx = PluginActionContext(tracker, domain, dispatcher, self.settings, await self.http.session(), self.plugin)
        events = checked_events(await self.function(ctx), self.name)
        return [*await bot_events_from_messages(dispatcher.messages, tracker, context), *events]


def _defined_in(module: ModuleType, obj: object) -> bool:
    defined = getattr(obj, "__module__", None) or ""
    return defined == module.__name__ or defined.startswith(module.__name__ + ".")


def actions_in_module(module: ModuleType) -> list[FoundAction]:
    """The `@action` functions and `PluginAction` classes defined in `module` (or its submodules)."""
    found: list[FoundAction] = []
    for attribute, value in vars(module).items():
        where = f"{module.__name__}.{attribute}"
        if isinstance(value, DecoratedAction) and _defined_in(module, value.function):
            _require_async(value.function, where, module)
            found.append(FoundAction(value.name, value.function, value.timeout, where))
        elif (
            isinstance(value, type)
            and issubclass(value, PluginAction)
            and _defined_in(module, value)
            and not inspect.isabstract(value)
        ):
            name = getattr(value, "name", None)
            if not isinstance(name, str) or not name:
                raise ConductorError.single(
                    f"the action class {where} has no `name`",
                    getattr(module, "__file__", None),
                    hint='Give it one: `name = "action_..."` in the class body.',
                )
            _require_async(value.run, f"{where}.run", module)
            found.append(FoundAction(name, value().run, value.timeout, where))
    return found


def _require_async(function: object, where: str, module: ModuleType) -> None:
    if not inspect.iscoroutinefunction(function):
        code = getattr(function, "__code__", None)
        raise ConductorError.single(
            f"the action {where} is not an async function",
            getattr(code, "co_filename", None) or getattr(module, "__file__", None),
            getattr(code, "co_firstlineno", None),
            "Write it as `async def`; run blocking work with `await asyncio.to_thread(...)`.",
        )


def import_plugin_module(plugin: DiscoveredPlugin, submodule: str = "actions") -> ModuleType | None:
    """Import `<plugin>.<submodule>` if the plugin has it (a module or a package); None if it has not.

    Shipped and entry-point plugins are imported by their package name; a folder plugin is imported from its
    path under a package name of its own (so its actions may use relative imports). A module that fails to
    import is a `ConductorError` naming the plugin, the file and the line.
    """
    folder = plugin.folder
    if not (folder / f"{submodule}.py").is_file() and not (folder / submodule / "__init__.py").is_file():
        return None
    package = plugin.package or _load_folder_package(plugin)
    try:
        return importlib.import_module(f"{package}.{submodule}")
    except SyntaxError as exc:
        raise ConductorError.single(
            f"plugin '{plugin.name}': {submodule} has a syntax error: {exc.msg}",
            exc.filename or folder / f"{submodule}.py",
            exc.lineno,
            "Fix the code of the plugin.",
        ) from None
    except Exception as exc:  # the plugin's own code failed while importing
        file, line = _innermost_frame_in(folder, exc)
        raise ConductorError.single(
            f"plugin '{plugin.name}': importing its {submodule} failed: {type(exc).__name__}: {exc}",
            file or folder / f"{submodule}.py",
            line,
            "Fix the plugin's code, or install what it imports.",
        ) from None


def _load_folder_package(plugin: DiscoveredPlugin) -> str:
    if _INSTANCE_PACKAGE not in sys.modules:
        root_spec = importlib.util.spec_from_loader(_INSTANCE_PACKAGE, loader=None, is_package=True)
        assert root_spec is not None
        sys.modules[_INSTANCE_PACKAGE] = importlib.util.module_from_spec(root_spec)
    folder = plugin.folder.resolve()
    # the folder's path in the name: two instances' plugins of one name never share a module
    name = f"{_INSTANCE_PACKAGE}.{plugin.name}_{hashlib.sha1(str(folder).encode()).hexdigest()[:10]}"
    if name in sys.modules:
        return name
    init = folder / "__init__.py"
    if init.is_file():
        spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(folder)])
    else:
        spec = importlib.util.spec_from_loader(name, loader=None, is_package=True)
        if spec is not None and spec.submodule_search_locations is not None:
            spec.submodule_search_locations.append(str(folder))
    if spec is None:
        raise ConductorError.single(f"plugin '{plugin.name}' cannot be imported from its folder", folder)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        if spec.loader is not None:
            spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return name


def _innermost_frame_in(folder: Path, exc: BaseException) -> tuple[str | None, int | None]:
    """The deepest traceback frame inside the plugin's folder: where its code went wrong."""
    found: tuple[str | None, int | None] = (None, None)
    root = str(folder.resolve())
    traceback = exc.__traceback__
    while traceback is not None:
        filename = traceback.tb_frame.f_code.co_filename
        if filename.startswith(root):
            found = (filename, traceback.tb_lineno)
        traceback = traceback.tb_next
    return found

