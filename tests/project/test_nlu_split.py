"""`bot data split nlu`: a stratified, seeded split of NLU data into Rasa's training_data.yml and test_data.yml."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.errors import ConductorError, Severity
from bot.project.nlu_data import EntitySpan, Message, TrainingData, dump_nlu, load_nlu_file
from bot.project.nlu_split import TEST_FILE, TRAINING_FILE, read_nlu_to_split, split_nlu, write_nlu_split
from tests.process_helpers import run_bot

runner = CliRunner()

NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hey
    - hello
    - hi
    - hello there
    - good morning
    - good evening
    - moin
    - hey there
    - hey dude
    - good afternoon
- intent: book_flight
  examples: |
    - fly me to [Paris](city)
    - a flight from [Berlin]{"entity": "city", "role": "departure"} to [Rome]{"entity": "city", "role": "destination"}
    - book a seat to [NYC](city:New York)
    - I need a ticket to [the big apple]{"entity": "city", "value": "New York"}
    - take me to [Oslo](city) on [monday]{"entity": "weekday", "group": "1"}
- intent: deny
  examples: |
    - no
    - never
    - not really
- intent: thank
  examples: |
    - thanks
    - thank you
- intent: stop
  examples: |
    - stop
- intent: faq/ask_hours
  examples: |
    - when are you open?
    - what are your opening hours?
    - are you open on sunday?
    - until when can I come by?
- intent: faq/ask_address
  examples: |
    - where are you?
    - what is your address?
    - how do I find you?
- synonym: New York
  examples: |
    - NY
- regex: zipcode
  examples: |
    - \\d{5}
- lookup: city
  examples: |
    - Paris
    - Rome
responses:
  utter_faq/ask_hours:
  - text: We are open from 9 to 5.
  utter_faq/ask_address:
  - text: Main Street 1.
  utter_faq/ask_unused:
  - text: Nobody asks this.
"""
"""Intents of 10, 5, 3, 2 and 1 examples, two retrieval intents with responses, annotated entities (roles,
groups, synonym values), a synonym block, a regex and a lookup table."""


@pytest.fixture
def nlu_file(tmp_path: Path) -> Path:
    path = tmp_path / "nlu.yml"
    path.write_text(NLU, encoding="utf-8")
    return path


@pytest.fixture
def data(nlu_file: Path) -> TrainingData:
    return load_nlu_file(nlu_file)


def key(message: Message) -> tuple[str, str | None, tuple[EntitySpan, ...]]:
    return message.text, message.intent, tuple(message.entities)


def keys(data: TrainingData) -> Counter[tuple[str, str | None, tuple[EntitySpan, ...]]]:
    return Counter(key(m) for m in data.examples)


def per_intent(data: TrainingData) -> dict[str | None, int]:
    return dict(Counter(m.intent for m in data.examples))


# --- the split ------------------------------------------------------------------------------------------


def test_each_intent_keeps_its_share_in_both_parts(data: TrainingData) -> None:
    train, test = split_nlu(data, 0.8, random_seed=7)
    # round(n * 0.8), kept between 1 and n - 1; a single example goes to training
    assert per_intent(train) == {
        "greet": 8, "book_flight": 4, "deny": 2, "thank": 1, "stop": 1, "faq/ask_hours": 3, "faq/ask_address": 2,
    }
    assert per_intent(test) == {
        "greet": 2, "book_flight": 1, "deny": 1, "thank": 1, "faq/ask_hours": 1, "faq/ask_address": 1,
    }
    assert keys(train) + keys(test) == keys(data)
    assert not keys(train) & keys(test)


def test_half_shares_round_up_and_small_fractions_still_train_each_intent(data: TrainingData) -> None:
    train, _ = split_nlu(data, 0.5, random_seed=7)
    assert per_intent(train)["book_flight"] == 3  # 2.5
    assert per_intent(train)["deny"] == 2  # 1.5
    train, test = split_nlu(data, 0.05, random_seed=7)
    assert per_intent(train)["greet"] == 1
    assert per_intent(test)["greet"] == 9
    assert set(per_intent(train)) == set(data.intents)


def test_each_part_keeps_the_order_of_the_input(data: TrainingData) -> None:
    position = {key(m): i for i, m in enumerate(data.examples)}
    for part in split_nlu(data, 0.8, random_seed=3):
        indices = [position[key(m)] for m in part.examples]
        assert indices == sorted(indices)


def test_the_same_seed_gives_the_same_split_and_another_seed_another(data: TrainingData) -> None:
    first = [dump_nlu(part) for part in split_nlu(data, 0.8, random_seed=42)]
    again = [dump_nlu(part) for part in split_nlu(data, 0.8, random_seed=42)]
    other = [dump_nlu(part) for part in split_nlu(data, 0.8, random_seed=43)]
    assert first == again
    assert first != other


