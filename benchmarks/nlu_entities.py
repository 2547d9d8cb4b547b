"""Entity extraction figures on HWU64 fold 1: F1, training time, per-message extraction time.

Run: `.venv/bin/python benchmarks/nlu_entities.py [--algorithm ap|pa|lbfgs] [--bilou] [--epochs N]
[--c1 X --c2 X --max-iterations N]` (default: the extractor's defaults).

`--cross-validate K` leaves the test file alone and scores the same options by K-fold cross-validation on the
train file (examples dealt to folds by a seeded shuffle): the extractor's options and features were chosen
this way, so that the test figure is not tuned on the test fold.

Two F1 definitions are printed:
* entity level (the headline): a predicted entity counts only if its start, end and name all equal a gold
  entity's; micro precision/recall/F1 over all entities of the test set;
* token level, as `rasa test nlu` reports entities: every token gets the name of the entity covering it (or
  `no_entity`), and precision/recall/F1 are taken over tokens for the entity names present in the gold data
  (`no_entity` left out), micro- and support-weighted averaged (Rasa's summary line is the weighted one).

Extraction time is per test message: the spaCy tokenizer and `extract`, p50/p99 over the test set after a
warm-up pass. A CRF trained on CLINC150 (no entities) shows that data without entities costs no training.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import spacy

from bot.nlu.entities import CRFEntityExtractor
from bot.project.nlu_data import Message, TrainingData, load_nlu_file

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "nlu"
NO_ENTITY = "no_entity"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def prf(tp: int, predicted: int, gold: int) -> tuple[float, float, float]:
    precision = tp / predicted if predicted else 0.0
    recall = tp / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def token_labels(message_text: str, spans: list[tuple[int, int, str]], nlp: spacy.language.Language) -> list[str]:
    labels = []
    for token in nlp.make_doc(message_text):
        if token.is_space:
            continue
        start, end = token.idx, token.idx + len(token)
        covering = [name for s, e, name in spans if s < end and start < e]
        labels.append(covering[0] if covering else NO_ENTITY)
    return labels


def token_level(gold: list[str], predicted: list[str]) -> tuple[float, float]:
    """(micro F1, weighted F1) over the gold entity names, `no_entity` excluded, as Rasa's report."""
    names = sorted(set(gold) - {NO_ENTITY})
    tp: Counter[str] = Counter(g for g, p in zip(gold, predicted, strict=True) if g == p)
    gold_count, predicted_count = Counter(gold), Counter(predicted)
    micro = prf(
        sum(tp[n] for n in names), sum(predicted_count[n] for n in names), sum(gold_count[n] for n in names)
    )[2]
    weighted = sum(prf(tp[n], predicted_count[n], gold_count[n])[2] * gold_count[n] for n in names) / max(
        1, sum(gold_count[n] for n in names)
    )
    return micro, weighted


def exact_counts(
    extractor: CRFEntityExtractor, messages: list[Message], nlp: spacy.language.Language
) -> tuple[int, int, int]:
    """(correct, predicted, gold) entities, exact span and name."""
    tp = predicted_count = gold_count = 0
    for message in messages:
        found = extractor.extract(message.text, nlp.make_doc(message.text))
        predicted = {(e["start"], e["end"], e["entity"]) for e in found}
        gold = {(e.start, e.end, e.entity) for e in message.entities}
        tp += len(predicted & gold)
        predicted_count += len(predicted)
        gold_count += len(gold)
    return tp, predicted_count, gold_count


def cross_validate(options: dict[str, object], train: TrainingData, folds: int, nlp: spacy.language.Language) -> None:
    order = list(range(len(train.examples)))
    random.Random(0).shuffle(order)
    totals = [0, 0, 0]
    for fold in range(folds):
        held = set(order[fold::folds])
        rest = TrainingData(examples=[m for i, m in enumerate(train.examples) if i not in held])
        extractor = CRFEntityExtractor(options)
        took = timed_training(extractor, rest, nlp)
        counts = exact_counts(extractor, [m for i, m in enumerate(train.examples) if i in held], nlp)
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        precision, recall, f1 = prf(*counts)
        print(f"  fold {fold + 1}/{folds}: P {precision:.1%}  R {recall:.1%}  F1 {f1:.2%}  (training {took})")
    precision, recall, f1 = prf(*totals)
    print(f"cross-validation on train, entity level (exact span + name), micro over all folds: "
          f"P {precision:.2%}  R {recall:.2%}  F1 {f1:.2%}")


