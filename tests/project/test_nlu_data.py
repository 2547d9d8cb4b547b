from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import ConductorError, Problem, Severity
from bot.project.annotations import parse_annotated
from bot.project.nlu_data import (
    EntitySpan,
    LookupTable,
    Message,
    RegexPattern,
    TrainingData,
    dump_nlu,
    is_nlu_file,
    load_nlu,
    load_nlu_file,
    parse_nlu,
)
from bot.yamlio import parse_yaml, read_yaml


def read(text: str) -> TrainingData:
    return parse_nlu(parse_yaml(text, "nlu.yml"), "nlu.yml", text=text)


def errors_of(text: str) -> list[Problem]:
    with pytest.raises(ConductorError) as caught:
        read(text)
    assert all(p.file == "nlu.yml" and p.hint for p in caught.value.problems)
    return caught.value.problems


def project_nlu_files(shared_data: Path) -> list[Path]:
    files = sorted((shared_data / "rasa-projects").glob("*/data/**/*.yml"))
    return [path for path in files if is_nlu_file(read_yaml(path))]


def assert_lines_point_at_examples(data: TrainingData, path: Path) -> None:
    """Each example's line holds the example's own markup, so the line numbers are the real ones."""
    lines = path.read_text(encoding="utf-8").split("\n")
    for message in data.examples:
        assert message.line is not None and message.file == str(path)
        source = lines[message.line - 1].strip()
        assert source.startswith("- ")
        assert parse_annotated(source[2:].strip()) == (message.text, message.entities)


# --- the shared Rasa projects and datasets --------------------------------------------------------------

def test_every_nlu_file_of_the_rasa_projects_loads(shared_data: Path) -> None:
    files = project_nlu_files(shared_data)
    assert {path.parent.name if path.parent.name != "data" else path.parents[1].name for path in files} == {
        "nlu", "rasa-init-3.6.21", "rasa-oss-formbot", "rasa-oss-moodbot", "rasa-oss-responseselectorbot",
        "rasa-oss-rules",
    }
    for path in files:
        data = load_nlu_file(path)
        assert data.examples and data.warnings == []
        assert_lines_point_at_examples(data, path)
        for message in data.examples:
            for entity in message.entities:
                assert message.text[entity.start : entity.end] == entity.text


def test_files_without_nlu_keys_are_not_nlu(shared_data: Path) -> None:
    stories = read_yaml(shared_data / "rasa-projects" / "rasa-oss-rules" / "data" / "rules.yml")
    assert not is_nlu_file(stories)
    assert load_nlu_file(shared_data / "rasa-projects" / "rasa-oss-rules" / "data" / "rules.yml") == TrainingData()
    assert is_nlu_file({"responses": {}}) and is_nlu_file({"nlu": None})
    assert not is_nlu_file(None) and not is_nlu_file(["nlu"]) and not is_nlu_file({"stories": []})


def test_rasa_oss_rules_counts(shared_data: Path) -> None:
    # counted in the file with grep: 9 '- intent:' items, 289 '    - ' example lines, 132 '](' annotations,
    # of which 4 carry ':value' synonyms for 3 distinct texts; no synonym/regex/lookup items
    data = load_nlu_file(shared_data / "rasa-projects" / "rasa-oss-rules" / "data" / "nlu.yml")
    assert len(data.intents) == 9 and data.intents[:2] == ["greet", "request_restaurant"]
    assert len(data.examples) == 289
    assert sum(len(m.entities) for m in data.examples) == 132
    assert data.synonyms == {"asian oriental": "asian", "pan asian": "asian", "gastro pub": "gastropub"}
    assert data.regexes == [] and data.lookups == [] and data.responses == {}
    assert set(data.entities) == {"cuisine", "seating", "feedback"}
    swedish = next(m for m in data.examples if m.text == "can i get swedish food in any area")
    assert (swedish.intent, swedish.line) == ("request_restaurant", 37)  # grep -n swedish
    assert swedish.entities == [EntitySpan(10, 17, "swedish", "cuisine", "swedish")]


