"""The learned policy, the ensemble's choice, policy configuration, and saving and loading a model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dialogue_helpers import action, conversation, model_from, user

from bot.dialogue.events import ActionExecutionRejected, ActiveLoop, DefinePrevUserUtteredFeaturization, Event
from bot.dialogue.model import DialogueModel
from bot.dialogue.policies import MAX_NUMBER_OF_PREDICTIONS, policies_from_config
from bot.dialogue.policies.learned import fit_softmax_regression
from bot.errors import ConductorError

DOMAIN = """
intents: [greet, ask_weather, ask_time, thanks, chitchat, request_form]
entities: [city]
slots:
  city:
    type: text
    mappings: [{type: from_entity, entity: city}]
forms:
  a_form:
    required_slots: [city]
responses:
  utter_greet: [{text: hi}]
  utter_weather: [{text: sunny}]
  utter_ask_city: [{text: where?}]
  utter_time: [{text: noon}]
  utter_welcome: [{text: welcome}]
  utter_chitchat: [{text: nice}]
"""

DATA = """
stories:
- story: weather with a city
  steps:
  - intent: greet
  - action: utter_greet
  - intent: ask_weather
    entities:
    - city: Rome
  - slot_was_set:
    - city: Rome
  - action: utter_weather
  - intent: thanks
  - action: utter_welcome
- story: weather without a city
  steps:
  - intent: ask_weather
  - action: utter_ask_city
- story: time
  steps:
  - intent: greet
  - action: utter_greet
  - intent: ask_time
  - action: utter_time
  - intent: thanks
  - action: utter_welcome
rules:
- rule: form
  steps:
  - intent: request_form
  - action: a_form
  - active_loop: a_form
"""

LEARNED = [("TEDPolicy", {"max_history": 3})]


def test_learned_policy_generalises_to_unseen_paths() -> None:
    model = model_from(DOMAIN, DATA, LEARNED)
    cases: list[tuple[list[Event], str]] = [
        # no story thanks after asking for the city, nor asks for the time straight away
        ([user("ask_weather"), action("utter_ask_city"), action("action_listen"), user("thanks")], "utter_welcome"),
        ([user("ask_time")], "utter_time"),
        ([user("ask_weather", [{"entity": "city", "value": "Oslo"}])], "utter_weather"),
        ([user("greet"), action("utter_greet"), action("action_listen"), user("ask_weather")], "utter_ask_city"),
        ([user("ask_time"), action("utter_time")], "action_listen"),
    ]
    for events, expected in cases:
        prediction = model.predict_next_action(conversation(model.domain, *events))
        assert (prediction.action_name, prediction.policy_name) == (expected, "LearnedPolicy"), events
        assert prediction.confidence > 0.5


def test_softmax_regression_learns_a_separable_problem() -> None:
    x = np.eye(4)
    y = np.array([0, 1, 2, 1])
    weights, bias = fit_softmax_regression(x, y, 3)
    assert list(np.argmax(x @ weights.T + bias, axis=1)) == [0, 1, 2, 1]


def test_ensemble_no_user_prediction_and_rejection() -> None:
    model = model_from(DOMAIN, DATA)
    tracker = conversation(model.domain, user("request_form"), action("a_form"), ActiveLoop(name="a_form"),
                           action("action_listen"), user("chitchat"))
    first = model.predict_next_action(tracker)
    assert first.action_name == "a_form" and first.is_no_user_prediction
    assert any(isinstance(e, DefinePrevUserUtteredFeaturization) for e in first.events)
    tracker.update(ActionExecutionRejected(name="a_form"))
    second = model.predict_next_action(tracker)
    assert second.action_name != "a_form"
    assert second.probabilities[model.action_index["a_form"]] == 0.0


def test_save_and_load_give_the_same_predictions(tmp_path: Path) -> None:
    model = model_from(DOMAIN, DATA)
    model.save(tmp_path / "dialogue")
    assert not list((tmp_path / "dialogue").glob("*.pkl"))
    loaded = DialogueModel.load(tmp_path / "dialogue")
    for events in ([user("ask_time")], [user("greet")], [user("request_form")], [user("thanks")]):
        tracker = conversation(model.domain, *events)
        want, got = model.predict_next_action(tracker), loaded.predict_next_action(tracker)
        assert (got.action_name, got.policy_name) == (want.action_name, want.policy_name)
        assert got.confidence == pytest.approx(want.confidence)


def test_loading_a_broken_model_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "dialogue.json").write_text("{not json")
    with pytest.raises(ConductorError, match="cannot read the dialogue model"):
        DialogueModel.load(tmp_path)


def test_policy_configuration() -> None:
    policies, notices = policies_from_config(None)
    assert [p.name for p in policies] == ["MemoizationPolicy", "RulePolicy", "LearnedPolicy"]
    assert any("UnexpecTEDIntentPolicy" in n.message for n in notices)
    with pytest.raises(ConductorError, match="FormPolicy was removed in Rasa 3") as caught:
        policies_from_config([("FormPolicy", {}), ("NoSuchPolicy", {})], "config.yml")
    assert len(caught.value.problems) == 2 and caught.value.problems[1].file == "config.yml"
    ted, _ = policies_from_config([("rasa.core.policies.ted_policy.TEDPolicy", {"epochs": 5})])
    assert ted[0].name == "LearnedPolicy"
    assert MAX_NUMBER_OF_PREDICTIONS == 10
