"""Per-turn dialogue states as Rasa builds them."""

from __future__ import annotations

import json
from typing import Any

from dialogue_helpers import action, conversation, domain_from, listen, user

from bot.dialogue.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
)
from bot.dialogue.states import (
    RuleOnlyData,
    StatesSoFar,
    prediction_states,
    resumed_states,
    state_key,
    states_for_tracker,
)
from bot.dialogue.tracker import DialogueStateTracker

DOMAIN = domain_from(
    """
    intents:
    - greet
    - inform:
        use_entities: [city]
    - chitchat:
        ignore_entities: [city]
    entities:
    - city
    - date:
        roles: [start]
    slots:
      city:
        type: text
        mappings: [{type: from_entity, entity: city}]
      vip:
        type: bool
        initial_value: true
        mappings: [{type: custom}]
      note:
        type: any
        influence_conversation: false
        mappings: [{type: custom}]
    forms:
      trip_form:
        required_slots: [city]
      other_form:
        required_slots: [city]
    responses:
      utter_greet: [{text: hi}]
    """
)


def test_states_before_each_action_and_now() -> None:
    tracker = conversation(DOMAIN, user("greet", text="hey"), action("utter_greet"), SlotSet(name="note", value=1))
    states = tracker.past_states(DOMAIN)
    assert states == [
        {"slots": {"vip": (1.0, 1.0)}},
        {"slots": {"vip": (1.0, 1.0)}, "user": {"intent": "greet", "text": "hey"},
         "prev_action": {"action_name": "action_listen"}},
        {"slots": {"vip": (1.0, 1.0)}, "user": {"intent": "greet", "text": "hey"},
         "prev_action": {"action_name": "utter_greet"}},
    ]
    assert tracker.past_states(DOMAIN, omit_unset_slots=True)[0] == {}
    # the policies see the intent, not the text, when there is an intent
    assert prediction_states(tracker, DOMAIN)[-1]["user"] == {"intent": "greet"}


def test_entities_follow_the_intents_use_and_ignore_lists() -> None:
    entities = [{"entity": "city", "value": "Rome"}, {"entity": "date", "value": "today", "role": "start"}]
    for intent, expected in [("inform", ("city",)), ("chitchat", ("date", "date#start")),
                             ("greet", ("city", "date", "date#start"))]:
        state = conversation(DOMAIN, user(intent, entities)).past_states(DOMAIN)[-1]
        assert state["user"].get("entities") == expected, intent
    # a role the domain does not declare does not count
    states = conversation(DOMAIN, user("greet", [{"entity": "city", "value": "x", "role": "to"}])).past_states(DOMAIN)
    assert states[-1]["user"]["entities"] == ("city",)


def test_active_loop_and_should_not_be_set() -> None:
    tracker = conversation(DOMAIN, user("inform"), action("trip_form"), ActiveLoop(name="trip_form"))
    assert tracker.past_states(DOMAIN)[-1]["active_loop"] == {"name": "trip_form"}
    marked = DialogueStateTracker.for_domain(
        "r", DOMAIN, [ActiveLoop(name="should_not_be_set"), SlotSet(name="city", value="should_not_be_set")]
    )
    state = marked.past_states(DOMAIN)[-1]
    assert state["active_loop"] == {"name": "should_not_be_set"}
    assert state["slots"]["city"] == "should_not_be_set"
    assert marked.active_loop_name is None


def test_rule_only_turns_and_features_are_hidden_from_story_policies() -> None:
    events = [
        listen(), user("greet"), ActionExecuted(name="utter_greet", hide_rule_turn=True),
        SlotSet(name="city", value="Rome"), listen(), user("inform"),
    ]
    tracker = DialogueStateTracker.for_domain("u", DOMAIN, events)
    visible = states_for_tracker(
        tracker, DOMAIN, ignore_rule_only_turns=True, rule_only_data=RuleOnlyData(frozenset({"city"}))
    )
    full = states_for_tracker(tracker, DOMAIN)
    assert len(full) == 4 and len(visible) == 3
    assert all("city" not in state.get("slots", {}) for state in visible)
    assert visible[-1]["prev_action"] == {"action_name": "action_listen"}


def test_max_history_and_keys() -> None:
    tracker = conversation(DOMAIN, user("greet"), action("utter_greet"), listen(), user("inform"))
    assert len(prediction_states(tracker, DOMAIN, max_history=2)) == 2
    one, two = prediction_states(tracker, DOMAIN), prediction_states(tracker, DOMAIN)
    assert state_key(one) == state_key(two)


