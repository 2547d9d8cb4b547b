"""RulePolicy: rules, conditions, forms (happy and unhappy paths), fallback, and training-time checks."""

from __future__ import annotations

import pytest
from dialogue_helpers import action, conversation, model_from, user

from bot.dialogue.events import ActionExecutionRejected, ActiveLoop, LoopInterrupted, SlotSet
from bot.dialogue.model import DialogueModel
from bot.errors import ConductorError

DOMAIN = """
intents: [greet, goodbye, request_restaurant, inform, chitchat, bot_challenge, affirm, deny]
entities: [cuisine]
slots:
  cuisine:
    type: text
    influence_conversation: false
    mappings: [{type: from_entity, entity: cuisine}]
  vip:
    type: bool
    mappings: [{type: custom}]
forms:
  restaurant_form:
    required_slots: [cuisine]
responses:
  utter_greet: [{text: hi}]
  utter_vip_greet: [{text: "hello, dear"}]
  utter_goodbye: [{text: bye}]
  utter_iamabot: [{text: I am a bot}]
  utter_chitchat: [{text: nice}]
  utter_submit: [{text: done}]
  utter_welcome: [{text: welcome}]
  utter_ok: [{text: ok}]
actions: [action_check]
"""

DATA = """
rules:
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: greet a vip
  condition:
  - slot_was_set:
    - vip: true
  steps:
  - intent: greet
  - action: utter_vip_greet
- rule: bot challenge
  steps:
  - intent: bot_challenge
  - action: utter_iamabot
- rule: welcome at the start
  conversation_start: true
  steps:
  - intent: goodbye
  - action: utter_welcome
- rule: say goodbye later
  steps:
  - intent: goodbye
  - action: utter_goodbye
- rule: check, then keep going
  steps:
  - intent: affirm
  - action: action_check
  wait_for_user_input: false
- rule: activate the form
  steps:
  - intent: request_restaurant
  - action: restaurant_form
  - active_loop: restaurant_form
- rule: submit the form
  condition:
  - active_loop: restaurant_form
  steps:
  - action: restaurant_form
  - active_loop: null
  - slot_was_set:
    - requested_slot: null
  - action: utter_submit
- rule: chitchat inside the form
  condition:
  - active_loop: restaurant_form
  steps:
  - intent: chitchat
  - action: utter_chitchat
  - action: restaurant_form
  - active_loop: restaurant_form
stories:
- story: greet then ok
  steps:
  - intent: greet
  - action: utter_greet
  - intent: deny
  - action: utter_ok
"""


@pytest.fixture(scope="module")
def model() -> DialogueModel:
    return model_from(DOMAIN, DATA)


def test_rules_predict_their_action_then_listen(model: DialogueModel) -> None:
    tracker = conversation(model.domain, user("bot_challenge"))
    prediction = model.predict_next_action(tracker)
    assert (prediction.action_name, prediction.policy_name, prediction.confidence) == (
        "utter_iamabot", "RulePolicy", 1.0
    )
    tracker.update(action("utter_iamabot"))
    assert model.predict_next_action(tracker).action_name == "action_listen"


def test_rule_wins_a_tie_with_a_story_by_priority(model: DialogueModel) -> None:
    tracker = conversation(model.domain, user("greet"))
    predictions = model.policy_predictions(tracker)
    memo = next(p for p in predictions if p.policy_name == "MemoizationPolicy")
    assert memo.max_confidence == 1.0
    chosen = model.predict_next_action(tracker)
    assert chosen.action_name == "utter_greet" and chosen.policy_name == "RulePolicy"
    # where no rule applies the story is followed
    tracker.update(action("utter_greet"))
    tracker.update(action("action_listen"))
    tracker.update(user("deny"))
    chosen = model.predict_next_action(tracker)
    assert (chosen.action_name, chosen.policy_name) == ("utter_ok", "MemoizationPolicy")


def test_slot_condition_and_conversation_start(model: DialogueModel) -> None:
    vip = conversation(model.domain, SlotSet(name="vip", value=True), user("greet"))
    assert model.predict_next_action(vip).action_name == "utter_vip_greet"
    assert model.predict_next_action(conversation(model.domain, user("goodbye"))).action_name == "utter_welcome"
    later = conversation(model.domain, user("greet"), action("utter_greet"), action("action_listen"), user("goodbye"))
    assert model.predict_next_action(later).action_name == "utter_goodbye"


def test_wait_for_user_input_false_leaves_the_next_action_open(model: DialogueModel) -> None:
    tracker = conversation(model.domain, user("affirm"), action("action_check"))
    rule = next(p for p in model.policy_predictions(tracker) if p.policy_name == "RulePolicy")
    index = model.action_index["action_listen"]
    assert rule.probabilities[index] == 0.0


def test_default_actions_and_fallback(model: DialogueModel) -> None:
    restart = model.predict_next_action(conversation(model.domain, user("restart")))
    assert restart.action_name == "action_restart"
    rule_only = model_from(DOMAIN, DATA, policies=[("RulePolicy", {"core_fallback_threshold": 0.4})])
    lost = rule_only.predict_next_action(conversation(rule_only.domain, user("inform")))
    assert (lost.action_name, lost.confidence) == ("action_default_fallback", 0.4)
    off = model_from(DOMAIN, DATA, policies=[("RulePolicy", {"enable_fallback_prediction": False})])
    assert off.predict_next_action(conversation(off.domain, user("inform"))).confidence == 0.0


