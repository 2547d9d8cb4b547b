from __future__ import annotations

from pathlib import Path

import pytest

from bot.evaluation import (
    EntityResult,
    IntentResult,
    entity_errors,
    entity_report,
    entity_successes,
    intent_report,
    write_nlu_reports,
)
from bot.evaluation.entity_tokens import entity_label, token_labels, word_tokens

from .helpers import assert_valid_png, read_json

INTENTS = [
    IntentResult("hi", "greet", "greet", 0.95),
    IntentResult("hello there", "greet", "greet", 0.9),
    IntentResult("<script>alert('hey')</script>", "greet", "goodbye", 0.6),
    IntentResult("bye", "goodbye", "goodbye", 0.8),
    IntentResult("see you", "goodbye", "affirm", 0.55),
    IntentResult("yes", "affirm", "affirm", 0.99),
    IntentResult("no annotation", None, "affirm", 0.3),  # left out, as Rasa does
]

TRIP = EntityResult(
    "fly from berlin to new york",
    targets=[
        {"entity": "city", "start": 9, "end": 15, "value": "berlin", "role": "from"},
        {"entity": "city", "start": 19, "end": 27, "value": "new york", "role": "to"},
    ],
    predictions=[
        {"entity": "city", "start": 9, "end": 15, "value": "berlin", "role": "from", "extractor": "DIET"},
        {"entity": "city", "start": 19, "end": 22, "value": "new", "role": "from", "extractor": "DIET"},
    ],
)
HOME = EntityResult(
    "i live in paris",
    targets=[{"entity": "city", "start": 10, "end": 15, "value": "paris"}],
    predictions=[{"entity": "city", "start": 10, "end": 15, "value": "paris", "extractor": "DIET"}],
)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out_dir = tmp_path_factory.mktemp("results") / "nested"
    write_nlu_reports(out_dir, INTENTS, {"DIETClassifier": [TRIP, HOME]}, successes=True)
    return out_dir


def test_writes_rasas_files(written: Path) -> None:
    assert sorted(path.name for path in written.iterdir()) == [
        "DIETClassifier_confusion_matrix.png",
        "DIETClassifier_errors.json",
        "DIETClassifier_report.json",
        "DIETClassifier_successes.json",
        "intent_confusion_matrix.png",
        "intent_errors.json",
        "intent_histogram.png",
        "intent_report.json",
        "intent_successes.json",
    ]


def test_pngs_are_valid_pictures(written: Path) -> None:
    for name in (
        "intent_confusion_matrix.png",
        "intent_histogram.png",
        "DIETClassifier_confusion_matrix.png",
    ):
        assert_valid_png(written / name)


def test_intent_report_file(written: Path) -> None:
    report = read_json(written / "intent_report.json")

    assert report["greet"] == {
        "precision": 1.0,
        "recall": pytest.approx(2 / 3),
        "f1-score": pytest.approx(0.8),
        "support": 3,
        "confused_with": {"goodbye": 1},
    }
    assert report["goodbye"]["precision"] == 0.5 and report["goodbye"]["recall"] == 0.5
    assert report["affirm"]["f1-score"] == pytest.approx(2 / 3)
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["weighted avg"]["precision"] == pytest.approx(0.75)
    assert report["macro avg"]["support"] == 6
    assert report == intent_report(INTENTS)  # the file holds exactly the computed report


def test_intent_errors_and_successes(written: Path) -> None:
    errors = read_json(written / "intent_errors.json")
    successes = read_json(written / "intent_successes.json")

    assert errors == [
        {
            "text": "<script>alert('hey')</script>",
            "intent": "greet",
            "intent_prediction": {"name": "goodbye", "confidence": 0.6},
        },
        {"text": "see you", "intent": "goodbye", "intent_prediction": {"name": "affirm", "confidence": 0.55}},
    ]
    assert [success["text"] for success in successes] == ["hi", "hello there", "bye", "yes"]


def test_a_missing_prediction_counts_as_the_empty_label(tmp_path: Path) -> None:
    results = [IntentResult("hi", "greet", None, None), IntentResult("yo", "greet", "greet", 0.7)]
    write_nlu_reports(tmp_path, results)

    assert read_json(tmp_path / "intent_errors.json") == [
        {"text": "hi", "intent": "greet", "intent_prediction": {"name": "", "confidence": None}}
    ]
    assert read_json(tmp_path / "intent_report.json")["greet"]["confused_with"] == {"": 1}
    assert_valid_png(tmp_path / "intent_histogram.png")


