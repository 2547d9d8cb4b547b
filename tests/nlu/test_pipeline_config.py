"""config.yml's pipeline read into a spec: Rasa's names, notices, defaults and mistakes."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import load_model_config
from bot.errors import ConductorError
from bot.nlu.pipeline_config import (
    DEFAULT_PIPELINE,
    DIET_TEMPERATURE_FACTOR,
    KNOWN_COMPONENTS,
    ClassifierSpec,
    EntityComponentSpec,
    FallbackSpec,
    FeatureBlockSpec,
    PipelineSpec,
    ResponseSelectorSpec,
    resolve_pipeline,
)
from tests.conftest import RASA_PROJECTS

RASA_DEFAULT = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    {"name": "DIETClassifier", "epochs": 100},
    {"name": "EntitySynonymMapper"},
    {"name": "ResponseSelector", "epochs": 100},
    {"name": "FallbackClassifier", "threshold": 0.3, "ambiguity_threshold": 0.1},
]


def _notices(spec: PipelineSpec, component: str) -> list[str]:
    return [n for n in spec.notices if n.startswith(component + ":")]


def test_default_pipeline_when_config_names_none() -> None:
    spec = resolve_pipeline(None, "en")
    assert [b.kind for b in spec.blocks] == ["regex", "lexical", "word", "char_wb"]
    assert spec.blocks[2].options["max_ngram"] == 2
    assert (spec.blocks[3].options["min_ngram"], spec.blocks[3].options["max_ngram"]) == (2, 5)
    assert spec.classifier == ClassifierSpec()
    assert spec.fallback == FallbackSpec(0.3, 0.1)
    assert [e.component for e in spec.entities] == ["CRFEntityExtractor", "EntitySynonymMapper"]
    assert spec.response_selectors == (ResponseSelectorSpec(),)
    assert spec.notices == ()
    assert DEFAULT_PIPELINE[0] == {"name": "WhitespaceTokenizer"}


def test_rasa_default_pipeline_maps_with_notices() -> None:
    spec = resolve_pipeline(RASA_DEFAULT, "en")
    assert [b.kind for b in spec.blocks] == ["regex", "lexical", "word", "char_wb"]
    assert (spec.blocks[2].options["min_ngram"], spec.blocks[2].options["max_ngram"]) == (1, 1)
    assert (spec.blocks[3].options["min_ngram"], spec.blocks[3].options["max_ngram"]) == (1, 4)
    diet = _notices(spec, "DIETClassifier")
    assert any("linear intent classifier" in n and "CRF entity extractor" in n for n in diet)
    assert any("epochs" in n for n in diet)
    assert any("epochs" in n for n in _notices(spec, "ResponseSelector"))
    assert len(_notices(spec, "CountVectorsFeaturizer")) == 1
    assert all("\n" not in n for n in spec.notices)


def test_unknown_component_names_it_and_lists_the_known_ones() -> None:
    with pytest.raises(ConductorError) as caught:
        resolve_pipeline([{"name": "WhitespaceTokenizer"}, {"name": "ConveRTFeaturizer"}], "en")
    text = str(caught.value)
    assert "pipeline item 2: unknown NLU component 'ConveRTFeaturizer'" in text
    assert all(name in text for name in KNOWN_COMPONENTS)


@pytest.mark.parametrize("item", [{"title": "x"}, "WhitespaceTokenizer", {"name": 3}])
def test_item_without_a_name_is_an_error(item: Any) -> None:
    with pytest.raises(ConductorError, match="pipeline item 1: unknown NLU component"):
        resolve_pipeline([item], "en")


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"name": "CountVectorsFeaturizer", "analyzer": "chars"}, "option 'analyzer' is 'chars'"),
        ({"name": "CountVectorsFeaturizer", "min_ngram": "two"}, "option 'min_ngram' is 'two'"),
        ({"name": "CountVectorsFeaturizer", "min_ngram": 3, "max_ngram": 2}, "max_ngram \\(2\\) is below"),
        ({"name": "FallbackClassifier", "threshold": 1.5}, "option 'threshold' is 1.5"),
        ({"name": "FallbackClassifier", "ambiguity_threshold": True}, "option 'ambiguity_threshold'"),
        ({"name": "RegexFeaturizer", "case_sensitive": "yes"}, "option 'case_sensitive' is 'yes'"),
        ({"name": "SklearnIntentClassifier", "C": [0]}, "option 'C' is \\[0\\]"),
        ({"name": "DIETClassifier", "random_seed": -1}, "option 'random_seed' is -1"),
    ],
)
def test_wrong_option_values_are_errors(item: dict[str, Any], message: str) -> None:
    with pytest.raises(ConductorError, match=message) as caught:
        resolve_pipeline([item], "en")
    assert caught.value.problems[0].hint


def test_count_vectors_options_are_honoured() -> None:
    spec = resolve_pipeline(
        [{"name": "CountVectorsFeaturizer", "analyzer": "char", "min_ngram": 3, "max_ngram": 6,
          "lowercase": False, "min_df": 2, "max_df": 0.5, "max_features": 1000, "OOV_token": "oov"}],
        "en",
    )
    assert spec.blocks == (
        FeatureBlockSpec(
            "char",
            {"min_ngram": 3, "max_ngram": 6, "lowercase": False, "min_df": 2.0, "max_df": 0.5,
             "max_features": 1000},
        ),
    )
    assert any("OOV_token" in n for n in _notices(spec, "CountVectorsFeaturizer"))


def test_classifiers_map_to_linear_models() -> None:
    sklearn = resolve_pipeline([{"name": "SklearnIntentClassifier", "C": [5, 10], "kernels": ["rbf"]}], "en")
    assert sklearn.classifier == ClassifierSpec(C=5.0)
    assert any("no grid search" in n for n in sklearn.notices)
    assert any("linear kernel" in n for n in sklearn.notices)
    logistic = resolve_pipeline([{"name": "LogisticRegressionClassifier", "max_iter": 50, "random_state": 7}], "en")
    assert logistic.classifier == ClassifierSpec(algorithm="logistic", C=10.0, max_iter=50, seed=7)
    diet = resolve_pipeline([{"name": "DIETClassifier", "entity_recognition": False, "random_seed": 3}], "en")
    assert diet.classifier is not None and diet.classifier.seed == 3
    assert diet.entities == ()
    only_entities = resolve_pipeline([{"name": "DIETClassifier", "intent_classification": False}], "en")
    assert only_entities.classifier is None
    assert only_entities.entities == (EntityComponentSpec("CRFEntityExtractor", {}),)


def test_entity_components_come_from_the_entity_registry() -> None:
    spec = resolve_pipeline(
        [{"name": "RegexEntityExtractor", "use_lookup_tables": False}, {"name": "CRFEntityExtractor"},
         {"name": "EntitySynonymMapper"}],
        "en",
    )
    assert spec.entities == (
        EntityComponentSpec("RegexEntityExtractor", {"use_lookup_tables": False}),
        EntityComponentSpec("CRFEntityExtractor", {}),
        EntityComponentSpec("EntitySynonymMapper", {}),
    )


def test_duckling_maps_to_the_number_extractor_or_is_skipped() -> None:
    numbers = resolve_pipeline([{"name": "DucklingEntityExtractor", "url": "http://localhost:8000"}], "en")
    assert numbers.entities == (EntityComponentSpec("NumberEntityExtractor", {}),)
    assert any("no Duckling server" in n for n in numbers.notices)
    mixed = resolve_pipeline([{"name": "DucklingEntityExtractor", "dimensions": ["number", "time"]}], "en")
    assert any("not extracted: time" in n for n in mixed.notices)
    times = resolve_pipeline([{"name": "DucklingEntityExtractor", "dimensions": ["time", "email"]}], "en")
    assert times.entities == ()
    assert any("skipped" in n for n in times.notices)


def test_spacy_components_without_a_pretrained_pipeline() -> None:
    spec = resolve_pipeline(
        [{"name": "SpacyNLP", "model": "xx_no_such_pipeline_sm"}, {"name": "SpacyTokenizer"},
         {"name": "SpacyFeaturizer"}, {"name": "SpacyEntityExtractor"}],
        "en",
    )
    assert spec.spacy_model is None
    assert any("not installed" in n and "blank 'en'" in n for n in _notices(spec, "SpacyNLP"))
    assert any("skipped" in n for n in _notices(spec, "SpacyEntityExtractor"))
    assert any("skipped" in n for n in _notices(spec, "SpacyFeaturizer"))
    assert spec.entities == ()
    bare = resolve_pipeline([{"name": "SpacyNLP"}], "en")
    assert any("names no pretrained pipeline" in n for n in bare.notices)


def test_a_pipeline_without_featurizers_gets_ngrams() -> None:
    spec = resolve_pipeline([{"name": "SpacyTokenizer"}, {"name": "DIETClassifier"}], "en")
    assert [b.kind for b in spec.blocks] == ["word", "char_wb"]
    assert any("no CountVectorsFeaturizer" in n for n in spec.notices)


def test_spec_round_trips_through_a_dict() -> None:
    spec = resolve_pipeline(RASA_DEFAULT, "de")
    assert PipelineSpec.from_dict(spec.as_dict()) == spec


@pytest.mark.parametrize(
    "project", sorted(p.name for p in RASA_PROJECTS.iterdir() if (p / "config.yml").exists())
)
def test_every_rasa_project_config_resolves(project: str) -> None:
    config = load_model_config(RASA_PROJECTS / project / "config.yml")
    items = [c.model_dump() for c in config.pipeline] if config.pipeline else None
    spec = resolve_pipeline(items, config.language)
    assert spec.classifier is not None


def test_diet_confidences_are_on_diets_scale_and_conductors_classifier_is_calibrated() -> None:
    diet = resolve_pipeline([{"name": "DIETClassifier"}], "en")
    assert diet.classifier is not None and diet.classifier.temperature_factor == DIET_TEMPERATURE_FACTOR < 1
    assert any("DIET's scale" in n and "LinearIntentClassifier" in n for n in _notices(diet, "DIETClassifier"))
    linear = resolve_pipeline([{"name": "LinearIntentClassifier", "C": 0.5, "random_seed": 4}], "en")
    assert linear.classifier == ClassifierSpec(C=0.5, seed=4)
    assert linear.classifier.temperature_factor == 1.0
    assert linear.entities == () and _notices(linear, "LinearIntentClassifier") == []
    with pytest.raises(ConductorError, match="option 'C'"):
        resolve_pipeline([{"name": "LinearIntentClassifier", "C": -1}], "en")
