"""Story steps as conversation events: what a tracker holds after the conversation a story describes.

Used to replay test stories (and to build training trackers) the way Rasa does: a user step becomes a `user`
event whose parse data carries the story's intent (confidence 1.0) and entities, an action step an `action`
event, a `bot:` step an `action` event with `action_text`, `slot_was_set` one `slot` event per slot and
`active_loop` an `active_loop` event. Steps must be linear: resolve checkpoints and `or` steps first
(`bot.project.stories.resolve_checkpoints`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.dialogue.events import ACTION_LISTEN_NAME, ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from bot.project.stories import (
    ANY_VALUE,
    ActionStep,
    ActiveLoopStep,
    BotStep,
    SlotWasSetStep,
    Step,
    UserStep,
)

__all__ = ["events_from_steps", "user_event"]


def _entity(fields: dict[str, Any], role: str | None, group: str | None) -> dict[str, Any]:
    if role is not None:
        fields["role"] = role
    if group is not None:
        fields["group"] = group
    return fields


def _entities(step: UserStep) -> list[dict[str, Any]]:
    if step.user_text is not None:
        return [
            _entity({"start": s.start, "end": s.end, "value": s.value, "entity": s.entity}, s.role, s.group)
            for s in step.text_entities
        ]
    # Rasa gives an entity listed by name only the empty string as its value
    return [
        _entity({"entity": e.name, "value": "" if e.value is ANY_VALUE else e.value}, e.role, e.group)
        for e in step.entities
    ]


def user_event(step: UserStep) -> UserUttered:
    """The `user` event for a user step; a retrieval intent `faq/ask_x` is named `faq`, with the full name
    under `full_retrieval_intent_name`, as Rasa's story reader records it."""
    intent: dict[str, Any] = {}
    if step.intent is not None:
        intent = {"name": step.intent_base, "confidence": 1.0}
        if step.intent != step.intent_base:
            intent["full_retrieval_intent_name"] = step.intent
    parse_data = {
        "intent": intent,
        "entities": _entities(step),
        "text": step.user_text,
        "message_id": None,
        "metadata": {},
    }
    return UserUttered(text=step.user_text, parse_data=parse_data)


def events_from_steps(
    steps: Sequence[Step],
    *,
    any_slot_value: Mapping[str, Any] | None = None,
    listen: bool = False,
    entity_slots: Callable[[UserUttered], list[Event]] | None = None,
) -> list[Event]:
    """The events of linear story steps, in order.

    `any_slot_value` gives, per slot, the value that stands for a slot named without a value (Rasa uses
    "filled" for text slots and ["filled"] for list slots, None otherwise; the domain knows the types).
    `listen=True` adds `action_listen` before each user message and at the end, as a tracker has them.
    `entity_slots` returns the events a user message's entities cause (slots filled from entities), added
    right after it.
    """
    defaults = any_slot_value or {}
    events: list[Event] = []

    def add_listen() -> None:
        last = events[-1] if events else None
        if not (isinstance(last, ActionExecuted) and last.name == ACTION_LISTEN_NAME):
            events.append(ActionExecuted(name=ACTION_LISTEN_NAME))

    for step in steps:
        if isinstance(step, UserStep):
            if listen:
                add_listen()
            event = user_event(step)
            events.append(event)
            if entity_slots is not None:
                events.extend(entity_slots(event))
        elif isinstance(step, ActionStep):
            events.append(ActionExecuted(name=step.name))
        elif isinstance(step, BotStep):
            events.append(ActionExecuted(action_text=step.text))
        elif isinstance(step, SlotWasSetStep):
            events.extend(
                SlotSet(name=slot, value=defaults.get(slot) if value is ANY_VALUE else value)
                for slot, value in step.slots.items()
            )
        elif isinstance(step, ActiveLoopStep):
            events.append(ActiveLoop(name=step.name))
        else:
            raise ValueError(
                f"{type(step).__name__} at {step.file}:{step.line} must be resolved before conversion "
                "(use resolve_checkpoints)"
            )
    if listen:
        add_listen()
    return events