def test_financial_demo_counts(shared_data: Path) -> None:
    # counted in the file: 17 intents, 578 intent example lines, 247 '](' and 11 ']{' annotations,
    # 3 synonym items with 7 + 3 + 3 lines ("Emblem" and "emblem" lower-case alike, but "emblm" and
    # "embelm" differ), and the annotated synonyms "credit card"/"card" -> credit repeat block entries
    data = load_nlu_file(shared_data / "rasa-projects" / "financial-demo" / "data" / "nlu" / "nlu.yml")
    assert len(data.intents) == 17
    assert len(data.examples) == 578
    assert sum(len(m.entities) for m in data.examples) == 247 + 11
    assert len(data.synonyms) == 13
    assert data.synonyms["credit card account"] == "credit"
    assert data.synonyms["emblem"] == "emblem"
    assert data.synonyms["full balance"] == "current balance"
    assert data.regexes == [] and data.lookups == []
    card = next(m for m in data.examples if m.text == "can I pay my card?")
    assert card.entities == [EntitySpan(13, 17, "card", "account_type", "credit")]


def test_responseselectorbot_retrieval_intents_and_responses(shared_data: Path) -> None:
    data = load_nlu_file(shared_data / "rasa-projects" / "rasa-oss-responseselectorbot" / "data" / "nlu.yml")
    assert data.retrieval_intents == ["chitchat"]
    assert [i for i in data.intents if "/" in i] == ["chitchat/ask_name", "chitchat/ask_weather"]
    assert len(data.examples) == 76
    ask_name = [m for m in data.examples if m.intent == "chitchat/ask_name"]
    assert len(ask_name) == 4 and {(m.intent_base, m.response_key) for m in ask_name} == {("chitchat", "ask_name")}
    assert list(data.responses) == ["utter_chitchat/ask_name", "utter_chitchat/ask_weather"]
    assert data.responses["utter_chitchat/ask_name"][0] == {
        "image": "https://i.imgur.com/zTvA58i.jpeg", "text": "hello, my name is retrieval bot."
    }
    assert len(data.responses["utter_chitchat/ask_weather"]) == 2


def test_hwu64_loads_with_entity_annotations(shared_data: Path) -> None:
    path = shared_data / "nlu" / "hwu64-fold1" / "train_nlu.yml"
    source = path.read_text(encoding="utf-8")
    data = load_nlu_file(path)
    assert len(data.examples) == source.count("\n    - ") == 9960
    assert len(data.intents) == source.count("- intent:") == 64
    assert sum(len(m.entities) for m in data.examples) == source.count("](") == 8253
    assert len(data.entities) == 54
    assert data.synonyms == {} and data.warnings == []
    assert_lines_point_at_examples(data, path)
    test = load_nlu_file(shared_data / "nlu" / "hwu64-fold1" / "test_nlu.yml")
    assert len(test.examples) == 1076


def test_clinc150_train_loads_quickly(shared_data: Path) -> None:
    path = shared_data / "nlu" / "clinc150" / "train_nlu.yml"
    started = time.perf_counter()
    data = load_nlu_file(path)
    elapsed = time.perf_counter() - started
    print(f"clinc150 train_nlu.yml: {len(data.examples)} examples read in {elapsed:.3f} s")
    assert len(data.examples) == 15_000 and len(data.intents) == 150
    assert elapsed < 15  # a sanity bound against pathological slowness, not a benchmark (~0.1 s measured)


# --- reading details ----------------------------------------------------------------------------------------

def test_block_examples_are_stripped_and_keep_their_own_lines() -> None:
    text = (
        'version: "3.1"\n'           # 1
        "nlu:\n"                      # 2
        "- intent: greet\n"           # 3
        "  examples: |\n"             # 4
        "    - hi   \n"               # 5
        "\n"                          # 6
        "    -hello\n"                # 7
        "    -   good [morning](time)\n"  # 8
        "- intent: bye\n"             # 9
        "  examples: |-  # comment\n"  # 10
        "    - bye\n"                 # 11
    )
    data = read(text)
    assert [(m.text, m.intent, m.line) for m in data.examples] == [
        ("hi", "greet", 5), ("hello", "greet", 7), ("good morning", "greet", 8), ("bye", "bye", 11)
    ]
    assert data.examples[2].entities == [EntitySpan(5, 12, "morning", "time", "morning")]
    assert data.examples[0].file == "nlu.yml"


