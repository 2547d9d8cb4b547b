"""`rasa test nlu` report files from predictions already made.

Given each test example's target and predicted intent, and per entity extractor the annotated and predicted
entities, this writes what Rasa 3.x writes into its results folder:

- `intent_report.json`, `intent_errors.json`, `intent_successes.json` (on request),
  `intent_confusion_matrix.png`, `intent_histogram.png`;
- per extractor: `<Extractor>_report.json`, `<Extractor>_errors.json`, `<Extractor>_successes.json` (on
  request) and `<Extractor>_confusion_matrix.png`.

Like Rasa, examples without a target intent are left out of the intent evaluation, a missing prediction
counts as the empty label "", and entity reports are scored per token with `no_entity` left out of the labels
(see `entity_tokens`). Unlike Rasa, an errors file is written even when empty (`[]`), so a folder reused for a
second run never shows the first run's errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.evaluation.classification import classification_report, confusion_matrix
from bot.evaluation.entity_tokens import NO_ENTITY, TokenSpan, token_labels, word_tokens
from bot.evaluation.report_files import (
    INTENT_CONFUSION_MATRIX,
    INTENT_ERRORS,
    INTENT_HISTOGRAM,
    INTENT_REPORT,
    INTENT_SUCCESSES,
    extractor_confusion_matrix_file,
    extractor_errors_file,
    extractor_report_file,
    extractor_successes_file,
    write_json,
)

__all__ = [
    "EntityResult",
    "IntentResult",
    "NluReports",
    "entity_errors",
    "entity_report",
    "entity_successes",
    "intent_errors",
    "intent_report",
    "intent_successes",
    "write_nlu_reports",
]


@dataclass(frozen=True)
class IntentResult:
    """One test example: its text, the intent it is annotated with, and what the model predicted."""

    text: str
    intent_target: str | None
    intent_prediction: str | None
    confidence: float | None


@dataclass(frozen=True)
class EntityResult:
    """One test example for one extractor. Entities are Rasa entity dicts: entity, start, end, value,
    extractor, role, group (and whatever else the extractor adds, kept as is in the errors file).

    `tokens` are the character spans of the pipeline's tokens; without them the text is split into words.
    """

    text: str
    targets: Sequence[Mapping[str, Any]]
    predictions: Sequence[Mapping[str, Any]]
    tokens: Sequence[TokenSpan] | None = None

    def labels(self) -> tuple[list[str], list[str]]:
        """The target and predicted label of every token."""
        tokens = self.tokens if self.tokens is not None else word_tokens(self.text)
        return token_labels(tokens, self.targets), token_labels(tokens, self.predictions)


@dataclass(frozen=True)
class NluReports:
    """The reports written, for a caller that also prints or averages them."""

    intent_report: dict[str, Any] | None = None
    entity_reports: dict[str, dict[str, Any]] = field(default_factory=dict)


def _scored(results: Sequence[IntentResult]) -> list[tuple[IntentResult, str, str]]:
    """(result, target, prediction) for the examples with a target intent; no prediction becomes ""."""
    scored = []
    for result in results:
        if result.intent_target:
            scored.append((result, result.intent_target, result.intent_prediction or ""))
    return scored


def intent_report(results: Sequence[IntentResult]) -> dict[str, Any]:
    scored = _scored(results)
    return classification_report(
        [target for _, target, _ in scored], [predicted for _, _, predicted in scored]
    )


def _intent_entry(result: IntentResult, predicted: str) -> dict[str, Any]:
    return {
        "text": result.text,
        "intent": result.intent_target,
        "intent_prediction": {"name": predicted, "confidence": result.confidence},
    }


def intent_errors(results: Sequence[IntentResult]) -> list[dict[str, Any]]:
    return [
        _intent_entry(result, predicted)
        for result, target, predicted in _scored(results)
        if target != predicted
    ]


def intent_successes(results: Sequence[IntentResult]) -> list[dict[str, Any]]:
    return [
        _intent_entry(result, predicted)
        for result, target, predicted in _scored(results)
        if target == predicted
    ]


def _all_labels(results: Sequence[EntityResult]) -> tuple[list[list[str]], list[list[str]]]:
    targets: list[list[str]] = []
    predictions: list[list[str]] = []
    for result in results:
        target_labels, predicted_labels = result.labels()
        targets.append(target_labels)
        predictions.append(predicted_labels)
    return targets, predictions


def _flat(label_lists: list[list[str]]) -> list[str]:
    return [label for labels in label_lists for label in labels]


def entity_report(results: Sequence[EntityResult]) -> dict[str, Any]:
    targets, predictions = _all_labels(results)
    return classification_report(_flat(targets), _flat(predictions), exclude_label=NO_ENTITY)


def _entity_entry(result: EntityResult) -> dict[str, Any]:
    return {
        "text": result.text,
        "entities": [dict(entity) for entity in result.targets],
        "predicted_entities": [dict(entity) for entity in result.predictions],
    }


def entity_errors(results: Sequence[EntityResult]) -> list[dict[str, Any]]:
    """Examples where at least one token's predicted label differs from its target label."""
    entries = []
    for result in results:
        targets, predictions = result.labels()
        if targets != predictions:
            entries.append(_entity_entry(result))
    return entries


