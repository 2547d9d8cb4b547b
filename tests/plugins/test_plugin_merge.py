"""Merging the base assistant, the enabled plugins and the project; clashes name both sides with file:line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.errors import ConductorError
from bot.plugins.discovery import discover_plugins
from bot.plugins.instance import load_instance
from bot.plugins.merge import base_assistant_folder, load_base_assistant, load_project_with_plugins
from bot.project.loader import Project, ProjectPaths, load_project
from tests.plugins.plugin_helpers import LIGHT_CONFIG, write, write_instance, write_plugin

LEGAL_DOMAIN = """\
intents: [ask_lawyer, affirm]
entities: [email]
slots:
  client_email:
    type: text
    mappings: [{type: from_entity, entity: email}]
responses:
  utter_lawyer: [{text: "We can help with {client_email}."}]
  utter_shared: [{text: "Same in both."}]
actions: [action_check_conflicts]
"""
LEGAL_NLU = """\
nlu:
- intent: ask_lawyer
  examples: |
    - I need a lawyer
    - legal advice please
- synonym: attorney
  examples: |
    - lawyer
"""
LEGAL_RULES = """\
rules:
- rule: lawyer
  steps:
  - intent: ask_lawyer
  - action: utter_lawyer
"""
LEGAL_TESTS = """\
stories:
- story: legal test
  steps:
  - intent: ask_lawyer
  - action: utter_lawyer
"""
TECH_DOMAIN = """\
intents: [ask_router]
entities: [email]
responses:
  utter_router: [{text: "Restart the router."}]
  utter_shared: [{text: "Same in both."}]
"""
TECH_NLU = """\
nlu:
- intent: ask_router
  examples: |
    - my router is broken
    - no internet
