from __future__ import annotations

import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics

from bot.evaluation.classification import classification_report, confusion_matrix

TARGETS = ["greet", "greet", "greet", "goodbye", "goodbye", "affirm"]
PREDICTIONS = ["greet", "greet", "goodbye", "goodbye", "affirm", "affirm"]


def test_three_intents_by_hand() -> None:
    report = classification_report(TARGETS, PREDICTIONS)

    assert report["greet"] == {
        "precision": 1.0,
        "recall": pytest.approx(2 / 3),
        "f1-score": pytest.approx(0.8),
        "support": 3,
        "confused_with": {"goodbye": 1},
    }
    assert report["goodbye"] == {
        "precision": 0.5,
        "recall": 0.5,
        "f1-score": 0.5,
        "support": 2,
        "confused_with": {"affirm": 1},
    }
    assert report["affirm"] == {
        "precision": 0.5,
        "recall": 1.0,
        "f1-score": pytest.approx(2 / 3),
        "support": 1,
        "confused_with": {},
    }
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["macro avg"] == {
        "precision": pytest.approx(2 / 3),
        "recall": pytest.approx(13 / 18),
        "f1-score": pytest.approx((0.8 + 0.5 + 2 / 3) / 3),
        "support": 6,
    }
    assert report["weighted avg"] == {
        "precision": pytest.approx(0.75),
        "recall": pytest.approx(4 / 6),
        "f1-score": pytest.approx((3 * 0.8 + 2 * 0.5 + 2 / 3) / 6),
        "support": 6,
    }
    # Every prediction is a target label, so micro average equals accuracy (Rasa adds it).
    assert report["micro avg"] == {
        "precision": pytest.approx(4 / 6),
        "recall": pytest.approx(4 / 6),
        "f1-score": pytest.approx(4 / 6),
        "support": 6,
    }
    assert list(report)[:3] == ["affirm", "goodbye", "greet"]


def test_prediction_outside_the_targets_makes_micro_average_differ_from_accuracy() -> None:
    report = classification_report(["a", "a", "b"], ["a", "", "c"])

    assert report["micro avg"]["precision"] == 1.0  # 1 hit among 1 prediction of a target label
    assert report["micro avg"]["recall"] == pytest.approx(1 / 3)
    assert report["accuracy"] == pytest.approx(1 / 3)
    assert report["b"]["precision"] == 0.0  # never predicted: 0.0, not an error
    assert report["a"]["confused_with"] == {"": 1}
    assert "c" not in report and "" not in report


def test_confused_with_lists_two_labels_or_three_when_the_right_one_is_not_among_the_largest() -> None:
    mostly_right = classification_report(["a"] * 9, ["a"] * 5 + ["b"] * 2 + ["c", "d"])
    mostly_wrong = classification_report(["a"] * 6, ["b"] * 3 + ["c"] * 2 + ["d"])

    assert mostly_right["a"]["confused_with"] == {"b": 2, "c": 1}
    assert mostly_wrong["a"]["confused_with"] == {"b": 3, "c": 2, "d": 1}


def test_excluded_label_is_neither_reported_nor_named_as_a_confusion() -> None:
    report = classification_report(
        ["x", "no_entity", "x"], ["no_entity", "x", "x"], exclude_label="no_entity"
    )

    assert set(report) == {"x", "micro avg", "macro avg", "weighted avg", "accuracy"}
    assert report["x"]["confused_with"] == {}
    assert report["x"]["precision"] == 0.5


def test_no_label_left_gives_an_empty_report() -> None:
    assert classification_report(["no_entity"], ["x"], exclude_label="no_entity") == {}
    assert classification_report([], []) == {}


def test_confusion_matrix_rows_are_targets_over_the_sorted_union_of_labels() -> None:
    labels, matrix = confusion_matrix(TARGETS, PREDICTIONS)

    assert labels == ["affirm", "goodbye", "greet"]
    assert matrix.tolist() == [[1, 0, 0], [1, 1, 0], [0, 1, 2]]


def _sklearn_as_rasa(targets: list[str], predictions: list[str], labels: list[str]) -> dict[str, object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = metrics.classification_report(targets, predictions, labels=labels, output_dict=True)
    accuracy = metrics.accuracy_score(targets, predictions)
    if "micro avg" not in report:
        report["micro avg"] = {
            "precision": accuracy,
            "recall": accuracy,
            "f1-score": accuracy,
            "support": report["macro avg"]["support"],
        }
    else:
        report["accuracy"] = accuracy
    assert isinstance(report, dict)
    return report


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from("abcde")), min_size=1, max_size=40),
    st.sampled_from([None, "a"]),
)
def test_figures_match_scikit_learn(pairs: list[tuple[str, str]], exclude: str | None) -> None:
    targets = [target for target, _ in pairs]
    predictions = [prediction for _, prediction in pairs]
    labels = sorted(set(targets) - {exclude})
    mine = classification_report(targets, predictions, exclude_label=exclude)
    if not labels:
        assert mine == {}
        return
    expected = _sklearn_as_rasa(targets, predictions, labels)

    assert set(mine) == set(expected)
    for key, value in expected.items():
        if isinstance(value, dict):
            for metric, figure in value.items():
                assert mine[key][metric] == pytest.approx(figure), (key, metric)
        else:
            assert mine[key] == pytest.approx(value)
