"""Per-turn dialogue states as Rasa builds them."""

from __future__ import annotations

from dialogue_helpers import action, conversation, domain_from, listen, user

from bot.dialogue.events import ActionExecuted, ActiveLoop, SlotSet
from bot.dialogue.states import RuleOnlyData, prediction_states, state_key, states_for_tracker
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