"""


def make_plugins(folder: Path) -> None:
    write_plugin(
        folder, "legal", domain=LEGAL_DOMAIN, nlu=LEGAL_NLU, rules=LEGAL_RULES, tests=LEGAL_TESTS,
        summary="client intake for a law firm",
    )
    write_plugin(folder, "tech_support", domain=TECH_DOMAIN, nlu=TECH_NLU)


def merged(root: Path) -> Project:
    instance = load_instance(root)
    catalog = discover_plugins(instance.plugins_dir, shipped=root / "no-shipped", entry_points=False)
    return load_project_with_plugins(ProjectPaths.discover(root), instance, catalog=catalog)


def clash_of(root: Path) -> list[tuple[str, int | None, str]]:
    with pytest.raises(ConductorError) as excinfo:
        merged(root)
    return [(str(Path(p.file or "").relative_to(root)), p.line, p.message) for p in excinfo.value.problems]


def test_base_plugins_and_project_merge_into_one_project(tmp_path: Path) -> None:
    make_plugins(tmp_path / "plugins")
    write_instance(
        tmp_path,
        "plugins:\n  legal:\n  tech_support:\n",
        domain='responses:\n  utter_router: [{text: "Please switch it off and on again, said our client."}]\n',
    )
    project = merged(tmp_path)
    base = load_base_assistant()
    domain = project.domain
    assert set(base.domain.intents) | {"ask_lawyer", "ask_router"} == set(domain.intents)
    assert {"utter_lawyer", "utter_shared", "utter_greet"} <= set(domain.responses)
    assert domain.responses["utter_router"][0].text == "Please switch it off and on again, said our client."
    assert "action_check_conflicts" in domain.actions and "action_handoff" in domain.actions
    assert domain.slots["enabled_skills"].initial_value == "client intake for a law firm and tech support"
    assert {"I need a lawyer", "my router is broken", "hi"} <= {m.text for m in project.nlu.examples}
    assert project.nlu.synonyms["lawyer"] == "attorney"
    assert "lawyer" in [r.name for r in project.rules] and len(project.rules) == len(base.rules) + 1
    assert "legal test" in [s.name for s in project.test_stories]
    assert project.config.pipeline is not None and [c.name for c in project.config.pipeline][-1] == (
        "LogisticRegressionClassifier"
    )  # the project's own config.yml


def test_a_project_made_by_bot_init_merges_with_the_base_without_repeats(tmp_path: Path) -> None:
    shutil.copytree(base_assistant_folder(), tmp_path, dirs_exist_ok=True)
    write(tmp_path / "conductor.yml", "plugins: {}\n")
    project = merged(tmp_path)
    base = load_base_assistant()
    assert len(project.nlu.examples) == len(base.nlu.examples)
    assert [r.name for r in project.rules] == [r.name for r in base.rules]
    assert [s.name for s in project.test_stories] == [s.name for s in base.test_stories]
    assert project.domain == base.domain


def test_the_project_overrides_the_base_and_uses_its_config_when_it_has_none(tmp_path: Path) -> None:
    write_instance(
        tmp_path,
        "plugins: {}\n",
        domain='responses:\n  utter_greet: [{text: "Welcome to Smith & Jones."}]\n',
        config=None,
    )
    write(
        tmp_path / "data" / "rules.yml",
        'version: "3.1"\nrules:\n- rule: Say hello back\n  steps:\n  - intent: greet\n  - action: utter_greet\n'
        "  - action: utter_help\n",
    )
    project = merged(tmp_path)
    assert project.domain.responses["utter_greet"][0].text == "Welcome to Smith & Jones."
    [hello] = [r for r in project.rules if r.name == "Say hello back"]
    assert str(tmp_path) in (hello.file or "")  # the project's rule replaced the base assistant's
    assert project.config == load_base_assistant().config
    assert not any("no config file" in w.message for w in project.warnings)


def test_the_same_intent_in_two_plugins_is_an_error_naming_both(tmp_path: Path) -> None:
    make_plugins(tmp_path / "plugins")
    write(
        tmp_path / "plugins" / "tech_support" / "domain.yml",
        'version: "3.1"\nintents:\n  - ask_router\n  - ask_lawyer\nactions:\n  - action_check_conflicts\n',
    )
    write_instance(tmp_path, "plugins:\n  legal:\n  tech_support:\n")
    found = clash_of(tmp_path)
    assert found == [
        (
            "plugins/tech_support/domain.yml",
            4,
            "the intent 'ask_lawyer' is in both plugin 'legal' "
            f"({tmp_path}/plugins/legal/domain.yml:2) and plugin 'tech_support' (here)",
        ),
        (
            "plugins/tech_support/domain.yml",
            6,
            "the action 'action_check_conflicts' is in both plugin 'legal' "
            f"({tmp_path}/plugins/legal/domain.yml:11) and plugin 'tech_support' (here)",
        ),
    ]


def test_a_response_or_slot_defined_differently_by_two_plugins_is_an_error(tmp_path: Path) -> None:
    make_plugins(tmp_path / "plugins")
    write(
        tmp_path / "plugins" / "tech_support" / "domain.yml",
        'version: "3.1"\nintents: [ask_router]\nslots:\n  client_email:\n    type: any\n    mappings: []\n'
        'responses:\n  utter_shared:\n  - text: "Not the same."\n',
    )
    write_instance(tmp_path, "plugins:\n  legal:\n  tech_support:\n")
    found = {(file, line): message for file, line, message in clash_of(tmp_path)}
    assert found == {
        ("plugins/tech_support/domain.yml", 4): "the slot 'client_email' is defined differently by plugin 'legal' "
        f"({tmp_path}/plugins/legal/domain.yml:5) and plugin 'tech_support' (here)",
        ("plugins/tech_support/domain.yml", 9): "the response 'utter_shared' is defined differently by plugin "
        f"'legal' ({tmp_path}/plugins/legal/domain.yml:10) and plugin 'tech_support' (here)",
    }


def test_a_plugin_may_repeat_but_not_change_the_base_assistant(tmp_path: Path) -> None:
    write_plugin(
        tmp_path / "plugins",
        "rude",
        domain='intents: [greet]\nresponses:\n  utter_greet: [{text: "What do you want?"}]\n',
    )
    write_instance(tmp_path, "plugins:\n  rude:\n")
    [(file, line, message)] = clash_of(tmp_path)
    assert (file, line) == ("plugins/rude/domain.yml", 4)
    assert message.startswith("plugin 'rude' changes the response 'utter_greet' of the base assistant (")
    assert str(base_assistant_folder() / "domain.yml") in message


def test_the_project_may_override_plugin_responses_but_not_change_their_slots(tmp_path: Path) -> None:
    make_plugins(tmp_path / "plugins")
    write_instance(
        tmp_path,
        "plugins:\n  legal:\n",
        domain="slots:\n  client_email:\n    type: float\n    mappings: []\n"
        'responses:\n  utter_lawyer: [{text: "Smith & Jones can help."}]\n',
    )
    [(file, line, message)] = clash_of(tmp_path)
    assert (file, line) == ("domain.yml", 3)
    assert message.startswith("the project changes the slot 'client_email' of plugin 'legal' (")


def test_settings_are_checked_when_training(tmp_path: Path) -> None:
    write_plugin(
        tmp_path / "plugins", "legal", domain="intents: [ask_lawyer]\n",
        settings="firm_name: {type: str, required: true}\n",
    )
    write_instance(tmp_path, "plugins:\n  legal:\n    firm: x\n")
    found = clash_of(tmp_path)
    assert [(file, line) for file, line, _ in found] == [("conductor.yml", 2), ("conductor.yml", 3)]


def test_without_conductor_yml_the_project_is_read_unchanged(tmp_path: Path) -> None:
    write_instance(tmp_path, "", domain="intents: [greet]\n")
    (tmp_path / "conductor.yml").unlink()
    paths = ProjectPaths.discover(tmp_path)
    assert load_project_with_plugins(paths) == load_project(paths)


def test_every_problem_of_every_layer_is_reported_at_once(tmp_path: Path) -> None:
    make_plugins(tmp_path / "plugins")
    write(tmp_path / "plugins" / "legal" / "data" / "rules.yml", "rules: [\n")
    write_instance(tmp_path, "plugins:\n  legal:\n  tech_support:\n", domain="intents: [\n")
    found = clash_of(tmp_path)
    assert {file for file, _, _ in found} == {"plugins/legal/data/rules.yml", "domain.yml"}


def test_merging_the_base_assistant_keeps_plugins_out_when_none_are_enabled(tmp_path: Path) -> None:
    write_instance(tmp_path, "plugins: {}\n", config=LIGHT_CONFIG)
    project = merged(tmp_path)
    assert project.domain.slots["enabled_skills"] == load_base_assistant().domain.slots["enabled_skills"]