def test_examples_in_a_quoted_string_get_the_line_of_their_key() -> None:
    data = read('nlu:\n- intent: greet\n  examples: "- hi\\n- hello"\n')
    assert [(m.text, m.line) for m in data.examples] == [("hi", 3), ("hello", 3)]


def test_examples_as_a_list_with_metadata() -> None:
    text = (
        "nlu:\n"
        "- intent: greet\n"
        "  metadata:\n"
        "    sentiment: neutral\n"
        "  examples:\n"
        "  - text: |\n"
        "      hi [there](who)\n"
        "    metadata:\n"
        "      source: chat\n"
        "  - text: hello\n"
    )
    data = read(text)
    first, second = data.examples
    assert (first.text, first.line, first.entities) == ("hi there", 6, [EntitySpan(3, 8, "there", "who", "there")])
    assert first.metadata == {"intent": {"sentiment": "neutral"}, "example": {"source": "chat"}}
    assert (second.text, second.line, second.metadata) == ("hello", 10, {"intent": {"sentiment": "neutral"}})


def test_synonym_regex_and_lookup_items() -> None:
    text = (
        "nlu:\n"
        "- synonym: New York\n"
        "  examples: |\n"
        "    - NYC\n"
        "    - big apple\n"
        "- regex: zipcode\n"
        "  examples: |\n"
        "    - \\b[0-9]{5}\\b\n"
        "- lookup: city\n"
        "  examples: |\n"
        "    - Berlin\n"
        "    - Paris\n"
        "- intent: fly\n"
        "  examples: |\n"
        '    - to [LA]{"entity": "city", "value": "Los Angeles"}\n'
        "    - to [Berlin](city)\n"
    )
    data = read(text)
    assert data.synonyms == {"nyc": "New York", "big apple": "New York", "la": "Los Angeles"}
    assert data.regexes == [RegexPattern("zipcode", r"\b[0-9]{5}\b", "nlu.yml", 8)]
    assert data.lookups == [LookupTable("city", ["Berlin", "Paris"], "nlu.yml", 9)]
    assert data.intents == ["fly"]


def test_conflicting_synonyms_warn_and_the_last_wins() -> None:
    data = read("nlu:\n- synonym: a\n  examples: |\n    - x\n- synonym: b\n  examples: |\n    - X\n")
    assert data.synonyms == {"x": "b"}
    assert [(w.severity, w.line) for w in data.warnings] == [(Severity.WARNING, 7)]


def test_warnings_unknown_keys_skipped_lines_and_missing_examples() -> None:
    text = (
        "nlu:\n"
        "- intent: greet\n"
        "  exmples: |\n"
        "    - hi\n"
        "- intent: bye\n"
        "  examples: |\n"
        "    - bye\n"
        "    # not a comment inside a block\n"
        "- intent: ok\n"
        "  examples: |\n"
        '    - [x]{"entity": "e", "extra": 1}\n'
    )
    data = read(text)
    assert [m.text for m in data.examples] == ["bye", "x"]
    found = [(w.line, w.message) for w in data.warnings]
    assert all(w.severity is Severity.WARNING for w in data.warnings)
    assert found[0][0] == 3 and "exmples" in found[0][1]
    assert found[1][0] == 2 and "has no examples" in found[1][1]
    assert found[2][0] == 8 and "does not start with '- '" in found[2][1]
    assert found[3][0] == 11 and "extra" in found[3][1]


