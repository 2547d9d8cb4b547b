"""The Rasa 3.x domain: intents, entities, slots, responses, actions, forms and session settings.

`load_domain` reads a domain file, a folder of domain files or a list of both, the way Rasa 3.6 does (its
schemas `rasa/shared/utils/schemas/domain.yml` and `.../training_data/schemas/responses.yml`, plus the checks
Rasa makes while building its `Domain`). Every mistake is collected and reported at once as one
`ConductorError` whose problems say what is wrong, at which file:line, and what to do. Things Rasa only warns
about become `Severity.WARNING` problems on `Domain.warnings`.

Where this reader is stricter than Rasa's schema it says so in the problem: an unknown top-level key is an
error here (Rasa ignores it silently, which hides a misspelt `respones:`).

`Domain.as_dict` gives the JSON shape Rasa hands to action servers as `domain` and returns from
`GET /domain`; `Domain.from_dict` reads it back.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeGuard, TypeVar, cast

from bot.errors import ConductorError, Problem, Severity
from bot.yamlio import iter_yaml_files, line_of, read_yaml

__all__ = [
    "BUILTIN_SLOT_TYPES",
    "DEFAULT_ACTIONS",
    "DEFAULT_INTENTS",
    "DOMAIN_FORMAT_VERSION",
    "ENTITY_LABEL_SEPARATOR",
    "MAPPING_TYPES",
    "REQUESTED_SLOT",
    "RULE_SNIPPET_ACTION",
    "SESSION_STARTED_METADATA_SLOT",
    "Action",
    "Domain",
    "Entity",
    "Form",
    "Intent",
    "MappingCondition",
    "MappingType",
    "ResponseCondition",
    "ResponseVariation",
    "SessionConfig",
    "Slot",
    "SlotMapping",
    "load_domain",
]

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
_KNOWLEDGE_BASE_ACTION = "action_query_knowledge_base"
_KNOWLEDGE_BASE_SLOTS = (
    "knowledge_base_listed_objects",
    "knowledge_base_last_object",
    "knowledge_base_last_object_type",
)

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

_UTTER_PREFIX = "utter_"
_RESPONSE_KEY_SEPARATOR = "/"
_DEFAULT_SESSION_EXPIRATION_MINUTES = 60

_SECTIONS = (
    "intents",
    "entities",
    "slots",
    "responses",
    "actions",
    "forms",
    "config",
    "session_config",
    "e2e_actions",
)
_DOMAIN_KEYS = frozenset(_SECTIONS) - {"config"}
"""A YAML file in a domain folder is a domain file when it has one of these keys (as Rasa decides it)."""
_TRAINING_DATA_KEYS = frozenset({"nlu", "stories", "rules"})

_CONTENT_KEYS = ("text", "image", "custom", "buttons", "attachment", "elements", "quick_replies")
_VARIATION_KEYS = (*_CONTENT_KEYS, "button_type", "channel", "metadata", "id", "condition")
_CUSTOM_SLOT_TYPE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_VERSION_3X = re.compile(r"3\.\d+")


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


# --- the domain -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    """What the assistant knows: the user-declared parts, in declared order, plus Rasa's built-in names.

    `warnings` holds the problems Rasa only warns about; it takes no part in equality.
    """

    intents: dict[str, Intent] = field(default_factory=dict)
    entities: dict[str, Entity] = field(default_factory=dict)
    slots: dict[str, Slot] = field(default_factory=dict)
    responses: dict[str, list[ResponseVariation]] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)
    forms: dict[str, Form] = field(default_factory=dict)
    session_config: SessionConfig = field(default_factory=SessionConfig)
    store_entities_as_slots: bool = True
    action_texts: list[str] = field(default_factory=list)
    """Bot utterances of end-to-end stories (`e2e_actions`), which Rasa predicts like actions."""
    warnings: list[Problem] = field(default_factory=list, compare=False, repr=False)

    # names, in Rasa's order

    @cached_property
    def intent_names(self) -> list[str]:
        """The declared intents and Rasa's default intents, sorted (Rasa's order)."""
        return sorted(set(self.intents) | set(DEFAULT_INTENTS))

    @property
    def entity_names(self) -> list[str]:
        return list(self.entities)

    @cached_property
    def entity_labels(self) -> list[str]:
        """Entities, then `entity#role` for each role, then `entity#group` for each group (Rasa's states)."""
        sep = ENTITY_LABEL_SEPARATOR
        return (
            list(self.entities)
            + [f"{e.name}{sep}{r}" for e in self.entities.values() for r in e.roles]
            + [f"{e.name}{sep}{g}" for e in self.entities.values() for g in e.groups]
        )

    @cached_property
    def user_actions(self) -> list[str]:
        """Declared actions in order, then the names of responses not declared as actions, sorted."""
        return list(self.actions) + sorted(name for name in self.responses if name not in self.actions)

    @property
    def form_names(self) -> list[str]:
        return list(self.forms)

    @cached_property
    def action_names(self) -> list[str]:
        """Every action the policies can predict, in Rasa's order: default actions first (a declared action
        that overrides a default keeps the default's place), then user actions, then forms."""
        defaults = set(DEFAULT_ACTIONS)
        return (
            list(DEFAULT_ACTIONS)
            + [name for name in self.user_actions if name not in defaults]
            + [name for name in self.forms if name not in self.actions]
        )

    @property
    def action_names_or_texts(self) -> list[str]:
        return self.action_names + [text for text in self.action_texts if text not in self.action_names]

    def sends_domain(self, action_name: str) -> bool:
        """Whether calls of this custom action to the action server carry the domain."""
        action = self.actions.get(action_name)
        return action is not None and action.send_domain

    # retrieval intents

    @cached_property
    def retrieval_intents(self) -> list[str]:
        """Intents answered by a response selector: those with responses named `utter_<intent>/<key>`."""
        found: dict[str, None] = {}
        for name in self.responses:
            if name.startswith(_UTTER_PREFIX) and _RESPONSE_KEY_SEPARATOR in name:
                found[name[len(_UTTER_PREFIX) :].split(_RESPONSE_KEY_SEPARATOR, 1)[0]] = None
        return list(found)

    def is_retrieval_intent(self, intent: str) -> bool:
        return intent in self.retrieval_intents

    def retrieval_responses(self, intent: str) -> dict[str, list[ResponseVariation]]:
        """The responses `utter_<intent>/<key>` of a retrieval intent, by full response name."""
        prefix = f"{_UTTER_PREFIX}{intent}{_RESPONSE_KEY_SEPARATOR}"
        return {name: variations for name, variations in self.responses.items() if name.startswith(prefix)}

    # entities per intent

    def used_entities(self, intent: str) -> set[str]:
        """The entity labels (with `entity#role` / `entity#group`) that influence the dialogue after `intent`.

        Rasa's rule: `use_entities` (all entities when not given) minus `ignore_entities`; when
        `ignore_entities` is not given, entities declared with `influence_conversation: false` are ignored.
        An intent the domain does not declare uses every entity.
        """
        declared = self.intents.get(intent)
        silenced = {e.name for e in self.entities.values() if not e.influence_conversation}
        ignored = set(declared.ignore_entities) if declared and declared.ignore_entities else silenced
        if declared is None or declared.use_entities is None:
            included = set(self.entity_labels) - silenced
        else:
            included = {label for name in declared.use_entities for label in self._labels_of(name)}
        return included - {label for name in ignored for label in self._labels_of(name)}

    def _labels_of(self, entity: str) -> list[str]:
        known = self.entities.get(entity)
        return known.labels if known is not None else [entity]

    # slots and forms

    @cached_property
    def all_slots(self) -> dict[str, Slot]:
        """The declared slots plus the ones Rasa adds: `requested_slot` when there are forms, the knowledge
        base slots when `action_query_knowledge_base` is an action, and `session_started_metadata`."""
        slots = dict(self.slots)
        if self.forms and REQUESTED_SLOT not in slots:
            slots[REQUESTED_SLOT] = Slot(REQUESTED_SLOT, "text", influence_conversation=False)
        if _KNOWLEDGE_BASE_ACTION in self.actions:
            for name in _KNOWLEDGE_BASE_SLOTS:
                slots.setdefault(name, Slot(name, "text", influence_conversation=False))
        slots[SESSION_STARTED_METADATA_SLOT] = Slot(
            SESSION_STARTED_METADATA_SLOT, "any", influence_conversation=False
        )
        return slots

    def required_slots(self, form: str) -> list[str]:
        known = self.forms.get(form)
        return list(known.required_slots) if known is not None else []

    @property
    def is_empty(self) -> bool:
        return self == Domain()

    # combining and serialising

    def merge(self, other: Domain) -> Domain:
        """This domain with `other` added. A name defined in both with the same meaning gives a warning (as
        Rasa warns); with two meanings it is a `ConductorError` naming both places."""
        merged, problems = _merge(self, other)
        if any(p.severity is Severity.ERROR for p in problems):
            raise ConductorError(problems)
        return replace(merged, warnings=[*self.warnings, *other.warnings, *problems])

    def as_dict(self) -> dict[str, Any]:
        """The domain as JSON-able data in Rasa's shape (intents sorted, as Rasa's `Domain.as_dict` does)."""
        result: dict[str, Any] = {"version": DOMAIN_FORMAT_VERSION}
        if self.intents:
            result["intents"] = [self.intents[name].as_dict() for name in sorted(self.intents)]
        if self.entities:
            result["entities"] = [e.as_dict() for e in self.entities.values()]
        if self.slots:
            result["slots"] = {name: s.as_dict() for name, s in self.slots.items()}
        if self.responses:
            result["responses"] = {name: [v.as_dict() for v in vs] for name, vs in self.responses.items()}
        if self.actions:
            result["actions"] = [a.as_dict() for a in self.actions.values()]
        if self.forms:
            result["forms"] = {name: f.as_dict() for name, f in self.forms.items()}
        if self.action_texts:
            result["e2e_actions"] = list(self.action_texts)
        result["config"] = {"store_entities_as_slots": self.store_entities_as_slots}
        result["session_config"] = self.session_config.as_dict()
        return result

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, source: str | Path | None = None) -> Domain:
        """Read a domain from parsed data (Rasa's shape, or `as_dict`'s); `source` names it in problems."""
        reader = _Reader(str(source) if source is not None else None)
        domain = reader.domain(data)
        problems = reader.problems + _whole_domain_problems(domain)
        if any(p.severity is Severity.ERROR for p in problems):
            raise ConductorError(problems)
        return replace(domain, warnings=problems)


