"""CRFEntityExtractor: a linear-chain CRF (python-crfsuite) that tags tokens with entity labels.

Each token is tagged with the entity, role and group it belongs to, so roles and groups are learned with the
entity itself: a label is the JSON list `[entity, role, group]`. Features: see `entity_features`; two of them
are learned from the training data besides the CRF's weights (a gazetteer of annotated phrases and a
naive-Bayes guess of the message's intent) and saved with it.

Two choices differ from Rasa's defaults, for speed, and both can be set back:
* Tags are plain IO (`BILOU_flag: false`) unless `BILOU_flag: true`. Decoding costs grow with the square of
  the number of labels, and BILOU has four per entity: on HWU64 (54 entity types) BILOU made extraction
  about 0.6 ms a message instead of 0.2 ms and training four times longer, for no measurable gain in F1.
  The one thing IO cannot express is two entities of the same label side by side with nothing between.
* Training uses crfsuite's averaged perceptron (`algorithm: ap`), for `epochs` passes (unset: 10 passes,
  more on small data sets, at most 50). `algorithm: lbfgs` trains as Rasa does, with its `max_iterations`,
  `L1_c` and `L2_c`; on HWU64 it is about as accurate and six or seven times slower. `algorithm: pa`
  (passive-aggressive) is also there.
Rasa's `features` and `featurizers` options are accepted and ignored: the feature set here is fixed.

The model is saved in crfsuite's own binary format (`crf.crfsuite`, not a pickle) beside a JSON file with
the options, the gazetteer and the intent guess's counts. That file's `format` changes whenever the features
do, so a model trained with other features is refused with a hint to retrain instead of quietly tagging worse.
"""

from __future__ import annotations

import ctypes
import json
import logging
import math
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pycrfsuite

from bot.errors import ConductorError
from bot.nlu.components import EntityDict
from bot.nlu.entity_common import ComponentOptions, make_entity, malformed, read_json, write_json
from bot.nlu.entity_features import IntentGuess, PhraseGazetteer, TokenSpan, TypedSpan, token_features
from bot.project.nlu_data import EntitySpan, Message, TrainingData

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Token

__all__ = ["CRF_FORMAT", "CRFEntityExtractor"]

logger = logging.getLogger(__name__)

_MODEL_FILE = "crf.crfsuite"
_STATE_FILE = "crf.json"
CRF_FORMAT: Final = 2
"""Version of the saved state and of the feature set: 2 added the intent guess and the gazetteer's entity names
(and dropped the bag of nearby words). `bot.model.project_fingerprint` includes it, so a change retrains."""
_OUTSIDE = "O"
_DEFAULTS: dict[str, Any] = {
    "BILOU_flag": False,
    "split_entities_by_comma": True,
    "algorithm": "ap",
    "epochs": None,
    "max_iterations": 50,
    "L1_c": 0.1,
    "L2_c": 0.1,
}
_RASA_ONLY = frozenset({"features", "featurizers"})
_ALGORITHMS = ("ap", "pa", "lbfgs")
_TOKEN_PASSES = 300_000
"""With `epochs` unset, a data set of N tokens gets this / N passes, within 10 to 50: small ones need more."""


@dataclass(frozen=True)
class _Label:
    entity: str
    role: str | None
    group: str | None

    def encode(self) -> str:
        return json.dumps([self.entity, self.role, self.group], ensure_ascii=False)

    @classmethod
    def decode(cls, text: str) -> _Label:
        entity, role, group = json.loads(text)
        return cls(entity, role, group)


@dataclass
class _Found:
    first: int
    end: int
    label: str


