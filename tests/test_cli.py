"""The `bot` command as a user runs it: exit codes, summaries, and clear errors instead of tracebacks."""

from __future__ import annotations

import ast
import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.conftest import PROJECT_NAMES, RASA_PROJECTS, REPO_ROOT
from tests.process_helpers import run_bot

runner = CliRunner()


def test_help_lists_rasa_shaped_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("init", "train", "run", "shell", "test", "data", "plugins"):
        assert command in result.output


def test_run_help_states_the_tracker_cache_default_the_runtime_uses() -> None:
    """The help text spells the default out (importing `bot.runtime` to format it would slow every `bot`
    command by half a second), so this keeps the two from drifting apart."""
    from bot.runtime import DEFAULT_CACHE_SIZE

    result = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert result.exit_code == 0
    assert f"Default {DEFAULT_CACHE_SIZE:,}." in " ".join(result.output.replace("│", " ").split())


@pytest.mark.parametrize("name", PROJECT_NAMES)
def test_every_shared_project_validates_clean(name: str) -> None:
    result = run_bot("data", "validate", cwd=RASA_PROJECTS / name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The project is valid" in result.stdout
    assert "Traceback" not in result.stderr


def test_summary_counts_financial_demo() -> None:
    result = run_bot("data", "validate", cwd=RASA_PROJECTS / "financial-demo")
    lines = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in result.stdout.splitlines()
             if line.count("│") >= 3 and line.split("│")[2].strip().isdigit()}
    assert lines["test stories"] == "48"
    assert lines["NLU examples"] == "578"
    assert lines["forms"] == "3"