# --- loading --------------------------------------------------------------------------------------------


def load_domain(path: str | Path | Sequence[str | Path]) -> Domain:
    """Read the domain from a file, from every domain file below a folder, or from several of those, merged.

    In a folder, a YAML file counts as a domain file when it has a domain section (as in Rasa); other YAML
    files (NLU data, stories) are passed over. Raises one `ConductorError` carrying every problem found.
    """
    paths = [Path(path)] if isinstance(path, str | Path) else [Path(p) for p in path]
    problems: list[Problem] = []
    if not paths:
        raise ConductorError.single(
            "no domain file was given", hint="Pass domain.yml or a folder of domain files."
        )
    domain = Domain()
    for one in paths:
        fragments = _read_folder(one, problems) if one.is_dir() else _read_file(one, problems)
        for fragment in fragments:
            domain, merge_problems = _merge(domain, fragment)
            problems += merge_problems
    problems += _whole_domain_problems(domain)
    if any(p.severity is Severity.ERROR for p in problems):
        raise ConductorError(problems)
    return replace(domain, warnings=problems)


def _read_file(path: Path, problems: list[Problem]) -> list[Domain]:
    if not path.exists():
        problems.append(
            Problem("the domain file does not exist", str(path), hint="Check the path, or create domain.yml.")
        )
        return []
    try:
        data = read_yaml(path, "domain file")
    except ConductorError as exc:
        problems += exc.problems
        return []
    reader = _Reader(str(path))
    domain = reader.domain(data)
    problems += reader.problems
    return [domain]


