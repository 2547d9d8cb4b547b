"""The NLU pipeline: text in, Rasa's /model/parse JSON out.

Training: tokenize every example once (spaCy), build the sparse featurizer, train the intent classifier on the
base intent names (`faq/ask_x` counts as `faq`), one response selector per retrieval intent, and the entity
components named in the config. Parsing: tokenize, one sparse row, a few numpy products, the entity
components, and FallbackClassifier's rule (Rasa's semantics: below `threshold`, or the top two closer than
`ambiguity_threshold`, `nlu_fallback` goes on top of the ranking with confidence = threshold and the ranking
keeps the other intents).

An empty (or blank) message gets no intent: `{"name": None, "confidence": 0.0}` and an empty ranking.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt
from mypy_extensions import mypyc_attr

from bot import __version__
from bot.errors import ConductorError
from bot.nlu import artefact
from bot.nlu.components import EntityDict, EntityExtractor
from bot.nlu.dense import SentenceEmbedder
from bot.nlu.entities import ENTITY_EXTRACTORS, merge_entities
from bot.nlu.entity_crf import CRF_FORMAT
from bot.nlu.featurizers import (
    CharNgrams,
    FeatureBlock,
    LexicalTraits,
    RegexMatches,
    SparseFeaturizer,
    SparseRow,
    VocabularyLimits,
    WordNgrams,
    block_from_settings,
)
from bot.nlu.linear_model import LinearModel, LinearSettings, train_linear_model
from bot.nlu.pipeline_config import (
    ClassifierSpec,
    EntityComponentSpec,
    FallbackSpec,
    FeatureBlockSpec,
    PipelineSpec,
    resolve_pipeline,
)
from bot.nlu.response_selector import ResponseSelector
from bot.nlu.spacy_import import spacy_version
from bot.nlu.tokenizer import TokenizedText, Tokenizer, blank_language
from bot.project.nlu_data import TrainingData

__all__ = ["FALLBACK_INTENT", "NLUPipeline", "Progress", "training_fingerprint"]

FALLBACK_INTENT = "nlu_fallback"
Progress = Callable[[str], None]
_TOKENIZER_DIR = "tokenizer"
_ENTITIES_DIR = "entities"
_RETRAIN = "Train the model again with `bot train`."


class _EntityProcessor(Protocol):
    def process(self, entities: list[EntityDict]) -> list[EntityDict]: ...


def training_fingerprint(data: TrainingData, config: Sequence[Mapping[str, Any]] | None, language: str) -> str:
    """A hash of everything training reads; equal fingerprints mean a saved model can be reused as it is."""
    content = {
        "format": artefact.NLU_FORMAT,
        "crf_format": CRF_FORMAT,
        "conductor": __version__,
        "language": language,
        "config": [dict(item) for item in config] if config is not None else None,
        "examples": [
            [m.text, m.intent, [[e.start, e.end, e.entity, e.value, e.role, e.group] for e in m.entities]]
            for m in data.examples
        ],
        "synonyms": data.synonyms,
        "regexes": [[r.name, r.pattern] for r in data.regexes],
        "lookups": [[t.name, t.elements] for t in data.lookups],
        "responses": data.responses,
    }
    encoded = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


@mypyc_attr(native_class=False)  # its instances' __dict__ is the ranking entry (`_ranked`)
class _RankedIntent:
    """Makes the dicts of an intent ranking (`_ranked`)."""

    def __init__(self, name: str | None, confidence: float) -> None:
        self.name = name
        self.confidence = confidence


def _ranked(name: str | None, confidence: float) -> dict[str, Any]:
    """`{"name": name, "confidence": confidence}`, an ordinary dict that shares its key table with the other
    entries of rankings: it is the attribute dict of a `_RankedIntent` (CPython's key-sharing dictionaries,
    PEP 412), 128 bytes with its float instead of 216. A conversation keeps every user message's parse, whose
    ranking (up to ten of these) was the largest part of a cached conversation's memory."""
    return _RankedIntent(name, confidence).__dict__