class CRFEntityExtractor:
    name = "CRFEntityExtractor"

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        options = ComponentOptions(self.name, config, _DEFAULTS, _RASA_ONLY)
        self.bilou = options.flag("BILOU_flag")
        self.algorithm = options.choice("algorithm", _ALGORITHMS)
        self.epochs = options.whole("epochs")
        self.max_iterations = options.whole("max_iterations")
        self.l1 = options.number("L1_c")
        self.l2 = options.number("L2_c")
        self.split_by_comma = _comma_option(options)
        self._options = {key: options.raw(key) for key in _DEFAULTS}
        self.gazetteer = PhraseGazetteer()
        self.intents = IntentGuess()
        self._model: bytes | None = None
        self._tagger: pycrfsuite.Tagger | None = None

    def _splits_at_comma(self, entity: str) -> bool:
        if isinstance(self.split_by_comma, bool):
            return self.split_by_comma
        return self.split_by_comma.get(entity, True)

    # --- training -----------------------------------------------------------------------------------------

    def train(self, data: TrainingData, tokenizer: Language) -> None:
        """Learn from the annotated examples; with no entity annotated anywhere there is nothing to learn."""
        self._model, self._tagger = None, None
        self.gazetteer, self.intents = PhraseGazetteer(), IntentGuess()
        if not any(message.entities for message in data.examples):
            return
        sequences = [self._tagged_tokens(message, tokenizer) for message in data.examples]
        named: list[list[TypedSpan]] = [[(a, b, label.entity) for a, b, label in spans] for _, spans in sequences]
        self.gazetteer = PhraseGazetteer.from_examples(
            (words, own) for (words, _), own in zip(sequences, named, strict=True)
        )
        lowered = [[word.lower() for word in words] for words, _ in sequences]
        self.intents = IntentGuess.from_examples(
            (words, message.intent) for words, message in zip(lowered, data.examples, strict=True)
        )
        trainer = pycrfsuite.Trainer(algorithm=self.algorithm, verbose=False)
        token_count = 0
        for message, (words, spans), own, low in zip(data.examples, sequences, named, lowered, strict=True):
            if not words:
                continue
            intent = self.intents.guess(low, own=message.intent)
            features = token_features(words, self.gazetteer, intent, own)
            trainer.append(pycrfsuite.ItemSequence(features), self._tags(len(words), spans))
            token_count += len(words)
        trainer.set_params(self._training_params(token_count))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / _MODEL_FILE
            _seed_crfsuite()
            trainer.train(str(path))
            self._set_model(path.read_bytes())

    def _training_params(self, token_count: int) -> dict[str, Any]:
        # Weights for label transitions never seen in training too, so the model can learn to avoid them.
        params: dict[str, Any] = {"feature.possible_transitions": True}
        if self.algorithm == "lbfgs":
            return {**params, "max_iterations": self.max_iterations, "c1": self.l1, "c2": self.l2}
        epochs = self.epochs or min(50, max(10, math.ceil(_TOKEN_PASSES / max(token_count, 1))))
        params["max_iterations"] = epochs
        if self.algorithm == "pa":
            params["type"] = 0
        return params

    def _tagged_tokens(
        self, message: Message, tokenizer: Language
    ) -> tuple[list[str], list[tuple[int, int, _Label]]]:
        """The message's token texts and its entities as token spans with their labels."""
        tokens = _content_tokens(tokenizer.make_doc(message.text))
        spans: list[tuple[int, int, _Label]] = []
        taken: set[int] = set()
        for entity in message.entities:
            span = _token_span(tokens, entity)
            if span is None or taken.intersection(range(*span)):
                logger.warning(
                    "%s: the entity %r at characters %d-%d %s; it is left out of CRF training",
                    _where(message), entity.entity, entity.start, entity.end,
                    "overlaps another entity" if span else "covers no token",
                )
                continue
            taken.update(range(*span))
            spans.append((*span, _Label(entity.entity, entity.role, entity.group)))
        return [token.text for token in tokens], spans

    def _tags(self, length: int, spans: Sequence[tuple[int, int, _Label]]) -> list[str]:
        tags = [_OUTSIDE] * length
        for first, end, label in spans:
            encoded = label.encode()
            for index in range(first, end):
                tags[index] = "I-" + encoded
            if self.bilou:
                if end - first == 1:
                    tags[first] = "U-" + encoded
                else:
                    tags[first], tags[end - 1] = "B-" + encoded, "L-" + encoded
        return tags

    # --- extraction ---------------------------------------------------------------------------------------

    def extract(self, text: str, doc: Doc) -> list[EntityDict]:
        tokens = _content_tokens(doc)
        if self._tagger is None or not tokens:
            return []
        texts = [token.text for token in tokens]
        intent = self.intents.guess([text.lower() for text in texts])
        self._tagger.set(pycrfsuite.ItemSequence(token_features(texts, self.gazetteer, intent)))
        tags = self._tagger.tag()
        entities: list[EntityDict] = []
        for found in self._spans(tags, tokens):
            start = tokens[found.first].idx
            end = tokens[found.end - 1].idx + len(tokens[found.end - 1])
            confidence = sum(self._tagger.marginal(tags[i], i) for i in range(found.first, found.end))
            label = _Label.decode(found.label)
            entities.append(
                make_entity(
                    label.entity,
                    text[start:end],
                    start,
                    end,
                    self.name,
                    round(confidence / (found.end - found.first), 6),
                    label.role,
                    label.group,
                )
            )
        return entities

    def _spans(self, tags: Sequence[str], tokens: Sequence[Token]) -> list[_Found]:
        """Token runs with one label: a run ends at O, at a new B/U, after L/U, or where the label changes;
        a comma token ends it too (and belongs to none) when the entity splits at commas."""
        spans: list[_Found] = []
        current: _Found | None = None
        for index, tag in enumerate(tags):
            prefix, label = tag[:2], tag[2:]
            if tag != _OUTSIDE and tokens[index].text == "," and self._splits_at_comma(_Label.decode(label).entity):
                tag = _OUTSIDE
            if current is not None and (tag == _OUTSIDE or prefix in ("B-", "U-") or label != current.label):
                spans.append(current)
                current = None
            if tag == _OUTSIDE:
                continue
            if current is None:
                current = _Found(index, index + 1, label)
            current.end = index + 1
            if prefix in ("L-", "U-"):
                spans.append(current)
                current = None
        if current is not None:
            spans.append(current)
        return spans

    # --- persistence --------------------------------------------------------------------------------------

    def _set_model(self, model: bytes) -> None:
        tagger = pycrfsuite.Tagger()
        tagger.open_inmemory(model)
        self._model, self._tagger = model, tagger

    def save(self, directory: Path) -> None:
        write_json(
            directory / _STATE_FILE,
            {
                "format": CRF_FORMAT,
                "options": self._options,
                "trained": self._model is not None,
                "gazetteer": self.gazetteer.state(),
                "intents": self.intents.state(),
            },
        )
        if self._model is not None:
            (directory / _MODEL_FILE).write_bytes(self._model)

    @classmethod
    def load(cls, directory: Path) -> CRFEntityExtractor:
        path = directory / _STATE_FILE
        state = read_json(path, cls.name)
        if not isinstance(state, dict):
            raise malformed(path, cls.name, "expected a JSON object")
        if state.get("format") != CRF_FORMAT:
            raise ConductorError.single(
                f"{cls.name}: this model was trained by another version of Conductor (entity feature format "
                f"{state.get('format')!r}; this version reads format {CRF_FORMAT})",
                file=path,
                hint="Train the model again with `bot train --force`.",
            )
        gazetteer = PhraseGazetteer.from_state(state.get("gazetteer"))
        if gazetteer is None:
            raise malformed(path, cls.name, "`gazetteer` must map phrases to [rate, [entity names]]")
        intents = IntentGuess.from_state(state.get("intents"))
        if intents is None:
            raise malformed(path, cls.name, "`intents` must hold the intent guess's example and word counts")
        try:
            extractor = cls(state.get("options"))
        except ConductorError as exc:
            raise malformed(path, cls.name, f"bad options ({exc.problems[0].message})") from None
        extractor.gazetteer, extractor.intents = gazetteer, intents
        if state.get("trained"):
            model_path = directory / _MODEL_FILE
            try:
                extractor._set_model(model_path.read_bytes())
            except (OSError, ValueError) as exc:
                raise malformed(model_path, cls.name, f"cannot open the CRF model ({exc})") from None
        return extractor