def test_form_happy_path(model: DialogueModel) -> None:
    tracker = conversation(model.domain, user("request_restaurant"))
    assert model.predict_next_action(tracker).action_name == "restaurant_form"
    tracker.update(action("restaurant_form"))
    tracker.update(ActiveLoop(name="restaurant_form"))
    after_form = model.predict_next_action(tracker)
    assert after_form.action_name == "action_listen" and after_form.is_no_user_prediction
    tracker.update(action("action_listen"))
    tracker.update(user("inform", [{"entity": "cuisine", "value": "thai"}]))
    again = model.predict_next_action(tracker)
    assert again.action_name == "restaurant_form" and again.is_no_user_prediction
    tracker.update(action("restaurant_form"))
    tracker.update(ActiveLoop(name=None))
    tracker.update(SlotSet(name="requested_slot", value=None))
    assert model.predict_next_action(tracker).action_name == "utter_submit"


def test_form_interruption_and_resumption(model: DialogueModel) -> None:
    tracker = conversation(
        model.domain, user("request_restaurant"), action("restaurant_form"), ActiveLoop(name="restaurant_form"),
        action("action_listen"), user("chitchat"),
    )
    # the form comes first; when it rejects the message, the rule for the interruption applies
    assert model.predict_next_action(tracker).action_name == "restaurant_form"
    tracker.update(ActionExecutionRejected(name="restaurant_form"))
    interrupted = model.predict_next_action(tracker)
    assert (interrupted.action_name, interrupted.policy_name) == ("utter_chitchat", "RulePolicy")
    tracker.update(action("utter_chitchat"))
    # the form was rejected and has not run since, so the rule (not the loop's happy path) brings it back
    resumed = model.predict_next_action(tracker)
    assert (resumed.action_name, resumed.policy_name) == ("restaurant_form", "RulePolicy")
    tracker.update(action("restaurant_form"))
    assert model.predict_next_action(tracker).action_name == "action_listen"


def test_unhappy_path_from_stories_marks_the_loop_interrupted() -> None:
    data = DATA + """
- story: deny inside the form, then back to it
  steps:
  - intent: request_restaurant
  - action: restaurant_form
  - active_loop: restaurant_form
  - intent: deny
  - action: utter_ok
  - intent: affirm
  - action: restaurant_form
"""
    model = model_from(DOMAIN, data.replace("- rule: check, then keep going\n  steps:\n  - intent: affirm\n"
                                            "  - action: action_check\n  wait_for_user_input: false\n", ""))
    tracker = conversation(
        model.domain, user("request_restaurant"), action("restaurant_form"), ActiveLoop(name="restaurant_form"),
        action("action_listen"), user("deny"), ActionExecutionRejected(name="restaurant_form"),
    )
    assert model.predict_next_action(tracker).action_name == "utter_ok"
    tracker.update(action("utter_ok"))
    tracker.update(action("action_listen"))
    tracker.update(user("affirm"))
    back = model.predict_next_action(tracker)
    assert back.action_name == "restaurant_form"
    assert any(isinstance(e, LoopInterrupted) and e.is_interrupted for e in back.events)


def test_contradicting_rule_and_story_name_both_places() -> None:
    data = """
rules:
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
stories:
- story: greet differently
  steps:
  - intent: greet
  - action: utter_welcome
"""
    with pytest.raises(ConductorError) as caught:
        model_from(DOMAIN, data)
    problem = caught.value.problems[0]
    assert "story 'greet differently' expects the action 'utter_welcome'" in problem.message
    assert "'greet' (data/stories.yml:6)" in problem.message and "predict 'utter_greet'" in problem.message
    assert (problem.file, problem.line) == ("data/stories.yml", 11)


def test_rules_with_two_user_messages_are_refused() -> None:
    data = """
rules:
- rule: too long
  steps:
  - intent: greet
  - action: utter_greet
  - intent: goodbye
  - action: utter_goodbye
"""
    with pytest.raises(ConductorError, match="more than 1 user message") as caught:
        model_from(DOMAIN, data)
    assert caught.value.problems[0].line == 3
    relaxed = model_from(DOMAIN, data, policies=[("RulePolicy", {"restrict_rules": False})])
    assert relaxed.predict_next_action(conversation(relaxed.domain, user("greet"))).action_name == "utter_greet"


def test_incomplete_rule_is_refused() -> None:
    data = """
rules:
- rule: sets vip
  steps:
  - intent: greet
  - action: action_check
  - slot_was_set:
    - vip: true
- rule: forgets vip
  steps:
  - intent: affirm
  - action: action_check
  - action: utter_ok
"""
    with pytest.raises(ConductorError, match="does not set the slot"):
        model_from(DOMAIN, data)


def test_unknown_fallback_action_is_refused() -> None:
    with pytest.raises(ConductorError, match="core_fallback_action_name 'action_nope'"):
        model_from(DOMAIN, DATA, policies=[("RulePolicy", {"core_fallback_action_name": "action_nope"})])
