from __future__ import annotations

import pytest

from bot.evaluation import IntentResult, average_reports, cross_validation_lines, intent_report

FOLD_1 = intent_report([IntentResult("a", "greet", "greet", 1.0), IntentResult("b", "bye", "greet", 0.5)])
FOLD_2 = intent_report([IntentResult("c", "greet", "greet", 1.0), IntentResult("d", "greet", "greet", 0.9)])


def test_every_figure_becomes_mean_and_standard_deviation() -> None:
    averaged = average_reports([FOLD_1, FOLD_2])

    assert averaged["accuracy"] == {"mean": pytest.approx(0.75), "std": pytest.approx(0.25)}
    assert averaged["greet"]["precision"] == {"mean": pytest.approx(0.75), "std": pytest.approx(0.25)}
    assert averaged["greet"]["support"] == {"mean": pytest.approx(1.5), "std": pytest.approx(0.5)}
    assert averaged["weighted avg"]["f1-score"]["mean"] == pytest.approx((1 / 3 + 1.0) / 2)
    assert "confused_with" not in averaged["greet"]


def test_a_label_missing_from_a_fold_is_averaged_over_the_folds_that_have_it() -> None:
    averaged = average_reports([FOLD_1, FOLD_2])

    assert averaged["bye"]["recall"] == {"mean": 0.0, "std": 0.0}


def test_rasas_printed_summary() -> None:
    lines = cross_validation_lines(average_reports([FOLD_1, FOLD_2]), "test")

    assert lines == [
        "test Accuracy: 0.750 (0.250)",
        "test F1-score: 0.667 (0.333)",
        "test Precision: 0.625 (0.375)",
    ]


def test_needs_reports() -> None:
    with pytest.raises(ValueError, match="at least one"):
        average_reports([])
