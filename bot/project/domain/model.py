"""`Domain`: what the assistant knows, and how two domains combine.

The class answers what the dialogue asks of a domain (intents, actions and entity labels in Rasa's order,
entities per intent, retrieval intents, the slots Rasa adds) and converts to and from Rasa's JSON shape.
`merge_domains` combines two domains by Rasa 3.6's rules (a name defined twice the same way is a warning,
two ways an error); `whole_domain_problems` holds the checks that need every file read first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from bot.errors import ConductorError, Problem, Severity
from bot.project.domain.parts import (
    DEFAULT_ACTIONS,
    DEFAULT_INTENTS,
    DOMAIN_FORMAT_VERSION,
    ENTITY_LABEL_SEPARATOR,
    REQUESTED_SLOT,
    SESSION_STARTED_METADATA_SLOT,
    Action,
    Entity,
    Form,
    Intent,
    ResponseVariation,
    SessionConfig,
    Slot,
)

_KNOWLEDGE_BASE_ACTION = "action_query_knowledge_base"
_KNOWLEDGE_BASE_SLOTS = (
    "knowledge_base_listed_objects",
    "knowledge_base_last_object",
    "knowledge_base_last_object_type",
)

_UTTER_PREFIX = "utter_"
_RESPONSE_KEY_SEPARATOR = "/"


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
        merged, problems = merge_domains(self, other)
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
        from bot.project.domain.reader import DomainReader  # the reader builds Domains, so it comes later

        reader = DomainReader(str(source) if source is not None else None)
        domain = reader.domain(data)
        problems = reader.problems + whole_domain_problems(domain)
        if any(p.severity is Severity.ERROR for p in problems):
            raise ConductorError(problems)
        return replace(domain, warnings=problems)


# --- merging --------------------------------------------------------------------------------------------

_Located = TypeVar("_Located", Intent, Entity, Slot, Action, Form)


def _where(item: Any) -> str:
    file, line = getattr(item, "file", None), getattr(item, "line", None)
    if file is None:
        return "a domain given as data" if line is None else f"line {line}"
    return f"{file}:{line}" if line is not None else file


def merge_domains(first: Domain, second: Domain) -> tuple[Domain, list[Problem]]:
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


def whole_domain_problems(domain: Domain) -> list[Problem]:
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