def test_retrieval_responses_go_with_their_examples(data: TrainingData) -> None:
    train, test = split_nlu(data, 0.8, random_seed=1)
    for part in (train, test):
        assert set(part.responses) == {f"utter_{intent}" for intent in part.intents if "/" in intent}
        for name, variations in part.responses.items():
            assert variations == data.responses[name]
    assert "utter_faq/ask_unused" not in train.responses | test.responses  # no example needs it, as in Rasa


def test_synonyms_regexes_and_lookups_go_to_both_parts(data: TrainingData) -> None:
    for part in split_nlu(data, 0.8, random_seed=1):
        assert part.synonyms == data.synonyms
        assert [(r.name, r.pattern) for r in part.regexes] == [("zipcode", r"\d{5}")]
        assert [(t.name, t.elements) for t in part.lookups] == [("city", ["Paris", "Rome"])]


def test_an_intent_with_a_single_example_trains_with_a_notice(data: TrainingData, nlu_file: Path) -> None:
    train, test = split_nlu(data, 0.8, random_seed=1)
    assert [m.text for m in train.examples if m.intent == "stop"] == ["stop"]
    assert "stop" not in test.intents
    [notice] = train.warnings
    assert notice.severity is Severity.WARNING
    assert "'stop'" in notice.message and "single example" in notice.message
    assert notice.file == str(nlu_file)
    assert notice.line == NLU.splitlines().index("    - stop") + 1
    assert not test.warnings


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5, float("nan")])
def test_a_training_fraction_outside_0_and_1_is_refused(data: TrainingData, fraction: float) -> None:
    with pytest.raises(ConductorError) as caught:
        split_nlu(data, fraction)
    [problem] = caught.value.problems
    assert "--training-fraction" in problem.message and problem.hint


# --- the files ------------------------------------------------------------------------------------------


def test_the_files_read_back_to_the_split(data: TrainingData, tmp_path: Path) -> None:
    train, test = split_nlu(data, 0.8, random_seed=5)
    train_file, test_file = write_nlu_split(train, test, tmp_path / "out")
    assert (train_file.name, test_file.name) == (TRAINING_FILE, TEST_FILE)
    for path, part in ((train_file, train), (test_file, test)):
        loaded = load_nlu_file(path)
        assert [key(m) for m in loaded.examples] == [key(m) for m in part.examples]
        assert loaded.synonyms == data.synonyms
        assert [(r.name, r.pattern) for r in loaded.regexes] == [(r.name, r.pattern) for r in data.regexes]
        assert [(t.name, t.elements) for t in loaded.lookups] == [(t.name, t.elements) for t in data.lookups]
        assert loaded.responses == part.responses
        assert not loaded.warnings


def test_entities_with_roles_groups_and_synonym_values_survive(data: TrainingData, tmp_path: Path) -> None:
    train, test = split_nlu(data, 0.5, random_seed=9)
    write_nlu_split(train, test, tmp_path)
    loaded = [m for name in (TRAINING_FILE, TEST_FILE) for m in load_nlu_file(tmp_path / name).examples]
    annotated = [m for m in data.examples if m.entities]
    assert len(annotated) == 5
    by_text = {m.text: m.entities for m in loaded}
    for message in annotated:
        assert by_text[message.text] == message.entities
    roles = {(e.text, e.role, e.group, e.value) for m in loaded for e in m.entities}
    assert {("Berlin", "departure", None, "Berlin"), ("monday", None, "1", "monday"),
            ("the big apple", None, None, "New York"), ("NYC", None, None, "New York")} <= roles