class NLUPipeline:
    """A trained pipeline. Build one with `train` or `load`; then `parse` messages."""

    def __init__(
        self,
        spec: PipelineSpec,
        tokenizer: Tokenizer,
        featurizer: SparseFeaturizer,
        intent_model: LinearModel | None,
        selectors: Sequence[ResponseSelector],
        entity_components: Sequence[tuple[EntityComponentSpec, EntityExtractor]],
        fingerprint: str,
        embedder: SentenceEmbedder | None = None,
    ) -> None:
        self.spec = spec
        self.tokenizer = tokenizer
        self.featurizer = featurizer
        self.embedder = embedder
        self.intent_model = intent_model
        self.selectors = list(selectors)
        self.entity_components = list(entity_components)
        self.fingerprint = fingerprint
        self._processors: list[_EntityProcessor] = [
            cast(_EntityProcessor, c) for _, c in self.entity_components if hasattr(c, "process")
        ]
        self._ranking_length = spec.classifier.ranking_length if spec.classifier else 10

    @property
    def notices(self) -> tuple[str, ...]:
        """One line per place where this pipeline behaves differently from what Rasa's config would do."""
        return self.spec.notices

    @property
    def intents(self) -> list[str]:
        return list(self.intent_model.labels) if self.intent_model else []

    # --- training -------------------------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        data: TrainingData,
        config: Sequence[Mapping[str, Any]] | None = None,
        language: str = "en",
        progress: Progress | None = None,
    ) -> NLUPipeline:
        """Train on `data` with config.yml's `pipeline:` items (None: the default pipeline)."""
        say = progress or (lambda _message: None)
        started = time.perf_counter()
        spec = resolve_pipeline(config, language)
        for notice in spec.notices:
            say(f"notice: {notice}")
        tokenizer = Tokenizer.create(language, spec.spacy_model)
        examples = [m for m in data.examples if m.text.strip()]
        say(f"Tokenizing {len(examples)} examples…")
        tokenized = [tokenizer.tokenize(m.text) for m in examples]
        blocks, limits = _build_blocks(spec.blocks, data)
        featurizer = SparseFeaturizer.fit(blocks, limits, tokenized)
        say(f"Features: {featurizer.size} ({', '.join(b.kind for b in blocks)})")
        embedder = SentenceEmbedder(spec.dense.model, spec.dense.weight) if spec.dense else None
        with_intent = [i for i, m in enumerate(examples) if m.intent]
        intent_model = None
        matrix = None
        if (spec.classifier is not None and with_intent) or spec.response_selectors:
            matrix = featurizer.matrix(tokenized)
            if embedder is not None:
                say(f"Embedding {len(examples)} examples with {embedder.model}…")
                matrix = embedder.extend_matrix(matrix, [m.text for m in examples])
        if spec.classifier is not None and with_intent and matrix is not None:
            labels = [examples[i].intent_base or "" for i in with_intent]
            say(f"Training the intent classifier ({len(set(labels))} intents, {len(labels)} examples)…")
            intent_model = train_linear_model(matrix[with_intent], labels, _linear_settings(spec.classifier))
            intent_model.temperature *= spec.classifier.temperature_factor
        selectors = []
        if spec.response_selectors and matrix is not None:
            selectors = _train_selectors(spec, data, [m.intent or "" for m in examples], matrix, say)
        elif data.retrieval_intents:
            say(
                "notice: retrieval intents ("
                + ", ".join(data.retrieval_intents)
                + ") but no ResponseSelector in the pipeline: no response will be selected"
            )
        components = []
        for entity_spec in spec.entities:
            say(f"Training {entity_spec.component}…")
            component = _entity_class(entity_spec.component)(entity_spec.options)
            component.train(data, tokenizer.nlp)
            components.append((entity_spec, component))
        fingerprint = training_fingerprint(data, config, language)
        say(f"NLU pipeline trained in {time.perf_counter() - started:.1f} s")
        return cls(spec, tokenizer, featurizer, intent_model, selectors, components, fingerprint, embedder)

    # --- parsing --------------------------------------------------------------------------------------

    def parse(self, text: str) -> dict[str, Any]:
        """Rasa's /model/parse JSON for one message."""
        if not text.strip():
            return _empty_parse(text)
        message = self.tokenizer.tokenize(text)
        row = self.featurizer.row(message)
        if self.embedder is not None:
            row = self.embedder.extend_row(row, text, self.featurizer.size)
        return self._parse_row(message, row)

    def parse_batch(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """`parse` of each text, in order (for evaluation); sentence embeddings, if any, in batches."""
        if self.embedder is None:
            return [self.parse(text) for text in texts]
        results: list[dict[str, Any]] = [_empty_parse(text) for text in texts]
        wanted = [i for i, text in enumerate(texts) if text.strip()]
        messages = [self.tokenizer.tokenize(texts[i]) for i in wanted]
        rows = self.featurizer.matrix(messages)
        rows = self.embedder.extend_matrix(rows, [texts[i] for i in wanted])
        for number, (i, message) in enumerate(zip(wanted, messages, strict=True)):
            row = rows[number]
            results[i] = self._parse_row(message, (row.indices.astype(np.int32), row.data.astype(np.float32)))
        return results

    def _parse_row(self, message: TokenizedText, row: SparseRow) -> dict[str, Any]:
        intent, ranking = self._classify(row)
        result: dict[str, Any] = {
            "text": message.text,
            "intent": intent,
            "entities": self._entities(message),
            "intent_ranking": ranking,
        }
        if self.selectors:
            result["response_selector"] = self._select_responses(row)
        return result

    def _classify(self, row: SparseRow) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        model = self.intent_model
        if model is None:
            return {"name": None, "confidence": 0.0}, []
        confidences = model.confidences(row)
        order = np.argsort(-confidences, kind="stable")
        shown = order[: self._ranking_length] if self._ranking_length > 0 else order
        values = confidences.tolist()  # Python floats and ints: reading an array item by item boxes each one
        labels = model.labels
        ranking = [_ranked(labels[i], values[i]) for i in shown.tolist()]
        fallback = self.spec.fallback
        if fallback is not None and _should_fall_back(values, order[:2].tolist(), fallback):
            ranking.insert(0, _ranked(FALLBACK_INTENT, fallback.threshold))
        # the intent is the ranking's first entry itself, not a copy: each user message of a conversation keeps
        # its parse, and a copy was a tenth of it; parses are read, never changed in place
        return ranking[0], ranking

    def _entities(self, message: TokenizedText) -> list[EntityDict]:
        if not self.entity_components:
            return []
        found = [component.extract(message.text, message.doc) for _, component in self.entity_components]
        entities = merge_entities(found)
        for processor in self._processors:
            entities = processor.process(entities)
        return entities

    def _select_responses(self, row: SparseRow) -> dict[str, Any]:
        output: dict[str, Any] = {"all_retrieval_intents": [s.retrieval_intent for s in self.selectors]}
        for selector in self.selectors:
            output[selector.retrieval_intent] = selector.select(row)
        return output

    # --- saving and loading ---------------------------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        """Write the model as a folder (see `bot.nlu.artefact` for its layout)."""
        arrays: dict[str, npt.NDArray[Any]] = {"idf": self.featurizer.idf}
        if self.intent_model is not None:
            arrays.update({f"intent_{k}": v for k, v in self.intent_model.arrays().items()})
        for number, selector in enumerate(self.selectors):
            arrays.update({f"selector{number}_{k}": v for k, v in selector.model.arrays().items()})
        folders = [f"{number:02d}-{spec.component}" for number, (spec, _) in enumerate(self.entity_components)]
        manifest = {
            "format": artefact.NLU_FORMAT,
            "conductor_version": __version__,
            "spacy_version": spacy_version(),
            "fingerprint": self.fingerprint,
            "spec": self.spec.as_dict(),
            "blocks": self.featurizer.block_descriptions(),
            "intent": self.intent_model.description() if self.intent_model else None,
            "selectors": [s.description() for s in self.selectors],
            "entities": [
                {"component": spec.component, "options": spec.options, "folder": folder}
                for (spec, _), folder in zip(self.entity_components, folders, strict=True)
            ],
        }

        def write_parts(staging: Path) -> None:
            (staging / _TOKENIZER_DIR).mkdir()
            self.tokenizer.save(staging / _TOKENIZER_DIR)
            for folder, (_, component) in zip(folders, self.entity_components, strict=True):
                target = staging / _ENTITIES_DIR / folder
                target.mkdir(parents=True)
                component.save(target)

        artefact.write_artefact(Path(directory), manifest, self.featurizer.vocabularies, arrays, write_parts)

    @classmethod
    def load(cls, directory: str | Path) -> NLUPipeline:
        """Load a model `save` wrote; a damaged, edited or incompatible model is a `ConductorError`."""
        folder = Path(directory)
        manifest = artefact.read_manifest(folder)
        with ThreadPoolExecutor(max_workers=1) as pool:
            # Checksums and arrays (I/O and hashing, which release the GIL) beside spaCy's set-up.
            files = pool.submit(_read_verified, folder, manifest)
            _warm_tokenizer(manifest)
            vocabularies, arrays = files.result()
        try:
            spec = PipelineSpec.from_dict(manifest["spec"])
            blocks = [block_from_settings(b["kind"], b["settings"], float(b["weight"])) for b in manifest["blocks"]]
            featurizer = SparseFeaturizer(blocks, vocabularies, arrays["idf"])
            embedder = SentenceEmbedder(spec.dense.model, spec.dense.weight) if spec.dense else None
            size = featurizer.size + (embedder.size if embedder else 0)
            intent = manifest["intent"]
            intent_model = _model_from(intent, arrays, "intent", size) if intent is not None else None
            selectors = [
                ResponseSelector(
                    str(s["retrieval_intent"]),
                    _model_from(s, arrays, f"selector{number}", size),
                    dict(s["responses"]),
                    int(s["ranking_length"]),
                )
                for number, s in enumerate(manifest["selectors"])
            ]
            entity_entries = [(str(e["component"]), dict(e["options"]), str(e["folder"])) for e in manifest["entities"]]
            fingerprint = str(manifest["fingerprint"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ConductorError.single(
                f"the NLU model is malformed ({type(exc).__name__}: {exc})",
                folder / artefact.MANIFEST_FILE,
                hint=_RETRAIN,
            ) from None
        tokenizer = Tokenizer.load(folder / _TOKENIZER_DIR)
        components: list[tuple[EntityComponentSpec, EntityExtractor]] = []
        for component, options, sub in entity_entries:
            extractor_class = _entity_class(component)
            components.append(
                (EntityComponentSpec(component, options), extractor_class.load(folder / _ENTITIES_DIR / sub))
            )
        return cls(spec, tokenizer, featurizer, intent_model, selectors, components, fingerprint, embedder)

    @staticmethod
    def saved_fingerprint(directory: str | Path) -> str | None:
        """The training fingerprint of the model in `directory` (None if there is none): compare it with
        `training_fingerprint(data, config, language)` to decide whether training again is needed."""
        return artefact.saved_fingerprint(Path(directory))


def _empty_parse(text: str) -> dict[str, Any]:
    return {"text": text, "intent": {"name": None, "confidence": 0.0}, "entities": [], "intent_ranking": []}


def _read_verified(folder: Path, manifest: dict[str, Any]) -> tuple[Any, dict[str, npt.NDArray[Any]]]:
    artefact.verify_files(folder, manifest)
    return artefact.read_json_file(folder / artefact.VOCABULARY_FILE), artefact.read_arrays(folder)


def _warm_tokenizer(manifest: Mapping[str, Any]) -> None:
    """Build the blank spaCy pipeline the model names (cached), while its files are being checked."""
    spec = manifest.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("language"), str) and spec.get("spacy_model") is None:
        with suppress(ConductorError):
            blank_language(spec["language"])


def _should_fall_back(confidences: list[float], best: list[int], fallback: FallbackSpec) -> bool:
    """FallbackClassifier's rule, given the confidences and the indices of the best two (or one)."""
    top = confidences[best[0]]
    if top < fallback.threshold:
        return True
    return len(best) > 1 and top - confidences[best[1]] < fallback.ambiguity_threshold


def _linear_settings(spec: ClassifierSpec) -> LinearSettings:
    return LinearSettings(spec.algorithm, spec.C, spec.max_iter, spec.class_weight_balanced, spec.seed)


def _build_blocks(
    specs: Sequence[FeatureBlockSpec], data: TrainingData
) -> tuple[list[FeatureBlock], list[VocabularyLimits]]:
    blocks: list[FeatureBlock] = []
    limits: list[VocabularyLimits] = []
    for spec in specs:
        options = spec.options
        if spec.kind == "word":
            blocks.append(WordNgrams(options["min_ngram"], options["max_ngram"], options["lowercase"]))
        elif spec.kind in ("char", "char_wb"):
            blocks.append(CharNgrams(spec.kind, options["min_ngram"], options["max_ngram"], options["lowercase"]))
        elif spec.kind == "regex":
            blocks.append(
                RegexMatches.from_data(
                    data,
                    options["case_sensitive"],
                    options["use_word_boundaries"],
                    options["use_regexes"],
                    options["use_lookup_tables"],
                )
            )
        else:
            blocks.append(LexicalTraits())
        limits.append(
            VocabularyLimits(options.get("min_df", 1), options.get("max_df", 1.0), options.get("max_features"))
        )
    return blocks, limits


def _train_selectors(
    spec: PipelineSpec, data: TrainingData, intents: list[str], matrix: Any, say: Progress
) -> list[ResponseSelector]:
    available = data.retrieval_intents
    selectors: list[ResponseSelector] = []
    for selector_spec in spec.response_selectors:
        wanted = [selector_spec.retrieval_intent] if selector_spec.retrieval_intent else available
        for retrieval_intent in wanted:
            if retrieval_intent not in available:
                say(f"notice: ResponseSelector: no examples of the retrieval intent {retrieval_intent!r}; skipped")
                continue
            if any(s.retrieval_intent == retrieval_intent for s in selectors):
                continue
            rows = [i for i, intent in enumerate(intents) if intent.split("/", 1)[0] == retrieval_intent]
            labels = [intents[i] for i in rows if "/" in intents[i]]
            rows = [i for i in rows if "/" in intents[i]]
            say(f"Training the response selector for {retrieval_intent} ({len(set(labels))} responses)…")
            model = train_linear_model(matrix[rows], labels, LinearSettings())
            responses = {
                key: list(data.responses.get(f"utter_{key}", [])) for key in model.labels
            }
            selectors.append(ResponseSelector(retrieval_intent, model, responses, selector_spec.ranking_length))
    return selectors


def _entity_class(component: str) -> type[EntityExtractor]:
    found = ENTITY_EXTRACTORS.get(component)
    if found is None:
        raise ConductorError.single(
            f"this Conductor has no entity component {component!r}",
            hint="Train the model again with this version of Conductor.",
        )
    return cast(type[EntityExtractor], found)


def _model_from(
    description: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]], prefix: str, features: int
) -> LinearModel:
    weights = arrays[f"{prefix}_weights"].astype(np.float32, copy=False)
    bias = arrays[f"{prefix}_bias"].astype(np.float32, copy=False)
    labels = [str(label) for label in description["labels"]]
    if weights.ndim != 2 or weights.shape[1] != len(labels) or bias.shape != (len(labels),) or (
        weights.shape[0] != features
    ):
        raise ValueError(f"{prefix} weights do not match its {len(labels)} labels")
    return LinearModel(labels, weights, bias, float(description["temperature"]))