# --- errors, each with its line -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("nlu:\n  intent: greet\n", 1, "'nlu:' must be a list"),
        ("- intent: greet\n", 1, "must be a mapping with an 'nlu:' key"),
        ("nlu:\n- greet\n", 2, "must be a mapping like '- intent: greet'"),
        ("nlu:\n- intent: a\n  examples: |\n    - a\n- examples: |\n    - b\n", 5, "has none of the keys"),
        ("nlu:\n- intent: a\n  synonym: b\n", 2, "has both 'intent' and 'synonym'"),
        ("nlu:\n- intent: greet\n  examples: 3\n", 3, "must be a block of '- ' lines or a list"),
        ("nlu:\n- intent: greet\n  examples:\n    a: b\n", 3, "must be a block of '- ' lines or a list"),
        ("nlu:\n- synonym: a\n  examples:\n  - text: b\n", 3, "must be a block, but they are a list"),
        ("nlu:\n- intent: greet\n  examples: |\n    - hi\n    -   \n", 5, "is empty"),
        ("nlu:\n- intent: greet\n  examples:\n  - text: hi\n  - text: ''\n", 5, "is empty"),
        ("nlu:\n- intent: greet\n  examples:\n  - hi\n", 4, "must be a mapping with 'text:'"),
        ("nlu:\n- intent: greet\n  examples:\n  - text: 12\n", 4, "must be a string"),
        ("nlu:\n- regex: zip\n  examples: |\n    - [0-9]{5}\n    - ([0-9]\n", 5, "'([0-9]' of the regex 'zip'"),
        ("nlu:\n- intent: ''\n  examples: |\n    - hi\n", 2, "the intent name is empty"),
        ("nlu:\n- intent:\n  examples: |\n    - hi\n", 2, "the intent name is empty"),
        ("nlu:\n- intent: 42\n  examples: |\n    - hi\n", 2, "the intent name must be text"),
        ("nlu:\n- intent: faq/\n  examples: |\n    - hi\n", 2, "needs a name on both sides of '/'"),
        ("nlu:\n- lookup: ' '\n  examples: |\n    - a\n", 2, "the lookup name is empty"),
        ("nlu:\n- intent: a\n  examples: |\n    - ok\n    - go to [x](city\n", 5, "missing its closing ')'"),
        ("responses: [a]\n", 1, "'responses:' must map response names"),
        ("responses:\n  utter_faq/a: hello\n", 2, "must be a list of variations"),
        ("responses:\n  utter_faq/a:\n  - text: hi\n  - image: x.png\n", 4, "neither 'text' nor 'custom'"),
        ("responses:\n  utter_faq/a:\n  - text: [hi]\n", 3, "must be a string"),
        ("responses:\n  utter_faq/a:\n  - hello\n", 3, "must be a mapping such as '- text: Hello'"),
    ],
)
def test_errors_say_what_and_where(text: str, line: int, message: str) -> None:
    problems = errors_of(text)
    assert [(p.line, message in p.message) for p in problems] == [(line, True)]


def test_invalid_regex_error_says_why() -> None:
    (problem,) = errors_of("nlu:\n- regex: zip\n  examples: |\n    - a(b\n")
    assert "missing ), unterminated subpattern" in problem.message


def test_all_errors_of_a_file_come_together() -> None:
    text = (
        "nlu:\n"
        "- intent: a\n"
        "  examples: |\n"
        "    - [x](\n"
        "- intent: ''\n"
        "- regex: r\n"
        "  examples: |\n"
        "    - (\n"
    )
    assert [p.line for p in errors_of(text)] == [4, 5, 8]


def test_load_nlu_merges_files_and_reports_errors_of_all(tmp_path: Path) -> None:
    first = tmp_path / "a.yml"
    second = tmp_path / "b.yml"
    first.write_text("nlu:\n- intent: greet\n  examples: |\n    - hi\n- synonym: x\n  examples: |\n    - y\n")
    second.write_text("nlu:\n- intent: bye\n  examples: |\n    - [ciao](word:bye)\n- synonym: z\n  examples: |\n"
                      "    - y\n")
    data = load_nlu([first, second])
    assert [(m.text, m.file, m.line) for m in data.examples] == [("hi", str(first), 4), ("ciao", str(second), 4)]
    assert data.synonyms == {"y": "z", "ciao": "bye"}
    assert [w.file for w in data.warnings] == [str(second)]  # y -> x in a.yml, y -> z in b.yml

    first.write_text("nlu: 3\n")
    second.write_text("nlu:\n- intent: ok\n  examples: |\n    - [x]{bad}\n")
    with pytest.raises(ConductorError) as caught:
        load_nlu([first, second])
    assert [(p.file, p.line) for p in caught.value.problems] == [(str(first), 1), (str(second), 4)]


