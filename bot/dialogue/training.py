"""Stories and rules as training trackers, the way Rasa's `TrainingDataGenerator` builds them.

Checkpoints are joined and `or` steps expanded first (`bot.project.stories.resolve_checkpoints`). Each linear
story then becomes one tracker: each step's events (`bot.dialogue.story_events.step_events`, the one step to
event mapping), with the events Rasa makes explicit:

- `action_listen` before every user message and at the end (never twice in a row);
- after a user message, the slots its entities fill through unconditional `from_entity` mappings (Rasa's
  `Domain.slots_for_entities`; a list slot takes every value, another slot the last);
- a slot named without a value gets "filled" (text slots), ["filled"] (list slots), or no value;
- the first action of a story that starts with an action has no history to learn from: it is marked
  unpredictable and yields no training example.

Rules additionally get their `condition` events first, then the snippet action `...` (unless
`conversation_start: true`), their steps, and another `...` when `wait_for_user_input: false`; a slot or loop
set to `null` in a rule holds the marker "should not be set", so a rule can require it to be empty.

Augmented trackers (stories glued together) are what Rasa adds for its neural policy only; the learned
policy here trains on the original stories, so none are made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.dialogue.events import ACTION_LISTEN_NAME, ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from bot.dialogue.story_events import listen_after, step_events
from bot.dialogue.tracker import SHOULD_NOT_BE_SET, DialogueStateTracker
from bot.errors import Problem
from bot.project.domain import RULE_SNIPPET_ACTION, Domain
from bot.project.stories import Step, StoryBlock, UserStep, resolve_checkpoints

__all__ = [
    "DEFAULT_VALUE_LIST_SLOTS",
    "DEFAULT_VALUE_TEXT_SLOTS",
    "TrainingData",
    "TrainingTracker",
    "any_slot_value",
    "build_training_data",
    "slots_for_entities",
    "tracker_from_block",
]

DEFAULT_VALUE_TEXT_SLOTS = "filled"
DEFAULT_VALUE_LIST_SLOTS = ["filled"]


@dataclass
class TrainingTracker:
    """One linear story or rule as a tracker, with where each event came from.

    `event_steps[i]` is the index in `block.steps` of the step that made `tracker.events[i]` (None for
    added events and rule conditions), `event_lines[i]` its (file, line); `unpredictable` holds the indices
    of actions that are not training examples.
    """

    block: StoryBlock
    tracker: DialogueStateTracker
    event_lines: list[tuple[str | None, int | None] | None]
    event_steps: list[int | None]
    unpredictable: frozenset[int] = frozenset()

    @property
    def name(self) -> str:
        return self.block.name

    @property
    def is_rule(self) -> bool:
        return self.tracker.is_rule_tracker

    @property
    def kind(self) -> str:
        return "rule" if self.is_rule else "story"

    def where(self, event_index: int | None = None) -> tuple[str | None, int | None]:
        """File and line of an event's step (of the block, without an event or step)."""
        if event_index is not None and 0 <= event_index < len(self.event_lines):
            found = self.event_lines[event_index]
            if found is not None:
                return found
        return self.block.file, self.block.line


@dataclass
class TrainingData:
    stories: list[TrainingTracker] = field(default_factory=list)
    rules: list[TrainingTracker] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def all(self) -> list[TrainingTracker]:
        return [*self.stories, *self.rules]


def any_slot_value(domain: Domain, slot: str) -> Any:
    """What a slot named without a value in `slot_was_set` holds (Rasa's defaults)."""
    spec = domain.all_slots.get(slot)
    if spec is None:
        return None
    if spec.type == "text":
        return DEFAULT_VALUE_TEXT_SLOTS
    if spec.type == "list":
        return list(DEFAULT_VALUE_LIST_SLOTS)
    return None


def slots_for_entities(domain: Domain, entities: Sequence[dict[str, Any]]) -> list[SlotSet]:
    """Slots filled by a message's entities through `from_entity` mappings that hold in any state (no
    `active_loop` condition), as Rasa fills them in training data."""
    if not domain.store_entities_as_slots:
        return []
    events: list[SlotSet] = []
    for slot in domain.slots.values():
        values: list[Any] = []
        for mapping in slot.mappings:
            if mapping.type != "from_entity":
                continue
            if mapping.conditions and mapping.conditions[0].active_loop is not None:
                continue
            values += [
                entity.get("value")
                for entity in entities
                if entity.get("entity") == mapping.entity
                and entity.get("role") == mapping.role
                and entity.get("group") == mapping.group
            ]
        if values:
            events.append(SlotSet(name=slot.name, value=values if slot.type == "list" else values[-1]))
    return events


