"""The state of one conversation: its append-only event log and what those events add up to.

`DialogueStateTracker` follows Rasa 3.x's tracker. Events are appended with `update` (never edited or
removed); everything else is derived from them, the way Rasa's events apply themselves:

| event                       | effect on the derived state                                              |
|-----------------------------|--------------------------------------------------------------------------|
| `user`                      | `latest_message`; clears `followup_action`                              |
| `bot`                       | `latest_bot_utterance`                                                   |
| `action`                    | `latest_action`; clears `followup_action`; resets loop interruption,     |
|                             | and the loop's rejection when the loop itself ran                        |
| `slot`                      | the slot's value (an undeclared slot is ignored, with a log line)        |
| `active_loop`               | `active_loop` (trigger message = latest user message) or none           |
| `loop_interrupted`          | `active_loop.is_interrupted`                                             |
| `action_execution_rejected` | `active_loop.rejected` when the rejected action is the active loop       |
| `followup`                  | `followup_action`                                                        |
| `pause` / `resume`          | `paused`                                                                 |
| `reset_slots`               | every slot back to its initial value                                     |
| `restart`                   | everything reset; `followup_action` = `action_session_start`             |
| `session_started`           | everything reset                                                         |
| `rewind` / `undo`           | everything recomputed from `applied_events()`                            |
| `entities`                  | entities added to the latest user message (right after it only)          |
| `user_featurization`        | whether the latest user message is featurised by its text                |

`applied_events()` is the history that counts, computed as Rasa computes it: events after the latest restart
or session start, with rewound user messages and undone actions taken out, and repeated runs of a loop (form)
on its happy path collapsed into its first run.

The other engineers' code relies on this API staying stable: the processor reads `latest_message`,
`active_loop`, `followup_action`, `slots`; actions read `current_state()` (rasa-sdk's tracker JSON);
policies read `past_states(domain)`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from bot.dialogue.events import (
    ACTION_LISTEN_NAME,
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    DefinePrevUserUtteredFeaturization,
    EntitiesAdded,
    Event,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
    events_from_dicts,
)
from bot.dialogue.slots import TrackerSlot, tracker_slots
from bot.errors import ConductorError, Problem
from bot.project.domain import Domain, SessionConfig, Slot

if TYPE_CHECKING:
    from bot.dialogue.states import RuleOnlyData, SavedWalks, State

__all__ = [
    "ACTION_SESSION_START_NAME",
    "DEFAULT_SENDER_ID",
    "SHOULD_NOT_BE_SET",
    "ActiveLoopState",
    "AppliedEventsFold",
    "DialogueStateTracker",
    "EventVerbosity",
]

logger = logging.getLogger(__name__)

ACTION_SESSION_START_NAME = "action_session_start"
SHOULD_NOT_BE_SET = "should_not_be_set"
"""In training trackers built from rules, a loop or slot the rule requires to be unset (`null`) holds this."""
DEFAULT_SENDER_ID = "default"

E = TypeVar("E", bound=Event)


class EventVerbosity(Enum):
    """Which events `current_state` includes (Rasa's names)."""

    NONE = 1
    """No events (`events` is null)."""
    APPLIED = 2
    """The events that make up the current state (`applied_events()`)."""
    AFTER_RESTART = 3
    """Every event after the latest restart, reverted ones included."""
    ALL = 4
    """Every event."""


@dataclass
class ActiveLoopState:
    """The active loop (form). `is_interrupted`: the loop was left for an unhappy path and not yet resumed;
    `rejected`: the loop refused to run (an `action_execution_rejected` for it) and was not run since;
    `trigger_message`: the parse data of the user message that activated it."""

    name: str
    is_interrupted: bool = False
    rejected: bool = False
    trigger_message: dict[str, Any] | None = None

    @property
    def validate(self) -> bool:
        """Whether the loop validates the user's input (the older name for `not is_interrupted`)."""
        return not self.is_interrupted

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _empty_user_message() -> UserUttered:
    return UserUttered(
        text=None,
        parse_data={"intent": {}, "entities": [], "text": None, "message_id": None, "metadata": {}},
    )


class DialogueStateTracker:
    """One conversation: `events` (append-only, through `update`) and the state derived from them.

    Build one with `for_domain(sender_id, domain)` (the domain's slots at their initial values) or
    `from_events` / `from_dict`; without slots (`slots=None`) any slot name is accepted as an `any` slot.
    """

    def __init__(
        self,
        sender_id: str,
        slots: Mapping[str, TrackerSlot | Slot] | Iterable[Slot] | None = None,
        *,
        is_rule_tracker: bool = False,
    ) -> None:
        self.sender_id = sender_id
        self.events: list[Event] = []
        """Every event of the conversation in order. Append only through `update`."""
        self.is_rule_tracker = is_rule_tracker
        """Whether this tracker was built from a rule (training only)."""
        self._applied: AppliedEventsFold | None = None
        self._slots_shared = False
        """Whether `slots` holds slot objects another tracker holds too (`copy`): copied before one changes."""
        self.saved_walks: SavedWalks | None = None
        """The policies' states so far, kept between predictions (`resumed_states`); a copy starts without them."""
        self.accepts_any_slot = slots is None
        if slots is None:
            self.slots: dict[str, TrackerSlot] = {}
        elif isinstance(slots, Mapping):
            self.slots = {
                name: slot.copy() if isinstance(slot, TrackerSlot) else TrackerSlot(slot)
                for name, slot in slots.items()
            }
        else:
            self.slots = tracker_slots(slots)
        self.latest_message: UserUttered = _empty_user_message()
        """The latest user message (an empty one, without text or intent, before the first)."""
        self.latest_message_uses_text: bool | None = None
        """True when the latest user message is featurised by its text rather than its intent (None: unknown,
        as before any `user_featurization` event)."""
        self.latest_bot_utterance: BotUttered = BotUttered()
        self.latest_action: dict[str, str] = {}
        """`{"action_name": ...}` or, for an end-to-end bot utterance, `{"action_text": ...}`; `{}` at first."""
        self.followup_action: str | None = ACTION_LISTEN_NAME
        self.active_loop: ActiveLoopState | None = None
        self.paused = False
        self._reset()

    # --- construction -------------------------------------------------------------------------------------

    @classmethod
    def for_domain(
        cls, sender_id: str, domain: Domain, events: Iterable[Event] = (), *, is_rule_tracker: bool = False
    ) -> DialogueStateTracker:
        """A tracker with the domain's slots (Rasa's added slots included), with `events` applied."""
        tracker = cls(sender_id, domain.all_slots.values(), is_rule_tracker=is_rule_tracker)
        for event in events:
            tracker.update(event)
        return tracker

    @classmethod
    def from_events(
        cls,
        sender_id: str,
        events: Iterable[Event],
        slots: Mapping[str, TrackerSlot] | Iterable[Slot] | Domain | None = None,
    ) -> DialogueStateTracker:
        if isinstance(slots, Domain):
            return cls.for_domain(sender_id, slots, events)
        tracker = cls(sender_id, slots)
        for event in events:
            tracker.update(event)
        return tracker

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        domain: Domain | None = None,
        *,
        source: str | None = None,
    ) -> DialogueStateTracker:
        """Read a tracker in Rasa's JSON shape (`current_state()`, a tracker store row, rasa-sdk's tracker).

        As in Rasa only `sender_id` and `events` are read; the state is recomputed from the events, so the
        `slots`, `active_loop` etc. written beside them are ignored. Bad input raises `ConductorError`.
        """
        if not isinstance(data, Mapping):
            raise ConductorError(Problem("a tracker must be a JSON object", source))
        sender_id = data.get("sender_id", DEFAULT_SENDER_ID)
        if not isinstance(sender_id, str):
            raise ConductorError(
                Problem(f"the tracker's `sender_id` must be text, not {sender_id!r}", source)
            )
        raw_events = data.get("events") or []
        if not isinstance(raw_events, list):
            raise ConductorError(
                Problem("the tracker's `events` must be a list", source, hint="Write `events: [...]`.")
            )
        return cls.from_events(sender_id, events_from_dicts(raw_events, source), domain)

    def init_copy(self) -> DialogueStateTracker:
        """A tracker with the same sender and slots (at their initial values), and no events."""
        twin = DialogueStateTracker(self.sender_id or DEFAULT_SENDER_ID, None, is_rule_tracker=self.is_rule_tracker)
        twin.accepts_any_slot = self.accepts_any_slot
        twin.slots = {name: slot.copy() for name, slot in self.slots.items()}
        for slot in twin.slots.values():
            slot.reset()
        return twin

    def copy(self) -> DialogueStateTracker:
        """An independent tracker with the same events and state."""
        twin = DialogueStateTracker(self.sender_id or DEFAULT_SENDER_ID, None, is_rule_tracker=self.is_rule_tracker)
        twin.accepts_any_slot = self.accepts_any_slot
        twin.events = list(self.events)
        # the slot objects are shared until either tracker changes a slot (copying ~30 slots for every action
        # run was a sixth of a turn in a bot with two skills)
        twin.slots = dict(self.slots)
        twin._slots_shared = self._slots_shared = True
        twin.latest_message = self.latest_message
        twin.latest_message_uses_text = self.latest_message_uses_text
        twin.latest_bot_utterance = self.latest_bot_utterance
        twin.latest_action = dict(self.latest_action)
        twin.followup_action = self.followup_action
        twin.active_loop = replace(self.active_loop) if self.active_loop is not None else None
        twin.paused = self.paused
        return twin

    def travel_back_in_time(self, target_time: float) -> DialogueStateTracker:
        """A new tracker with the events up to and including `target_time` (stops at the first later one)."""
        twin = self.init_copy()
        for event in self.events:
            if event.timestamp > target_time:
                break
            twin.update(event)
        return twin

    # --- updating -----------------------------------------------------------------------------------------

    def update(self, event: Event) -> None:
        """Append one event and apply it to the state."""
        self.events.append(event)
        self._apply(event)

    def update_with_events(self, events: Iterable[Event], *, override_timestamp: bool = True) -> None:
        """Append several events; with `override_timestamp` each is stamped with the current time unless its
        own time already lies between the latest event's and now, so new events always sort after the ones
        already there (Rasa stamps every one; an event made during the turn, as most are, keeps its time of
        making, microseconds earlier, and is not copied, which leaves it smaller)."""
        for event in events:
            if override_timestamp:
                now = time.time()
                latest = self.events[-1].timestamp if self.events else 0.0
                if not latest <= event.timestamp <= now:
                    event = event.at(now)
            self.update(event)

    def _apply(self, event: Event) -> None:
        if isinstance(event, UserUttered):
            self.latest_message = event
            self.latest_message_uses_text = None
            self.followup_action = None
        elif isinstance(event, ActionExecuted):
            self._set_latest_action(event)
            self.followup_action = None
        elif isinstance(event, SlotSet):
            self._set_slot(event.name, event.value)
        elif isinstance(event, BotUttered):
            self.latest_bot_utterance = event
        elif isinstance(event, ActiveLoop):
            self._change_loop_to(event.name)
        elif isinstance(event, LoopInterrupted):
            if self.active_loop is not None:
                self.active_loop.is_interrupted = event.is_interrupted
        elif isinstance(event, ActionExecutionRejected):
            if self.active_loop is not None and event.name == self.active_loop.name:
                self.active_loop.rejected = True
        elif isinstance(event, FollowupAction):
            self.followup_action = event.name
        elif isinstance(event, ConversationPaused):
            self.paused = True
        elif isinstance(event, ConversationResumed):
            self.paused = False
        elif isinstance(event, AllSlotsReset):
            self._own_slots()
            for slot in self.slots.values():
                slot.reset()
        elif isinstance(event, Restarted):
            self._reset()
            self.followup_action = ACTION_SESSION_START_NAME
        elif isinstance(event, SessionStarted):
            self._reset()
        elif isinstance(event, UserUtteranceReverted | ActionReverted):
            self._reset()
            for applied in self.applied_events():
                self._apply(applied)
        elif isinstance(event, EntitiesAdded):
            self._add_entities(event.entities)
        elif (
            isinstance(event, DefinePrevUserUtteredFeaturization)
            and self.latest_action_name == ACTION_LISTEN_NAME
        ):
            self.latest_message_uses_text = event.use_text_for_featurization

    def _reset(self) -> None:
        """Everything back to the start, except the events."""
        self._own_slots()
        for slot in self.slots.values():
            slot.reset()
        self.paused = False
        self.latest_action = {}
        self.latest_message = _empty_user_message()
        self.latest_message_uses_text = None
        self.latest_bot_utterance = BotUttered()
        self.followup_action = ACTION_LISTEN_NAME
        self.active_loop = None

    def _set_latest_action(self, event: ActionExecuted) -> None:
        self.latest_action = (
            {"action_name": event.name} if event.name else {"action_text": event.action_text or ""}
        )
        if self.active_loop is not None:
            self.active_loop.is_interrupted = False
            if event.name == self.active_loop.name:
                self.active_loop.rejected = False

    def _own_slots(self) -> None:
        """Give this tracker slot objects of its own before it changes one (see `copy`)."""
        if self._slots_shared:
            self.slots = {name: slot.copy() for name, slot in self.slots.items()}
            self._slots_shared = False

    def _set_slot(self, name: str, value: Any) -> None:
        self._own_slots()
        slot = self.slots.get(name)
        if slot is None and self.accepts_any_slot:
            slot = self.slots[name] = TrackerSlot(Slot(name, "any", influence_conversation=False))
        if slot is None:
            logger.warning("conversation %s: ignored a value for the undeclared slot '%s'", self.sender_id, name)
            return
        slot.value = value

    def _change_loop_to(self, name: str | None) -> None:
        if name is None:
            self.active_loop = None
            return
        trigger = dict(self.latest_message.parse_data) if self.latest_message.parse_data else None
        self.active_loop = ActiveLoopState(name, trigger_message=trigger)

    def _add_entities(self, entities: Sequence[dict[str, Any]]) -> None:
        if self.latest_action_name != ACTION_LISTEN_NAME:
            return  # entities belong to the user message right before
        current = self.latest_message.entities
        added = [entity for entity in entities if entity not in current]
        if added:
            parse_data = {**self.latest_message.parse_data, "entities": [*current, *added]}
            self.latest_message = replace(self.latest_message, parse_data=parse_data)

    # --- derived state ------------------------------------------------------------------------------------

    @property
    def latest_action_name(self) -> str | None:
        """The latest action's name (or end-to-end text); None before any action."""
        return self.latest_action.get("action_name") or self.latest_action.get("action_text")

    @property
    def active_loop_name(self) -> str | None:
        """The active loop's name; None without one (and for the training-only "should not be set" marker)."""
        if self.active_loop is None or self.active_loop.name == SHOULD_NOT_BE_SET:
            return None
        return self.active_loop.name

    @property
    def is_active_loop_rejected(self) -> bool:
        return self.active_loop is not None and self.active_loop.rejected

    @property
    def is_active_loop_interrupted(self) -> bool:
        return self.active_loop is not None and self.active_loop.is_interrupted

    def is_paused(self) -> bool:
        return self.paused

    def get_slot(self, name: str) -> Any:
        """The slot's value; None for a slot the tracker does not have."""
        slot = self.slots.get(name)
        return slot.value if slot is not None else None

    def current_slot_values(self) -> dict[str, Any]:
        return {name: slot.value for name, slot in self.slots.items()}

    def get_latest_entity_values(
        self, entity_type: str, role: str | None = None, group: str | None = None
    ) -> Iterator[Any]:
        """Values of the latest message's entities of this type (and role and group, None meaning none)."""
        for entity in self.latest_message.entities:
            if entity.get("entity") == entity_type and entity.get("role") == role and entity.get("group") == group:
                yield entity.get("value")

    def get_latest_input_channel(self) -> str | None:
        for event in reversed(self.events):
            if isinstance(event, UserUttered):
                return event.input_channel
        return None

    # --- history ------------------------------------------------------------------------------------------

    def idx_after_latest_restart(self) -> int:
        """Index of the first event after the latest `restart` (0 without one)."""
        for index in range(len(self.events) - 1, -1, -1):
            if isinstance(self.events[index], Restarted):
                return index + 1
        return 0

    def events_after_latest_restart(self) -> list[Event]:
        return self.events[self.idx_after_latest_restart() :]

    def applied_events(self) -> list[Event]:
        """The events that make up the current state, computed as Rasa does (see the module docstring).

        The fold is kept between calls and goes on from the events it has seen while the tracker only gained
        events (and no new loop: a loop's name changes how its earlier runs fold), so asking again after a
        few new events costs as much as these events.
        """
        return list(self.applied_fold().applied)

    def has_applied_events(self) -> bool:
        """Whether `applied_events()` would hold any (without copying them)."""
        return bool(self.applied_fold().applied)

    def applied_fold(self) -> AppliedEventsFold:
        """The fold behind `applied_events()`, caught up with the events: its `applied` list is shared, to read
        only (`bot.dialogue.states` reads it without copying the whole conversation on every prediction)."""
        saved = self._applied
        if saved is None or not saved.continues(self.events):
            saved = self._applied = AppliedEventsFold(self.events)
        saved.catch_up()
        return saved

    def past_states(
        self,
        domain: Domain,
        *,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: RuleOnlyData | None = None,
    ) -> list[State]:
        """Rasa's per-turn states of this conversation (see `bot.dialogue.states.states_for_tracker`)."""
        from bot.dialogue.states import states_for_tracker

        return states_for_tracker(
            self,
            domain,
            omit_unset_slots=omit_unset_slots,
            ignore_rule_only_turns=ignore_rule_only_turns,
            rule_only_data=rule_only_data,
        )

    def get_last_event_for(
        self,
        event_type: type[E] | tuple[type[E], ...],
        *,
        action_names_to_exclude: Iterable[str] = (),
        skip: int = 0,
        verbosity: EventVerbosity = EventVerbosity.APPLIED,
    ) -> E | None:
        """The latest event of this type (skipping `skip` matches, and actions with excluded names)."""
        excluded = set(action_names_to_exclude)
        for event in reversed(self._events_for(verbosity) or ()):
            if not isinstance(event, event_type):
                continue
            if isinstance(event, ActionExecuted) and event.name in excluded:
                continue
            if skip == 0:
                return event
            skip -= 1
        return None

    def last_executed_action_has(self, name: str, skip: int = 0) -> bool:
        """Whether the latest action other than `action_listen` (after `skip` of them) is `name`."""
        last = self.get_last_event_for(ActionExecuted, action_names_to_exclude=[ACTION_LISTEN_NAME], skip=skip)
        return last is not None and last.name == name

    # --- sessions -----------------------------------------------------------------------------------------

    def has_session_expired(self, session_config: SessionConfig, now: float | None = None) -> bool:
        """Whether the next message starts a new session: sessions expire, and the latest user message is
        older than the expiration time (a conversation without user messages has not expired)."""
        if not session_config.sessions_expire:
            return False
        last = self.get_last_event_for(UserUttered, verbosity=EventVerbosity.ALL)
        if last is None:
            return False
        elapsed = (time.time() if now is None else now) - last.timestamp
        return elapsed > session_config.session_expiration_time * 60

    def slot_events_to_carry_over(self) -> list[SlotSet]:
        """The `slot` events of the current state, for `action_session_start` to replay into a new session
        when the domain carries slots over."""
        return [event for event in self.applied_events() if isinstance(event, SlotSet)]

    # --- JSON ---------------------------------------------------------------------------------------------

    def _events_for(self, verbosity: EventVerbosity) -> Sequence[Event] | None:
        """The events `verbosity` asks for (None for NONE), shared with the tracker: to read only. A search from
        the end of a long conversation then costs what it reads."""
        if verbosity is EventVerbosity.ALL:
            return self.events
        if verbosity is EventVerbosity.AFTER_RESTART:
            return self.events_after_latest_restart()
        if verbosity is EventVerbosity.APPLIED:
            return self.applied_fold().applied
        return None

    def latest_message_data(self) -> dict[str, Any]:
        """The latest message's parse data, with entities added since (as rasa-sdk reads it)."""
        data = dict(self.latest_message.parse_data)
        data["entities"] = self.latest_message.entities
        return data

    def current_state(self, verbosity: EventVerbosity = EventVerbosity.NONE) -> dict[str, Any]:
        """The tracker in Rasa's JSON shape, as the HTTP API returns it and rasa-sdk reads it."""
        events = self._events_for(verbosity)
        return {
            "sender_id": self.sender_id,
            "slots": self.current_slot_values(),
            "latest_message": self.latest_message_data(),
            "latest_event_time": self.events[-1].timestamp if self.events else None,
            "followup_action": self.followup_action,
            "paused": self.paused,
            "events": [event.as_dict() for event in events] if events is not None else None,
            "latest_input_channel": self.get_latest_input_channel(),
            "active_loop": self.active_loop.as_dict() if self.active_loop is not None else {},
            "latest_action": dict(self.latest_action),
            "latest_action_name": self.latest_action_name,
        }

    def as_dict(self) -> dict[str, Any]:
        """`current_state` with every event: what `from_dict` reads back to an equal tracker."""
        return self.current_state(EventVerbosity.ALL)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DialogueStateTracker):
            return NotImplemented
        return self.sender_id == other.sender_id and self.events == other.events

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"DialogueStateTracker({self.sender_id!r}, {len(self.events)} events)"


