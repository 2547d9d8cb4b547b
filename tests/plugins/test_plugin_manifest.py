"""plugin.yml and the settings an instance gives a plugin: typed values, and every mistake at its file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.errors import ConductorError, Problem
from bot.plugins.discovery import discover_plugins
from bot.plugins.instance import EnabledPlugin, enable_plugins, load_instance
from bot.plugins.manifest import load_manifest
from tests.plugins.plugin_helpers import write, write_instance, write_plugin

LEGAL_SETTINGS = """\
firm_name: {type: str, required: true, description: "The firm's name, used in replies."}
practice_areas: {type: "list[str]", default: [family, employment], choices: [family, employment, tax]}
booking_url: {type: url, required: false}
office_hours: {type: str, default: "Mon-Fri 9:00-17:00"}
max_cases: {type: int, default: 3}
fee: {type: float, default: 99.5}
online: {type: bool, default: true}
templates: {type: path, default: templates}
"""


def legal_instance(tmp_path: Path, settings: str) -> Path:
    write_plugin(tmp_path / "plugins", "legal", domain="intents: [ask_lawyer]\n", settings=LEGAL_SETTINGS)
    return write_instance(tmp_path, "plugins:\n  legal:\n" + settings)


def enable(root: Path, *, for_training: bool = False) -> tuple[list[EnabledPlugin], list[Problem]]:
    instance = load_instance(root)
    catalog = discover_plugins(instance.plugins_dir, shipped=root / "no-shipped", entry_points=False)
    return enable_plugins(instance, catalog, for_training=for_training)


def problems_of(excinfo: pytest.ExceptionInfo[ConductorError]) -> list[tuple[str, int | None, str]]:
    return [(Path(p.file or "").name, p.line, p.message) for p in excinfo.value.problems]


def test_settings_are_typed_defaulted_and_read_by_attribute(tmp_path: Path) -> None:
    root = legal_instance(
        tmp_path,
        '    firm_name: "Smith & Jones LLP"\n    booking_url: "http://127.0.0.1:8088/book"\n'
        "    practice_areas: [tax]\n",
    )
    [plugin], warnings = enable(root)
    settings: Any = plugin.settings  # the model is made from the manifest at run time
    assert warnings == []
    assert settings.firm_name == "Smith & Jones LLP"
    assert settings.booking_url == "http://127.0.0.1:8088/book"
    assert settings.practice_areas == ["tax"]
    assert (settings.office_hours, settings.max_cases, settings.fee, settings.online) == (
        "Mon-Fri 9:00-17:00", 3, 99.5, True
    )
    assert settings.templates == root / "templates"  # a relative path is the instance's
    with pytest.raises(ValueError):
        settings.firm_name = "changed"  # settings are frozen


def test_every_bad_setting_is_reported_at_its_line_in_conductor_yml(tmp_path: Path) -> None:
    root = legal_instance(
        tmp_path,
        "    booking_url: not a url\n"  # line 3
        "    practice_areas: [family, gardening]\n"  # line 4
        "    max_cases: 'three'\n"  # line 5
        "    online: yes\n"  # line 6: YAML 1.2, `yes` is text
        "    firm_nam: Smith\n",  # line 7: a typo
    )
    with pytest.raises(ConductorError) as excinfo:
        enable(root)
    found = problems_of(excinfo)
    assert [(file, line) for file, line, _ in found] == [
        ("conductor.yml", 2), ("conductor.yml", 3), ("conductor.yml", 4), ("conductor.yml", 5),
        ("conductor.yml", 6), ("conductor.yml", 7),
    ]
    messages = " | ".join(message for _, _, message in found)
    assert "'firm_name' is required but missing" in messages
    assert "should be an http:// or https:// URL" in messages
    assert "'gardening'" in messages and "choices are: family, employment, tax" in messages
    assert "'max_cases' should be a whole number" in messages
    assert "'online' should be true or false" in messages
    assert "plugin 'legal' has no setting 'firm_nam'" in messages
    typo = next(p for p in excinfo.value.problems if "firm_nam'" in p.message)
    assert typo.hint == "Did you mean 'firm_name'?"


def test_environment_variables_fill_settings_and_only_warn_while_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = legal_instance(tmp_path, "    firm_name: ${FIRM}\n    booking_url: ${BOOKING_URL}\n")
    monkeypatch.setenv("FIRM", "Acme Law")
    monkeypatch.delenv("BOOKING_URL", raising=False)
    [plugin], warnings = enable(root, for_training=True)
    settings: Any = plugin.settings
    assert settings.firm_name == "Acme Law"
    assert [(Path(w.file or "").name, w.line) for w in warnings] == [("conductor.yml", 4)]
    assert "BOOKING_URL" in warnings[0].message and "checked when the bot starts" in warnings[0].message
    with pytest.raises(ConductorError) as excinfo:
        enable(root)
    assert problems_of(excinfo) == [
        ("conductor.yml", 4, "the environment variable 'BOOKING_URL' is not set")
    ]


def test_secret_settings_are_masked_when_printed(tmp_path: Path) -> None:
    write_plugin(
        tmp_path / "plugins", "crm", domain="intents: [ask_crm]\n", settings="api_key: {type: str, required: true}\n"
    )
    root = write_instance(tmp_path, "plugins:\n  crm:\n    api_key: s3cr3t-value\n")
    [plugin], _ = enable(root)
    settings: Any = plugin.settings
    assert settings.api_key == "s3cr3t-value"
    assert "s3cr3t" not in repr(settings)


def test_a_broken_manifest_reports_each_mistake_at_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "plugin.yml",
        """\
        name: Legal-Intake
        version: one
        description: ""
        conductor: "about 1"
        setings: {}
        settings:
          firm_name: {type: string}
          areas: {type: "list[str]", choices: family}
          limit: {type: int, default: many}
          model_x: {type: str}
          url: {type: url, required: true, default: "http://x.org"}
          size: {type: int, choices: [a]}
        """,
    )
    with pytest.raises(ConductorError) as excinfo:
        load_manifest(path)
    found = {(line, message.split(",")[0]) for _, line, message in problems_of(excinfo)}
    assert found == {
        (5, "'setings' is not a key of plugin.yml"),
        (1, "the plugin name 'Legal-Intake' is not lower_snake_case"),
        (2, "the version 'one' is not a PEP 440 version"),
        (3, "'description' should be text"),
        (4, "'conductor' 'about 1' is not a version specifier"),
        (7, "the setting 'firm_name' has the type 'string'"),
        (8, "'choices' of the setting 'areas' should be a list of texts"),
        (9, "the default of the setting 'limit' does not fit its type `int`: Input should be a valid integer"),
        (10, "the setting name 'model_x' cannot be used"),
        (11, "the setting 'url' is required and has a default"),
        (12, "the setting 'size' has choices"),
    }


def test_a_plugin_for_another_conductor_version_is_refused_at_its_line(tmp_path: Path) -> None:
    write_plugin(tmp_path / "plugins", "future", domain="intents: [ask_future]\n", conductor=">=9.0")
    root = write_instance(tmp_path, "base_assistant: false\nplugins:\n  future:\n")
    with pytest.raises(ConductorError) as excinfo:
        enable(root)
    [(file, line, message)] = problems_of(excinfo)
    assert (file, line) == ("conductor.yml", 3)
    assert "supports Conductor >=9.0" in message


def test_an_unknown_plugin_name_suggests_the_close_one(tmp_path: Path) -> None:
    write_plugin(tmp_path / "plugins", "tech_support", domain="intents: [ask_tech]\n")
    root = write_instance(tmp_path, "plugins:\n  tech_suport: {}\n")
    with pytest.raises(ConductorError) as excinfo:
        enable(root)
    [problem] = excinfo.value.problems
    assert (Path(problem.file or "").name, problem.line) == ("conductor.yml", 2)
    assert problem.message == "there is no plugin 'tech_suport'"
    assert problem.hint == "Did you mean 'tech_support'?"


def test_conductor_yml_mistakes_are_reported_with_lines(tmp_path: Path) -> None:
    write(
        tmp_path / "conductor.yml",
        "plugins:\n  legal: [1, 2]\nbase_assistant: maybe\nvoice: friendly\naction_modules: [my-actions]\n",
    )
    with pytest.raises(ConductorError) as excinfo:
        load_instance(tmp_path)
    assert {(p.line, p.message.split(" should")[0]) for p in excinfo.value.problems} == {
        (3, "'base_assistant'"),
        (2, "the settings of the plugin 'legal'"),
        (5, "'action_modules'"),
    }
    write(tmp_path / "conductor.yml", "plugins: [legal]\nvoice: friendly\n")
    instance = load_instance(tmp_path)
    assert instance.enabled == ["legal"] and instance.base_assistant
    assert [(w.line, w.message) for w in instance.warnings] == [
        (2, "'voice' is not a key of conductor.yml; it is ignored")
    ]


def test_without_conductor_yml_a_project_is_plain_rasa(tmp_path: Path) -> None:
    instance = load_instance(tmp_path)
    assert instance.path is None and instance.plugins == [] and not instance.base_assistant