class _EventWriter:
    def __init__(self, domain: Domain, is_rule: bool) -> None:
        self.domain = domain
        self.is_rule = is_rule
        self.events: list[Event] = []
        self.lines: list[tuple[str | None, int | None] | None] = []
        self.steps: list[int | None] = []
        self.step_index: int | None = None

    def add(self, event: Event, step: Step | None) -> None:
        if self.is_rule:
            if isinstance(event, ActiveLoop) and event.name is None:
                event = ActiveLoop(name=SHOULD_NOT_BE_SET)
            elif isinstance(event, SlotSet) and event.value is None:
                event = SlotSet(name=event.name, value=SHOULD_NOT_BE_SET)
        self.events.append(event)
        self.lines.append((step.file, step.line) if step is not None else None)
        self.steps.append(self.step_index if step is not None else None)

    def listen(self) -> None:
        for event in listen_after(self.events[-1] if self.events else None):
            self.add(event, None)

    def step(self, step: Step) -> None:
        if isinstance(step, UserStep):
            self.listen()  # the `action_listen` before a user message, which no step made
        events = step_events(
            step,
            any_slot_value=lambda slot: any_slot_value(self.domain, slot),
            entity_slots=lambda message: slots_for_entities(self.domain, message.entities),
        )
        for event in events:
            self.add(event, step)


def _first_action_index(writer: _EventWriter, start: int) -> int | None:
    """The first written action before any user message, from `start` on (Rasa's unpredictable first
    action); the `action_listen` added before a user message does not count."""
    for index in range(start, len(writer.events)):
        event = writer.events[index]
        if isinstance(event, UserUttered):
            return None
        added_listen = writer.lines[index] is None and isinstance(event, ActionExecuted) and (
            event.name == ACTION_LISTEN_NAME
        )
        if isinstance(event, ActionExecuted) and not added_listen:
            return index
    return None


def tracker_from_block(block: StoryBlock, domain: Domain) -> TrainingTracker:
    """The training tracker of one linear story, test story or rule."""
    is_rule = block.kind == "rule"
    writer = _EventWriter(domain, is_rule)
    for condition in block.condition:
        writer.step(condition)
    steps_start = len(writer.events)
    if is_rule and not block.conversation_start:
        writer.add(ActionExecuted(name=RULE_SNIPPET_ACTION), None)
    for index, step in enumerate(block.steps):
        writer.step_index = index
        writer.step(step)
    writer.step_index = None
    if is_rule and not block.wait_for_user_input:
        writer.add(ActionExecuted(name=RULE_SNIPPET_ACTION), None)
    writer.listen()
    first = _first_action_index(writer, steps_start)
    # a rule's first step is `...` or a conversation start; a story's first action only when it leads
    unpredictable = frozenset() if first is None else frozenset({first})
    tracker = DialogueStateTracker.for_domain(block.name, domain, writer.events, is_rule_tracker=is_rule)
    return TrainingTracker(block, tracker, writer.lines, writer.steps, unpredictable)


def build_training_data(
    domain: Domain, stories: Sequence[StoryBlock], rules: Sequence[StoryBlock]
) -> TrainingData:
    """Training trackers of the project's stories and rules (checkpoints joined, `or` expanded).

    Identical trackers (same events) are kept once, as Rasa keeps one of trackers with equal states.
    """
    warnings: list[Problem] = []
    linear = resolve_checkpoints([*stories, *rules], warnings=warnings)
    data = TrainingData(warnings=warnings)
    seen: set[tuple[bool, str]] = set()
    for block in linear:
        made = tracker_from_block(block, domain)
        signature = (made.is_rule, _signature(made.tracker.events))
        if signature in seen:
            continue
        seen.add(signature)
        (data.rules if made.is_rule else data.stories).append(made)
    return data


def _signature(events: Sequence[Event]) -> str:
    parts: list[str] = []
    for event in events:
        data = event.as_dict()
        data.pop("timestamp", None)
        parts.append(repr(sorted(data.items())))
    return "|".join(parts)
