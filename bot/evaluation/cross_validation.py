"""Averaging reports over cross-validation folds, as `rasa test nlu --cross-validation` summarises them.

Rasa prints, per data set (train/test), the mean and the standard deviation across folds of the accuracy and
of the support-weighted F1-score and precision, e.g. `test F1-score: 0.842 (0.013)`; its report files hold the
predictions of all test folds taken together (write those with the ordinary report writers). Here every
numeric figure of the reports is averaged, so a trainer can also see how stable each intent is across folds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bot.evaluation.classification import CONFUSED_WITH

__all__ = ["average_reports", "cross_validation_lines"]

# The figures Rasa prints after cross-validation: (its name for it, where it is in an averaged report).
_RASA_CV_FIGURES = (
    ("Accuracy", ("accuracy",)),
    ("F1-score", ("weighted avg", "f1-score")),
    ("Precision", ("weighted avg", "precision")),
)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _average(values: Sequence[Any]) -> Any:
    """Mean and (population) standard deviation of numbers; dicts are averaged key by key."""
    if all(_is_number(value) for value in values):
        array = np.asarray(values, dtype=float)
        return {"mean": float(array.mean()), "std": float(array.std())}
    if all(isinstance(value, Mapping) for value in values):
        keys: dict[str, None] = {}
        for value in values:
            keys.update(dict.fromkeys(value))
        return {
            key: _average([value[key] for value in values if key in value])
            for key in keys
            if key != CONFUSED_WITH
        }
    raise ValueError(f"cannot average report values of different kinds: {values!r}")


def average_reports(reports: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Each report figure replaced by `{"mean": m, "std": s}` across `reports` (one report per fold).

    A label missing from some folds is averaged over the folds that have it. `confused_with` counts are left
    out: they are counts of one fold's examples, read them from the report of all folds together.
    """
    if not reports:
        raise ValueError("average_reports needs at least one report")
    averaged: dict[str, Any] = _average(list(reports))
    return averaged


def cross_validation_lines(averaged: Mapping[str, Any], data_set: str) -> list[str]:
    """Rasa's printed summary of an averaged report, e.g. `test Accuracy: 0.912 (0.011)`."""
    lines = []
    for name, path in _RASA_CV_FIGURES:
        figure: Any = averaged
        for key in path:
            figure = figure.get(key) if isinstance(figure, Mapping) else None
        if isinstance(figure, Mapping) and "mean" in figure:
            lines.append(f"{data_set} {name}: {figure['mean']:.3f} ({figure['std']:.3f})")
    return lines