def test_flags_point_at_a_project_from_elsewhere(tmp_path: Path) -> None:
    root = RASA_PROJECTS / "rasa-oss-formbot"
    result = run_bot(
        "data", "validate", "--domain", str(root / "domain.yml"), "--data", str(root / "data"),
        "--config", str(root / "config.yml"), "--tests", str(root / "tests"), cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "test stories" in result.stdout


def test_fail_on_warnings(rasa_init_copy: Path) -> None:
    nlu = rasa_init_copy / "data" / "nlu.yml"
    nlu.write_text(nlu.read_text() + "- intent: unused_intent\n  examples: |\n    - something else entirely\n")
    domain = rasa_init_copy / "domain.yml"
    domain.write_text(domain.read_text().replace("intents:\n", "intents:\n  - unused_intent\n", 1))
    assert run_bot("data", "validate", cwd=rasa_init_copy).returncode == 0
    result = run_bot("data", "validate", "--fail-on-warnings", cwd=rasa_init_copy)
    assert result.returncode == 1
    assert "unused_intent" in result.stderr


def test_utter_message_refused_is_not_reported_as_unused(rasa_init_copy: Path) -> None:
    """The runtime sends it when it refuses a message; no story or rule needs to."""
    domain = rasa_init_copy / "domain.yml"
    refused = '  utter_message_refused:\n  - text: "Too much for me at once."\n'
    domain.write_text(domain.read_text().replace("responses:\n", "responses:\n" + refused, 1))
    result = run_bot("data", "validate", "--fail-on-warnings", cwd=rasa_init_copy)
    assert result.returncode == 0, result.stderr
    assert "The project is valid (0 warning(s))" in result.stdout

    domain.write_text(domain.read_text().replace(refused, refused + '  utter_never_said:\n  - text: "Hm."\n', 1))
    result = run_bot("data", "validate", "--fail-on-warnings", cwd=rasa_init_copy)
    assert result.returncode == 1
    assert "'utter_never_said' is not used" in result.stderr
    assert "utter_message_refused" not in result.stderr


def _first_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert errors, result.stderr
    return errors[0]


def test_story_intent_missing_from_domain(rasa_init_copy: Path) -> None:
    stories = rasa_init_copy / "data" / "stories.yml"
    stories.write_text(stories.read_text().replace("intent: mood_great", "intent: mood_grate", 1))
    line = _first_error(run_bot("data", "validate", cwd=rasa_init_copy))
    assert "mood_grate" in line and "stories.yml:" in line


def test_undefined_response_and_undeclared_slot(rasa_init_copy: Path) -> None:
    rules = rasa_init_copy / "data" / "rules.yml"
    rules.write_text(
        rules.read_text()
        + "\n- rule: broken\n  steps:\n  - intent: greet\n  - action: utter_nowhere\n"
        + "  - slot_was_set:\n    - ghost_slot: 1\n"
    )
    result = run_bot("data", "validate", cwd=rasa_init_copy)
    _first_error(result)
    assert "utter_nowhere" in result.stderr and "ghost_slot" in result.stderr
    assert "rules.yml:" in result.stderr


def test_rule_story_contradiction_is_reported(rasa_init_copy: Path) -> None:
    rules = rasa_init_copy / "data" / "rules.yml"
    rules.write_text(rules.read_text() + "\n- rule: greet differently\n  steps:\n  - intent: greet\n"
                     "  - action: utter_goodbye\n")
    result = run_bot("data", "validate", cwd=rasa_init_copy)
    line = _first_error(result)
    assert "greet differently" in result.stderr and "utter_greet" in result.stderr, line


BAD_INPUTS = {
    "malformed YAML": ("domain.yml", "intents:\n  - greet\n bad: [\n", "domain.yml:"),
    "wrong type": ("domain.yml", "intents: greet\n", "domain.yml:1"),
    "unknown key": ("domain.yml", "intents:\n  - greet\nintentz:\n  - bye\n", "domain.yml:3"),
    "unclosed entity bracket": ("data/nlu.yml", "nlu:\n- intent: greet\n  examples: |\n    - hi [there](place\n",
                                "nlu.yml:4"),
    "bad annotation JSON": ("data/nlu.yml", 'nlu:\n- intent: greet\n  examples: |\n    - hi [x]{"entity": }\n',
                            "nlu.yml:4"),
    "YAML bomb": ("data/nlu.yml", "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "\n".join(
        f"{n}: &{n} [" + ", ".join([f"*{p}"] * 10) + "]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    ) + "\n", "nlu.yml:"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_one_clear_message(rasa_init_copy: Path, case: str) -> None:
    relative, content, where = BAD_INPUTS[case]
    (rasa_init_copy / relative).write_text(content)
    line = _first_error(run_bot("data", "validate", cwd=rasa_init_copy))
    assert where in line, line


def test_missing_domain_file(rasa_init_copy: Path) -> None:
    (rasa_init_copy / "domain.yml").unlink()
    line = _first_error(run_bot("data", "validate", cwd=rasa_init_copy))
    assert "domain.yml" in line and "does not exist" in line


def test_empty_and_binary_and_huge_files(rasa_init_copy: Path) -> None:
    (rasa_init_copy / "domain.yml").write_text("")
    result = run_bot("data", "validate", cwd=rasa_init_copy)
    _first_error(result)  # the stories use intents an empty domain lacks
    (rasa_init_copy / "domain.yml").write_bytes(b"\x00\x01\x02PNG")
    assert "binary" in _first_error(run_bot("data", "validate", cwd=rasa_init_copy))
    with (rasa_init_copy / "domain.yml").open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    assert "MB" in _first_error(run_bot("data", "validate", cwd=rasa_init_copy))


def test_missing_data_folder(rasa_init_copy: Path) -> None:
    shutil.rmtree(rasa_init_copy / "data")
    line = _first_error(run_bot("data", "validate", cwd=rasa_init_copy))
    assert "data" in line and "does not exist" in line


def test_plugins_new_then_list(tmp_path: Path) -> None:
    assert run_bot("init", "bot", cwd=tmp_path).returncode == 0
    project = tmp_path / "bot"
    created = run_bot("plugins", "new", "coffee_orders", cwd=project)
    assert created.returncode == 0, created.stderr
    assert (project / "plugins" / "coffee_orders" / "plugin.yml").exists()
    listed = run_bot("plugins", "list", cwd=project)
    assert listed.returncode == 0, listed.stderr
    assert "coffee_orders" in listed.stdout


def test_init_creates_a_valid_project(tmp_path: Path) -> None:
    result = run_bot("init", "new-bot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "new-bot" / "domain.yml").exists()
    validated = run_bot("data", "validate", cwd=tmp_path / "new-bot")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    again = run_bot("init", "new-bot", cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_base_assistant_validates_without_warnings() -> None:
    result = run_bot("data", "validate", "--fail-on-warnings", cwd=REPO_ROOT / "domain")
    assert result.returncode == 0, result.stdout + result.stderr


def _rasa_init_trained(tmp_path_factory: pytest.TempPathFactory, part: str) -> Path:
    """A copy of the rasa-init project with a model of one part trained by `bot train <part>`."""
    root = tmp_path_factory.mktemp(f"cli-{part}") / "bot"
    shutil.copytree(RASA_PROJECTS / "rasa-init-3.6.21", root)
    result = run_bot("train", part, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    return root


@pytest.fixture(scope="module")
def trained_core(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rasa-init project with a dialogue-only model trained by `bot train core`."""
    return _rasa_init_trained(tmp_path_factory, "core")


def test_train_reuses_an_unchanged_model(trained_core: Path) -> None:
    models = sorted((trained_core / "models").iterdir())
    again = run_bot("train", "core", cwd=trained_core)
    assert again.returncode == 0 and "reusing" in again.stdout
    assert sorted((trained_core / "models").iterdir()) == models
    assert not [p for p in (trained_core / "models").iterdir() if p.name.startswith(".")]


def test_the_newest_model_is_the_last_trained_even_within_one_second(tmp_path: Path) -> None:
    """Model names carry the time to the second, then the fingerprint; two models trained within one second
    are told apart by when training finished, not by their fingerprints."""
    import json

    from bot.model import METADATA_FILE, find_model

    for name, trained_at in [("20261126-045120-7b33451a", 100.0), ("20261126-045120-6320fbed", 100.5),
                             ("20261126-045119-ffffffff", 200.0)]:
        (tmp_path / name).mkdir()
        (tmp_path / name / METADATA_FILE).write_text(json.dumps({"trained_at": trained_at}))
    assert find_model(tmp_path).name == "20261126-045120-6320fbed"
    (tmp_path / "20261126-045121-00000000").mkdir()  # a later second wins, whatever its metadata says
    (tmp_path / "20261126-045121-00000000" / METADATA_FILE).write_text("{not json")
    assert find_model(tmp_path).name == "20261126-045121-00000000"


def _model_format_constants() -> list[tuple[str, str]]:
    """(module, name) of each whole-number constant named *FORMAT defined at the top of bot/model.py or of a
    module under bot/nlu or bot/dialogue: the format versions a saved model is checked against when it loads."""
    bot_dir = REPO_ROOT / "bot"
    found: list[tuple[str, str]] = []
    files = [bot_dir / "model.py", *sorted(bot_dir.glob("nlu/**/*.py")), *sorted(bot_dir.glob("dialogue/**/*.py"))]
    for path in files:
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target: ast.expr = node.targets[0]
            elif isinstance(node, ast.AnnAssign):
                target = node.target
            else:
                continue
            value = node.value
            if (isinstance(target, ast.Name) and target.id.endswith("FORMAT")
                    and isinstance(value, ast.Constant) and type(value.value) is int):
                found.append((module, target.id))
    return found


MODEL_FORMAT_CONSTANTS = _model_format_constants()


def test_the_model_format_constants_are_found() -> None:
    assert set(MODEL_FORMAT_CONSTANTS) >= {
        ("bot.model", "MODEL_FORMAT"),
        ("bot.nlu.artefact", "NLU_FORMAT"),
        ("bot.nlu.entity_crf", "CRF_FORMAT"),
        ("bot.dialogue.model", "MODEL_FORMAT"),
    }


@pytest.mark.parametrize(("module", "name"), MODEL_FORMAT_CONSTANTS)
def test_a_new_model_format_is_trained_again_not_reused(
    module: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model saved in an older format of any of its parts cannot be loaded, so `bot train` must not reuse
    it: every format constant is part of the fingerprint."""
    from bot.model import project_fingerprint
    from bot.project.loader import ProjectPaths, load_project

    project = load_project(ProjectPaths.discover(RASA_PROJECTS / "rasa-init-3.6.21"))
    before = project_fingerprint(project, ("nlu", "dialogue"))
    assert project_fingerprint(project, ("nlu", "dialogue")) == before
    owner = importlib.import_module(module)
    monkeypatch.setattr(owner, name, getattr(owner, name) + 1)
    assert project_fingerprint(project, ("nlu", "dialogue")) != before, f"{module}.{name} is not in the fingerprint"


def test_test_core_passes_and_writes_reports(trained_core: Path) -> None:
    result = run_bot("test", "--fail-on-prediction-errors", cwd=trained_core)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7/7 passed" in result.stdout
    for name in ("story_report.json", "failed_test_stories.yml", "successful_test_stories.yml", "report.html"):
        assert (trained_core / "results" / name).exists(), name


def test_test_core_fails_on_a_wrong_story(trained_core: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "test_wrong.yml"
    wrong.write_text(
        "stories:\n- story: wrong\n  steps:\n  - intent: greet\n  - action: utter_goodbye\n"
    )
    result = run_bot("test", "core", "--stories", str(wrong), "--out", str(tmp_path / "out"),
                     "--fail-on-prediction-errors", cwd=trained_core)
    assert result.returncode == 1
    assert "0/1 passed" in result.stdout
    failed = (tmp_path / "out" / "failed_test_stories.yml").read_text()
    assert "# predicted: utter_greet" in failed


def test_shell_chats_with_the_trained_bot(trained_core: Path) -> None:
    result = run_bot("shell", cwd=trained_core, typed="/greet\n/stop\n")
    assert result.returncode == 0, result.stderr
    assert "Hey! How are you?" in result.stdout


def test_loading_a_tampered_model_is_a_clear_error(trained_core: Path, tmp_path: Path) -> None:
    source = next(p for p in (trained_core / "models").iterdir() if p.is_dir())
    broken = tmp_path / "models" / source.name
    shutil.copytree(source, broken)
    (broken / "metadata.json").write_text('{"format": 99}')
    result = run_bot("test", "--model", str(broken), cwd=trained_core)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "format" in result.stderr and "bot train" in result.stderr


def test_init_instance_creates_a_valid_client_instance(tmp_path: Path) -> None:
    result = run_bot("init", "--instance", "clients/acme", "--name", "Acme Corp", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "clients" / "acme"
    assert "Acme Corp" in (folder / "conductor.yml").read_text()
    validated = run_bot("data", "validate", cwd=folder)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert run_bot("init", "--instance", "clients/acme", cwd=tmp_path).returncode == 1


def test_input_that_is_not_utf8_is_a_clear_error(trained_core: Path) -> None:
    """A Latin-1 terminal sends "café" as the bytes caf\\xe9: refused in words, not with a traceback."""
    parsed = subprocess.run(
        [sys.executable, "-m", "bot.cli", "parse", b"caf\xe9"], cwd=trained_core, capture_output=True, timeout=120,
    )
    assert parsed.returncode == 1 and b"Traceback" not in parsed.stderr
    assert b"the byte 0xE9 is not UTF-8" in parsed.stderr and b"LANG=C.UTF-8" in parsed.stderr  # what to do
    chatted = subprocess.run(
        [sys.executable, "-m", "bot.cli", "shell"], cwd=trained_core, input=b"caf\xe9\n/greet\n/stop\n",
        capture_output=True, timeout=120,
    )
    assert chatted.returncode == 0 and b"Traceback" not in chatted.stderr, chatted.stderr
    assert b"the byte 0xE9 is not UTF-8" in chatted.stdout and b"Hey! How are you?" in chatted.stdout


@pytest.fixture(scope="module")
def trained_nlu(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rasa-init project with an NLU-only model trained by `bot train nlu`."""
    return _rasa_init_trained(tmp_path_factory, "nlu")


def test_parse_prints_rasas_model_parse_json(trained_nlu: Path) -> None:
    result = run_bot("parse", "hello there", cwd=trained_nlu)
    assert result.returncode == 0, result.stderr
    parsed = json.loads(result.stdout)
    assert parsed["text"] == "hello there" and parsed["entities"] == []
    assert parsed["intent"]["name"] == "greet" and parsed["intent_ranking"][0] == parsed["intent"]
    confidences = [item["confidence"] for item in parsed["intent_ranking"]]
    assert confidences == sorted(confidences, reverse=True) and len(confidences) == 7  # rasa-init's intents


def test_shell_nlu_parses_each_line_until_an_empty_one(trained_nlu: Path) -> None:
    result = run_bot("shell", "nlu", cwd=trained_nlu, typed="hello there\ngoodbye\n\nnot read\n")
    assert result.returncode == 0, result.stderr
    assert '"name": "greet"' in result.stdout and '"name": "goodbye"' in result.stdout
    assert '"text": "hello there"' in result.stdout and "not read" not in result.stdout


def test_test_nlu_writes_the_reports_and_the_page(trained_nlu: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = run_bot("test", "nlu", "--nlu", "data/nlu.yml", "--out", str(out), cwd=trained_nlu)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Intent accuracy: " in result.stdout
    report = json.loads((out / "intent_report.json").read_text())
    assert report["accuracy"] >= 0.9 and report["greet"]["support"] > 0  # its own training examples
    for name in ("intent_errors.json", "intent_confusion_matrix.png", "intent_histogram.png", "report.html"):
        assert (out / name).is_file(), name
    assert "greet" in (out / "report.html").read_text(encoding="utf-8")
