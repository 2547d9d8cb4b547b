"""Conversation events, in the JSON shapes Rasa 3.x trackers and rasa-sdk action servers exchange.

Every event is a dict with an `event` name, a `timestamp` (seconds since the epoch) and optional `metadata`,
plus the fields of its kind (the names below are Rasa's). `Event.from_dict` reads one and `as_dict` writes
it back: an event read from a dict writes back the same keys in the same order, unknown keys included, so a
tracker passes through Conductor unchanged. An event built in code writes the full Rasa 3.x form.

As in Rasa, a missing or null `timestamp` becomes the current time, null `metadata` becomes `{}`, a reminder
without a name gets a generated one, and the legacy names `form` and `form_validation` are read as
`active_loop` and `loop_interrupted` (and written back under the new names).
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, NoReturn, Self, TypeVar

from mypy_extensions import mypyc_attr

from bot.errors import ConductorError, Problem

__all__ = [
    "ACTION_LISTEN_NAME",
    "BOT_DATA_KEYS",
    "NO_METADATA",
    "ActionExecuted",
    "ActionExecutionRejected",
    "ActionReverted",
    "ActiveLoop",
    "AgentUttered",
    "AllSlotsReset",
    "BotUttered",
    "ConversationPaused",
    "ConversationResumed",
    "DefinePrevUserUtteredFeaturization",
    "DialogueStackUpdated",
    "EntitiesAdded",
    "Event",
    "FollowupAction",
    "LoopInterrupted",
    "ReminderCancelled",
    "ReminderScheduled",
    "Restarted",
    "SessionStarted",
    "SharedDict",
    "SlotSet",
    "StoryExported",
    "UserUtteranceReverted",
    "UserUttered",
    "event_names",
    "events_from_dicts",
    "events_to_dicts",
    "shallow_replace",
    "shared_dict",
]

ACTION_LISTEN_NAME = "action_listen"
"""The action after which the bot waits for the user."""

BOT_DATA_KEYS = ("elements", "quick_replies", "buttons", "attachment", "image", "custom")
"""The keys of a `bot` event's `data`, in the order Rasa writes them."""


