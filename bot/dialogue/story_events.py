"""Story steps and conversation events, each as the other: the one correspondence, in both directions.

`step_events` gives the events one story step stands for, as Rasa's story reader makes them: the training
trackers of `bot.dialogue.training` (which story tests replay as well) are built from it, step by step, with
`listen_after` for the `action_listen` a tracker ends with. `events_from_steps` does the same for a whole
linear story at once; only tests use it. `story_steps` and `conversation_stories` write a conversation's
events as Rasa 3.x test stories, as Rasa's story exporter does (what `GET /conversations/{id}/story`
answers). Each step kind stands for one event kind:

| step            | event                                                                                  |
|-----------------|----------------------------------------------------------------------------------------|
| user            | `user`: `intent:` in the parse data (a retrieval intent `faq/ask_x` named `faq`, the   |
|                 | full name under `full_retrieval_intent_name`), `user:` as its text, and the entities   |
|                 | annotated in the text or listed under `entities:`                                      |
| `action:`       | `action` (a conversation's `action_listen` and `action_session_start` are not written) |
| `bot:`          | `action` without a name, the text as `action_text`                                     |
| `slot_was_set:` | one `slot` event per slot                                                              |
| `active_loop:`  | `active_loop` (the loop's name, or null)                                               |

Steps to events: a user step's intent has confidence 1.0; an entity listed by name only gets the empty string
as its value, as in Rasa, and a slot named without a value the caller's stand-in (`any_slot_value`). Steps
must be linear: resolve checkpoints and `or` steps first (`bot.project.stories.resolve_checkpoints`).

Events to steps: as Rasa does, the conversation is split into sessions, each starting at an
`action_session_start` (events before the first one make a session of their own), and each session becomes
one test story named after the conversation (`<id>, story <n>` when there are several). A story has a step
for each of its session's events that Rasa writes, in order, reverted ones included (Rasa writes the events
as stored, not only the applied ones); other events (bot messages, session starts, rewinds, rejections...)
are not written. Two cases go beyond Rasa, so that the story can be read back and replayed: a message with
an intent but without text, or with an entity that has no span in its text, lists its entities under
`entities:` instead of annotating them (Rasa would drop or fail on them); and a message triggered from
outside (`/trigger_intent`, a reminder: metadata `is_external`) is written without its stand-in text
`EXTERNAL: <intent>`, which no user typed and no NLU would parse back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from bot.dialogue.events import (
    ACTION_LISTEN_NAME,
    ActionExecuted,
    ActiveLoop,
    Event,
    SlotSet,
    UserUttered,
)
from bot.dialogue.tracker import ACTION_SESSION_START_NAME, DialogueStateTracker
from bot.project.nlu_data import EntitySpan
from bot.project.stories import (
    ANY_VALUE,
    ActionStep,
    ActiveLoopStep,
    BotStep,
    SlotWasSetStep,
    Step,
    StoryBlock,
    StoryEntity,
    UserStep,
)

__all__ = [
    "conversation_stories",
    "events_from_steps",
    "listen_after",
    "split_sessions",
    "step_events",
    "story_steps",
    "user_event",
]

_FULL_RETRIEVAL_INTENT = "full_retrieval_intent_name"
"""Where a user event's intent keeps a retrieval intent's full name (`faq/ask_x`; `name` is `faq`)."""

_UNWRITTEN_ACTIONS = frozenset({ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME})


# --- user step <-> user event ---------------------------------------------------------------------------


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
            intent[_FULL_RETRIEVAL_INTENT] = step.intent
    parse_data = {
        "intent": intent,
        "entities": _entities(step),
        "text": step.user_text,
        "message_id": None,
        "metadata": {},
    }
    return UserUttered(text=step.user_text, parse_data=parse_data)


def _span(entity: Mapping[str, Any], text: str) -> EntitySpan | None:
    """The entity as a span of `text`, or None when its `start`/`end` do not mark a part of it."""
    start, end = entity.get("start"), entity.get("end")
    if type(start) is not int or type(end) is not int or not 0 <= start < end <= len(text):
        return None
    return EntitySpan(
        start=start,
        end=end,
        text=text[start:end],
        entity=entity["entity"],
        value=entity.get("value"),
        role=entity.get("role"),
        group=entity.get("group"),
    )


def _user_step(event: UserUttered) -> UserStep | None:
    retrieval = event.intent.get(_FULL_RETRIEVAL_INTENT)
    intent = retrieval if isinstance(retrieval, str) and retrieval else event.intent_name
    entities = [e for e in event.entities if isinstance(e.get("entity"), str)]
    text = None if event.metadata.get("is_external") else event.text
    if text:
        spans = [span for entity in entities if (span := _span(entity, text)) is not None]
        if len(spans) == len(entities) or intent is None:
            return UserStep(intent, user_text=text, text_entities=spans)
    if intent is None:
        return None  # neither intent nor text: nothing a story could say
    listed = [
        StoryEntity(e["entity"], e.get("value", ANY_VALUE), e.get("role"), e.get("group")) for e in entities
    ]
    return UserStep(intent, listed)


# --- action and bot steps <-> action events -------------------------------------------------------------


def _action_event(step: ActionStep | BotStep) -> ActionExecuted:
    if isinstance(step, BotStep):
        return ActionExecuted(action_text=step.text)
    return ActionExecuted(name=step.name)


def _action_step(event: ActionExecuted) -> ActionStep | BotStep | None:
    if event.name is None:
        return BotStep(event.action_text or "")
    return None if event.name in _UNWRITTEN_ACTIONS else ActionStep(event.name)


# --- steps -> events -------------------------------------------------------------------------------------


def listen_after(last: Event | None) -> list[Event]:
    """The `action_listen` a tracker has before a user message and at its end, following `last` (the event
    before, None at the start): none when `last` already is one, so that it never comes twice in a row."""
    if isinstance(last, ActionExecuted) and last.name == ACTION_LISTEN_NAME:
        return []
    return [ActionExecuted(name=ACTION_LISTEN_NAME)]


def _no_value(slot: str) -> None:
    return None


def step_events(
    step: Step,
    *,
    listen: bool = False,
    last: Event | None = None,
    any_slot_value: Callable[[str], Any] | None = None,
    entity_slots: Callable[[UserUttered], Iterable[Event]] | None = None,
) -> list[Event]:
    """The events of one linear story step, in order (see the module docstring).

    With `listen=True` a user step's events start with the `action_listen` a tracker has before a user
    message, unless `last` (the event before the step) already is one: `listen_after(last)`. Besides what
    `entity_slots` gives, that is the only action event a user step yields. `any_slot_value(slot)` is the
    stand-in for a slot named without a value (None when not given). `entity_slots` returns the events a user
    message's entities cause (slots filled from entities), which follow the message.
    """
    if isinstance(step, UserStep):
        events = listen_after(last) if listen else []
        message = user_event(step)
        events.append(message)
        if entity_slots is not None:
            events.extend(entity_slots(message))
        return events
    if isinstance(step, ActionStep | BotStep):
        return [_action_event(step)]
    if isinstance(step, SlotWasSetStep):
        stand_in = any_slot_value or _no_value
        return [
            SlotSet(name=slot, value=stand_in(slot) if value is ANY_VALUE else value)
            for slot, value in step.slots.items()
        ]
    if isinstance(step, ActiveLoopStep):
        return [ActiveLoop(name=step.name)]
    raise ValueError(
        f"{type(step).__name__} at {step.file}:{step.line} must be resolved before conversion "
        "(use resolve_checkpoints)"
    )


def events_from_steps(
    steps: Sequence[Step],
    *,
    any_slot_value: Mapping[str, Any] | None = None,
    listen: bool = False,
    entity_slots: Callable[[UserUttered], Iterable[Event]] | None = None,
) -> list[Event]:
    """The events of linear story steps, in order: each step's `step_events`, and with `listen=True` the
    `action_listen` a tracker ends with.

    `any_slot_value` gives, per slot, the value that stands for a slot named without a value (Rasa uses
    "filled" for text slots and ["filled"] for list slots, None otherwise; the domain knows the types).
    `listen=True` adds `action_listen` before each user message and at the end, as a tracker has them.
    `entity_slots` returns the events a user message's entities cause (slots filled from entities), added
    right after it.
    """
    defaults = any_slot_value or {}
    events: list[Event] = []
    for step in steps:
        last = events[-1] if events else None
        events += step_events(
            step, listen=listen, last=last, any_slot_value=defaults.get, entity_slots=entity_slots
        )
    if listen:
        events += listen_after(events[-1] if events else None)
    return events


# --- events -> steps -------------------------------------------------------------------------------------


def _step(event: Event) -> Step | None:
    if isinstance(event, UserUttered):
        return _user_step(event)
    if isinstance(event, ActionExecuted):
        return _action_step(event)
    if isinstance(event, SlotSet):
        return SlotWasSetStep({event.name: event.value})
    if isinstance(event, ActiveLoop):
        return ActiveLoopStep(event.name)
    return None


def story_steps(events: Iterable[Event]) -> list[Step]:
    """The story steps Rasa writes for these events (see the module docstring)."""
    return [step for event in events if (step := _step(event)) is not None]


def split_sessions(events: Sequence[Event]) -> list[list[Event]]:
    """The events of each session, in order: every `action_session_start` begins a new one."""
    sessions: list[list[Event]] = []
    for event in events:
        if not sessions or (isinstance(event, ActionExecuted) and event.name == ACTION_SESSION_START_NAME):
            sessions.append([])
        sessions[-1].append(event)
    return sessions


def conversation_stories(tracker: DialogueStateTracker, *, all_sessions: bool = False) -> list[StoryBlock]:
    """One test story per session of the conversation, or only for its latest session (none without events).

    Cut the tracker first (`travel_back_in_time`) for the conversation as it was at some time.
    """
    sessions = split_sessions(tracker.events)
    if not all_sessions:
        sessions = sessions[-1:]
    name = tracker.sender_id
    return [
        StoryBlock(f"{name}, story {number}" if len(sessions) > 1 else name, "test", story_steps(session))
        for number, session in enumerate(sessions, 1)
    ]