def _comma_option(options: ComponentOptions) -> bool | dict[str, bool]:
    """Rasa allows `true`/`false` or a mapping entity -> true/false (unlisted entities: true)."""
    value = options.raw("split_entities_by_comma")
    if isinstance(value, bool):
        return value
    if isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, bool) for k, v in value.items()):
        return dict(value)
    raise options.wrong(
        "split_entities_by_comma", value, "true, false, or a mapping of entity names to true/false"
    )


def _content_tokens(doc: Doc) -> list[Token]:
    """The tokens that can be part of an entity: spaCy keeps runs of extra spaces as tokens of their own."""
    return [token for token in doc if not token.is_space]


def _token_span(tokens: Sequence[Token], entity: EntitySpan) -> TokenSpan | None:
    """The tokens an annotated entity touches (an annotation need not end on a token boundary)."""
    inside = [i for i, t in enumerate(tokens) if t.idx < entity.end and t.idx + len(t) > entity.start]
    return (inside[0], inside[-1] + 1) if inside else None


def _where(message: Message) -> str:
    if message.file is None:
        return repr(message.text[:60])
    return f"{message.file}:{message.line}" if message.line is not None else message.file


_CRFSUITE_SEED = 1
"""The C library's own starting seed: training behaves as in a fresh process where nothing else used `rand()`."""


def _seed_crfsuite() -> None:
    """Make training repeatable: crfsuite shuffles the examples with the C library's `rand()` and never seeds
    it, so without this the model depends on whatever else in the process called `rand()` before."""
    try:
        libc = ctypes.CDLL(None) if sys.platform != "win32" else ctypes.cdll.msvcrt
        libc.srand(_CRFSUITE_SEED)
    except (OSError, AttributeError):  # pragma: no cover - no C library to seed: training still works
        logger.debug("could not seed the C library's random generator; CRF training may vary between runs")