def _read_folder(folder: Path, problems: list[Problem]) -> list[Domain]:
    fragments: list[Domain] = []
    for path in iter_yaml_files(folder):
        try:
            data = read_yaml(path, "domain file")
        except ConductorError as exc:
            first = exc.problems[0]
            problems.append(
                Problem(
                    f"skipped: this file in the domain folder cannot be read ({first.message})",
                    first.file,
                    first.line,
                    "Fix it if it is meant to be a domain file; Rasa skips it the same way.",
                    Severity.WARNING,
                )
            )
            continue
        if not isinstance(data, dict) or not _DOMAIN_KEYS & set(data):
            continue
        reader = _Reader(str(path))
        fragments.append(reader.domain(data))
        problems += reader.problems
    if not fragments:
        problems.append(
            Problem(
                "the domain folder holds no domain file, so the domain is empty",
                str(folder),
                hint="A domain file has at least one of: " + ", ".join(sorted(_DOMAIN_KEYS)) + ".",
                severity=Severity.WARNING,
            )
        )
    return fragments


# --- merging --------------------------------------------------------------------------------------------

_Located = TypeVar("_Located", Intent, Entity, Slot, Action, Form)


def _where(item: Any) -> str:
    file, line = getattr(item, "file", None), getattr(item, "line", None)
    if file is None:
        return "a domain given as data" if line is None else f"line {line}"
    return f"{file}:{line}" if line is not None else file


def _merge(first: Domain, second: Domain) -> tuple[Domain, list[Problem]]:
    """Combine two domains, with the problems of combining them (Rasa 3.6's rules, conflicts made errors)."""
    problems: list[Problem] = []

    def union(kind: str, ours: dict[str, _Located], theirs: dict[str, _Located]) -> dict[str, _Located]:
        result = dict(ours)
        for name, item in theirs.items():
            if name not in result:
                result[name] = item
                continue
            problems.append(_duplicate_problem(kind, name, result[name], item, result[name] == item))
        return result

    responses = dict(first.responses)
    for name, variations in second.responses.items():
        if name not in responses:
            responses[name] = variations
            continue
        here = responses[name][0] if responses[name] else None
        there = variations[0] if variations else None
        problems.append(_duplicate_problem("response", name, here, there, responses[name] == variations))

    merged = Domain(
        intents=union("intent", first.intents, second.intents),
        entities=union("entity", first.entities, second.entities),
        slots=union("slot", first.slots, second.slots),
        responses=responses,
        actions=union("action", first.actions, second.actions),
        forms=union("form", first.forms, second.forms),
        session_config=_merge_session_config(first.session_config, second.session_config, problems),
        store_entities_as_slots=first.store_entities_as_slots and second.store_entities_as_slots,
        action_texts=list(dict.fromkeys([*first.action_texts, *second.action_texts])),
    )
    return merged, problems


def _duplicate_problem(kind: str, name: str, here: Any, there: Any, same: bool) -> Problem:
    file, line = getattr(there, "file", None), getattr(there, "line", None)
    if same:
        return Problem(
            f"the {kind} '{name}' is defined in {_where(here)} and again here",
            file,
            line,
            "Rasa warns about duplicates across domain files; keep one of them.",
            Severity.WARNING,
        )
    return Problem(
        f"the {kind} '{name}' is defined twice with different contents: at {_where(here)} and here",
        file,
        line,
        f"Keep one definition of '{name}', or make both the same.",
    )


def _merge_session_config(
    first: SessionConfig, second: SessionConfig, problems: list[Problem]
) -> SessionConfig:
    """Rasa keeps a session_config that differs from the default over one that does not."""
    default = SessionConfig()
    if second == default or first == second:
        return first
    if first == default:
        return second
    problems.append(
        Problem(
            f"session_config is set here and differently at {_where(first)}",
            second.file,
            second.line,
            "Set session_config in one domain file only.",
        )
    )
    return first


def _whole_domain_problems(domain: Domain) -> list[Problem]:
    """Checks that need every response at once: Rasa refuses a response variation id used twice."""
    problems: list[Problem] = []
    seen: dict[str, ResponseVariation] = {}
    for variations in domain.responses.values():
        for variation in variations:
            if variation.id is None:
                continue
            if variation.id in seen:
                problems.append(
                    Problem(
                        f"the response variation id '{variation.id}' is already used at "
                        f"{_where(seen[variation.id])}",
                        variation.file,
                        variation.line,
                        "Give every response variation its own id.",
                    )
                )
            else:
                seen[variation.id] = variation
    return problems


# --- reading one document -------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, int | float):
        return f"the number {value}"
    return type(value).__name__  # pragma: no cover - YAML gives no other kinds


def _first(item: Intent | Entity | Action) -> str:
    return f" (first on line {item.line})" if item.line is not None else ""


