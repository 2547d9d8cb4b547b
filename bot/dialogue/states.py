"""Rasa's dialogue states: what the policies see of a conversation, one state per turn.

A state is a dict of up to four parts (empty parts are left out):

    {"user": {"intent": "greet", "entities": ("city",)} or {"text": "hi"},
     "prev_action": {"action_name": "utter_greet"} or {"action_text": "Hello!"},
     "active_loop": {"name": "restaurant_form"},
     "slots": {"cuisine": (1.0,), "confirmed": (1.0, 0.0), "location": "should_not_be_set"}}

`states_for_tracker` gives the state before each action of the conversation plus the state now, as Rasa's
`Domain.states_for_tracker_history` does; with `ignore_rule_only_turns` it hides the turns that only rules
predicted and the slots and loops only rules use (`RuleOnlyData`), which is what the story-based policies
see. `prediction_states` / `training_examples` add what Rasa's `MaxHistoryTrackerFeaturizer` does on top:
choosing the user's text or intent, and cutting to `max_history` turns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeAlias

from bot.dialogue.events import ACTION_LISTEN_NAME, ActionExecuted, Event, UserUttered
from bot.dialogue.tracker import SHOULD_NOT_BE_SET, AppliedEventsFold, DialogueStateTracker
from bot.project.domain import DEFAULT_INTENTS, ENTITY_LABEL_SEPARATOR, Domain

__all__ = [
    "ACTIVE_LOOP",
    "PREVIOUS_ACTION",
    "SLOTS",
    "USER",
    "RuleOnlyData",
    "SavedWalks",
    "State",
    "StatesSoFar",
    "active_loop_in_state",
    "copy_states",
    "get_active_state",
    "is_prev_action_listen_in_state",
    "prediction_states",
    "prev_action_name_in_state",
    "resumed_states",
    "slice_states",
    "state_key",
    "states_for_tracker",
    "training_examples",
    "user_turns",
]

State: TypeAlias = dict[str, dict[str, Any]]

USER = "user"
PREVIOUS_ACTION = "prev_action"
ACTIVE_LOOP = "active_loop"
SLOTS = "slots"


@dataclass(frozen=True)
class RuleOnlyData:
    """Slots and loops that appear in rules but in no story: the story-based policies ignore them."""

    slots: frozenset[str] = field(default_factory=frozenset)
    loops: frozenset[str] = field(default_factory=frozenset)

    def as_dict(self) -> dict[str, list[str]]:
        return {"rule_only_slots": sorted(self.slots), "rule_only_loops": sorted(self.loops)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuleOnlyData:
        return cls(frozenset(data.get("rule_only_slots", [])), frozenset(data.get("rule_only_loops", [])))


# --- one state ----------------------------------------------------------------------------------------------


def _entity_labels(entities: Sequence[dict[str, Any]]) -> list[str]:
    labels = [str(e.get("entity")) for e in entities]
    labels += [f"{e.get('entity')}{ENTITY_LABEL_SEPARATOR}{e['role']}" for e in entities if "role" in e]
    labels += [f"{e.get('entity')}{ENTITY_LABEL_SEPARATOR}{e['group']}" for e in entities if "group" in e]
    return labels


def _wanted_entities(domain: Domain, intent: str | None, present: set[str]) -> set[str]:
    if intent is not None and (intent in domain.intents or intent in DEFAULT_INTENTS):
        return domain.used_entities(intent)
    return present  # an intent the domain does not know keeps every entity, as in Rasa


def _user_sub_state(tracker: DialogueStateTracker, domain: Domain) -> dict[str, Any]:
    message = tracker.latest_message
    intent = message.intent_name
    entities = message.entities
    if not message.text and not intent and not entities:
        return {}
    uses_text = tracker.latest_message_uses_text
    sub_state: dict[str, Any] = {}
    if message.text and uses_text in (True, None):
        sub_state["text"] = message.text
    if intent and not uses_text:
        sub_state["intent"] = intent
    if entities and not uses_text:
        present = set(_entity_labels(entities))
        featurised = {e for e in present if e != "None"}
        kept = featurised & _wanted_entities(domain, intent, featurised)
        if kept:
            sub_state["entities"] = tuple(sorted(kept))
    return sub_state


def _slots_sub_state(tracker: DialogueStateTracker, omit_unset_slots: bool) -> dict[str, Any]:
    slots: dict[str, Any] = {}
    for name, slot in tracker.slots.items():
        if not slot.dimensions:
            continue
        features = slot.as_feature()
        if omit_unset_slots and not slot.has_been_set:
            continue
        if slot.value == SHOULD_NOT_BE_SET:
            slots[name] = SHOULD_NOT_BE_SET
        elif any(features):
            slots[name] = tuple(features)
    return slots


def get_active_state(tracker: DialogueStateTracker, domain: Domain, omit_unset_slots: bool = False) -> State:
    """The state of the conversation now (Rasa's `Domain.get_active_state`)."""
    state: State = {}
    user = _user_sub_state(tracker, domain)
    if user:
        state[USER] = user
    slots = _slots_sub_state(tracker, omit_unset_slots)
    if slots:
        state[SLOTS] = slots
    if tracker.latest_action:
        state[PREVIOUS_ACTION] = dict(tracker.latest_action)
    if tracker.active_loop is not None and tracker.active_loop.name:
        state[ACTIVE_LOOP] = {"name": tracker.active_loop.name}
    return state


# --- helpers on states --------------------------------------------------------------------------------------


def prev_action_name_in_state(state: State) -> str | None:
    name = state.get(PREVIOUS_ACTION, {}).get("action_name")
    return name if isinstance(name, str) else None


def is_prev_action_listen_in_state(state: State) -> bool:
    return prev_action_name_in_state(state) == ACTION_LISTEN_NAME


def active_loop_in_state(state: State) -> str | None:
    """The state's active loop (None for none, and for the "should not be set" marker)."""
    name = state.get(ACTIVE_LOOP, {}).get("name")
    if not isinstance(name, str) or name == SHOULD_NOT_BE_SET:
        return None
    return name


def copy_states(states: Sequence[State]) -> list[State]:
    return [{part: dict(sub) for part, sub in state.items()} for state in states]


_STATE_KEY_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
"""`json.dumps(..., sort_keys=True, separators=(",", ":"))` made once: dumps builds a new encoder for every call
with options (the texts are the same; trained models store them)."""


def state_key(states: Sequence[State]) -> str:
    """A stable text for a sequence of states (keys sorted; tuples written as lists). The text of a list is its
    items' texts between brackets, joined by commas: a state shared between conversations (`_clean`) keeps its
    text, written once (the memoization policy asks for the key of its latest states at every prediction)."""
    texts = _SHARED_STATE_TEXTS
    return "[" + ",".join([texts.get(id(state)) or _STATE_KEY_ENCODER.encode(state) for state in states]) + "]"


def slice_states(states: list[State], max_history: int | None) -> list[State]:
    if not max_history:
        return states
    return states[-max_history:]


# --- the states of a conversation ---------------------------------------------------------------------------


def _remove_rule_only_features(state: State, rule_only: RuleOnlyData | None) -> None:
    if rule_only is None:
        return
    slots = state.get(SLOTS)
    if slots:
        for name in rule_only.slots:
            slots.pop(name, None)
    if rule_only.loops and state.get(ACTIVE_LOOP, {}).get("name") in rule_only.loops:
        del state[ACTIVE_LOOP]


def _substitute_rule_only_user_input(state: State, last_ml_state: State) -> None:
    if is_prev_action_listen_in_state(state):
        return
    if not last_ml_state.get(USER) and state.get(USER):
        del state[USER]
    elif last_ml_state.get(USER):
        state[USER] = last_ml_state[USER]


_SHARED_SUB_STATES: dict[tuple[str, frozenset[tuple[str, Any]]], dict[str, Any]] = {}
_SHARED_STATES: dict[tuple[tuple[str, int], ...], State] = {}
_SHARED_STATE_TEXTS: dict[int, str] = {}
"""`state_key`'s text of each shared state, by the state's id (shared states live as long as the process, so
an id stands for one state)."""
_SHARED_LIMIT = 10_000
"""At most this many distinct parts, and as many distinct states, are shared (a bot has a few hundred parts:
actions, intents, slot values)."""


def _shared(part: str, sub: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """One dict for equal parts of states, and whether it is that shared one: a conversation keeps a state per
    action in each of its walks, and most of their parts (the previous action, the intent, the slots) repeat
    from one conversation to the next. Parts holding a user's text (unique) or unhashable values are kept as
    they are. States are read only once made, so sharing is safe."""
    if "text" in sub:
        return sub, False
    try:
        key = (part, frozenset(sub.items()))
        found = _SHARED_SUB_STATES.get(key)
    except TypeError:
        return sub, False
    if found is not None:
        return found, True
    if len(_SHARED_SUB_STATES) < _SHARED_LIMIT:
        _SHARED_SUB_STATES[key] = sub
        return sub, True
    return sub, False


def _clean(state: State) -> State:
    """The state without its empty parts; equal parts are one dict (`_shared`), and so are equal states made
    of shared parts in the same order (the states of a bot repeat from one conversation to the next: sharing
    parts and states took about a third off what a cached conversation's walks hold)."""
    cleaned: State = {}
    parts: list[tuple[str, int]] = []
    all_shared = True
    for part, sub in state.items():
        if not sub:
            continue
        kept, is_shared = _shared(part, sub)
        cleaned[part] = kept
        if is_shared:
            parts.append((part, id(kept)))  # a shared part lives as long as the process: its id is its content
        else:
            all_shared = False
    if not all_shared:
        return cleaned
    key = tuple(parts)
    found = _SHARED_STATES.get(key)
    if found is not None:
        return found
    if len(_SHARED_STATES) < _SHARED_LIMIT:
        _SHARED_STATES[key] = cleaned
        _SHARED_STATE_TEXTS[id(cleaned)] = _STATE_KEY_ENCODER.encode(cleaned)
    return cleaned


class _StateWalk:
    """`states_for_tracker`'s fold over a conversation's events: the state before each action so far, and what
    hiding rule-only turns carries from one turn to the next. It can stop after any event and go on later."""

    def __init__(
        self,
        domain: Domain,
        omit_unset_slots: bool,
        ignore_rule_only_turns: bool,
        rule_only_data: RuleOnlyData | None,
    ) -> None:
        self.domain = domain
        self.omit_unset_slots = omit_unset_slots
        self.ignore_rule_only_turns = ignore_rule_only_turns
        self.rule_only_data = rule_only_data
        self.states: list[State] = []
        self.last_ml_action: dict[str, str] = {}
        self.turn_was_hidden = False

    def take(self, prior: DialogueStateTracker, action: ActionExecuted) -> None:
        """Take the state before `action` (`prior` is the conversation replayed up to it)."""
        state = self._state(prior, action.hide_rule_turn)
        if state is not None:
            self.states.append(state)

    def restarted(self) -> _StateWalk:
        """A walk with the same options that has taken nothing in yet."""
        return _StateWalk(self.domain, self.omit_unset_slots, self.ignore_rule_only_turns, self.rule_only_data)

    def finish(self, prior: DialogueStateTracker) -> StatesSoFar:
        """The states so far and the state now, leaving the walk as it was (so it can go on)."""
        carried = self.last_ml_action, self.turn_was_hidden
        state = self._state(prior, False)
        self.last_ml_action, self.turn_was_hidden = carried
        return StatesSoFar(self.states, state)

    def _state(self, prior: DialogueStateTracker, hide_rule_turn: bool) -> State | None:
        if self.ignore_rule_only_turns:
            if not self.turn_was_hidden:
                self.last_ml_action = dict(prior.latest_action)
            # a followup action or a loop's happy path does not change whether the turn is hidden
            if not prior.followup_action and prior.latest_action_name != prior.active_loop_name:
                self.turn_was_hidden = hide_rule_turn
            if self.turn_was_hidden:
                return None
        state = get_active_state(prior, self.domain, self.omit_unset_slots)
        if self.ignore_rule_only_turns:
            _remove_rule_only_features(state, self.rule_only_data)
            if self.states:
                _substitute_rule_only_user_input(state, self.states[-1])
            if self.last_ml_action:
                state[PREVIOUS_ACTION] = dict(self.last_ml_action)
        return _clean(state)


class StatesSoFar(NamedTuple):
    """A conversation's states: those before each action, and the state now (None when the turn is hidden).

    `before` may be a saved walk's own list, which grows when the conversation does: read it while the tracker
    stays as it is. `last` copies only what a policy looks at, so a long conversation costs no more than a short
    one."""

    before: list[State]
    now: State | None

    def last(self, count: int | None = None) -> list[State]:
        """The latest `count` states, the state now included (all of them for None or 0)."""
        if not count or count < 0:
            return [*self.before, self.now] if self.now is not None else list(self.before)
        if self.now is None:
            return self.before[-count:]
        return [*self.before[max(len(self.before) - count + 1, 0) :], self.now]


WalkKey = tuple[bool, bool]
"""A walk's options: (`omit_unset_slots`, `ignore_rule_only_turns`)."""


@dataclass
class SavedWalks:
    """The walks kept on a tracker between predictions, one per set of options the policies ask for, and the
    conversation they replayed together (`prior`, whose events are the tracker's applied events taken in so
    far), with the fold of applied events they read them from. One replay serves every walk: each event is
    applied once, and each walk takes its state before each action (a replica of the conversation per walk
    was a tenth of a cached conversation's memory).

    Its field types are imported at run time, not under TYPE_CHECKING: compiled (mypyc), the dataclass looks
    them up when the module is imported."""

    prior: DialogueStateTracker
    fold: AppliedEventsFold
    rewrites: int
    walks: dict[WalkKey, _StateWalk] = field(default_factory=dict)

    def continues(self, fold: AppliedEventsFold) -> bool:
        """Whether `fold`'s applied events still start with the events taken in: the same fold, which has only
        grown since (an undone turn, a restart, a new session or a new loop does not). Checked in constant
        time, so a long conversation costs no more per prediction than a short one."""
        return (
            fold is self.fold and fold.rewrites == self.rewrites and len(fold.applied) >= len(self.prior.events)
        )

    def feed(self, events: Sequence[Event]) -> None:
        """Apply `events` to the replay, every walk taking its state before each action."""
        _replay(self.prior, list(self.walks.values()), events)


def _replay(prior: DialogueStateTracker, walks: Sequence[_StateWalk], events: Sequence[Event]) -> None:
    """Apply `events` to `prior` (the conversation replayed so far), each walk taking the state before each
    action."""
    for event in events:
        if isinstance(event, ActionExecuted):
            for walk in walks:
                walk.take(prior, event)
        prior.update(event)


def states_for_tracker(
    tracker: DialogueStateTracker,
    domain: Domain,
    *,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: RuleOnlyData | None = None,
    events: Sequence[Event] | None = None,
) -> list[State]:
    """The state before each action of `tracker.applied_events()`, then the state now.

    With `events` (a part of the tracker's applied events, e.g. its later turns) the states are those of a
    conversation made of just these events, with the tracker's slots.

    `omit_unset_slots` leaves out slots never set by an event (initial values). `ignore_rule_only_turns` hides
    turns whose action carried `hide_rule_turn` (a rule not used in any story predicted it): the hidden turns'
    states are skipped, the previous action seen stays the last visible one, and `rule_only_data`'s slots
    and loops are removed. `resumed_states` gives the same states from a walk kept on the tracker.
    """
    walk = _StateWalk(domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    return _walk_anew(walk, tracker, events if events is not None else tracker.applied_fold().applied).last()


def resumed_states(
    tracker: DialogueStateTracker,
    domain: Domain,
    *,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: RuleOnlyData | None = None,
) -> StatesSoFar:
    """`states_for_tracker`'s states (`.last()`), from a walk kept on the tracker: the next call goes on from the
    events it had seen, as long as the tracker only gained events since, so predicting the next action of a long
    conversation costs the same as of a short one. `before` is the saved walk's own list, shared with later
    calls: read it, or copy a state before changing it (`prediction_states` replaces the states it changes);
    `StatesSoFar.last` takes only the latest ones."""
    fold = tracker.applied_fold()
    applied = fold.applied  # shared with the tracker: only read here
    if tracker.accepts_any_slot:  # a slot made on the fly would be missing from earlier states
        anew = _StateWalk(domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        return _walk_anew(anew, tracker, applied)
    key = (omit_unset_slots, ignore_rule_only_turns)
    saved = tracker.saved_walks
    if saved is None or not saved.continues(fold):
        saved = tracker.saved_walks = SavedWalks(tracker.init_copy(), fold, fold.rewrites)
    walk = saved.walks.get(key)
    if walk is None or walk.domain is not domain or walk.rule_only_data is not rule_only_data:
        if saved.prior.events:  # the replay went on without this walk: start it again, for all of them
            others = {other: kept.restarted() for other, kept in saved.walks.items() if other != key}
            saved = tracker.saved_walks = SavedWalks(tracker.init_copy(), fold, fold.rewrites, others)
        walk = saved.walks[key] = _StateWalk(domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    saved.feed(applied[len(saved.prior.events) :])
    return walk.finish(saved.prior)


def _walk_anew(walk: _StateWalk, tracker: DialogueStateTracker, events: Sequence[Event]) -> StatesSoFar:
    """`events` replayed from the tracker's start (its slots at their initial values)."""
    prior = tracker.init_copy()
    _replay(prior, (walk,), events)
    return walk.finish(prior)


def _without_user_keys(state: State, keys: tuple[str, ...]) -> State:
    """A copy of `state` whose user part lacks `keys` (and which has no user part if nothing is left of it);
    the other parts are the state's own dicts, shared."""
    user = {key: value for key, value in state[USER].items() if key not in keys}
    changed = dict(state)
    if user:
        changed[USER] = user
    else:
        del changed[USER]
    return changed


def _drop_text_where_intent(states: list[State]) -> None:
    """Where a user part has both an intent and a text, replaces the state (never changes it) by one without
    the text."""
    for index, state in enumerate(states):
        user = state.get(USER)
        if user and user.get("intent") and user.get("text"):
            states[index] = _without_user_keys(state, ("text",))


def _choose_last_user_input(states: list[State], use_text: bool) -> None:
    """The latest user input is featurised by its text or by its intent and entities, not both: replaces the
    last state (never changes it) by one without the other."""
    if states and is_prev_action_listen_in_state(states[-1]):
        dropped = ("intent", "entities") if use_text else ("text",)
        user = states[-1].get(USER)
        if user is not None and (not user or any(key in user for key in dropped)):
            states[-1] = _without_user_keys(states[-1], dropped)
    _drop_text_where_intent(states)


def prediction_states(
    tracker: DialogueStateTracker,
    domain: Domain,
    *,
    max_history: int | None = None,
    use_text_for_last_user_input: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: RuleOnlyData | None = None,
    base_states: list[State] | None = None,
) -> list[State]:
    """The states a policy predicts from (Rasa's `MaxHistoryTrackerFeaturizer.prediction_states`).

    `base_states` are the tracker's states already computed with the same options, so several policies can
    share one computation. They are never changed: a state that differs is a new dict, the others are
    `base_states`' own. So the result is to read (match, look up, featurise); `copy_states` it to change it.
    """
    if base_states is None:
        base_states = states_for_tracker(
            tracker, domain, ignore_rule_only_turns=ignore_rule_only_turns, rule_only_data=rule_only_data
        )
    states = list(slice_states(base_states, max_history))
    _choose_last_user_input(states, use_text_for_last_user_input)
    return states


def training_examples(
    tracker: DialogueStateTracker,
    domain: Domain,
    *,
    max_history: int | None = None,
    omit_unset_slots: bool = False,
    unpredictable: frozenset[int] = frozenset(),
) -> Iterator[tuple[list[State], str]]:
    """(states before the action, the action) for each action of the tracker, as Rasa's featurizer makes
    training examples; actions whose index in `tracker.events` is in `unpredictable` give none."""
    all_states = states_for_tracker(tracker, domain, omit_unset_slots=omit_unset_slots)
    _drop_text_where_intent(all_states)
    applied = tracker.applied_events()
    positions = {id(event): index for index, event in enumerate(tracker.events)}
    label_index = 0
    for event in applied:
        if not isinstance(event, ActionExecuted):
            continue
        label_index += 1
        if positions.get(id(event)) in unpredictable:
            continue
        label = event.name or event.action_text or ""
        yield slice_states(all_states[:label_index], max_history), label


def user_turns(tracker: DialogueStateTracker) -> int:
    """How many user messages the tracker holds (all events)."""
    return sum(isinstance(event, UserUttered) for event in tracker.events)