def test_writing_replaces_earlier_files_and_leaves_no_temporary_file(data: TrainingData, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "split"
    write_nlu_split(*split_nlu(data, 0.8, random_seed=1), out)
    write_nlu_split(*split_nlu(data, 0.5, random_seed=1), out)
    assert sorted(p.name for p in out.iterdir()) == [TEST_FILE, TRAINING_FILE]
    assert len(load_nlu_file(out / TEST_FILE).examples) == 12  # the second split's: 5 + 2 + 1 + 1 + 0 + 2 + 1


def test_reading_a_folder_skips_test_files_and_non_nlu_files(tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text(NLU, encoding="utf-8")
    (tmp_path / "test_nlu.yml").write_text('nlu:\n- intent: greet\n  examples: |\n    - held out\n')
    (tmp_path / "stories.yml").write_text("stories:\n- story: s\n  steps:\n  - intent: greet\n")
    data = read_nlu_to_split([tmp_path])
    assert "held out" not in {m.text for m in data.examples}
    assert len(data.examples) == 28


# --- the command ----------------------------------------------------------------------------------------


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["data", "split", "nlu", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_the_command_writes_rasas_file_names_and_prints_the_counts(nlu_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "split"
    code, stdout, stderr = invoke("--nlu", str(nlu_file), "--random-seed", "1", "--out", str(out))
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == [TEST_FILE, TRAINING_FILE]
    assert f"Wrote {out / TRAINING_FILE}: 21 examples of 7 intents, 2 retrieval response(s)" in stdout
    assert f"Wrote {out / TEST_FILE}: 7 examples of 6 intents, 2 retrieval response(s)" in stdout
    assert f"bot test nlu --nlu {out / TEST_FILE}" in stdout
    assert "warning" in stderr and "'stop'" in stderr and f"{nlu_file}:" in stderr


def test_the_command_with_the_same_seed_writes_the_same_files(nlu_file: Path, tmp_path: Path) -> None:
    contents = []
    for seed, out in (("3", "a"), ("3", "b"), ("4", "c")):
        code, _, stderr = invoke("-u", str(nlu_file), "--random-seed", seed, "--out", str(tmp_path / out))
        assert code == 0, stderr
        contents.append([(tmp_path / out / name).read_bytes() for name in (TRAINING_FILE, TEST_FILE)])
    assert contents[0] == contents[1]
    assert contents[0] != contents[2]


@pytest.mark.parametrize("fraction", ["0", "1", "1.2", "-0.5"])
def test_the_command_refuses_a_bad_training_fraction(nlu_file: Path, tmp_path: Path, fraction: str) -> None:
    code, stdout, stderr = invoke("--nlu", str(nlu_file), "--training-fraction", fraction, "--out", str(tmp_path))
    assert code == 1
    assert "must be between 0 and 1" in stderr and "hint:" in stderr
    assert "Traceback" not in stdout + stderr
    assert not (tmp_path / TRAINING_FILE).exists()


def test_the_command_names_a_path_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    code, _, stderr = invoke("--nlu", str(missing), "--out", str(tmp_path / "out"))
    assert code == 1
    assert f"{missing}: the NLU data file or folder does not exist" in stderr and "hint:" in stderr
    assert not (tmp_path / "out").exists()


def test_the_command_without_nlu_reads_the_data_folder_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, stderr = invoke()
    assert code == 1
    assert "data: the NLU data file or folder does not exist" in stderr


def test_the_command_refuses_data_without_examples(tmp_path: Path) -> None:
    path = tmp_path / "synonyms.yml"
    path.write_text('version: "3.1"\nnlu:\n- synonym: New York\n  examples: |\n    - NY\n', encoding="utf-8")
    code, _, stderr = invoke("--nlu", str(path), "--out", str(tmp_path / "out"))
    assert code == 1
    assert f"{path}: no NLU examples were found to split" in stderr and "hint:" in stderr


def test_the_command_refuses_data_where_nothing_can_be_held_out(tmp_path: Path) -> None:
    path = tmp_path / "nlu.yml"
    path.write_text("nlu:\n- intent: a\n  examples: |\n    - one\n- intent: b\n  examples: |\n    - two\n")
    code, _, stderr = invoke("--nlu", str(path), "--out", str(tmp_path / "out"))
    assert code == 1
    assert "no example can be held out for testing" in stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["file", "below a file"])
def test_the_command_reports_an_out_folder_it_cannot_write(nlu_file: Path, tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    out = blocker if where == "file" else blocker / "split"
    code, stdout, stderr = invoke("--nlu", str(nlu_file), "--out", str(out))
    assert code == 1
    if where == "file":
        assert f"{out}: the output folder is a file" in stderr
    else:
        assert f"{out}: the split files cannot be written: Not a directory" in stderr
    assert "hint: Pass --out with a folder" in stderr
    assert "Traceback" not in stdout + stderr
    assert blocker.read_text() == "not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "nlu.yml"]


def test_rasa_init_splits_into_files_that_hold_every_example(rasa_init_copy: Path) -> None:
    held_out = "nlu:\n- intent: greet\n  examples: |\n    - held out already\n"
    (rasa_init_copy / "data" / "test_nlu.yml").write_text(held_out)
    result = run_bot("data", "split", "nlu", "--random-seed", "42", cwd=rasa_init_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    source = load_nlu_file(rasa_init_copy / "data" / "nlu.yml")
    train = load_nlu_file(rasa_init_copy / "train_test_split" / TRAINING_FILE)
    test = load_nlu_file(rasa_init_copy / "train_test_split" / TEST_FILE)
    assert keys(train) + keys(test) == keys(source)
    assert set(train.intents) == set(test.intents) == set(source.intents)
    assert len(train.examples) + len(test.examples) == len(source.examples) == 68
    assert f"Wrote train_test_split/{TRAINING_FILE}: {len(train.examples)} examples" in result.stdout
    assert f"Wrote train_test_split/{TEST_FILE}: {len(test.examples)} examples" in result.stdout
