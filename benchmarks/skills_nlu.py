"""The skills' intent accuracy in 5-fold cross-validation, as a trainer measures it with `bot test nlu`.

Run: `.venv/bin/python benchmarks/skills_nlu.py [--only legal|tech_support|both] [--folds 5] [--keep DIR]
[--errors]`

Three client instances are created in a temporary folder with `bot init --instance` (the base assistant plus
the legal skill, plus the tech-support skill, plus both), and in each one the very command a trainer runs,

    cd <instance> && bot test nlu --cross-validation --folds 5 --out results

is run in a fresh process. From its reports this prints, per instance: the command's own `test Accuracy`
(results/intent_report_cross_validation.json: the mean and standard deviation over the folds); the accuracy
over every example's prediction from the fold that held it out (results/intent_report.json), over all the
instance's intents, over the base assistant's, and over each skill's own (legal_*, ts_*); each skill intent's
recall and what it was taken for; and the most confused pairs (results/intent_errors.json). A message that
falls back (`nlu_fallback`, confidence below the FallbackClassifier's threshold) counts as wrong, as in Rasa.
`--keep DIR` builds the instances in DIR and leaves them (and their reports) there; `--errors` lists the
misclassified skill examples.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bot.plugins.instance_scaffold import create_instance

BOT = Path(sys.executable).with_name("bot")
INSTANCES: dict[str, tuple[str, ...]] = {
    "legal": ("legal",),
    "tech_support": ("tech_support",),
    "both": ("legal", "tech_support"),
}
SKILL_PREFIXES = {"legal": "legal_", "tech_support": "ts_"}
SUMMARY_KEYS = {"accuracy", "macro avg", "weighted avg", "micro avg"}


Reports = tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]


def cross_validate(folder: Path, folds: int) -> tuple[Reports, float]:
    """Run `bot test nlu --cross-validation` in `folder`: its intent report and errors (all folds' predictions),
    its fold-averaged report, and the seconds taken."""
    started = time.perf_counter()
    command = [str(BOT), "test", "nlu", "--cross-validation", "--folds", str(folds), "--out", "results"]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"`{' '.join(command)}` failed in {folder}:\n{done.stdout}\n{done.stderr}")
    results = folder / "results"
    report = json.loads((results / "intent_report.json").read_text(encoding="utf-8"))
    errors = json.loads((results / "intent_errors.json").read_text(encoding="utf-8"))
    averaged = json.loads((results / "intent_report_cross_validation.json").read_text(encoding="utf-8"))
    return (report, errors, averaged), time.perf_counter() - started


def accuracy(per_intent: dict[str, dict[str, Any]]) -> tuple[int, int]:
    """(correct, total) over the given intents' examples."""
    total = sum(int(figures["support"]) for figures in per_intent.values())
    correct = sum(round(figures["recall"] * figures["support"]) for figures in per_intent.values())
    return correct, total


def show(name: str, reports: Reports, seconds: float, list_errors: bool) -> None:
    report, errors, averaged = reports
    per_intent = {
        intent: figures
        for intent, figures in report.items()
        if intent not in SUMMARY_KEYS and isinstance(figures, dict) and figures.get("support")
    }
    correct, total = accuracy(per_intent)
    fallbacks = sum(1 for error in errors if error["intent_prediction"]["name"] == "nlu_fallback")
    print(f"\n== instance: base assistant + {' + '.join(INSTANCES[name])} ({seconds:.0f} s)")
    print(f"  all intents          {correct / total:7.2%}  ({correct}/{total}; {fallbacks} errors are nlu_fallback)")
    fold_accuracy = averaged.get("accuracy", {})
    if "mean" in fold_accuracy:
        print(f"  test Accuracy        {fold_accuracy['mean']:7.2%}  (mean over folds, std {fold_accuracy['std']:.2%})")
    base = {i: f for i, f in per_intent.items() if not i.startswith(tuple(SKILL_PREFIXES.values()))}
    correct, total = accuracy(base)
    print(f"  base intents         {correct / total:7.2%}  ({correct}/{total})")
    for skill in INSTANCES[name]:
        prefix = SKILL_PREFIXES[skill]
        own = {i: f for i, f in per_intent.items() if i.startswith(prefix)}
        correct, total = accuracy(own)
        print(f"  {skill + ' intents':20s} {correct / total:7.2%}  ({correct}/{total}, {len(own)} intents)")
        for intent, figures in sorted(own.items(), key=lambda item: (item[1]["recall"], item[0])):
            confused = ", ".join(f"{other} {count}" for other, count in figures.get("confused_with", {}).items())
            print(f"    {intent:32s} recall {figures['recall']:6.1%}  n={figures['support']:<4d} {confused}")
    pairs = Counter((error["intent"], error["intent_prediction"]["name"]) for error in errors)
    print("  most confused (true -> predicted):")
    for (true, predicted), count in pairs.most_common(12):
        print(f"    {count:3d}  {true} -> {predicted}")
    if list_errors:
        prefixes = tuple(SKILL_PREFIXES[skill] for skill in INSTANCES[name])
        for error in errors:
            predicted = error["intent_prediction"]
            if error["intent"].startswith(prefixes) or predicted["name"].startswith(prefixes):
                print(f"    [{error['intent']} -> {predicted['name']} {predicted['confidence']:.2f}] {error['text']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", choices=sorted(INSTANCES), action="append", help="Measure these instances only.")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="Build the instances in this folder and keep them.")
    parser.add_argument("--errors", action="store_true", help="List the misclassified skill examples.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="skills-nlu-") as temporary:
        root = args.keep or Path(temporary)
        for name in args.only or list(INSTANCES):
            folder = root / name
            create_instance(folder, name="Acme", plugins=INSTANCES[name], force=True)
            reports, seconds = cross_validate(folder, args.folds)
            show(name, reports, seconds, args.errors)


if __name__ == "__main__":
    main()
