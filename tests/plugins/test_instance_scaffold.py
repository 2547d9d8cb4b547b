"""`create_instance`: a client's instance folder that loads, merges its persona and answers in its voice."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConductorError, Severity
from bot.model import load_model, train_model
from bot.plugins import load_instance, load_project_with_plugins
from bot.plugins.instance_scaffold import create_instance
from bot.project.loader import Project, ProjectPaths
from bot.project.validation import validate_project
from bot.runtime import Runtime
from channels.base import UserMessage


def texts(project: Project, response: str) -> list[str | None]:
    return [variation.text for variation in project.domain.responses[response]]


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_instance(tmp_path_factory.mktemp("clients") / "acme", name="Acme Corp")


@pytest.fixture(scope="module")
def acme_project(acme: Path) -> Project:
    return load_project_with_plugins(ProjectPaths.discover(acme))


def test_the_instance_has_every_file(acme: Path) -> None:
    for relative in (
        "conductor.yml",
        "credentials.yml",
        "endpoints.yml",
        "domain.yml",
        "data/nlu.yml",
        "data/rules.yml",
        "data/stories.yml",
        "tests/test_stories.yml",
        "README.md",
    ):
        assert (acme / relative).is_file(), relative
    config = (acme / "conductor.yml").read_text(encoding="utf-8")
    assert "${LEGAL_BOOKING_URL}" in config
    assert "slack_token: ${SLACK_TOKEN}" in (acme / "credentials.yml").read_text(encoding="utf-8")
    assert "db: conductor.db" in (acme / "endpoints.yml").read_text(encoding="utf-8")


def test_the_instance_loads_clean_with_both_plugins(acme: Path, acme_project: Project) -> None:
    instance = load_instance(acme)
    assert instance.enabled == ["legal", "tech_support"]
    assert instance.persona is not None and instance.persona.tone == "friendly"
    errors = [p for p in validate_project(acme_project) if p.severity is Severity.ERROR]
    assert errors == []
    assert not [w for w in acme_project.warnings if w.file == str(acme / "conductor.yml")]
    responses = acme_project.domain.responses
    assert any(name.startswith("utter_legal") for name in responses)
    assert any(name.startswith("utter_ts") for name in responses)


def test_the_persona_sets_greeting_name_and_overrides(acme_project: Project) -> None:
    assert texts(acme_project, "utter_greet") == ["Hi, welcome to Acme Corp! How can I help you today?"]
    assert texts(acme_project, "utter_goodbye") == ["Thanks for contacting Acme Corp. Goodbye!"]
    assert all("Acme Corp Assistant" in (text or "") for text in texts(acme_project, "utter_i_am_a_bot"))


def test_the_project_domain_wins_over_the_persona(tmp_path: Path) -> None:
    folder = create_instance(tmp_path / "beta", plugins=["tech_support"])
    (folder / "domain.yml").write_text(
        'version: "3.1"\nresponses:\n  utter_goodbye:\n    - text: "See you, from the project."\n',
        encoding="utf-8",
    )
    project = load_project_with_plugins(ProjectPaths.discover(folder))
    assert texts(project, "utter_goodbye") == ["See you, from the project."]
    assert texts(project, "utter_greet") == ["Hi, welcome to Beta! How can I help you today?"]


def test_a_tone_without_greeting_rewords_the_base_greeting(tmp_path: Path) -> None:
    folder = create_instance(tmp_path / "gamma", plugins=[])
    (folder / "conductor.yml").write_text("persona:\n  tone: concise\n", encoding="utf-8")
    project = load_project_with_plugins(ProjectPaths.discover(folder))
    assert texts(project, "utter_greet") == ["Hi! How can I help?"]
    assert texts(project, "utter_i_am_a_bot") == ["I'm a virtual assistant. Ask for a person any time."]


@pytest.mark.parametrize(
    ("persona", "line", "words"),
    [
        ("persona:\n  name: Ava\n  greting: Hello\n", 3, "'greting' is not a key of persona"),
        ("persona:\n  name: Ava\n  tone: grumpy\n", 3, "not one of friendly, formal, concise"),
        ("persona:\n  name: [Ava]\n", 2, "persona 'name' should be text"),
        ("persona:\n  responses:\n    utter_greet: hello\n", 3, "must be a list"),
    ],
)
def test_a_bad_persona_is_an_error_at_its_line(tmp_path: Path, persona: str, line: int, words: str) -> None:
    path = tmp_path / "conductor.yml"
    path.write_text(persona, encoding="utf-8")
    with pytest.raises(ConductorError) as caught:
        load_instance(tmp_path)
    problem = caught.value.problems[0]
    assert words in problem.message
    assert (problem.file, problem.line) == (str(path), line)


def test_instances_side_by_side_have_their_own_files(tmp_path: Path) -> None:
    acme = create_instance(tmp_path / "clients" / "acme", plugins=["legal"])
    globex = create_instance(tmp_path / "clients" / "globex", plugins=["tech_support"])
    assert load_instance(acme).enabled == ["legal"]
    assert load_instance(globex).enabled == ["tech_support"]
    assert "Acme" in (acme / "conductor.yml").read_text(encoding="utf-8")
    assert "Globex" in (globex / "conductor.yml").read_text(encoding="utf-8")
    assert "Acme" not in (globex / "conductor.yml").read_text(encoding="utf-8")


def test_overwriting_is_refused_without_force(tmp_path: Path) -> None:
    folder = create_instance(tmp_path / "acme")
    (folder / "README.md").write_text("mine", encoding="utf-8")
    with pytest.raises(ConductorError) as caught:
        create_instance(folder)
    files = {problem.file for problem in caught.value.problems}
    assert str(folder / "conductor.yml") in files and str(folder / "README.md") in files
    assert (folder / "README.md").read_text(encoding="utf-8") == "mine"
    create_instance(folder, force=True)
    assert (folder / "README.md").read_text(encoding="utf-8") != "mine"


def test_an_unknown_plugin_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ConductorError, match="no plugin 'legl'"):
        create_instance(tmp_path / "acme", plugins=["legl"])
    assert not (tmp_path / "acme").exists()


async def test_the_trained_instance_greets_in_the_persona_voice(
    acme_project: Project, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path, _ = train_model(acme_project, tmp_path_factory.mktemp("models"), parts=("dialogue",))
    runtime = Runtime(load_model(path))
    result = await runtime.handle_message(UserMessage("/greet", "visitor", "rest"))
    assert [reply.get("text") for reply in result.replies] == [
        "Hi, welcome to Acme Corp! How can I help you today?"
    ]
