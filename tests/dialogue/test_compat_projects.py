"""Rasa compatibility: with their own config.yml, every test story of these Rasa projects passes, checked as
`rasa test core` checks them (teacher forcing, the stories' intents)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.dialogue.model import DialogueModel, train_policies
from bot.dialogue.story_test import run_test_stories
from bot.project.loader import ProjectPaths, load_project

PROJECTS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "rasa-projects"


@pytest.mark.parametrize(
    ("project", "stories"), [("rasa-init-3.6.21", 7), ("rasa-oss-formbot", 3), ("financial-demo", 48)]
)
def test_every_test_story_passes(project: str, stories: int) -> None:
    loaded = load_project(ProjectPaths.discover(PROJECTS / project))
    model = train_policies(loaded)
    results = run_test_stories(model, loaded.test_stories)
    assert len(results) == stories
    failures = [line for result in results for line in result.failures()]
    assert not failures, "\n".join(failures)


def test_a_saved_model_predicts_the_same(tmp_path: Path) -> None:
    loaded = load_project(ProjectPaths.discover(PROJECTS / "financial-demo"))
    model = train_policies(loaded)
    model.save(tmp_path)
    again = DialogueModel.load(tmp_path)
    results = run_test_stories(again, loaded.test_stories)
    assert all(result.passed for result in results)
    before = [(c.predicted, c.policy) for r in run_test_stories(model, loaded.test_stories) for c in r.actions]
    assert [(c.predicted, c.policy) for r in results for c in r.actions] == before


@pytest.mark.interpreted_only  # patches RulePolicy._matching_keys: compiled callers do not see it
def test_the_rule_index_finds_what_checking_every_rule_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    """RulePolicy checks only the rules its index gives for the conversation's newest state; over every
    prediction of financial-demo's stories (forms, interruptions, many rules) that is exactly the set of rules
    that apply when every rule is checked."""
    from bot.dialogue.policies import rule

    indexed = rule.RulePolicy._matching_keys
    compared: list[int] = []

    def both(policy: rule.RulePolicy, lookup: Any, states: list[Any]) -> list[str]:
        found = indexed(policy, lookup, states)
        everything = [key for key in lookup if rule._rule_applies(policy._parsed_key(key), states)]
        assert sorted(found) == sorted(everything) and len(set(found)) == len(found)
        compared.append(len(found))
        return found

    monkeypatch.setattr(rule.RulePolicy, "_matching_keys", both)
    loaded = load_project(ProjectPaths.discover(PROJECTS / "financial-demo"))
    results = run_test_stories(train_policies(loaded), loaded.test_stories)
    assert all(result.passed for result in results)
    assert len(compared) > 1_000 and any(compared)


@pytest.mark.interpreted_only  # patches DialogueModel._best_prediction: compiled callers do not see it
@pytest.mark.parametrize("project", ["rasa-init-3.6.21", "financial-demo"])
def test_asking_policies_in_priority_order_changes_no_prediction(
    project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ensemble stops asking once a sure prediction cannot be beaten by the built-in policies still to
    ask; over every prediction of these projects' test stories the result equals asking every policy."""
    from bot.dialogue.policies.ensemble import combine_predictions

    early = DialogueModel._best_prediction

    def shape(events: list[Any]) -> list[dict[str, Any]]:
        return [{k: v for k, v in event.as_dict().items() if k != "timestamp"} for event in events]
    asked: list[int] = []

    def both(model: DialogueModel, tracker: Any) -> Any:
        stopped = early(model, tracker)
        full = combine_predictions(model.policy_predictions(tracker), tracker, model.action_index)
        assert (stopped.max_confidence_index, stopped.max_confidence, stopped.policy_name) == (
            full.max_confidence_index, full.max_confidence, full.policy_name
        )
        assert (shape(stopped.events), stopped.is_no_user_prediction, stopped.is_end_to_end_prediction) == (
            shape(full.events), full.is_no_user_prediction, full.is_end_to_end_prediction
        )
        assert stopped.hide_rule_turn == full.hide_rule_turn
        asked.append(1)
        return stopped

    monkeypatch.setattr(DialogueModel, "_best_prediction", both)
    loaded = load_project(ProjectPaths.discover(PROJECTS / project))
    model = train_policies(loaded)
    learned = next(policy for policy in model.policies if type(policy).__name__ == "LearnedPolicy")
    learned_calls: list[int] = []
    predict = learned.predict

    def counted(context: Any) -> Any:
        learned_calls.append(1)
        return predict(context)

    monkeypatch.setattr(learned, "predict", counted)
    results = run_test_stories(model, loaded.test_stories)
    assert all(result.passed for result in results)
    # the comparison asks the learned policy once per prediction; the ensemble itself asked it less often
    assert len(learned_calls) < 2 * len(asked)


@pytest.mark.interpreted_only  # patches RulePolicy._from_rules: compiled callers do not see it
@pytest.mark.parametrize("project", ["rasa-init-3.6.21", "rasa-oss-formbot", "financial-demo"])
def test_skipping_the_text_pass_of_rules_that_follow_intents_changes_no_prediction(
    project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RulePolicy skips its pass over the message's text when no rule or unhappy path could apply to a text;
    over every prediction of these projects' test stories (forms and their unhappy paths included) the pass,
    when run, finds exactly nothing, as the skip assumes."""
    from bot.dialogue.policies import rule

    from_rules = rule.RulePolicy._from_rules
    compared: list[int] = []

    def both(policy: rule.RulePolicy, context: Any, use_text: bool, *, serving: bool = False) -> Any:
        result = from_rules(policy, context, use_text, serving=serving)
        if use_text and serving:
            monkeypatch.setattr(policy, "_text_can_match", True)
            assert from_rules(policy, context, use_text, serving=serving) == result
            monkeypatch.setattr(policy, "_text_can_match", None)
            compared.append(1)
        return result

    monkeypatch.setattr(rule.RulePolicy, "_from_rules", both)
    loaded = load_project(ProjectPaths.discover(PROJECTS / project))
    model = train_policies(loaded)
    policy = next(p for p in model.policies if isinstance(p, rule.RulePolicy))
    assert not policy._text_can_match_any()  # these projects' rules all follow intents
    results = run_test_stories(model, loaded.test_stories)
    assert all(result.passed for result in results)
    assert len(compared) > 10


def test_a_rule_on_a_message_text_still_applies() -> None:
    """A key whose newest state asks for the user's text (or nothing of the user) keeps the text pass."""
    from bot.dialogue.policies.rule import RulePolicy

    policy = RulePolicy()
    policy.rules = {'[{"prev_action":{"action_name":"action_listen"},"user":{"text":"hello"}}]': "utter_greet"}
    assert policy._text_can_match_any()
    policy.rules = {'[{"prev_action":{"action_name":"action_listen"},"user":{"intent":"greet"}}]': "utter_greet"}
    assert not policy._text_can_match_any()
    # a key after another action than action_listen never meets the text pass
    policy.unhappy_paths = {'[{"prev_action":{"action_name":"utter_ask"}}]': "do_not_predict_loop_action"}
    assert not policy._text_can_match_any()
    policy.unhappy_paths = {'[{"prev_action":{"action_name":"action_listen"}}]': "do_not_predict_loop_action"}
    assert policy._text_can_match_any()