def entity_successes(results: Sequence[EntityResult]) -> list[dict[str, Any]]:
    """Examples where at least one entity token is labelled right (Rasa's definition: others may be wrong)."""
    entries = []
    for result in results:
        targets, predictions = result.labels()
        if any(t == p != NO_ENTITY for t, p in zip(targets, predictions, strict=True)):
            entries.append(_entity_entry(result))
    return entries


def _write_intents(
    out_dir: Path, results: Sequence[IntentResult], successes: bool, plots: bool
) -> dict[str, Any]:
    report = intent_report(results)
    write_json(out_dir / INTENT_REPORT, report)
    write_json(out_dir / INTENT_ERRORS, intent_errors(results))
    if successes:
        write_json(out_dir / INTENT_SUCCESSES, intent_successes(results))
    scored = _scored(results)
    if plots and scored:
        from bot.evaluation.plots import plot_confidence_histogram, plot_confusion_matrix

        labels, matrix = confusion_matrix([t for _, t, _ in scored], [p for _, _, p in scored])
        plot_confusion_matrix(matrix, labels, "Intent Confusion matrix", out_dir / INTENT_CONFUSION_MATRIX)
        plot_confidence_histogram(
            [r.confidence for r, t, p in scored if t == p and r.confidence is not None],
            [r.confidence for r, t, p in scored if t != p and r.confidence is not None],
            "Intent Prediction Confidence Distribution",
            out_dir / INTENT_HISTOGRAM,
        )
    return report


def _write_entities(
    out_dir: Path, extractor: str, results: Sequence[EntityResult], successes: bool, plots: bool
) -> dict[str, Any]:
    targets, predictions = _all_labels(results)
    flat_targets, flat_predictions = _flat(targets), _flat(predictions)
    report = classification_report(flat_targets, flat_predictions, exclude_label=NO_ENTITY)
    write_json(out_dir / extractor_report_file(extractor), report)
    write_json(out_dir / extractor_errors_file(extractor), entity_errors(results))
    if successes:
        write_json(out_dir / extractor_successes_file(extractor), entity_successes(results))
    if plots and flat_targets:
        from bot.evaluation.plots import plot_confusion_matrix

        labels, matrix = confusion_matrix(flat_targets, flat_predictions)
        plot_confusion_matrix(
            matrix, labels, "Entity Confusion matrix", out_dir / extractor_confusion_matrix_file(extractor)
        )
    return report


def write_nlu_reports(
    out_dir: Path,
    intent_results: Sequence[IntentResult] = (),
    entity_results: Mapping[str, Sequence[EntityResult]] | None = None,
    *,
    successes: bool = False,
    plots: bool = True,
) -> NluReports:
    """Write Rasa's NLU report files into `out_dir` (created if missing).

    `entity_results` maps each entity extractor's name (as named in config.yml, e.g. `DIETClassifier`) to its
    results. Intent files are written when there are intent results, entity files per extractor given.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written_intents = _write_intents(out_dir, intent_results, successes, plots) if intent_results else None
    written_entities = {
        extractor: _write_entities(out_dir, extractor, results, successes, plots)
        for extractor, results in (entity_results or {}).items()
    }
    return NluReports(written_intents, written_entities)
