"""The test-story runner: teacher-forced predictions, failures by step, NLU checks and report data."""

from __future__ import annotations

from typing import Any

from dialogue_helpers import blocks_from, model_from

from bot.dialogue.story_test import run_test_stories
from bot.evaluation.story_report import story_report

DOMAIN = """
intents: [greet, goodbye, request_form, inform, chitchat]
slots:
  city:
    type: text
    influence_conversation: false
    mappings: [{type: custom}]
forms:
  trip_form:
    required_slots: [city]
responses:
  utter_greet: [{text: hi}]
  utter_goodbye: [{text: bye}]
  utter_chitchat: [{text: nice}]
  utter_done: [{text: done}]
"""

DATA = """
rules:
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: goodbye
  steps:
  - intent: goodbye
  - action: utter_goodbye
- rule: start the form
  steps:
  - intent: request_form
  - action: trip_form
  - active_loop: trip_form
- rule: finish the form
  condition:
  - active_loop: trip_form
  steps:
  - action: trip_form
  - active_loop: null
  - action: utter_done
- rule: chitchat in the form
  condition:
  - active_loop: trip_form
  steps:
  - intent: chitchat
  - action: utter_chitchat
  - action: trip_form
  - active_loop: trip_form
"""

TESTS = """
stories:
- story: passes
  steps:
  - user: hello there
    intent: greet
  - action: utter_greet
  - intent: goodbye
  - action: utter_goodbye
- story: fails on the second action
  steps:
  - intent: greet
  - action: utter_greet
  - action: utter_goodbye
- story: form with an interruption
  steps:
  - intent: request_form
  - action: trip_form
  - active_loop: trip_form
  - intent: chitchat
  - action: utter_chitchat
  - action: trip_form
  - intent: inform
  - action: trip_form
  - active_loop: null
  - action: utter_done
"""


def test_teacher_forced_results_per_step() -> None:
    model = model_from(DOMAIN, DATA)
    results = run_test_stories(model, blocks_from(TESTS, "tests/test_stories.yml", test=True))
    assert [r.passed for r in results] == [True, False, True]
    passing, failing, form = results
    assert [(c.expected, c.predicted) for c in passing.actions] == [
        ("utter_greet", "utter_greet"), ("action_listen", "action_listen"),
        ("utter_goodbye", "utter_goodbye"), ("action_listen", "action_listen"),
    ]
    # the story's action is fed in after the wrong prediction, so the next check is still meaningful
    assert [(c.expected, c.predicted, c.step) for c in failing.actions[:2]] == [
        ("utter_greet", "utter_greet", 1), ("utter_goodbye", "action_listen", 2)
    ]
    assert failing.actions[2].expected == "action_listen" and failing.actions[2].step is None
    assert failing.failures()[0] == (
        "fails on the second action: step 3 (tests/test_stories.yml:14): expected 'utter_goodbye', "
        "predicted 'action_listen' (RulePolicy, 1.00)"
    )
    assert all(c.correct for c in form.actions)


def test_report_data_for_the_report_writers() -> None:
    model = model_from(DOMAIN, DATA)
    results = run_test_stories(model, blocks_from(TESTS, "tests/test_stories.yml", test=True))
    report = results[1].report()
    assert report.yaml.startswith("- story: fails on the second action")
    assert "- action: utter_goodbye  # predicted: action_listen" in report.yaml
    assert not report.passed
    summary = story_report([r.report() for r in results])
    assert summary["conversation_accuracy"]["correct"] == 2 and summary["conversation_accuracy"]["total"] == 3


def test_missed_listen_is_written_as_a_step() -> None:
    model = model_from(DOMAIN, DATA)
    stories = blocks_from(
        """
        stories:
        - story: expects a listen the model skips
          steps:
          - intent: request_form
          - action: trip_form
          - active_loop: trip_form
          - active_loop: null
          - action: utter_done
        """,
        test=True,
    )
    result = run_test_stories(model, stories)[0]
    assert result.passed
    stories = blocks_from(
        """
        stories:
        - story: no listen after greeting
          steps:
          - intent: greet
          - action: utter_greet
          - action: utter_greet
        """,
        test=True,
    )
    result = run_test_stories(model, stories)[0]
    assert "- action: utter_greet  # predicted: action_listen" in result.report().yaml


def test_nlu_is_checked_when_a_parse_function_is_given() -> None:
    model = model_from(DOMAIN, DATA)
    seen: list[str] = []

    def parse(text: str) -> dict[str, Any]:
        seen.append(text)
        return {"text": text, "intent": {"name": "goodbye", "confidence": 0.9}, "entities": []}

    results = run_test_stories(model, blocks_from(TESTS, "tests/test_stories.yml", test=True), parse=parse)
    assert seen == ["hello there"]
    passing = results[0]
    assert [(c.expected, c.predicted) for c in passing.intents] == [("greet", "goodbye")]
    # the story's intent still drives the dialogue: the actions are right, the story fails on NLU
    assert all(c.correct for c in passing.actions) and not passing.passed
    assert "intent 'greet', NLU gave 'goodbye'" in passing.failures()[0]


def test_a_user_text_that_is_an_intent_payload_is_read_as_the_server_reads_it() -> None:
    """`user: /greet` (an exported conversation, a button) is the intent greet, whatever the NLU makes of it."""
    model = model_from(DOMAIN, DATA)
    seen: list[str] = []

    def parse(text: str) -> dict[str, Any]:
        seen.append(text)
        return {"text": text, "intent": {"name": "goodbye", "confidence": 0.9}, "entities": []}

    stories = blocks_from(
        """
        stories:
        - story: a button
          steps:
          - user: /greet
            intent: greet
          - action: utter_greet
        """,
        test=True,
    )
    result = run_test_stories(model, stories, parse=parse)[0]
    assert seen == []
    assert [(c.expected, c.predicted) for c in result.intents] == [("greet", "greet")]
    assert result.passed
