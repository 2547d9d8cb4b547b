"""A conversation as Rasa 3.x test stories: what `GET /conversations/{id}/story` answers.

As Rasa does, the conversation is split into sessions, each starting at an `action_session_start` (events
before the first one make a session of their own), and each session becomes one test story named after the
conversation (`<id>, story <n>` when there are several). A story has a step for each of its session's events
that Rasa writes, in order, reverted ones included (Rasa writes the events as stored, not only the applied
ones):

| event           | step                                                                                  |
|-----------------|---------------------------------------------------------------------------------------|
| `user`          | `intent:` (the full retrieval intent when known) and the text as `user:`, with the    |
|                 | entities annotated in it                                                              |
| `action`        | `action:` (`bot:` for an end-to-end text), except `action_listen` and                 |
|                 | `action_session_start`                                                                |
| `slot`          | `slot_was_set:` with that one slot                                                    |
| `active_loop`   | `active_loop:` (the loop's name, or null)                                             |

Other events (bot messages, session starts, rewinds, rejections...) are not written. Two cases go beyond
Rasa, so that the story can be read back and replayed: a message with an intent but without text, or with an
entity that has no span in its text, lists its entities under `entities:` instead of annotating them (Rasa
would drop or fail on them); and a message triggered from outside (`/trigger_intent`, a reminder: metadata
`is_external`) is written without its stand-in text `EXTERNAL: <intent>`, which no user typed and no NLU
would parse back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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

__all__ = ["conversation_stories", "split_sessions", "story_steps"]

_UNWRITTEN_ACTIONS = frozenset({ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME})


def split_sessions(events: Sequence[Event]) -> list[list[Event]]:
    """The events of each session, in order: every `action_session_start` begins a new one."""
    sessions: list[list[Event]] = []
    for event in events:
        if not sessions or (isinstance(event, ActionExecuted) and event.name == ACTION_SESSION_START_NAME):
            sessions.append([])
        sessions[-1].append(event)
    return sessions


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
    retrieval = event.intent.get("full_retrieval_intent_name")
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


def _step(event: Event) -> Step | None:
    if isinstance(event, UserUttered):
        return _user_step(event)
    if isinstance(event, ActionExecuted):
        if event.name is None:
            return BotStep(event.action_text or "")
        return None if event.name in _UNWRITTEN_ACTIONS else ActionStep(event.name)
    if isinstance(event, SlotSet):
        return SlotWasSetStep({event.name: event.value})
    if isinstance(event, ActiveLoop):
        return ActiveLoopStep(event.name)
    return None


def story_steps(events: Iterable[Event]) -> list[Step]:
    """The story steps Rasa writes for these events (see the module docstring)."""
    return [step for event in events if (step := _step(event)) is not None]


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