def evaluate(extractor: CRFEntityExtractor, test: list[Message], nlp: spacy.language.Language) -> None:
    for message in test[:100]:  # warm-up
        extractor.extract(message.text, nlp.make_doc(message.text))
    tp = predicted_count = gold_count = 0
    gold_tokens: list[str] = []
    predicted_tokens: list[str] = []
    timings: list[float] = []
    for message in test:
        started = time.perf_counter()
        found = extractor.extract(message.text, nlp.make_doc(message.text))
        timings.append(time.perf_counter() - started)
        predicted = {(e["start"], e["end"], e["entity"]) for e in found}
        gold = {(e.start, e.end, e.entity) for e in message.entities}
        tp += len(predicted & gold)
        predicted_count += len(predicted)
        gold_count += len(gold)
        gold_tokens += token_labels(message.text, sorted(gold), nlp)
        predicted_tokens += token_labels(message.text, sorted(predicted), nlp)
    precision, recall, f1 = prf(tp, predicted_count, gold_count)
    micro, weighted = token_level(gold_tokens, predicted_tokens)
    print(f"test: {len(test)} messages, {gold_count} entities")
    print(f"entity level (exact span + name), micro: P {precision:.1%}  R {recall:.1%}  F1 {f1:.1%}")
    print(f"token level (as rasa test nlu): micro F1 {micro:.1%}  weighted F1 {weighted:.1%}")
    print(
        "per message (tokenize + extract): "
        f"p50 {statistics.median(timings) * 1e3:.3f} ms  p99 {percentile(timings, 0.99) * 1e3:.3f} ms  "
        f"max {max(timings) * 1e3:.3f} ms"
    )


def timed_training(extractor: CRFEntityExtractor, data: TrainingData, nlp: spacy.language.Language) -> str:
    wall, cpu = time.perf_counter(), time.process_time()
    extractor.train(data, nlp)
    return f"{time.perf_counter() - wall:.1f} s wall, {time.process_time() - cpu:.1f} s CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithm", choices=("ap", "pa", "lbfgs"), help="the CRF's training algorithm")
    parser.add_argument("--bilou", action="store_true", help="BILOU tags instead of plain IO")
    parser.add_argument("--epochs", type=int, help="passes of ap/pa training")
    parser.add_argument("--c1", type=float, help="L1 regularisation of lbfgs training (L1_c)")
    parser.add_argument("--c2", type=float, help="L2 regularisation of lbfgs training (L2_c)")
    parser.add_argument("--max-iterations", type=int, help="iterations of lbfgs training")
    parser.add_argument("--cross-validate", type=int, metavar="K", help="K-fold cross-validation on train only")
    args = parser.parse_args()
    nlp = spacy.blank("en")
    train = load_nlu_file(DATA / "hwu64-fold1" / "train_nlu.yml")
    test = load_nlu_file(DATA / "hwu64-fold1" / "test_nlu.yml").examples
    entities = sum(len(m.entities) for m in train.examples)
    print(f"HWU64 fold 1, train: {len(train.examples)} messages, {entities} entities, {len(train.entities)} types")
    given = {
        "algorithm": args.algorithm,
        "epochs": args.epochs,
        "L1_c": args.c1,
        "L2_c": args.c2,
        "max_iterations": args.max_iterations,
    }
    options = {"BILOU_flag": args.bilou, **{key: value for key, value in given.items() if value is not None}}
    if args.cross_validate:
        print(f"options {options}; {args.cross_validate}-fold cross-validation on the train file")
        cross_validate(options, train, args.cross_validate, nlp)
        return
    extractor = CRFEntityExtractor(options)
    print(f"CRFEntityExtractor ({extractor.algorithm}, {'BILOU' if extractor.bilou else 'IO'} tags) training: "
          + timed_training(extractor, train, nlp))
    with tempfile.TemporaryDirectory() as folder:
        extractor.save(Path(folder))
        size = sum(f.stat().st_size for f in Path(folder).iterdir())
        loaded = CRFEntityExtractor.load(Path(folder))
    print(f"saved model: {size / 1e6:.1f} MB; evaluating the reloaded model")
    evaluate(loaded, test, nlp)
    clinc = load_nlu_file(DATA / "clinc150" / "train_nlu.yml")
    print(f"CLINC150 train ({len(clinc.examples)} messages, no entities) training: "
          + timed_training(CRFEntityExtractor(), clinc, nlp))


if __name__ == "__main__":
    main()