def test_unreadable_files_are_conductor_errors(tmp_path: Path) -> None:
    with pytest.raises(ConductorError):
        load_nlu_file(tmp_path / "missing.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("nlu:\n- intent: a\n  examples: |\n - x\n bad: [\n")
    with pytest.raises(ConductorError) as caught:
        load_nlu_file(broken)
    assert caught.value.problems[0].file == str(broken)


# --- writing ----------------------------------------------------------------------------------------------

def comparable(data: TrainingData) -> dict[str, Any]:
    return {
        "examples": [(m.text, m.intent, m.entities, m.metadata) for m in data.examples],
        "synonyms": data.synonyms,
        "regexes": [(r.name, r.pattern) for r in data.regexes],
        "lookups": [(t.name, t.elements) for t in data.lookups],
        "responses": data.responses,
    }


def test_dump_then_read_gives_the_same_data_for_the_shared_files(shared_data: Path) -> None:
    paths = [*project_nlu_files(shared_data), shared_data / "nlu" / "hwu64-fold1" / "train_nlu.yml"]
    for path in paths:
        data = load_nlu_file(path)
        again = read(dump_nlu(data))
        assert comparable(again) == comparable(data), path


def test_dump_writes_rasa_3_yaml() -> None:
    data = TrainingData(
        examples=[
            Message("hi there", "greet", [EntitySpan(3, 8, "there", "who", "there")]),
            Message("faq?", "faq/ask_x"),
            Message("yes", "affirm", metadata={"example": {"source": "chat"}}),
        ],
        synonyms={"nyc": "New York"},
        regexes=[RegexPattern("zip", "[0-9]{5}")],
        lookups=[LookupTable("city", ["Berlin"])],
        responses={"utter_faq/ask_x": [{"text": "An answer."}]},
    )
    assert dump_nlu(data) == (
        'version: "3.1"\n'
        "nlu:\n"
        "- intent: greet\n"
        "  examples: |\n"
        "    - hi [there](who)\n"
        "- intent: faq/ask_x\n"
        "  examples: |\n"
        "    - faq?\n"
        "- intent: affirm\n"
        "  examples:\n"
        '  - text: "yes"\n'
        "    metadata:\n"
        "      source: chat\n"
        "- synonym: New York\n"
        "  examples: |\n"
        "    - nyc\n"
        "- regex: zip\n"
        "  examples: |\n"
        "    - [0-9]{5}\n"
        "- lookup: city\n"
        "  examples: |\n"
        "    - Berlin\n"
        "responses:\n"
        "  utter_faq/ask_x:\n"
        "  - text: An answer.\n"
    )


def test_dump_keeps_values_that_yaml_would_read_differently() -> None:
    metadata = {"example": {"a": [1, "on", None, 1.5e30, "1e5", "0o17", True, "true", "", "x: y # z"]}}
    data = TrainingData(
        examples=[
            Message("line\u2028separator\x85and next line", "x"),
            Message("yes", "no", metadata=metadata),
            Message("tab\there", "0o17", metadata={"intent": {"k": "v"}}),
        ],
        synonyms={"1e5": "null"},
    )
    assert comparable(read(dump_nlu(data))) == comparable(data)


_TEXT = st.text(
    alphabet=st.characters(blacklist_characters="[]", blacklist_categories=("Cs", "Zs", "Cc")), min_size=1,
    max_size=15,
) | st.from_regex(r"[a-z]{1,5}( [a-z]{1,5}){0,3}", fullmatch=True)
_NAME = (st.from_regex(r"[a-z_]{1,8}(/[a-z_]{1,6})?", fullmatch=True) | _TEXT).filter(
    lambda name: bool(name.strip()) and all(name.split("/", 1))
)


@st.composite
def training_data(draw: st.DrawFn) -> TrainingData:
    examples = []
    for _ in range(draw(st.integers(0, 6))):
        text = draw(_TEXT).strip()
        if not text:
            continue
        entities = []
        if draw(st.booleans()):
            end = draw(st.integers(1, len(text)))
            entities.append(EntitySpan(0, end, text[:end], draw(_NAME), draw(_TEXT)))
        metadata: dict[str, Any] = draw(st.sampled_from([{}, {"example": {"k": 1}}, {"intent": {"n": "v"}}]))
        examples.append(Message(text, draw(_NAME), entities, metadata))
    data = TrainingData(examples=examples)
    return read(dump_nlu(data))  # once through: the synonyms the annotations imply, the grouping by intent


@settings(max_examples=60, deadline=None)
@given(training_data())
def test_dump_and_read_round_trip(data: TrainingData) -> None:
    assert comparable(read(dump_nlu(data))) == comparable(data)
