"""Slot mappings: how a user message fills slots, run as `action_extract_slots` after every user message.

Rasa 3.x fills slots only through the mappings the domain declares (the Rasa 2 auto-fill of a slot from an
entity of the same name, `store_entities_as_slots`, is gone). For each declared slot, its mappings are tried in
order and the first that yields a value sets the slot:

- `from_entity`: the latest message's entities of that type with exactly that role and group (a mapping without
  role matches only entities without role); a list slot takes them all, any other slot the last one;
- `from_intent`: `value`; `from_text`: the message's text;
- `from_trigger_intent`: `value`, while a loop is active (and is one named in the conditions, if any);
  `bot.dialogue.forms.FormAction` also fills these when the message activates the form (Rasa's documented
  meaning of the mapping);
- `custom`: nothing here; the mapping's `action` (if given and registered) runs and its `slot` events count.

A mapping applies only if the message's intent is wanted (`intent` lists the intents that fill; otherwise any
intent not in `not_intent` nor ignored by the active form) and its `conditions` hold (an `active_loop`, and if
given the `requested_slot`). While a form is active, a `from_entity` mapping shared by several of its required
slots only fills the slot the form asked for. A mapping naming an entity or intent the domain does not have is
skipped with a warning (Rasa 3.6 also skips every `from_intent` mapping whose `intent` is a list; here each
listed intent is checked instead).

As in Rasa a slot event is emitted whenever a mapping yields a value, even one the slot already holds, except
that a `None` value is only emitted to clear a slot that holds something. Finally `action_validate_slot_mappings`
runs, when the domain declares it and it is registered, and its `slot` events override the extracted ones.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from bot.dialogue.actions import ACTION_EXTRACT_SLOTS_NAME, Action, ActionContext
from bot.dialogue.events import BotUttered, Event, SlotSet
from bot.dialogue.tracker import DialogueStateTracker
from bot.project.domain import REQUESTED_SLOT, SESSION_STARTED_METADATA_SLOT, Domain, SlotMapping

__all__ = [
    "ACTION_VALIDATE_SLOT_MAPPINGS_NAME",
    "BUILTIN_SLOT_NAMES",
    "ActionExtractSlots",
    "entity_mapping_is_unique",
    "intent_is_desired",
    "mapping_conditions_hold",
    "trigger_intent_values",
]

logger = logging.getLogger(__name__)

ACTION_VALIDATE_SLOT_MAPPINGS_NAME = "action_validate_slot_mappings"
BUILTIN_SLOT_NAMES = frozenset(
    {
        REQUESTED_SLOT,
        SESSION_STARTED_METADATA_SLOT,
        "knowledge_base_listed_objects",
        "knowledge_base_last_object",
        "knowledge_base_last_object_type",
    }
)
"""Slots Rasa manages itself: never filled by mappings, even when the domain declares them."""

_WARNED_MAPPINGS: set[tuple[str, str]] = set()
"""(slot, problem) pairs already warned about: a broken mapping is reported once, not on every message."""


def intent_is_desired(mapping: SlotMapping, tracker: DialogueStateTracker, domain: Domain) -> bool:
    """Whether the latest message's intent lets this mapping fill its slot."""
    wanted = mapping.intent or []
    unwanted = list(mapping.not_intent or [])
    loop = tracker.active_loop_name
    form = domain.forms.get(loop) if loop else None
    if form is not None and (
        not mapping.conditions or any(c.active_loop == loop for c in mapping.conditions)
    ):
        unwanted += form.ignored_intents
    intent = tracker.latest_message.intent_name
    return (not wanted and intent not in unwanted) or intent in wanted


def mapping_conditions_hold(mapping: SlotMapping, tracker: DialogueStateTracker, slot: str) -> bool:
    """Whether the mapping's `conditions` (active loop, requested slot) match the conversation."""
    if not mapping.conditions:
        return True
    requested = tracker.get_slot(REQUESTED_SLOT)
    if tracker.is_active_loop_rejected and requested == slot:
        return False
    loop = tracker.active_loop_name
    for condition in mapping.conditions:
        if (
            condition.active_loop is not None
            and condition.active_loop == loop
            and (condition.requested_slot is None or condition.requested_slot == requested)
        ):
            return True
        if condition.active_loop is None and loop is None:
            return True
    return False


def _mapping_key(mapping: SlotMapping) -> str:
    return json.dumps(mapping.as_dict(), sort_keys=True, default=str)


def entity_mapping_is_unique(form: str, mapping: SlotMapping, domain: Domain) -> bool:
    """Whether no other required slot of the form has the same `from_entity` mapping (so an entity that matches
    it can only mean this slot)."""
    key = _mapping_key(mapping)
    count = 0
    for name in domain.required_slots(form):
        slot = domain.slots.get(name)
        if slot is not None:
            count += sum(1 for m in slot.mappings if m.type == "from_entity" and _mapping_key(m) == key)
    return count <= 1


def _fails_unique_entity_check(
    slot: str, mapping: SlotMapping, tracker: DialogueStateTracker, domain: Domain
) -> bool:
    form = tracker.active_loop_name
    return (
        mapping.type == "from_entity"
        and form is not None
        and tracker.get_slot(REQUESTED_SLOT) != slot
        and slot in domain.required_slots(form)
        and not entity_mapping_is_unique(form, mapping, domain)
    )


