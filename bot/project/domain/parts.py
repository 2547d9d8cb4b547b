"""The parts of a Rasa 3.x domain as frozen dataclasses, and the built-in names Rasa adds to every domain.

Each part remembers the file and line it was read from (for problems; not part of equality) and gives its
Rasa JSON shape with `as_dict`. `Domain` (in `model`) holds them; the readers build them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

DOMAIN_FORMAT_VERSION = "3.1"
"""The format version Rasa 3.x writes into domains (`LATEST_TRAINING_DATA_FORMAT_VERSION`)."""

DEFAULT_INTENTS: tuple[str, ...] = ("restart", "back", "out_of_scope", "session_start", "nlu_fallback")

RULE_SNIPPET_ACTION = "..."
"""`- action: ...` in a rule means "anything may happen here"; Rasa counts it among its default actions."""

DEFAULT_ACTIONS: tuple[str, ...] = (
    "action_listen",
    "action_restart",
    "action_session_start",
    "action_default_fallback",
    "action_deactivate_loop",
    "action_revert_fallback_events",
    "action_default_ask_affirmation",
    "action_default_ask_rephrase",
    "action_two_stage_fallback",
    "action_unlikely_intent",
    "action_back",
    RULE_SNIPPET_ACTION,
    "action_extract_slots",
)
"""Rasa 3.6's built-in actions in Rasa's order: policies rely on `action_listen` being action 0."""

REQUESTED_SLOT = "requested_slot"
SESSION_STARTED_METADATA_SLOT = "session_started_metadata"

MESSAGE_REFUSED_RESPONSE = "utter_message_refused"
"""The optional response the runtime sends, instead of its built-in text, to a user whose message it refuses
(too long, or not text); no story or rule uses it."""

BUILTIN_SLOT_TYPES: tuple[str, ...] = ("text", "bool", "categorical", "float", "list", "any")

MappingType = Literal["from_entity", "from_intent", "from_trigger_intent", "from_text", "custom"]
MAPPING_TYPES: tuple[MappingType, ...] = (
    "from_entity",
    "from_intent",
    "from_trigger_intent",
    "from_text",
    "custom",
)

ENTITY_LABEL_SEPARATOR = "#"
"""Joins an entity and one of its roles or groups (`city#departure`) where roles and groups steer dialogue."""

_DEFAULT_SESSION_EXPIRATION_MINUTES = 60


# --- the domain's parts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Intent:
    name: str
    use_entities: list[str] | None = None
    """Entities that may influence the dialogue after this intent; None means all (`use_entities: true`)."""
    ignore_entities: list[str] = field(default_factory=list)
    file: str | None = field(default=None, compare=False, repr=False)
    line: int | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> str | dict[str, Any]:
        if self.use_entities is None and not self.ignore_entities:
            return self.name
        properties: dict[str, Any] = {}
        if self.use_entities is not None:
            properties["use_entities"] = list(self.use_entities)
        if self.ignore_entities:
            properties["ignore_entities"] = list(self.ignore_entities)
        return {self.name: properties}


@dataclass(frozen=True)
class Entity:
    name: str
    roles: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    influence_conversation: bool = True
    file: str | None = field(default=None, compare=False, repr=False)
    line: int | None = field(default=None, compare=False, repr=False)

    @property
    def labels(self) -> list[str]:
        """The entity, then `entity#role` and `entity#group` for each of its roles and groups."""
        return [self.name] + [f"{self.name}{ENTITY_LABEL_SEPARATOR}{s}" for s in (*self.roles, *self.groups)]

    def as_dict(self) -> str | dict[str, Any]:
        properties: dict[str, Any] = {}
        if self.roles:
            properties["roles"] = list(self.roles)
        if self.groups:
            properties["groups"] = list(self.groups)
        if not self.influence_conversation:
            properties["influence_conversation"] = False
        return {self.name: properties} if properties else self.name


@dataclass(frozen=True)
class MappingCondition:
    """A slot mapping applies only while this loop (form) is active, and, if given, this slot is requested."""

    active_loop: str | None
    requested_slot: str | None = None

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"active_loop": self.active_loop}
        if self.requested_slot is not None:
            result["requested_slot"] = self.requested_slot
        return result


@dataclass(frozen=True)
class SlotMapping:
    type: MappingType
    entity: str | None = None
    intent: list[str] | None = None
    not_intent: list[str] | None = None
    role: str | None = None
    group: str | None = None
    value: Any = None
    action: str | None = None
    conditions: list[MappingCondition] = field(default_factory=list)
    file: str | None = field(default=None, compare=False, repr=False)
    line: int | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"type": self.type}
        for key in ("entity", "role", "group", "action"):
            if getattr(self, key) is not None:
                result[key] = getattr(self, key)
        if self.intent is not None:
            result["intent"] = list(self.intent)
        if self.not_intent is not None:
            result["not_intent"] = list(self.not_intent)
        if self.value is not None:
            result["value"] = self.value
        if self.conditions:
            result["conditions"] = [c.as_dict() for c in self.conditions]
        return result


@dataclass(frozen=True)
class Slot:
    name: str
    type: str
    """One of `BUILTIN_SLOT_TYPES`, or a custom slot class as `module.Class`."""
    mappings: list[SlotMapping] = field(default_factory=list)
    values: list[Any] | None = None
    """The values of a categorical slot, as written (Rasa compares them case-insensitively)."""
    min_value: float | None = None
    max_value: float | None = None
    initial_value: Any = None
    influence_conversation: bool = True
    properties: dict[str, Any] = field(default_factory=dict)
    """Further keys of a custom slot type, passed on to its class."""
    file: str | None = field(default=None, compare=False, repr=False)
    line: int | None = field(default=None, compare=False, repr=False)

    @property
    def has_custom_type(self) -> bool:
        return self.type not in BUILTIN_SLOT_TYPES

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"type": self.type}
        if self.initial_value is not None:
            result["initial_value"] = self.initial_value
        if self.values is not None:
            result["values"] = list(self.values)
        if self.min_value is not None:
            result["min_value"] = self.min_value
        if self.max_value is not None:
            result["max_value"] = self.max_value
        result["influence_conversation"] = self.influence_conversation
        result["mappings"] = [m.as_dict() for m in self.mappings]
        result.update(self.properties)
        return result


@dataclass(frozen=True)
class ResponseCondition:
    """A response variation is chosen only while the slot `name` holds `value` (`type` is always "slot")."""

    type: str
    name: str
    value: Any

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "value": self.value}


@dataclass(frozen=True)
class ResponseVariation:
    text: str | None = None
    image: str | None = None
    buttons: list[dict[str, Any]] = field(default_factory=list)
    button_type: str | None = None
    quick_replies: list[dict[str, Any]] = field(default_factory=list)
    attachment: dict[str, Any] | None = None
    elements: list[dict[str, Any]] = field(default_factory=list)
    custom: dict[str, Any] | None = None
    metadata: Any = None
    id: str | None = None
    condition: list[ResponseCondition] = field(default_factory=list)
    channel: str | None = None
    file: str | None = field(default=None, compare=False, repr=False)
    line: int | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key in ("id", "text", "image", "button_type", "attachment", "custom", "channel", "metadata"):
            if getattr(self, key) is not None:
                result[key] = getattr(self, key)
        for key in ("buttons", "quick_replies", "elements"):
            if getattr(self, key):
                result[key] = [dict(item) for item in getattr(self, key)]
        if self.condition:
            result["condition"] = [c.as_dict() for c in self.condition]
        return result


@dataclass(frozen=True)
class Action:
    name: str
    send_domain: bool = False
    """Whether the action server gets the domain with each call: `send_domain: true`, or by default for an
    action listed by name as `validate_...` (Rasa 3.6's rule)."""
    file: str | None = field(default=None, compare=False, repr=False)
    line: int | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> str | dict[str, Any]:
        if self.send_domain == self.name.startswith("validate_"):
            return self.name
        return {self.name: {"send_domain": self.send_domain}}


@dataclass(frozen=True)
class Form:
    name: str
    required_slots: list[str] = field(default_factory=list)
    ignored_intents: list[str] = field(default_factory=list)
    file: str | None = field(default=None, compare=False, repr=False)
    line: int | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"required_slots": list(self.required_slots)}
        if self.ignored_intents:
            result["ignored_intents"] = list(self.ignored_intents)
        return result


@dataclass(frozen=True)
class SessionConfig:
    session_expiration_time: float = _DEFAULT_SESSION_EXPIRATION_MINUTES
    """Minutes of silence after which a new session starts; 0 means sessions never expire."""
    carry_over_slots_to_new_session: bool = True
    file: str | None = field(default=None, compare=False, repr=False)
    line: int | None = field(default=None, compare=False, repr=False)

    @property
    def sessions_expire(self) -> bool:
        return self.session_expiration_time > 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "session_expiration_time": self.session_expiration_time,
            "carry_over_slots_to_new_session": self.carry_over_slots_to_new_session,
        }