def _did_you_mean(word: Any, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"Did you mean '{close[0]}'? " if close else ""


def _plain(value: Any) -> Any:
    """A copy of parsed YAML with plain dicts and lists (no line-number containers)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Reader:
    """Turns one parsed domain document into a `Domain`, collecting every problem on the way.

    Parts with errors are left out of the result; the caller raises when any error was found.
    """

    def __init__(self, source: str | None) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self._errors = 0

    def error(self, message: str, line: int | None, hint: str) -> None:
        self._errors += 1
        self.problems.append(Problem(message, self.source, line, hint))

    def warn(self, message: str, line: int | None, hint: str) -> None:
        self.problems.append(Problem(message, self.source, line, hint, Severity.WARNING))

    # shapes

    def mapping(self, value: Any, what: str, line: int | None, hint: str) -> Mapping[Any, Any]:
        """`value` if it is a mapping; empty (after an error unless it was null) otherwise."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(f"{what} must be a mapping, not {_describe(value)}", line, hint)
            return {}
        return value

    def sequence(self, value: Any, what: str, line: int | None, hint: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(f"{what} must be a list, not {_describe(value)}", line, hint)
            return []
        return value

    def string(self, value: Any, what: str, line: int | None) -> str | None:
        if value is None or isinstance(value, str):
            return value
        self.error(
            f"{what} must be text, not {_describe(value)}", line, "Write it as text (quote it if needed)."
        )
        return None

    def boolean(self, value: Any, what: str, line: int | None, default: bool) -> bool:
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        self.error(
            f"{what} must be true or false, not {_describe(value)}",
            line,
            "Write true or false (in Rasa's YAML, yes/no/on/off are text, not booleans).",
        )
        return default

    def names(self, value: Any, what: str, line: int | None, single_allowed: bool = True) -> list[str] | None:
        """A list of names; a single name counts as a list of one where Rasa allows it."""
        if value is None:
            return None
        if isinstance(value, str) and single_allowed:
            return [value]
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return list(value)
        self.error(
            f"{what} must be a list of names, not {_describe(value)}",
            line,
            "Write the names as a YAML list, e.g. [name_a, name_b].",
        )
        return None

    def unknown_keys(
        self, spec: Mapping[Any, Any], allowed: Iterable[str], what: str, *, error: bool, why: str = ""
    ) -> None:
        allowed = tuple(allowed)
        for key in spec:
            if key in allowed:
                continue
            message = f"{what} has the key '{key}', which Rasa 3.x does not know"
            hint = f"{_did_you_mean(key, allowed)}Allowed keys: {', '.join(allowed)}.{why}"
            if error:
                self.error(message, line_of(spec, key), hint)
            else:
                self.warn(message + "; it is ignored", line_of(spec, key), hint)

    # the document

    def domain(self, data: Any) -> Domain:
        if data is None:
            return Domain()
        if not isinstance(data, dict):
            self.error(
                f"a domain must be a mapping of sections (intents:, responses:, ...), not {_describe(data)}",
                line_of(data),
                "Start the file with keys such as `intents:` and `responses:` at the left margin.",
            )
            return Domain()
        self.check_top_level_keys(data)
        section = {key: (data.get(key), line_of(data, key)) for key in _SECTIONS}
        return Domain(
            intents=self.intents(*section["intents"]),
            entities=self.entities(*section["entities"]),
            slots=self.slots(*section["slots"]),
            responses=self.responses(*section["responses"]),
            actions=self.actions(*section["actions"]),
            forms=self.forms(*section["forms"]),
            session_config=self.session_config(*section["session_config"]),
            store_entities_as_slots=self.store_entities_as_slots(*section["config"]),
            action_texts=self.action_texts(*section["e2e_actions"]),
        )

    def check_top_level_keys(self, data: Mapping[Any, Any]) -> None:
        for key in data:
            line = line_of(data, key)
            if key == "version":
                self.check_version(data[key], line)
            elif key in _TRAINING_DATA_KEYS:
                self.warn(
                    f"`{key}` is training data, not part of the domain; the domain reader ignores it",
                    line,
                    "Move it to a file under data/.",
                )
            elif key not in _SECTIONS:
                self.error(
                    f"unknown top-level key '{key}' in the domain",
                    line,
                    f"{_did_you_mean(key, _SECTIONS)}A domain has: version, {', '.join(_SECTIONS)}. "
                    "(Rasa would ignore this key silently.)",
                )

    def check_version(self, version: Any, line: int | None) -> None:
        if not isinstance(version, str):
            self.warn(
                f'`version` should be text like "{DOMAIN_FORMAT_VERSION}", not {_describe(version)}',
                line,
                f'Write version: "{DOMAIN_FORMAT_VERSION}" (with the quotes).',
            )
        elif not _VERSION_3X.fullmatch(version.strip()):
            self.warn(
                f"the domain has version '{version}', but it is read as a Rasa 3.x domain",
                line,
                f'Update the file to the Rasa 3.x format and write version: "{DOMAIN_FORMAT_VERSION}".',
            )

    # intents and entities

    def intents(self, value: Any, line: int | None) -> dict[str, Intent]:
        items = self.sequence(value, "`intents`", line, "List the intents, one per line: `- greet`.")
        result: dict[str, Intent] = {}
        for index, entry in enumerate(items):
            at = line_of(items, index)
            intent = self.intent(entry, at)
            if intent is None:
                continue
            if intent.name in result:
                self.error(
                    f"the intent '{intent.name}' is listed twice{_first(result[intent.name])}",
                    at,
                    "Remove one of them; Rasa refuses duplicate intents.",
                )
            else:
                result[intent.name] = intent
        return result

    def single_entry(self, entry: Any, what: str, at: int | None) -> tuple[str, Any] | None:
        """The name and properties of a list item written `- name` or `- name: {properties}`."""
        if isinstance(entry, str):
            return entry, None
        if isinstance(entry, dict) and len(entry) == 1:
            name, properties = next(iter(entry.items()))
            if isinstance(name, str):
                return name, properties
        if isinstance(entry, dict) and len(entry) > 1:
            self.error(
                f"one {what} entry holds several names ({', '.join(map(str, entry))})",
                at,
                f"Start each {what} with its own '- '; indent its properties below its name.",
            )
            return None
        self.error(f"an {what} must be a name, not {_describe(entry)}", at, "Write `- name` (quote numbers).")
        return None

    def intent(self, entry: Any, at: int | None) -> Intent | None:
        parsed = self.single_entry(entry, "intent", at)
        if parsed is None:
            return None
        name, properties = parsed
        if isinstance(entry, str):
            return Intent(name, file=self.source, line=at)
        if not isinstance(properties, dict) or not properties:
            self.error(
                f"the intent '{name}' is followed by ':' but has no properties ({_describe(properties)})",
                at,
                "Remove the ':' after the intent's name, or give it use_entities / ignore_entities.",
            )
            return None
        errors = self._errors
        self.unknown_keys(
            properties, ("use_entities", "ignore_entities"), f"the intent '{name}'", error=False
        )
        use = properties.get("use_entities", True)
        use_entities: list[str] | None = None
        if use is True:
            use_entities = None
        elif use is None or use is False or use == []:
            use_entities = []
        else:
            use_entities = self.names(
                use, f"use_entities of the intent '{name}'", line_of(properties, "use_entities"), False
            )
        ignore_entities = self.names(
            properties.get("ignore_entities"),
            f"ignore_entities of the intent '{name}'",
            line_of(properties, "ignore_entities"),
            False,
        )
        if self._errors > errors:
            return None
        ignored = ignore_entities or []
        both = sorted(set(use_entities or []) & set(ignored))
        if both:
            self.warn(
                f"the intent '{name}' both uses and ignores the entities {', '.join(both)}; ignoring wins",
                at,
                "List each entity under use_entities or ignore_entities, not both.",
            )
        return Intent(name, use_entities, ignored, file=self.source, line=at)

    def entities(self, value: Any, line: int | None) -> dict[str, Entity]:
        items = self.sequence(value, "`entities`", line, "List the entities, one per line: `- city`.")
        result: dict[str, Entity] = {}
        for index, entry in enumerate(items):
            at = line_of(items, index)
            entity = self.entity(entry, at)
            if entity is None:
                continue
            if entity.name in result:
                self.error(
                    f"the entity '{entity.name}' is listed twice{_first(result[entity.name])}",
                    at,
                    "Remove one of them; Rasa refuses duplicate entities.",
                )
            else:
                result[entity.name] = entity
        return result

    def entity(self, entry: Any, at: int | None) -> Entity | None:
        parsed = self.single_entry(entry, "entity", at)
        if parsed is None:
            return None
        name, properties = parsed
        if isinstance(entry, str):
            return Entity(name, file=self.source, line=at)
        if not isinstance(properties, dict) or not properties:
            self.error(
                f"the entity '{name}' is followed by ':' but has no properties ({_describe(properties)})",
                at,
                "Remove the ':' after the entity's name, or give it roles / groups / influence_conversation.",
            )
            return None
        errors = self._errors
        allowed = ("roles", "groups", "influence_conversation")
        self.unknown_keys(properties, allowed, f"the entity '{name}'", error=False)
        roles = self.names(properties.get("roles"), f"roles of '{name}'", line_of(properties, "roles"), False)
        groups = self.names(
            properties.get("groups"), f"groups of '{name}'", line_of(properties, "groups"), False
        )
        influence = self.boolean(
            properties.get("influence_conversation"),
            f"influence_conversation of the entity '{name}'",
            line_of(properties, "influence_conversation"),
            True,
        )
        if self._errors > errors:
            return None
        return Entity(name, roles or [], groups or [], influence, file=self.source, line=at)

    # slots

    def slots(self, value: Any, line: int | None) -> dict[str, Slot]:
        specs = self.mapping(
            value,
            "`slots`",
            line,
            "Write slots as a mapping: `slot_name:` with `type:` and `mappings:` below.",
        )
        result: dict[str, Slot] = {}
        for name, spec in specs.items():
            slot = self.slot(name, spec, line_of(specs, name))
            if slot is not None:
                result[slot.name] = slot
        return result

    def slot(self, name: Any, spec: Any, at: int | None) -> Slot | None:
        example = "e.g.\n    my_slot:\n      type: text\n      mappings:\n      - type: from_text"
        if not isinstance(name, str):
            self.error(f"a slot name must be text, not {_describe(name)}", at, "Quote the slot's name.")
            return None
        if name == SESSION_STARTED_METADATA_SLOT:
            self.error(f"the slot name '{name}' is reserved by Rasa", at, "Rename the slot.")
            return None
        if not isinstance(spec, dict):
            self.error(f"the slot '{name}' must be a mapping with `type` and `mappings`", at, example)
            return None
        errors = self._errors
        slot_type = self.slot_type(name, spec, at)
        keys = ["type", "mappings", "initial_value", "influence_conversation", "value_reset_delay"]
        if slot_type == "categorical" or slot_type not in BUILTIN_SLOT_TYPES:
            keys.append("values")
        if slot_type == "float" or slot_type not in BUILTIN_SLOT_TYPES:
            keys += ["min_value", "max_value"]
        if slot_type in BUILTIN_SLOT_TYPES:
            if "auto_fill" in spec:
                self.error(
                    f"the slot '{name}' has `auto_fill`, which Rasa 3 removed",
                    line_of(spec, "auto_fill"),
                    "Remove it: in Rasa 3 a slot is filled only through its `mappings`.",
                )
            why = f" A '{slot_type}' slot takes no other keys (Rasa stops with an error on them)."
            self.unknown_keys(spec, [*keys, "auto_fill"], f"the slot '{name}'", error=True, why=why)
        if spec.get("mappings") is None:
            self.error(
                f"the slot '{name}' has no `mappings`",
                at,
                "Rasa 3 requires mappings on every slot; for a slot set only by custom actions write "
                "`mappings: [{type: custom}]`.",
            )
        mappings = self.slot_mappings(name, spec.get("mappings"), line_of(spec, "mappings"))
        influence = self.boolean(
            spec.get("influence_conversation"),
            f"influence_conversation of the slot '{name}'",
            line_of(spec, "influence_conversation"),
            slot_type != "any",
        )
        if influence and slot_type == "any":
            self.error(
                f"the slot '{name}' has type `any`, which cannot influence the conversation",
                line_of(spec, "influence_conversation"),
                "Set influence_conversation: false, or use another slot type.",
            )
        values = self.slot_values(name, slot_type, spec, at)
        min_value, max_value = self.slot_range(name, slot_type, spec)
        if self._errors > errors or slot_type is None:
            return None
        return Slot(
            name,
            slot_type,
            mappings,
            values,
            min_value,
            max_value,
            _plain(spec.get("initial_value")),
            influence,
            {k: _plain(v) for k, v in spec.items() if k not in keys}
            if slot_type not in BUILTIN_SLOT_TYPES
            else {},
            file=self.source,
            line=at,
        )

    def slot_type(self, name: str, spec: Mapping[Any, Any], at: int | None) -> str | None:
        slot_type = spec.get("type")
        known = ", ".join(BUILTIN_SLOT_TYPES)
        if slot_type is None:
            self.error(
                f"the slot '{name}' has no `type`",
                at,
                f"Add `type:` with one of {known}, or a custom slot class as `module.Class`.",
            )
            return None
        if slot_type == "unfeaturized":
            self.error(
                f"the slot '{name}' has type `unfeaturized`, which Rasa 3 removed",
                line_of(spec, "type"),
                "Use another type with `influence_conversation: false` (e.g. type: any).",
            )
            return None
        if not isinstance(slot_type, str) or not (
            slot_type in BUILTIN_SLOT_TYPES or _CUSTOM_SLOT_TYPE.fullmatch(slot_type)
        ):
            self.error(
                f"the slot '{name}' has the unknown type {_describe(slot_type)}",
                line_of(spec, "type"),
                f"{_did_you_mean(slot_type, BUILTIN_SLOT_TYPES)}Slot types are {known}, "
                "or a custom slot class as `module.Class`.",
            )
            return None
        return slot_type

    def slot_values(
        self, name: str, slot_type: str | None, spec: Mapping[Any, Any], at: int | None
    ) -> list[Any] | None:
        raw = spec.get("values")
        at_values = line_of(spec, "values")
        if slot_type == "categorical" and not raw:
            self.error(
                f"the categorical slot '{name}' has no `values`",
                at_values if "values" in spec else at,
                "List the values the slot can take under `values:`.",
            )
            return None
        if raw is None:
            return None
        items = self.sequence(raw, f"values of the slot '{name}'", at_values, "List the values: [low, high].")
        if any(isinstance(item, dict | list) for item in items):
            self.error(
                f"values of the slot '{name}' must be plain values", at_values, "List texts or numbers."
            )
            return None
        if None in items:
            self.warn(
                f"the slot '{name}' lists null as a value; null means 'not set', so the value is ignored",
                at_values,
                'Remove it, or write "null" in quotes if you mean the text.',
            )
        return [item for item in items if item is not None]

    def slot_range(
        self, name: str, slot_type: str | None, spec: Mapping[Any, Any]
    ) -> tuple[float | None, float | None]:
        bounds: dict[str, float | None] = {}
        for key in ("min_value", "max_value"):
            value = spec.get(key)
            if value is not None and not _is_number(value):
                self.error(
                    f"{key} of the slot '{name}' must be a number, not {_describe(value)}",
                    line_of(spec, key),
                    "Write a plain number, e.g. 0 or 1.5.",
                )
                value = None
            bounds[key] = value
        if slot_type != "float":
            return bounds["min_value"], bounds["max_value"]
        low = bounds["min_value"] if bounds["min_value"] is not None else 0.0
        high = bounds["max_value"] if bounds["max_value"] is not None else 1.0
        if low >= high:
            self.error(
                f"the float slot '{name}' has min_value {low} not below max_value {high}",
                line_of(spec, "min_value"),
                "Make min_value smaller than max_value (the defaults are 0.0 and 1.0).",
            )
        initial = spec.get("initial_value")
        if _is_number(initial) and not low <= initial <= high:
            self.warn(
                f"the float slot '{name}' starts at {initial}, outside its range {low}..{high}",
                line_of(spec, "initial_value"),
                "Widen min_value / max_value or change initial_value.",
            )
        return low, high

    def slot_mappings(self, slot: str, value: Any, line: int | None) -> list[SlotMapping]:
        if value is None:
            return []
        items = self.sequence(
            value, f"mappings of the slot '{slot}'", line, "Start each mapping with '- type:'."
        )
        result = []
        for index, spec in enumerate(items):
            mapping = self.slot_mapping(slot, spec, line_of(items, index))
            if mapping is not None:
                result.append(mapping)
        return result

    def slot_mapping(self, slot: str, spec: Any, at: int | None) -> SlotMapping | None:
        what = f"a mapping of the slot '{slot}'"
        if not isinstance(spec, dict):
            self.error(
                f"{what} must be a mapping, not {_describe(spec)}", at, "Write it as `- type: from_entity`."
            )
            return None
        errors = self._errors
        keys = ("type", "entity", "intent", "not_intent", "role", "group", "value", "action", "conditions")
        self.unknown_keys(spec, keys, what, error=False)
        mapping_type = spec.get("type")
        if mapping_type is None:
            self.error(f"{what} has no `type`", at, f"Add `type:` with one of {', '.join(MAPPING_TYPES)}.")
        elif mapping_type not in MAPPING_TYPES:
            self.error(
                f"{what} has the unknown type {_describe(mapping_type)}",
                line_of(spec, "type"),
                f"{_did_you_mean(mapping_type, MAPPING_TYPES)}Mapping types are {', '.join(MAPPING_TYPES)}.",
            )
        if mapping_type == "from_entity" and spec.get("entity") is None:
            self.error(
                f"{what} is of type from_entity but names no `entity`", at, "Add `entity: <entity name>`."
            )
        if mapping_type in ("from_intent", "from_trigger_intent") and spec.get("value") is None:
            self.error(
                f"{what} is of type {mapping_type} but has no `value`",
                at,
                "Add `value:` with the value to set when the intent is recognised.",
            )
        text = {
            key: self.string(spec.get(key), f"{key} in {what}", line_of(spec, key))
            for key in ("role", "group", "action")
        }
        entity = self.string(spec.get("entity"), f"entity in {what}", line_of(spec, "entity"))
        intent = self.names(spec.get("intent"), f"intent in {what}", line_of(spec, "intent"))
        not_intent = self.names(spec.get("not_intent"), f"not_intent in {what}", line_of(spec, "not_intent"))
        conditions = self.conditions(what, spec.get("conditions"), line_of(spec, "conditions"))
        if self._errors > errors:
            return None
        return SlotMapping(
            cast(MappingType, mapping_type),
            entity,
            intent,
            not_intent,
            text["role"],
            text["group"],
            _plain(spec.get("value")),
            text["action"],
            conditions,
            file=self.source,
            line=at,
        )

    def conditions(self, what: str, value: Any, line: int | None) -> list[MappingCondition]:
        items = self.sequence(value, f"conditions of {what}", line, "Write `- active_loop: <form name>`.")
        result = []
        for index, spec in enumerate(items):
            at = line_of(items, index)
            if not isinstance(spec, dict):
                self.error(
                    f"a condition of {what} must be a mapping, not {_describe(spec)}",
                    at,
                    "Write `- active_loop: <form name>` with `requested_slot: <slot>` below it.",
                )
                continue
            self.unknown_keys(spec, ("active_loop", "requested_slot"), f"a condition of {what}", error=True)
            loop = self.string(spec.get("active_loop"), "active_loop", line_of(spec, "active_loop"))
            requested = self.string(
                spec.get("requested_slot"), "requested_slot", line_of(spec, "requested_slot")
            )
            result.append(MappingCondition(loop, requested))
        return result

    # responses

    def responses(self, value: Any, line: int | None) -> dict[str, list[ResponseVariation]]:
        specs = self.mapping(
            value, "`responses`", line, "Write responses as `utter_name:` with variations below."
        )
        result: dict[str, list[ResponseVariation]] = {}
        for name, variations in specs.items():
            at = line_of(specs, name)
            if not isinstance(name, str):
                self.error(f"a response name must be text, not {_describe(name)}", at, "Quote the name.")
                continue
            if variations is None:
                self.error(f"the response '{name}' has no variations", at, "Add at least one `- text: ...`.")
                continue
            items = self.sequence(
                variations, f"the response '{name}'", at, "Start each variation with '- text:'."
            )
            if isinstance(variations, list) and not variations:
                self.warn(
                    f"the response '{name}' is an empty list, so it says nothing", at, "Add `- text: ...`."
                )
            parsed = [self.variation(name, spec, line_of(items, i)) for i, spec in enumerate(items)]
            if isinstance(variations, list) and None not in parsed:
                result[name] = cast(list[ResponseVariation], parsed)
        return result

    def variation(self, response: str, spec: Any, at: int | None) -> ResponseVariation | None:
        what = f"a variation of the response '{response}'"
        if not isinstance(spec, dict):
            self.error(f"{what} must be a mapping, not {_describe(spec)}", at, "Write it as `- text: ...`.")
            return None
        errors = self._errors
        self.unknown_keys(spec, _VARIATION_KEYS, what, error=True)
        if all(spec.get(key) is None for key in _CONTENT_KEYS):
            self.error(
                f"{what} has no content",
                at,
                f"Give it a `text` (or one of {', '.join(_CONTENT_KEYS[1:])}).",
            )
        elif spec.get("text") is None and not spec.get("custom"):
            self.warn(
                f"{what} has neither `text` nor `custom`; Rasa 3.x's schema refuses that "
                "(Conductor accepts it)",
                at,
                "Add a `text` if the project must still load in Rasa.",
            )
        strings = {
            key: self.string(spec.get(key), f"{key} in {what}", line_of(spec, key))
            for key in ("text", "image", "button_type", "channel", "id")
        }
        objects = {
            key: self.mapping(spec[key], f"{key} in {what}", line_of(spec, key), "Give it keys and values.")
            if spec.get(key) is not None
            else None
            for key in ("custom", "attachment")
        }
        buttons = self.buttons(spec.get("buttons"), f"buttons in {what}", line_of(spec, "buttons"))
        replies = self.buttons(
            spec.get("quick_replies"), f"quick_replies in {what}", line_of(spec, "quick_replies")
        )
        elements = self.sequence(
            spec.get("elements"),
            f"elements in {what}",
            line_of(spec, "elements"),
            "Start each element with '- '.",
        )
        if not all(isinstance(element, dict) for element in elements):
            self.error(
                f"each of the elements in {what} must be a mapping",
                line_of(spec, "elements"),
                "Write each element as keys and values (a mapping).",
            )
        condition = self.response_conditions(what, spec.get("condition"), line_of(spec, "condition"))
        if self._errors > errors:
            return None
        return ResponseVariation(
            text=strings["text"],
            image=strings["image"],
            buttons=buttons,
            button_type=strings["button_type"],
            quick_replies=replies,
            attachment=_plain(objects["attachment"]),
            elements=_plain(elements),
            custom=_plain(objects["custom"]),
            metadata=_plain(spec.get("metadata")),
            id=strings["id"],
            condition=condition,
            channel=strings["channel"],
            file=self.source,
            line=at,
        )

    def buttons(self, value: Any, what: str, line: int | None) -> list[dict[str, Any]]:
        items = self.sequence(value, what, line, "Write each button as `- title: ...` with `payload: ...`.")
        result = []
        for index, button in enumerate(items):
            at = line_of(items, index)
            if not isinstance(button, dict):
                self.error(
                    f"a button in {what} must be a mapping with title and payload, not {_describe(button)}",
                    at,
                    "Write `- title: Yes` and `payload: /affirm` below it.",
                )
                continue
            if not isinstance(button.get("title"), str):
                self.error(
                    f"a button in {what} needs a `title` text ({_describe(button.get('title'))} given)",
                    line_of(button, "title") if "title" in button else at,
                    "Give the button the text to show as `title:` (quote it if it is a number or yes/no).",
                )
            if "payload" in button and not isinstance(button["payload"], str):
                self.error(
                    f"the payload of a button in {what} must be text, not {_describe(button['payload'])}",
                    line_of(button, "payload"),
                    "Quote the payload, e.g. payload: '/inform{\"n\": 1}'.",
                )
            result.append(_plain(button))
        return result

    def response_conditions(self, what: str, value: Any, line: int | None) -> list[ResponseCondition]:
        hint = "Write `- type: slot`, `name: <slot>`, `value: <value>`."
        items = self.sequence(value, f"the condition of {what}", line, hint)
        result = []
        for index, spec in enumerate(items):
            at = line_of(items, index)
            if not isinstance(spec, dict):
                self.error(f"a condition of {what} must be a mapping, not {_describe(spec)}", at, hint)
                continue
            errors = self._errors
            self.unknown_keys(spec, ("type", "name", "value"), f"a condition of {what}", error=True)
            missing = [key for key in ("type", "name", "value") if key not in spec]
            if missing:
                self.error(f"a condition of {what} lacks {', '.join(missing)}", at, hint)
            elif spec["type"] != "slot":
                self.error(
                    f"a condition of {what} has type {_describe(spec['type'])}; "
                    "Rasa only has slot conditions",
                    line_of(spec, "type"),
                    hint,
                )
            elif not isinstance(spec["name"], str):
                self.error(
                    f"the slot name in a condition of {what} must be text", line_of(spec, "name"), hint
                )
            if self._errors == errors:
                result.append(ResponseCondition(spec["type"], spec["name"], _plain(spec["value"])))
        return result

    # actions, forms, settings

    def actions(self, value: Any, line: int | None) -> dict[str, Action]:
        items = self.sequence(
            value, "`actions`", line, "List the custom actions, one per line: `- action_x`."
        )
        result: dict[str, Action] = {}
        for index, entry in enumerate(items):
            at = line_of(items, index)
            for action in self.action_entry(entry, at):
                if action.name in result:
                    self.error(
                        f"the action '{action.name}' is listed twice{_first(result[action.name])}",
                        at,
                        "Remove one of them; Rasa refuses duplicate actions.",
                    )
                else:
                    result[action.name] = action
        return result

    def action_entry(self, entry: Any, at: int | None) -> list[Action]:
        if isinstance(entry, str):
            return [Action(entry, entry.startswith("validate_"), file=self.source, line=at)]
        if not isinstance(entry, dict):
            self.error(f"an action must be a name, not {_describe(entry)}", at, "Write `- action_name`.")
            return []
        result = []
        for name, config in entry.items():
            if not isinstance(name, str):
                self.error(f"an action name must be text, not {_describe(name)}", at, "Quote the name.")
                continue
            settings = self.mapping(
                config, f"the settings of the action '{name}'", at, "Write `send_domain: true`."
            )
            self.unknown_keys(settings, ("send_domain",), f"the action '{name}'", error=True)
            send = self.boolean(
                settings.get("send_domain"),
                f"send_domain of the action '{name}'",
                line_of(settings, "send_domain"),
                name.startswith("validate_") and config is None,
            )
            result.append(Action(name, send, file=self.source, line=at))
        return result

    def forms(self, value: Any, line: int | None) -> dict[str, Form]:
        specs = self.mapping(
            value,
            "`forms`",
            line,
            "Rasa 3 writes forms as a mapping: `form_name:` with `required_slots:` below.",
        )
        result: dict[str, Form] = {}
        for name, spec in specs.items():
            at = line_of(specs, name)
            if not isinstance(name, str):
                self.error(f"a form name must be text, not {_describe(name)}", at, "Quote the name.")
                continue
            form = self.form(name, spec, at)
            if form is not None:
                result[name] = form
        return result

    def form(self, name: str, spec: Any, at: int | None) -> Form | None:
        if spec is None:
            return Form(name, file=self.source, line=at)
        if not isinstance(spec, dict):
            self.error(
                f"the form '{name}' must be a mapping, not {_describe(spec)}", at, "Add `required_slots:`."
            )
            return None
        errors = self._errors
        self.unknown_keys(spec, ("required_slots", "ignored_intents"), f"the form '{name}'", error=True)
        required = spec.get("required_slots")
        if isinstance(required, dict):
            self.error(
                f"required_slots of the form '{name}' is a mapping (the Rasa 2 format)",
                line_of(spec, "required_slots"),
                "In Rasa 3, list the slot names under required_slots and move their mappings to the slots.",
            )
        elif "ignored_intents" in spec and "required_slots" not in spec:
            self.error(
                f"the form '{name}' has ignored_intents but no required_slots",
                at,
                "Add `required_slots:`; Rasa requires it alongside ignored_intents.",
            )
        required_slots = self.names(
            required if not isinstance(required, dict) else None,
            f"required_slots of the form '{name}'",
            line_of(spec, "required_slots"),
            single_allowed=False,
        )
        ignored = self.names(
            spec.get("ignored_intents"),
            f"ignored_intents of the form '{name}'",
            line_of(spec, "ignored_intents"),
        )
        if self._errors > errors:
            return None
        return Form(name, required_slots or [], ignored or [], file=self.source, line=at)

    def session_config(self, value: Any, line: int | None) -> SessionConfig:
        spec = self.mapping(
            value,
            "`session_config`",
            line,
            "Write session_expiration_time and carry_over_slots_to_new_session below it.",
        )
        allowed = ("session_expiration_time", "carry_over_slots_to_new_session")
        self.unknown_keys(spec, allowed, "`session_config`", error=False)
        minutes = spec.get("session_expiration_time")
        result = SessionConfig(file=self.source, line=line)
        if minutes is not None:
            if not _is_number(minutes):
                self.error(
                    f"session_expiration_time must be a number of minutes, not {_describe(minutes)}",
                    line_of(spec, "session_expiration_time"),
                    "Write a number of minutes; 0 keeps one session forever.",
                )
            elif minutes < 0:
                self.error(
                    f"session_expiration_time is negative ({minutes})",
                    line_of(spec, "session_expiration_time"),
                    "Use a number of minutes, or 0 to keep one session forever.",
                )
            else:
                result = replace(result, session_expiration_time=minutes)
        carry = self.boolean(
            spec.get("carry_over_slots_to_new_session"),
            "carry_over_slots_to_new_session",
            line_of(spec, "carry_over_slots_to_new_session"),
            True,
        )
        return replace(result, carry_over_slots_to_new_session=carry)

    def store_entities_as_slots(self, value: Any, line: int | None) -> bool:
        spec = self.mapping(value, "`config`", line, "Write `store_entities_as_slots: true` below it.")
        self.unknown_keys(spec, ("store_entities_as_slots",), "`config`", error=False)
        return self.boolean(
            spec.get("store_entities_as_slots"),
            "store_entities_as_slots",
            line_of(spec, "store_entities_as_slots"),
            True,
        )

    def action_texts(self, value: Any, line: int | None) -> list[str]:
        texts = self.names(value, "`e2e_actions`", line, single_allowed=False)
        return texts or []
