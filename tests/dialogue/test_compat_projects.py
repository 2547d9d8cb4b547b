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