def test_entity_report_is_scored_per_token_without_no_entity(written: Path) -> None:
    report = read_json(written / "DIETClassifier_report.json")

    assert set(report) == {
        "city",
        "city.from",
        "city.to",
        "micro avg",
        "macro avg",
        "weighted avg",
        "accuracy",
    }
    assert report["city"] == {
        "precision": 1.0,
        "recall": 1.0,
        "f1-score": 1.0,
        "support": 1,
        "confused_with": {},
    }
    # "new" of "new york" was predicted as a departure city; "york" was missed.
    assert report["city.from"] == {
        "precision": 0.5,
        "recall": 1.0,
        "f1-score": pytest.approx(2 / 3),
        "support": 1,
        "confused_with": {},
    }
    assert report["city.to"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1-score": 0.0,
        "support": 2,
        "confused_with": {"city.from": 1},
    }
    assert report["micro avg"] == {
        "precision": pytest.approx(2 / 3),
        "recall": 0.5,
        "f1-score": pytest.approx(4 / 7),
        "support": 4,
    }
    assert report["macro avg"]["f1-score"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert report["accuracy"] == pytest.approx(8 / 10)  # accuracy counts no_entity tokens too
    assert report == entity_report([TRIP, HOME])


def test_entity_errors_and_successes(written: Path) -> None:
    errors = read_json(written / "DIETClassifier_errors.json")

    assert errors == [
        {"text": TRIP.text, "entities": list(TRIP.targets), "predicted_entities": list(TRIP.predictions)}
    ]
    assert errors == entity_errors([TRIP, HOME])
    # Rasa counts an example as a success as soon as one entity token is right.
    assert [entry["text"] for entry in entity_successes([TRIP, HOME])] == [TRIP.text, HOME.text]
    assert read_json(written / "DIETClassifier_successes.json") == entity_successes([TRIP, HOME])


def test_entity_labels_join_type_group_and_role() -> None:
    assert entity_label({"entity": "city", "group": "1", "role": "to"}) == "city.1.to"
    assert entity_label({"entity": "city", "role": None, "group": ""}) == "city"


def test_token_takes_the_label_of_the_entity_covering_most_of_it() -> None:
    entities = [
        {"entity": "a", "start": 0, "end": 2},  # 2 characters of "newyork"
        {"entity": "b", "start": 2, "end": 7},  # 5 characters
    ]
    assert token_labels([(0, 7)], entities) == ["b"]
    assert token_labels([(0, 7), (8, 10)], entities[:1]) == ["a", "no_entity"]


def test_default_tokens_are_words_without_punctuation() -> None:
    text = "don't book 10.5 km, ok?"
    assert [text[start:end] for start, end in word_tokens(text)] == ["don't", "book", "10.5", "km", "ok"]


def test_pipeline_tokens_are_used_when_given(tmp_path: Path) -> None:
    # One pipeline token over "new york": the partial prediction now labels the whole token.
    result = EntityResult(
        "new york",
        targets=[{"entity": "city", "start": 0, "end": 8}],
        predictions=[{"entity": "city", "start": 0, "end": 3}],
        tokens=[(0, 8)],
    )
    assert entity_report([result])["city"]["f1-score"] == 1.0
    assert (
        entity_report([EntityResult(result.text, result.targets, result.predictions)])["city"]["recall"]
        == 0.5
    )


def test_no_plots_and_no_intents(tmp_path: Path) -> None:
    reports = write_nlu_reports(tmp_path, entity_results={"CRFEntityExtractor": [HOME]}, plots=False)

    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "CRFEntityExtractor_errors.json",
        "CRFEntityExtractor_report.json",
    ]
    assert reports.intent_report is None
    assert reports.entity_reports["CRFEntityExtractor"]["city"]["f1-score"] == 1.0
    assert read_json(tmp_path / "CRFEntityExtractor_errors.json") == []


def test_extractor_name_must_be_a_file_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="file name"):
        write_nlu_reports(tmp_path, entity_results={"../evil": [HOME]}, plots=False)
