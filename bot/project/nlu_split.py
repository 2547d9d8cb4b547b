"""Split NLU data into a training file and a held-out test file, as `rasa data split nlu` does.

The facts follow Rasa 3.x: the split is stratified per intent (a retrieval intent `faq/ask_x` counts as its own
class), each retrieval intent's responses go with its examples, and synonyms, regexes and lookup tables are
copied whole into both files. The files are `training_data.yml` and `test_data.yml` under the output folder.
Two choices differ from Rasa: each intent's share is rounded per intent (Rasa rounds a running total, so one
intent may get one example more or less than its share), and an intent with a single example goes to the
training file with a notice (Rasa puts it in the test file, where a model trained without it cannot get it right).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.errors import ConductorError, Problem, Severity
from bot.files import write_text
from bot.project.loader import TEST_FILE_PREFIX, data_files
from bot.project.nlu_data import LookupTable, Message, TrainingData, dump_nlu, is_nlu_file, parse_nlu
from bot.yamlio import parse_yaml, read_text

__all__ = [
    "DEFAULT_TRAINING_FRACTION",
    "TEST_FILE",
    "TRAINING_FILE",
    "read_nlu_to_split",
    "split_nlu",
    "write_nlu_split",
]

DEFAULT_TRAINING_FRACTION = 0.8
TRAINING_FILE = "training_data.yml"
TEST_FILE = "test_data.yml"


def read_nlu_to_split(paths: Iterable[Path]) -> TrainingData:
    """The NLU data of `paths` as `bot train` reads it: a folder's YAML files that hold `nlu:` or `responses:`,
    without its `test_*` files (those are test data); a file named on its own is read whatever its name.

    Every problem of every file is raised together; a path that does not exist is one of them.
    """
    roots = list(paths)
    data = TrainingData()
    problems: list[Problem] = []
    for root in roots:
        if not root.exists():
            problems.append(
                Problem(
                    "the NLU data file or folder does not exist",
                    str(root),
                    hint="Run the command in the project folder (the one holding data/), or pass --nlu with "
                    "an NLU file or folder.",
                )
            )
            continue
        named = root.is_file()
        files = [root] if named else [path for path, test in data_files(root) if not test]
        for path in files:
            try:  # each file read once: parsed, then taken as NLU data when it is (a named file always)
                text = read_text(path, "data file")
                parsed = parse_yaml(text, path)
                if named or is_nlu_file(parsed):
                    data = data.merge(parse_nlu(parsed, path, text=text))
            except ConductorError as exc:
                problems.extend(exc.problems)
    if problems:
        raise ConductorError(problems)
    if not data.examples:
        raise ConductorError.single(
            "no NLU examples were found to split",
            ", ".join(map(str, roots)),
            hint="Point --nlu at a file or folder with '- intent:' items and their examples; in a folder, "
            f"{TEST_FILE_PREFIX}*.yml files are test data and are not read.",
        )
    return data


def split_nlu(
    data: TrainingData, training_fraction: float = DEFAULT_TRAINING_FRACTION, random_seed: int | None = None
) -> tuple[TrainingData, TrainingData]:
    """(training, test) data: of each intent's n examples, round(n * training_fraction) go to training, kept
    between 1 and n - 1 so that the intent is in both; a single example goes to training.

    The examples are drawn at random, the same each run for a given `random_seed`; each file keeps the input's
    order. Each side holds the retrieval responses its examples need, and all the synonyms, regexes and lookup
    tables. The training side's `warnings` hold a notice for each intent that has a single example.
    """
    if not 0 < training_fraction < 1:
        raise ConductorError.single(
            "the training fraction (--training-fraction) must be between 0 and 1, both excluded, "
            f"not {training_fraction:g}",
            hint="Pass the share of each intent's examples that goes to the training file, e.g. "
            f"--training-fraction {DEFAULT_TRAINING_FRACTION}.",
        )
    rng = random.Random(random_seed)
    by_intent: dict[str | None, list[int]] = {}
    for index, message in enumerate(data.examples):
        by_intent.setdefault(message.intent, []).append(index)
    training: set[int] = set()
    notices: list[Problem] = []
    for intent, indices in by_intent.items():
        if len(indices) == 1:
            training.update(indices)
            only = data.examples[indices[0]]
            notices.append(
                Problem(
                    f"the intent {intent!r} has a single example; it went to the training file only, so the "
                    "test file does not check it",
                    only.file,
                    only.line,
                    "Add more examples of this intent to have it tested.",
                    Severity.WARNING,
                )
            )
            continue
        rng.shuffle(indices)
        # rounded to 9 places first: 45 * 0.7 is 31.499999999999996 in floating point, and meant as 31.5
        share = math.floor(round(len(indices) * training_fraction, 9) + 0.5)
        training.update(indices[: min(len(indices) - 1, max(1, share))])
    train = _subset(data, [m for i, m in enumerate(data.examples) if i in training])
    test = _subset(data, [m for i, m in enumerate(data.examples) if i not in training])
    train.warnings = notices
    return train, test


def _subset(data: TrainingData, examples: list[Message]) -> TrainingData:
    """`examples` with the retrieval responses they need and all of `data`'s synonyms, regexes and lookups."""
    responses: dict[str, list[dict[str, Any]]] = {}
    for message in examples:
        name = f"utter_{message.intent}"
        if message.response_key and name in data.responses:
            responses[name] = data.responses[name]
    return TrainingData(
        examples=examples,
        synonyms=dict(data.synonyms),
        regexes=list(data.regexes),
        lookups=[LookupTable(t.name, list(t.elements), t.file, t.line) for t in data.lookups],
        responses=responses,
    )


def write_nlu_split(train: TrainingData, test: TrainingData, out: Path) -> tuple[Path, Path]:
    """Write `training_data.yml` and `test_data.yml` into the folder `out` (created if missing), replacing
    earlier ones; each is written to a temporary file first (`bot.files`), so no half-written file is left
    behind."""
    if out.exists() and not out.is_dir():
        raise ConductorError.single(
            "the output folder is a file", out, hint="Pass --out with a folder (it is created if missing)."
        )
    targets = [(out / TRAINING_FILE, dump_nlu(train)), (out / TEST_FILE, dump_nlu(test))]
    try:
        for path, text in targets:
            write_text(path, text)
    except OSError as exc:
        raise ConductorError.single(
            f"the split files cannot be written: {exc.strerror or exc}",
            out,
            hint="Pass --out with a folder you can write to, or fix the folder's permissions.",
        ) from None
    return targets[0][0], targets[1][0]
