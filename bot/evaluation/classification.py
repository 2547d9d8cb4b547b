"""Classification reports in the shape Rasa 3.x writes them (scikit-learn's `output_dict` report).

Rasa builds its reports from `sklearn.metrics.classification_report(targets, predictions, labels=L,
output_dict=True)` where L is the set of labels seen among the *targets* (minus `no_entity` for entities), and
then completes the report so that it always holds both `accuracy` and `micro avg`. The result, per label:
precision, recall, f1-score, support and `confused_with` (the labels this one was most often mistaken for);
then the averages. Computed here directly, with the same conventions: a label never predicted has precision
0.0, an f1-score with precision and recall both 0 is 0.0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "CONFUSED_WITH",
    "classification_report",
    "confusion_matrix",
]

CONFUSED_WITH = "confused_with"


def _scores(true_positives: int, predicted: int, support: int) -> dict[str, Any]:
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1-score": f1, "support": support}


def _averages(per_label: list[dict[str, Any]], total_support: int) -> tuple[dict[str, Any], dict[str, Any]]:
    macro: dict[str, Any] = {}
    weighted: dict[str, Any] = {}
    for metric in ("precision", "recall", "f1-score"):
        values = [scores[metric] for scores in per_label]
        macro[metric] = sum(values) / len(values)
        weighted[metric] = (
            sum(scores[metric] * scores["support"] for scores in per_label) / total_support
            if total_support
            else 0.0
        )
    macro["support"] = total_support
    weighted["support"] = total_support
    return macro, weighted


def _confused_with(target: str, row: Counter[str], label_count: int, excluded: str | None) -> dict[str, int]:
    """The labels `target` was predicted as, most often first, looking at the row's three largest cells.

    Like Rasa: usually two labels, three when the correct label is not among the three largest cells.
    Ties are broken by label name so the result does not depend on sort stability.
    """
    largest = sorted(row.items(), key=lambda item: (-item[1], item[0]))[: min(3, label_count)]
    return {label: count for label, count in largest if label not in (target, excluded) and count > 0}


def classification_report(
    targets: Sequence[str], predictions: Sequence[str], *, exclude_label: str | None = None
) -> dict[str, Any]:
    """Rasa's report for aligned target and predicted labels; `{}` when no target label is left to report."""
    if len(targets) != len(predictions):
        raise ValueError(f"{len(targets)} targets but {len(predictions)} predictions")
    labels = sorted(set(targets) - {exclude_label} if exclude_label else set(targets))
    if not labels:
        return {}
    support = Counter(targets)
    predicted = Counter(predictions)
    hits = Counter(
        target for target, prediction in zip(targets, predictions, strict=True) if target == prediction
    )
    rows: dict[str, Counter[str]] = {label: Counter() for label in labels}
    for target, prediction in zip(targets, predictions, strict=True):
        if target in rows:
            rows[target][prediction] += 1

    label_count = len(set(targets) | set(predictions))
    report: dict[str, Any] = {}
    for label in labels:
        report[label] = _scores(hits[label], predicted[label], support[label])
    per_label = [report[label] for label in labels]
    total_support = sum(support[label] for label in labels)
    accuracy = sum(hits.values()) / len(targets)
    macro, weighted = _averages(per_label, total_support)
    micro_is_accuracy = set(labels) >= set(targets) | set(predictions)
    if micro_is_accuracy:
        micro = {"precision": accuracy, "recall": accuracy, "f1-score": accuracy, "support": total_support}
        report["accuracy"] = accuracy
    else:
        micro = _scores(
            sum(hits[label] for label in labels), sum(predicted[label] for label in labels), total_support
        )
        report["micro avg"] = micro
    report["macro avg"] = macro
    report["weighted avg"] = weighted
    if micro_is_accuracy:
        report["micro avg"] = micro
    else:
        report["accuracy"] = accuracy
    for label in labels:
        report[label][CONFUSED_WITH] = _confused_with(label, rows[label], label_count, exclude_label)
    return report


def confusion_matrix(
    targets: Sequence[str], predictions: Sequence[str]
) -> tuple[list[str], npt.NDArray[np.int64]]:
    """Counts of (target row, predicted column) over the sorted union of labels, in scikit-learn's order."""
    labels = sorted(set(targets) | set(predictions))
    index = {label: position for position, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for target, prediction in zip(targets, predictions, strict=True):
        matrix[index[target], index[prediction]] += 1
    return labels, matrix
