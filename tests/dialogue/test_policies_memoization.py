"""MemoizationPolicy and AugmentedMemoizationPolicy, with checkpoints and `or` in the stories."""

from __future__ import annotations

from typing import Any

from dialogue_helpers import action, conversation, model_from, user

from bot.dialogue.events import SlotSet

DOMAIN = """
intents: [greet, mood_great, mood_unhappy, affirm, deny]
slots:
  name:
    type: text
    mappings: [{type: custom}]
responses:
  utter_greet: [{text: hi}]
  utter_happy: [{text: great}]
  utter_cheer_up: [{text: here}]
  utter_did_that_help: [{text: better?}]
  utter_goodbye: [{text: bye}]
"""

DATA = """
stories:
- story: greet
  steps:
  - intent: greet
  - action: utter_greet
  - checkpoint: greeted
- story: happy
  steps:
  - checkpoint: greeted
  - intent: mood_great
  - action: utter_happy
- story: sad
  steps:
  - checkpoint: greeted
  - intent: mood_unhappy
  - action: utter_cheer_up
  - action: utter_did_that_help
  - or:
    - intent: affirm
    - intent: deny
  - action: utter_goodbye
"""

MEMO: list[tuple[str, dict[str, Any]]] = [("MemoizationPolicy", {})]


def test_checkpoints_join_stories() -> None:
    model = model_from(DOMAIN, DATA, MEMO)
    tracker = conversation(model.domain, user("greet"), action("utter_greet"), action("action_listen"),
                           user("mood_unhappy"))
    prediction = model.predict_next_action(tracker)
    assert (prediction.action_name, prediction.policy_name) == ("utter_cheer_up", "MemoizationPolicy")
    tracker.update(action("utter_cheer_up"))
    assert model.predict_next_action(tracker).action_name == "utter_did_that_help"
    # the part after the checkpoint is only known after the part before it
    alone = conversation(model.domain, user("mood_unhappy"))
    assert model.predict_next_action(alone).confidence == 0.0


def test_or_alternatives_each_lead_on() -> None:
    model = model_from(DOMAIN, DATA, MEMO)
    for answer in ("affirm", "deny"):
        tracker = conversation(
            model.domain, user("greet"), action("utter_greet"), action("action_listen"), user("mood_unhappy"),
            action("utter_cheer_up"), action("utter_did_that_help"), action("action_listen"), user(answer),
        )
        assert model.predict_next_action(tracker).action_name == "utter_goodbye", answer


def test_plain_memoization_needs_the_whole_history_augmented_does_not() -> None:
    plain = model_from(DOMAIN, DATA, MEMO)
    augmented = model_from(DOMAIN, DATA, [("AugmentedMemoizationPolicy", {"max_history": 3})])
    # an earlier turn (and a slot set in it) makes the history differ from every story
    events = [user("deny"), SlotSet(name="name", value="Ann"), action("utter_goodbye"), action("action_listen"),
              user("greet")]
    assert plain.predict_next_action(conversation(plain.domain, *events)).confidence == 0.0
    recalled = augmented.predict_next_action(conversation(augmented.domain, *events))
    assert (recalled.action_name, recalled.policy_name) == ("utter_greet", "AugmentedMemoizationPolicy")


def test_ambiguous_histories_are_forgotten() -> None:
    data = DATA + """
- story: greet differently
  steps:
  - intent: greet
  - action: utter_happy
"""
    model = model_from(DOMAIN, data, MEMO)
    assert model.predict_next_action(conversation(model.domain, user("greet"))).confidence == 0.0


def test_nlu_confidence_as_score() -> None:
    model = model_from(DOMAIN, DATA, [("MemoizationPolicy", {"use_nlu_confidence_as_score": True})])
    message = user("greet")
    message.parse_data["intent"]["confidence"] = 0.6
    assert model.predict_next_action(conversation(model.domain, message)).confidence == 0.6
