"""How sure the intent classifier is, on the calibrated scale and on DIET's (see DIET_TEMPERATURE_FACTOR).

Run: `.venv/bin/python benchmarks/nlu_confidence.py [PROJECT]` (default: ../shared/data/rasa-projects/financial-demo).
Five-fold cross-validation of the project's NLU pipeline (its FallbackClassifier left out, so raw confidences
show); for each temperature factor it prints the accuracy, the confidences of correct and wrong predictions and
of a few nonsense messages, and how many of each would clear fallback thresholds of 0.3, 0.6 and 0.7.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from bot.evaluation.nlu_test import stratified_folds, without_examples
from bot.nlu.pipeline import NLUPipeline
from bot.nlu.pipeline_config import DIET_TEMPERATURE_FACTOR
from bot.project.loader import ProjectPaths, load_project

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PROJECT = REPO / ".." / "shared" / "data" / "rasa-projects" / "financial-demo"
NONSENSE = (
    "xyz abc qwerty",
    "asdf jkl",
    "sdfgsdfg",
    "purple monkey dishwasher",
    "the weather on mars",
    "what is the capital of france",
    "i like turtles",
)
FACTORS = (1.0, DIET_TEMPERATURE_FACTOR)
THRESHOLDS = (0.3, 0.6, 0.7)


def main(root: Path) -> None:
    project = load_project(ProjectPaths.discover(root))
    data = project.nlu
    items = [{"name": c.name, **c.params} for c in project.config.pipeline or []]
    # The classifier as Conductor's own (calibrated); each factor is applied to the fitted temperature below.
    config = [
        {"name": "LinearIntentClassifier"} if item["name"] == "DIETClassifier" else item
        for item in items
        if item["name"] != "FallbackClassifier"
    ] or None
    correct: dict[float, list[float]] = {factor: [] for factor in FACTORS}
    wrong: dict[float, list[float]] = {factor: [] for factor in FACTORS}
    nonsense: dict[float, list[float]] = {factor: [] for factor in FACTORS}
    for test in stratified_folds(data, 5):
        trained = NLUPipeline.train(without_examples(data, test), config, project.config.language)
        model = trained.intent_model
        assert model is not None, "the pipeline has no intent classifier"
        fitted = model.temperature
        for factor in FACTORS:
            model.temperature = fitted * factor
            for index in test:
                example = data.examples[index]
                if not example.intent:
                    continue
                intent = trained.parse(example.text)["intent"]
                (correct if intent["name"] == example.intent_base else wrong)[factor].append(intent["confidence"])
            nonsense[factor] += [trained.parse(text)["intent"]["confidence"] for text in NONSENSE]
    print(f"{root.resolve().name}: {len(data.examples)} examples, 5-fold cross-validation")
    for factor in FACTORS:
        good, bad, odd = (np.array(values[factor]) for values in (correct, wrong, nonsense))
        name = "calibrated" if factor == 1.0 else f"DIET scale (temperature × {factor})"
        print(
            f"{name}: accuracy {len(good) / (len(good) + len(bad)):.3f}; correct median {np.median(good):.2f}, "
            f"10th percentile {np.quantile(good, 0.1):.2f}; wrong median {np.median(bad) if len(bad) else 0:.2f}; "
            f"nonsense median {np.median(odd):.2f}"
        )
        for threshold in THRESHOLDS:
            print(
                f"  kept at {threshold}: correct {np.mean(good >= threshold):.0%}, "
                f"wrong {np.mean(bad >= threshold) if len(bad) else 0:.0%}, nonsense {np.mean(odd >= threshold):.0%}"
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PROJECT)