def _mapping_is_usable(slot: str, mapping: SlotMapping, domain: Domain) -> bool:
    problem = None
    if mapping.type == "from_entity" and mapping.entity not in domain.entities:
        problem = (
            f"a from_entity mapping for the entity '{mapping.entity}', which the domain does not declare"
        )
    elif mapping.type == "from_intent" and mapping.intent:
        unknown = [name for name in mapping.intent if name not in domain.intent_names]
        if unknown:
            problem = f"a from_intent mapping for intents the domain does not declare: {', '.join(unknown)}"
    if problem is None:
        return True
    if (slot, problem) not in _WARNED_MAPPINGS:
        _WARNED_MAPPINGS.add((slot, problem))
        where = f" ({mapping.file}:{mapping.line})" if mapping.file else ""
        logger.warning("the slot '%s' has %s%s; the mapping is skipped", slot, problem, where)
    return False


def _mapped_values(mapping: SlotMapping, tracker: DialogueStateTracker) -> list[Any]:
    """The values a predefined mapping yields for the latest message (empty: it does not apply)."""
    message = tracker.latest_message
    if mapping.type == "from_entity":
        return list(tracker.get_latest_entity_values(mapping.entity or "", mapping.role, mapping.group))
    if mapping.type == "from_intent":
        return [mapping.value]
    if mapping.type == "from_trigger_intent":
        loop = tracker.active_loop_name
        loops = [condition.active_loop for condition in mapping.conditions]
        return [mapping.value] if loop is not None and (not loops or loop in loops) else []
    if mapping.type == "from_text":
        return [message.text]
    return []


def trigger_intent_values(form: str, tracker: DialogueStateTracker, domain: Domain) -> dict[str, Any]:
    """Values of the form's required slots from `from_trigger_intent` mappings that the latest message's
    intent matches, for when that message activates the form."""
    values: dict[str, Any] = {}
    for name in domain.required_slots(form):
        slot = domain.slots.get(name)
        for mapping in slot.mappings if slot is not None else []:
            if mapping.type != "from_trigger_intent":
                continue
            if mapping.conditions and form not in {c.active_loop for c in mapping.conditions}:
                continue
            if intent_is_desired(mapping, tracker, domain):
                values[name] = mapping.value
                break
    return values


class ActionExtractSlots(Action):
    """Fills slots from the latest user message through the domain's slot mappings (see the module docstring).
    The processor runs it after each user message, without logging an `action` event for it."""

    name = ACTION_EXTRACT_SLOTS_NAME

    async def run(self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        events: list[Event] = []
        custom_actions_run: set[str] = set()
        for slot in domain.slots.values():
            if slot.name in BUILTIN_SLOT_NAMES:
                continue
            for mapping in slot.mappings:
                if not self._applies(slot.name, mapping, tracker, domain):
                    continue
                if mapping.type == "custom":
                    if mapping.action and mapping.action not in custom_actions_run:
                        custom_actions_run.add(mapping.action)
                        events += await _run_custom(mapping.action, tracker, domain, context)
                    continue
                values = _mapped_values(mapping, tracker)
                if not values:
                    continue
                value = values if slot.type == "list" else values[-1]
                if value is not None or tracker.get_slot(slot.name) is not None:
                    events.append(SlotSet(name=slot.name, value=value))
                    break
        return await _validated(events, tracker, domain, context)

    @staticmethod
    def _applies(slot: str, mapping: SlotMapping, tracker: DialogueStateTracker, domain: Domain) -> bool:
        return (
            _mapping_is_usable(slot, mapping, domain)
            and intent_is_desired(mapping, tracker, domain)
            and (mapping.type == "from_trigger_intent" or mapping_conditions_hold(mapping, tracker, slot))
            and not _fails_unique_entity_check(slot, mapping, tracker, domain)
        )


async def _run_custom(
    name: str, tracker: DialogueStateTracker, domain: Domain, context: ActionContext
) -> list[Event]:
    """The `slot` and `bot` events of a custom action run for slot extraction (others are dropped)."""
    action = context.actions.find(name)
    if action is None:
        if ("", name) not in _WARNED_MAPPINGS:
            _WARNED_MAPPINGS.add(("", name))
            logger.warning("the slot mapping action '%s' is not registered; its slots stay as they are", name)
        return []
    try:
        events = await action.run(tracker, domain, context)
    except Exception:
        logger.exception("the slot mapping action '%s' failed; its slots stay as they are", name)
        return []
    kept: list[Event] = []
    for event in events:
        if isinstance(event, SlotSet | BotUttered):
            kept.append(event)
        else:
            logger.info(
                "'%s' returned a '%s' event while extracting slots; it is dropped", name, event.type_name
            )
    return kept


async def _validated(
    extracted: list[Event], tracker: DialogueStateTracker, domain: Domain, context: ActionContext
) -> list[Event]:
    """The extracted `slot` events after `action_validate_slot_mappings` (when declared and registered)."""
    slot_events = [event for event in extracted if isinstance(event, SlotSet)]
    validator = context.actions.find(ACTION_VALIDATE_SLOT_MAPPINGS_NAME)
    if ACTION_VALIDATE_SLOT_MAPPINGS_NAME not in domain.actions or validator is None:
        return list(slot_events)
    candidate = DialogueStateTracker.from_events(
        tracker.sender_id, [*tracker.events_after_latest_restart(), *slot_events], domain
    )
    validated = await _run_custom(ACTION_VALIDATE_SLOT_MAPPINGS_NAME, candidate, domain, context)
    overridden = {event.name for event in validated if isinstance(event, SlotSet)}
    return [*validated, *(event for event in slot_events if event.name not in overridden)]