def test_states_and_applied_events_resumed_as_the_tracker_grows_equal_a_fresh_computation() -> None:
    """The policies' states and the applied events are kept on a tracker and go on from the events seen; at
    every step, through an undone user turn, an undone action, a form's runs, a new loop, a restart and a new
    session, they equal what a tracker built afresh from the same events gives."""
    rule_only = RuleOnlyData(frozenset({"city"}), frozenset({"trip_form"}))
    events = [
        listen(), user("greet", text="hey"), ActionExecuted(name="utter_greet", hide_rule_turn=True), listen(),
        user("chitchat"), UserUtteranceReverted(), user("inform", [{"entity": "city", "value": "Rome"}]),
        action("trip_form"), ActiveLoop(name="trip_form"), SlotSet(name="requested_slot", value="city"), listen(),
        user("inform"), action("trip_form"), SlotSet(name="city", value="Rome"), action("trip_form"),
        ActiveLoop(name=None), action("utter_greet"), ActionReverted(), action("utter_greet"), listen(),
        action("other_form"), action("other_form"), ActiveLoop(name="other_form"), action("other_form"), listen(),
        user("greet"),
        Restarted(), listen(), user("greet"), action("utter_greet"),
        SessionStarted(), listen(), user("inform"), SlotSet(name="vip", value=False), action("utter_greet"),
    ]
    grown = DialogueStateTracker.for_domain("grown", DOMAIN)
    options: list[dict[str, Any]] = [
        {}, {"omit_unset_slots": True}, {"ignore_rule_only_turns": True, "rule_only_data": rule_only},
    ]
    for count, event in enumerate(events, start=1):
        grown.update(event)
        # a copy computes its applied events anew (building the tracker may have kept a fold after a revert)
        fresh = DialogueStateTracker.for_domain("fresh", DOMAIN, events[:count]).copy()
        assert grown.applied_events() == fresh.applied_events(), f"after event {count}"
        for option in options:
            resumed = resumed_states(grown, DOMAIN, **option).last()
            assert resumed == states_for_tracker(fresh, DOMAIN, **option), f"after event {count} with {option}"
    assert grown.saved_walks is not None and len(grown.saved_walks.walks) == 3
    # work resumed on a tracker is not carried into a copy, which starts its own
    assert grown.copy().saved_walks is None


def test_the_latest_states_are_the_tail_of_all_of_them() -> None:

    for size in range(6):
        before = [{"prev_action": {"action_name": f"a{i}"}} for i in range(size)]
        for now in ({"prev_action": {"action_name": "now"}}, None):
            so_far = StatesSoFar(before, now)
            everything = [*before, now] if now is not None else list(before)
            assert so_far.last() == everything and so_far.last(0) == everything
            for count in range(1, 9):
                assert so_far.last(count) == everything[-count:], (size, now, count)
            assert so_far.last(3) is not before


def test_equal_states_of_different_conversations_are_one_object_and_texts_stay_their_own() -> None:
    """A cached conversation keeps a state per action in each walk; equal ones are shared between
    conversations (they are only read), while a state that holds a user's text is the conversation's own."""
    first = conversation(DOMAIN, user("greet"), action("utter_greet"), listen(), user("inform", text="Rome"))
    second = conversation(DOMAIN, user("greet"), action("utter_greet"), listen(), user("inform", text="Oslo"))
    a, b = states_for_tracker(first, DOMAIN), states_for_tracker(second, DOMAIN)
    assert a == [*b[:-1], a[-1]]  # the same states but for the texts of the last message
    assert all(x is y for x, y in zip(a[:-1], b[:-1], strict=True))
    assert a[-1] is not b[-1] and a[-1] != b[-1]


def test_the_key_of_states_is_their_sorted_compact_json_whether_they_are_shared_or_not() -> None:
    """`state_key` writes a shared state's text once and reuses it; the key must stay the text that trained
    models store: the whole list as compact JSON with sorted keys."""
    tracker = conversation(
        DOMAIN, user("greet"), action("utter_greet"), listen(),
        user("inform", [{"entity": "city", "value": "Rome"}], text="to Rome"), action("trip_form"),
    )
    shared = states_for_tracker(tracker, DOMAIN)
    own: list[dict[str, Any]] = [{"user": {"text": "to Rome", "intent": "inform"}}, {"slots": {"vip": (1.0,)}}, {}]
    for states in (shared, own, [*own, *shared], shared[:1], []):
        assert state_key(states) == json.dumps(list(states), sort_keys=True, separators=(",", ":"))
        assert state_key(states) == state_key(json.loads(state_key(states)))  # tuples written as lists