# --- applied events, as Rasa computes them -----------------------------------------------------------------


class AppliedEventsFold:
    """`applied_events` folded over a tracker's event list up to `count` events (`applied`)."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.count = 0
        self.applied: list[Event] = []
        self.rewrites = 0
        """How many events so far took events out of `applied` (a restart, a new session, an undo, a loop's
        later run): while it stays the same, `applied` has only grown, so what was read of it still holds."""
        self.loop_names = {event.name for event in events if isinstance(event, ActiveLoop) and event.name}

    def continues(self, events: list[Event]) -> bool:
        """Whether `events` is the list folded, grown by events that name no loop unseen so far."""
        if events is not self.events or self.count > len(events):
            return False
        return not any(
            isinstance(event, ActiveLoop) and event.name and event.name not in self.loop_names
            for event in events[self.count :]
        )

    def catch_up(self) -> None:
        applied = self.applied
        for event in self.events[self.count :]:
            if isinstance(event, Restarted | SessionStarted):
                applied.clear()
            elif isinstance(event, ActionReverted):
                _undo_till_previous(ActionExecuted, applied)
            elif isinstance(event, UserUtteranceReverted):
                # the user message, and the action_listen right before it
                _undo_till_previous(UserUttered, applied)
                _undo_till_previous(ActionExecuted, applied)
            elif (
                isinstance(event, ActionExecuted)
                and event.name in self.loop_names
                and not _first_loop_run_or_unhappy_path(event.name, applied)
            ):
                _undo_till_previous_loop_run(event.name, applied)
            else:
                applied.append(event)
                continue
            self.rewrites += 1
        self.count = len(self.events)


def _undo_till_previous(event_type: type[Event], done: list[Event]) -> None:
    """Drop events from the end of `done` up to and including the latest one of `event_type`."""
    while done:
        event = done.pop()
        if isinstance(event, event_type):
            break


def _first_loop_run_or_unhappy_path(loop_name: str, applied: list[Event]) -> bool:
    """Whether this run of the loop starts it (or follows an unhappy path), so it is kept in the history."""
    next_action: str | None = None
    for event in reversed(applied):
        # a deactivation means earlier loop events belong to another activation
        if isinstance(event, ActiveLoop) and event.name is None:
            return True
        if isinstance(event, ActionExecutionRejected) and event.name == loop_name:
            return True
        # in training data there are no rejections: another action after the latest user message marks an
        # unhappy path
        if isinstance(event, UserUttered) and next_action is not None and next_action != loop_name:
            return True
        if isinstance(event, ActionExecuted):
            if event.name == loop_name:
                return False
            next_action = event.name
    return True


def _undo_till_previous_loop_run(loop_name: str, done: list[Event]) -> None:
    """Remove the user messages and actions since the loop's previous run (other events stay)."""
    offset = 0
    for event in reversed(done[:]):
        if isinstance(event, ActionExecuted) and event.name == loop_name:
            break
        if isinstance(event, ActionExecuted | UserUttered | DefinePrevUserUtteredFeaturization):
            del done[len(done) - 1 - offset]
        else:
            offset += 1
