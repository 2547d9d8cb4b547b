"""`bot test nlu`: run a trained NLU pipeline over annotated examples and write Rasa's reports; and
`--cross-validation`, which trains on k-1 folds of the project's data and tests on the k-th, k times."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot.evaluation.cross_validation import average_reports, cross_validation_lines
from bot.evaluation.nlu_report import EntityResult, IntentResult, NluReports, write_nlu_reports
from bot.nlu import NLUPipeline
from bot.project.nlu_data import Message, TrainingData

__all__ = ["cross_validate", "evaluate_nlu", "stratified_folds"]

Say = Callable[[str], None]


def _target_entities(message: Message) -> list[dict[str, Any]]:
    return [
        {"entity": e.entity, "start": e.start, "end": e.end, "value": e.value, "role": e.role, "group": e.group}
        for e in message.entities
    ]


def _results(
    pipeline: NLUPipeline, examples: Sequence[Message]
) -> tuple[list[IntentResult], dict[str, list[EntityResult]]]:
    parses = pipeline.parse_batch([m.text for m in examples])
    intents: list[IntentResult] = []
    by_extractor: dict[str, list[EntityResult]] = defaultdict(list)
    extractors = {e.get("extractor") for p in parses for e in p.get("entities", []) if e.get("extractor")}
    for message, parsed in zip(examples, parses, strict=True):
        intent = parsed.get("intent") or {}
        predicted = intent.get("name")
        selector = parsed.get("response_selector") or {}
        base = message.intent_base
        if message.response_key and base in selector:
            predicted = selector[base].get("response", {}).get("intent_response_key") or predicted
        intents.append(IntentResult(message.text, message.intent, predicted, intent.get("confidence")))
        targets = _target_entities(message)
        for extractor in extractors:
            predictions = [e for e in parsed.get("entities", []) if e.get("extractor") == extractor]
            by_extractor[str(extractor)].append(EntityResult(message.text, targets, predictions))
    return intents, dict(by_extractor)


def evaluate_nlu(pipeline: NLUPipeline, data: TrainingData, out: Path, *, plots: bool = True) -> NluReports:
    """Parse every example of `data` and write the intent and entity reports into `out`."""
    examples = [m for m in data.examples if m.intent]
    intents, entities = _results(pipeline, examples)
    return write_nlu_reports(out, intents, entities, plots=plots)


def stratified_folds(data: TrainingData, folds: int, seed: int = 42) -> list[list[int]]:
    """Example indices split into `folds` parts with each intent spread evenly over them."""
    by_intent: dict[str, list[int]] = defaultdict(list)
    for index, message in enumerate(data.examples):
        by_intent[message.intent or ""].append(index)
    rng = random.Random(seed)
    parts: list[list[int]] = [[] for _ in range(folds)]
    offset = 0
    for intent in sorted(by_intent):
        indices = by_intent[intent]
        rng.shuffle(indices)
        for position, index in enumerate(indices):
            parts[(position + offset) % folds].append(index)
        offset += len(indices)
    return parts


def without_examples(data: TrainingData, indices: Sequence[int]) -> TrainingData:
    """`data` without the examples at `indices` (a fold's training part); synonyms, regexes, lookups kept."""
    held_out = set(indices)
    return TrainingData(
        examples=[m for i, m in enumerate(data.examples) if i not in held_out],
        synonyms=data.synonyms,
        regexes=data.regexes,
        lookups=data.lookups,
        responses=data.responses,
    )


def cross_validate(
    data: TrainingData,
    config: Sequence[dict[str, Any]] | None,
    language: str,
    folds: int,
    out: Path,
    say: Say,
) -> dict[str, Any]:
    """Train and test `folds` times; write the reports of all folds' predictions together, and the averages."""
    parts = stratified_folds(data, folds)
    all_intents: list[IntentResult] = []
    all_entities: dict[str, list[EntityResult]] = defaultdict(list)
    fold_reports: list[dict[str, Any]] = []
    for number, test_indices in enumerate(parts, start=1):
        train = without_examples(data, test_indices)
        say(f"Fold {number}/{folds}: training on {len(train.examples)}, testing on {len(test_indices)} examples")
        pipeline = NLUPipeline.train(train, config, language)
        intents, entities = _results(pipeline, [data.examples[i] for i in test_indices if data.examples[i].intent])
        fold = write_nlu_reports(out / f"fold_{number}", intents, entities, plots=False)
        if fold.intent_report is not None:
            fold_reports.append(fold.intent_report)
        all_intents += intents
        for extractor, results in entities.items():
            all_entities[extractor] += results
    write_nlu_reports(out, all_intents, dict(all_entities))
    averaged = average_reports(fold_reports)
    (out / "intent_report_cross_validation.json").write_text(json.dumps(averaged, indent=2), encoding="utf-8")
    for line in cross_validation_lines(averaged, "test"):
        say(line)
    return averaged