class _BadEvent(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


# --- field checks: each returns the value to keep, or raises _BadEvent ---------------------------------


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _BadEvent(f"must be a string, not {_kind(value)}")


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _optional_number(value: Any) -> float | int | None:
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    raise _BadEvent(f"must be a number or null, not {_kind(value)}")


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _BadEvent(f"must be true or false, not {_kind(value)}")


def _mapping(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise _BadEvent(f"must be an object, not {_kind(value)}")


def _objects(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    raise _BadEvent(f"must be a list of objects, not {_kind(value)}")


def _anything(value: Any) -> Any:
    return value


def _reminder_name(value: Any) -> str:
    return str(uuid.uuid1()) if value is None else _text(value)


def _iso_date(value: Any) -> str:
    text = _text(value)
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise _BadEvent(f"must be an ISO 8601 date and time, not {text!r}") from None
    return text


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), "a number")


def _stored(check: Callable[[Any], Any]) -> dict[str, Any]:
    """Field metadata: the attribute is a key of the event's dict, read through `check`."""
    return {"check": check}


_JsonFields = tuple[tuple[str, Field[Any], Any], ...]
_JSON_FIELDS: dict[type, _JsonFields] = {}


def _json_fields(cls: type[Event]) -> _JsonFields:
    """The class's fields that are keys of its dict: (key, field, default value or MISSING). Worked out once
    per class; the default values are only compared with, never handed out."""
    found = _JSON_FIELDS.get(cls)
    if found is None:
        found = _JSON_FIELDS[cls] = tuple(
            (f.name, f, _default_of(f)) for f in fields(cls) if "check" in f.metadata
        )
    return found


def _default_of(spec: Field[Any]) -> Any:
    if spec.default is not MISSING:
        return spec.default
    if spec.default_factory is not MISSING:
        return spec.default_factory()
    return MISSING


_T = TypeVar("_T")


def shallow_replace(instance: _T, **changes: Any) -> _T:
    """`dataclasses.replace` for a dataclass instance that is already valid: its attributes copied and `changes`
    set, without running `__init__` and its checks again (frozen ones too). Made for the per-turn path, where
    `replace` on events and predictions cost a twentieth of a turn."""
    twin = object.__new__(type(instance))
    twin.__dict__.update(instance.__dict__)
    twin.__dict__.update(changes)
    return twin


# --- the events -----------------------------------------------------------------------------------------

_EVENT_TYPES: dict[str, type[Event]] = {}


def _refuse(*_: Any, **__: Any) -> NoReturn:
    """What a `SharedDict` does when asked to change. No `self`: compiled, this function does not bind as a
    method, so it gets the call's arguments without the dict."""
    raise TypeError(
        "this dict is shared by many events (their metadata or data) and cannot be changed; "
        "make the event with a dict of its own instead"
    )


@mypyc_attr(native_class=False)  # a native class cannot subclass dict
class SharedDict(dict[str, Any]):
    """A dict that many events share, and that therefore refuses to be changed: the empty `metadata` and
    `extras` of events that have none (`NO_METADATA`), the `data` of a bot message without buttons, images or
    the like, the metadata of a response's messages (`shared_dict`). A conversation holds about six events a
    message; their two empty dicts each were a tenth of a cached conversation's memory. A copy (`dict(...)`,
    `copy.copy`, `copy.deepcopy`) is an ordinary dict, free to change."""

    __slots__ = ()

    # a module function, one name a line: compiled (mypyc), a class body neither chains assignments nor reads
    # a method it defined
    __setitem__ = _refuse
    __delitem__ = _refuse
    __ior__ = _refuse
    setdefault = _refuse
    update = _refuse
    pop = _refuse
    popitem = _refuse
    clear = _refuse

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return copy.deepcopy(dict(self), memo)

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        return dict, (dict(self),)


NO_METADATA: dict[str, Any] = SharedDict()
"""The empty `metadata` (and `extras`) of events that have none: read it, never fill it (it refuses)."""

_NO_DATA: dict[str, Any] = SharedDict(dict.fromkeys(BOT_DATA_KEYS))
"""The `data` of a bot message that has only text."""

_SHARED_DICTS: dict[tuple[tuple[str, type, Any], ...], SharedDict] = {}
_SHARED_DICTS_LIMIT = 1_000
"""At most this many distinct dicts are shared (a bot's responses and message shapes: a few hundred)."""


def shared_dict(value: dict[str, Any]) -> dict[str, Any]:
    """`NO_METADATA` for an empty dict; else one `SharedDict` for equal dicts (the same keys in the same order,
    values of the same types) whose values are all hashable (a response's metadata, a bot message's data);
    `value` itself when it holds something unhashable (buttons, a custom payload) or the table is full. For
    events' dicts only, which are read and never changed."""
    if not value:
        return NO_METADATA
    try:
        key = tuple((name, type(item), item) for name, item in value.items())
        found = _SHARED_DICTS.get(key)
    except TypeError:
        return value
    if found is None:
        if len(_SHARED_DICTS) >= _SHARED_DICTS_LIMIT:
            return value
        found = _SHARED_DICTS[key] = SharedDict(value)
    return found


def _own_or_shared(value: dict[str, Any]) -> dict[str, Any]:
    """`value`, or `NO_METADATA` when it is empty."""
    return value if value else NO_METADATA


@mypyc_attr(native_class=False)  # an interpreted class, as are its subclasses: shallow_replace copies __dict__
@dataclass(frozen=True, kw_only=True)
class Event:
    """Something that happened in a conversation. Subclasses are registered by their `type_name`.

    `extras` holds keys this version does not know, kept for the round trip; `source_keys` the keys of the
    dict the event was read from, in order (None for an event built in code).
    """

    type_name: ClassVar[str] = ""
    always_writes_metadata: ClassVar[bool] = False

    timestamp: float | int = field(default_factory=time.time)
    """`int` too, not only by PEP 484's rule: compiled (mypyc), a value read as `float` becomes a float, and an
    event read with an integer timestamp must write it back as it was."""
    metadata: dict[str, Any] = field(default_factory=lambda: NO_METADATA)
    extras: dict[str, Any] = field(default_factory=lambda: NO_METADATA)
    source_keys: tuple[str, ...] | None = field(default=None, compare=False, repr=False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if vars(cls).get("type_name"):  # its own, not inherited (mypyc compiles no `cls.__dict__`)
            _EVENT_TYPES[cls.type_name] = cls

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Read one event (of this class, or of any registered kind when called on `Event`)."""
        try:
            event = _read_event(data)
            if not isinstance(event, cls):
                raise _BadEvent(f"expected a {cls.type_name!r} event, found {event.type_name!r}")
        except _BadEvent as exc:
            raise ConductorError(Problem(exc.message, hint=exc.hint)) from None
        return event

    def at(self, timestamp: float) -> Self:
        """This event with another timestamp."""
        return shallow_replace(self, timestamp=timestamp)

    def as_dict(self) -> dict[str, Any]:
        """The event as JSON-compatible data, in Rasa's shape (a copy: changing it leaves the event alone)."""
        return copy.deepcopy(self.as_shared_dict())

    def as_shared_dict(self) -> dict[str, Any]:
        """`as_dict` without the copy: its values are the event's own, to read (e.g. serialise), never change."""
        full: dict[str, Any] = {"event": self.type_name, "timestamp": self.timestamp}
        json_fields = _json_fields(type(self))
        for key, _, _ in json_fields:
            full[key] = getattr(self, key)
        full["metadata"] = self.metadata
        if self.extras:
            full.update(self.extras)
        if self.source_keys is None:
            if not self.metadata and not self.always_writes_metadata:
                del full["metadata"]
            return full
        # read from a dict: its keys in its order, then any key whose value changed after reading
        # (dataclasses.replace), which must not be dropped with an absent key
        defaults = {key: default for key, _, default in json_fields if default is not MISSING}
        if not self.always_writes_metadata:
            defaults["metadata"] = {}
        kept = [key for key in self.source_keys if key in full]
        changed = [
            key for key in full
            if key not in self.source_keys and (key not in defaults or full[key] != defaults[key])
        ]
        return {key: full[key] for key in kept + changed}


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class UserUttered(Event):
    """The user said something. `parse_data` is the NLU result: `intent` ({name, confidence}), `entities`,
    `intent_ranking`, `text`, `message_id`, `metadata` (and `response_selector` when used)."""

    type_name: ClassVar[str] = "user"
    always_writes_metadata: ClassVar[bool] = True

    text: str | None = field(default=None, metadata=_stored(_optional_text))
    parse_data: dict[str, Any] = field(default_factory=dict, metadata=_stored(_mapping))
    input_channel: str | None = field(default=None, metadata=_stored(_optional_text))
    message_id: str | None = field(default=None, metadata=_stored(_optional_text))

    @property
    def intent(self) -> dict[str, Any]:
        intent = self.parse_data.get("intent")
        return intent if isinstance(intent, dict) else {}

    @property
    def intent_name(self) -> str | None:
        name = self.intent.get("name")
        return name if isinstance(name, str) else None

    @property
    def entities(self) -> list[dict[str, Any]]:
        entities = self.parse_data.get("entities")
        return [e for e in entities if isinstance(e, dict)] if isinstance(entities, list) else []


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class BotUttered(Event):
    """The bot said something; `data` holds the rest of the message (see `BOT_DATA_KEYS`)."""

    type_name: ClassVar[str] = "bot"
    always_writes_metadata: ClassVar[bool] = True

    text: str | None = field(default=None, metadata=_stored(_optional_text))
    data: dict[str, Any] = field(default_factory=dict, metadata=_stored(_mapping))

    @classmethod
    def create(
        cls,
        text: str | None,
        *,
        elements: Any = None,
        quick_replies: Any = None,
        buttons: Any = None,
        attachment: Any = None,
        image: Any = None,
        custom: Any = None,
        metadata: dict[str, Any] | None = None,
    ) -> BotUttered:
        """A bot message with `data` filled the way Rasa fills it: every key of `BOT_DATA_KEYS`."""
        if elements is quick_replies is buttons is attachment is image is custom is None:
            data = _NO_DATA  # a text message's, shared
        else:
            data = shared_dict({
                "elements": elements,
                "quick_replies": quick_replies,
                "buttons": buttons,
                "attachment": attachment,
                "image": image,
                "custom": custom,
            })
        return cls(text=text, data=data, metadata=shared_dict(metadata or {}))


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class ActionExecuted(Event):
    """An action ran; `action_text` instead of `name` for an end-to-end bot utterance."""

    type_name: ClassVar[str] = "action"

    name: str | None = field(default=None, metadata=_stored(_optional_text))
    policy: str | None = field(default=None, metadata=_stored(_optional_text))
    confidence: float | None = field(default=None, metadata=_stored(_optional_number))
    action_text: str | None = field(default=None, metadata=_stored(_optional_text))
    hide_rule_turn: bool = field(default=False, metadata=_stored(_flag))

    def __post_init__(self) -> None:
        if self.name is None and self.action_text is None:
            raise ValueError("an action event needs a `name` or an `action_text`")


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class SlotSet(Event):
    type_name: ClassVar[str] = "slot"

    name: str = field(metadata=_stored(_text))
    value: Any = field(default=None, metadata=_stored(_anything))


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class ActiveLoop(Event):
    """A loop (form) became active, or with `name` None, no loop is active any more."""

    type_name: ClassVar[str] = "active_loop"

    name: str | None = field(default=None, metadata=_stored(_optional_text))


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class Restarted(Event):
    type_name: ClassVar[str] = "restart"


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class SessionStarted(Event):
    type_name: ClassVar[str] = "session_started"


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class FollowupAction(Event):
    type_name: ClassVar[str] = "followup"

    name: str = field(metadata=_stored(_text))


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class AllSlotsReset(Event):
    type_name: ClassVar[str] = "reset_slots"


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class UserUtteranceReverted(Event):
    """Undo everything back to (and including) the latest user message."""

    type_name: ClassVar[str] = "rewind"


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class ActionReverted(Event):
    """Undo the latest action and what it did."""

    type_name: ClassVar[str] = "undo"


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class ConversationPaused(Event):
    type_name: ClassVar[str] = "pause"


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class ConversationResumed(Event):
    type_name: ClassVar[str] = "resume"


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class ReminderScheduled(Event):
    """Trigger `intent` at `date_time` (ISO 8601 text, kept as written)."""

    type_name: ClassVar[str] = "reminder"

    intent: str = field(metadata=_stored(_text))
    date_time: str = field(metadata=_stored(_iso_date))
    entities: Any = field(default=None, metadata=_stored(_anything))
    name: str = field(default_factory=lambda: str(uuid.uuid1()), metadata=_stored(_reminder_name))
    kill_on_user_msg: bool = field(default=True, metadata=_stored(_flag))

    @property
    def trigger_date_time(self) -> datetime:
        return datetime.fromisoformat(self.date_time)


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class ReminderCancelled(Event):
    """Cancel reminders by name, intent and entities (all None: every reminder)."""

    type_name: ClassVar[str] = "cancel_reminder"

    name: str | None = field(default=None, metadata=_stored(_optional_text))
    intent: str | None = field(default=None, metadata=_stored(_optional_text))
    entities: Any = field(default=None, metadata=_stored(_anything))


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class AgentUttered(Event):
    type_name: ClassVar[str] = "agent"

    text: str | None = field(default=None, metadata=_stored(_optional_text))
    data: Any = field(default=None, metadata=_stored(_anything))


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class ActionExecutionRejected(Event):
    """The action refused to run (a form that could not fill its slot), so another is predicted."""

    type_name: ClassVar[str] = "action_execution_rejected"

    name: str = field(metadata=_stored(_text))
    policy: str | None = field(default=None, metadata=_stored(_optional_text))
    confidence: float | None = field(default=None, metadata=_stored(_optional_number))


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class LoopInterrupted(Event):
    type_name: ClassVar[str] = "loop_interrupted"

    is_interrupted: bool = field(default=False, metadata=_stored(_flag))


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class EntitiesAdded(Event):
    """Entities added to the latest user message (by a policy, after NLU)."""

    type_name: ClassVar[str] = "entities"

    entities: list[dict[str, Any]] = field(default_factory=list, metadata=_stored(_objects))


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class DefinePrevUserUtteredFeaturization(Event):
    """Whether the latest user message's text (rather than its intent) decided the next action."""

    type_name: ClassVar[str] = "user_featurization"

    use_text_for_featurization: bool = field(default=False, metadata=_stored(_flag))


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class DialogueStackUpdated(Event):
    """A JSON-patch update of the dialogue stack (Rasa 3.7+), kept as the text it came as."""

    type_name: ClassVar[str] = "stack"

    update: str = field(metadata=_stored(_text))


@mypyc_attr(native_class=False)
@dataclass(frozen=True, kw_only=True)
class StoryExported(Event):
    type_name: ClassVar[str] = "export"

    path: str | None = field(default=None, metadata=_stored(_optional_text))


# --- reading and writing lists --------------------------------------------------------------------------

_LEGACY_NAMES = {"form": "active_loop", "form_validation": "loop_interrupted"}


def event_names() -> list[str]:
    """The event names Conductor reads."""
    return sorted(_EVENT_TYPES)


def _read_event(raw: Any, *, owned: bool = False) -> Event:
    if not isinstance(raw, Mapping):
        raise _BadEvent(f"an event must be an object, not {_kind(raw)}")
    data = dict(raw) if owned else copy.deepcopy(dict(raw))
    name = data.get("event")
    if not isinstance(name, str):
        raise _BadEvent("the event has no `event` name", 'Every event needs e.g. "event": "user".')
    source_keys: tuple[str, ...] | None = tuple(data)
    if name in _LEGACY_NAMES:
        if name == "form_validation":
            data["is_interrupted"] = not data.pop("validate", True)
        data["event"] = name = _LEGACY_NAMES[name]
        source_keys = None
    cls = _EVENT_TYPES.get(name)
    if cls is None:
        raise _BadEvent(f"unknown event {name!r}", f"Known events: {', '.join(event_names())}.")
    values: dict[str, Any] = {}
    known = {"event", "timestamp", "metadata"}
    for key, spec, default in _json_fields(cls):
        known.add(key)
        if key in data:
            try:
                values[spec.name] = spec.metadata["check"](data[key])
            except _BadEvent as exc:
                raise _BadEvent(f"{name!r} event: `{key}` {exc.message}") from None
        elif default is MISSING:
            raise _BadEvent(f"{name!r} event has no `{key}`", f"Add the `{key}` field to the event.")
    try:
        timestamp = _optional_number(data.get("timestamp"))
        values["metadata"] = _own_or_shared(_mapping(data.get("metadata")))
    except _BadEvent as exc:
        raise _BadEvent(f"{name!r} event: `timestamp` or `metadata` {exc.message}") from None
    if timestamp is None:  # not a conditional expression, whose type, float, would turn an int into a float compiled
        timestamp = time.time()
    values["timestamp"] = timestamp
    values["extras"] = _own_or_shared({key: value for key, value in data.items() if key not in known})
    try:
        return cls(**values, source_keys=source_keys)
    except ValueError as refused:  # not `exc`: compiled, a local name holds one type (`_BadEvent` above)
        raise _BadEvent(f"{name!r} event: {refused}") from None


def events_from_dicts(items: Iterable[Any], source: str | None = None, *, owned: bool = False) -> list[Event]:
    """Read a tracker's event list; every bad event is reported (with its position) in one error.

    The events get copies of the dicts' values, unless `owned` says nothing else holds them (freshly parsed
    JSON): then the events take them over as they are, which saves a deep copy per event.
    """
    events: list[Event] = []
    problems: list[Problem] = []
    for index, item in enumerate(items):
        try:
            events.append(_read_event(item, owned=owned))
        except _BadEvent as exc:
            problems.append(Problem(f"event #{index + 1}: {exc.message}", source, None, exc.hint))
    if problems:
        raise ConductorError(problems)
    return events


def events_to_dicts(events: Iterable[Event]) -> list[dict[str, Any]]:
    return [event.as_dict() for event in events]
