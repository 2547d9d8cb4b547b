"""The trained pipeline end to end: Rasa's parse shape, fallback, retrieval intents, entities, edges."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.errors import ConductorError
from bot.nlu import FALLBACK_INTENT, Interpreter, NLUPipeline, training_fingerprint
from bot.project.nlu_data import Message, TrainingData
from tests.nlu.conftest import small_training_data, train_small


def test_parse_has_rasa_shape(small_pipeline: NLUPipeline) -> None:
    result = small_pipeline.parse("book a flight to Berlin")
    assert set(result) == {"text", "intent", "entities", "intent_ranking", "response_selector"}
    assert result["text"] == "book a flight to Berlin"
    assert result["intent"]["name"] == "book_flight"
    assert result["intent"] == result["intent_ranking"][0]
    confidences = [r["confidence"] for r in result["intent_ranking"]]
    assert confidences == sorted(confidences, reverse=True)
    assert all(isinstance(c, float) and 0 <= c <= 1 for c in confidences)
    assert sum(confidences) == pytest.approx(1.0)
    names = [r["name"] for r in result["intent_ranking"]]
    assert sorted(names) == sorted(small_pipeline.intents)
    json.dumps(result)
    # each entry an ordinary dict of two keys in Rasa's order (made as key-sharing dicts, to be smaller)
    for entry in result["intent_ranking"]:
        assert type(entry) is dict and list(entry) == ["name", "confidence"]
    assert json.loads(json.dumps(result["intent_ranking"])) == result["intent_ranking"]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hello there", "greet"),
        ("bye, see you", "goodbye"),
        ("I want a flight to Rome", "book_flight"),
        ("is it raining in Berlin", "check_weather"),
        ("one pepperoni pizza please", "order_pizza"),
        ("thanks", "thank"),
    ],
)
def test_parse_finds_the_intent(small_pipeline: NLUPipeline, text: str, intent: str) -> None:
    assert small_pipeline.parse(text)["intent"]["name"] == intent


def test_ranking_is_cut_to_ranking_length() -> None:
    data = TrainingData(
        examples=[Message(f"message about topic{i} number {j}", f"intent_{i}") for i in range(14) for j in range(3)]
    )
    pipeline = NLUPipeline.train(data, [{"name": "WhitespaceTokenizer"}, {"name": "CountVectorsFeaturizer"},
                                        {"name": "DIETClassifier", "entity_recognition": False}], "en")
    assert len(pipeline.parse("message about topic3")["intent_ranking"]) == 10
    short = NLUPipeline.train(data, [{"name": "CountVectorsFeaturizer"},
                                     {"name": "LogisticRegressionClassifier", "ranking_length": 3}], "en")
    assert len(short.parse("message about topic3")["intent_ranking"]) == 3


def test_retrieval_intent_is_classified_by_its_base_and_answered_by_the_selector(
    small_pipeline: NLUPipeline,
) -> None:
    result = small_pipeline.parse("what's your name?")
    assert result["intent"]["name"] == "faq"
    selector = result["response_selector"]
    assert selector["all_retrieval_intents"] == ["faq"]
    response = selector["faq"]["response"]
    assert response["intent_response_key"] == "faq/ask_name"
    assert response["utter_action"] == "utter_faq/ask_name"
    assert response["responses"] == [{"text": "I am Conductor."}, {"text": "People call me Conductor."}]
    assert response["confidence"] == selector["faq"]["ranking"][0]["confidence"] > 0.5
    assert {r["intent_response_key"] for r in selector["faq"]["ranking"]} == {"faq/ask_name", "faq/ask_age"}
    assert small_pipeline.parse("how old are you")["response_selector"]["faq"]["response"][
        "intent_response_key"
    ] == "faq/ask_age"


def test_no_response_selector_key_without_retrieval_intents() -> None:
    data = TrainingData(examples=[Message("hi", "greet"), Message("bye", "goodbye")])
    assert "response_selector" not in NLUPipeline.train(data, None, "en").parse("hi")


def test_entities_from_the_extractors_with_synonyms_applied(small_pipeline: NLUPipeline) -> None:
    entities = small_pipeline.parse("get me a flight to NYC")["entities"]
    assert len(entities) == 1
    entity = entities[0]
    assert (entity["entity"], entity["start"], entity["end"], entity["value"]) == ("city", 19, 22, "New York")
    assert entity["extractor"] == "CRFEntityExtractor"
    assert entity["processors"] == ["EntitySynonymMapper"]
    assert 0 < entity["confidence_entity"] <= 1


def test_fallback_goes_on_top_and_keeps_the_ranking() -> None:
    pipeline = train_small(
        [
            {"name": "WhitespaceTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "DIETClassifier", "entity_recognition": False},
            {"name": "FallbackClassifier", "threshold": 0.999999, "ambiguity_threshold": 0.0},
        ]
    )
    result = pipeline.parse("zzz qqq")
    assert result["intent"] == {"name": FALLBACK_INTENT, "confidence": 0.999999}
    assert result["intent_ranking"][0] == result["intent"]
    rest = result["intent_ranking"][1:]
    assert [r["name"] for r in rest] and FALLBACK_INTENT not in [r["name"] for r in rest]
    assert rest[0]["confidence"] < 0.999999


def test_ambiguity_threshold_falls_back_when_the_top_two_are_close() -> None:
    pipeline = train_small(
        [{"name": "CountVectorsFeaturizer"}, {"name": "SklearnIntentClassifier"},
         {"name": "FallbackClassifier", "threshold": 0.0, "ambiguity_threshold": 1.0}]
    )
    result = pipeline.parse("hello")
    assert result["intent"]["name"] == FALLBACK_INTENT
    assert result["intent"]["confidence"] == 0.0
    assert result["intent_ranking"][1]["name"] == "greet"


def test_confident_messages_do_not_fall_back(small_pipeline: NLUPipeline) -> None:
    assert small_pipeline.spec.fallback is not None
    assert small_pipeline.parse("good morning")["intent"]["name"] == "greet"


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_has_no_intent(small_pipeline: NLUPipeline, text: str) -> None:
    assert small_pipeline.parse(text) == {
        "text": text,
        "intent": {"name": None, "confidence": 0.0},
        "entities": [],
        "intent_ranking": [],
    }


@pytest.mark.parametrize("text", ["👋 hello 😊", "héllo wörld ñ", "你好", "?!?!", "🍕🍕🍕"])
def test_unicode_and_emoji_parse(small_pipeline: NLUPipeline, text: str) -> None:
    result = small_pipeline.parse(text)
    assert result["text"] == text
    assert result["intent"]["name"] in [*small_pipeline.intents, FALLBACK_INTENT]
    assert len(result["intent_ranking"]) >= len(small_pipeline.intents)
    json.dumps(result, ensure_ascii=False)


def test_a_very_long_message_parses(small_pipeline: NLUPipeline) -> None:
    text = ("I want to order a pizza " * 500)[:10_000]
    assert len(text) == 10_000
    result = small_pipeline.parse(text)
    assert result["intent"]["name"] == "order_pizza"
    for entity in result["entities"]:
        assert text[entity["start"] : entity["end"]]


def test_an_intent_with_one_example_is_learned(small_pipeline: NLUPipeline) -> None:
    assert small_pipeline.parse("thanks")["intent"]["name"] == "thank"


def test_a_single_intent_gets_full_confidence() -> None:
    data = TrainingData(examples=[Message("hello", "greet"), Message("hi", "greet")])
    result = NLUPipeline.train(data, None, "en").parse("anything at all")
    assert result["intent"] == {"name": "greet", "confidence": 1.0}


def test_examples_without_intent_or_text_are_skipped() -> None:
    data = TrainingData(examples=[Message("hello", "greet"), Message("   ", "bye"), Message("no intent")])
    assert NLUPipeline.train(data, None, "en").intents == ["greet"]


def test_no_intent_classifier_means_no_intent() -> None:
    pipeline = train_small([{"name": "WhitespaceTokenizer"}, {"name": "RegexEntityExtractor"}])
    result = pipeline.parse("fly to Berlin")
    assert result["intent"] == {"name": None, "confidence": 0.0}
    assert result["intent_ranking"] == []
    assert [(e["entity"], e["value"], e["extractor"]) for e in result["entities"]] == [
        ("city", "Berlin", "RegexEntityExtractor")
    ]


def test_parse_batch_equals_parse(small_pipeline: NLUPipeline) -> None:
    texts = ["hi", "fly me to Paris", "", "how old are you"]
    assert small_pipeline.parse_batch(texts) == [small_pipeline.parse(t) for t in texts]


def test_training_is_deterministic() -> None:
    # Without the CRF entity extractor, which is the entity side's (its own determinism is tested there).
    config = [
        {"name": "WhitespaceTokenizer"},
        {"name": "RegexFeaturizer"},
        {"name": "LexicalSyntacticFeaturizer"},
        {"name": "CountVectorsFeaturizer", "min_ngram": 1, "max_ngram": 2},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 5},
        {"name": "DIETClassifier", "entity_recognition": False},
        {"name": "ResponseSelector"},
    ]
    first, second = train_small(config), train_small(config)
    assert first.intent_model is not None and second.intent_model is not None
    assert np.array_equal(first.intent_model.weights, second.intent_model.weights)
    assert first.intent_model.temperature == second.intent_model.temperature
    for text in ["hello", "a flight to Rome", "what is your age"]:
        assert first.parse(text) == second.parse(text)


def test_saved_and_loaded_pipeline_parses_identically(
    small_pipeline: NLUPipeline, saved_small_pipeline: Path
) -> None:
    loaded = Interpreter.load(saved_small_pipeline)
    for text in ["hello", "get me a flight to NYC", "who are you", "🙂", "x" * 300]:
        assert loaded.parse(text) == small_pipeline.parse(text)
    assert loaded.fingerprint == small_pipeline.fingerprint
    assert loaded.notices == small_pipeline.notices


def test_fingerprint_tells_whether_training_again_is_needed(
    small_pipeline: NLUPipeline, saved_small_pipeline: Path
) -> None:
    data = small_training_data()
    assert NLUPipeline.saved_fingerprint(saved_small_pipeline) == training_fingerprint(data, None, "en")
    assert small_pipeline.fingerprint == training_fingerprint(data, None, "en")
    assert training_fingerprint(data, [{"name": "CountVectorsFeaturizer"}], "en") != small_pipeline.fingerprint
    assert training_fingerprint(data, None, "de") != small_pipeline.fingerprint
    data.examples[0] = Message("hello!", "greet")
    assert training_fingerprint(data, None, "en") != small_pipeline.fingerprint
    assert NLUPipeline.saved_fingerprint(saved_small_pipeline.parent / "missing") is None


def test_progress_reports_steps_and_notices() -> None:
    messages: list[str] = []
    NLUPipeline.train(
        small_training_data(),
        [{"name": "CountVectorsFeaturizer"}, {"name": "DIETClassifier", "epochs": 100}],
        "en",
        progress=messages.append,
    )
    assert any(m.startswith("notice: DIETClassifier") and "epochs" in m for m in messages)
    assert any("Training the intent classifier" in m for m in messages)
    assert any("no ResponseSelector" in m for m in messages)


def test_unknown_language_is_a_clear_error() -> None:
    with pytest.raises(ConductorError, match="spaCy has no language 'klingon'"):
        NLUPipeline.train(small_training_data(), None, "klingon")


def test_unknown_component_is_a_clear_error() -> None:
    with pytest.raises(ConductorError, match="unknown NLU component 'MagicClassifier'") as caught:
        NLUPipeline.train(small_training_data(), [{"name": "MagicClassifier"}], "en")
    assert "DIETClassifier" in str(caught.value)


def test_diet_named_classifier_is_surer_with_the_same_ranking() -> None:
    data = small_training_data()
    features = [{"name": "WhitespaceTokenizer"}, {"name": "CountVectorsFeaturizer"},
                {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 4}]
    calibrated = NLUPipeline.train(data, [*features, {"name": "LinearIntentClassifier"}], "en")
    diet = NLUPipeline.train(data, [*features, {"name": "DIETClassifier", "entity_recognition": False}], "en")
    assert calibrated.intent_model is not None and diet.intent_model is not None
    assert diet.intent_model.temperature == pytest.approx(calibrated.intent_model.temperature * 0.5)
    for text in ("I would like a flight", "pizza", "weather tomorrow?"):
        sure, honest = diet.parse(text)["intent_ranking"], calibrated.parse(text)["intent_ranking"]
        assert [r["name"] for r in sure] == [r["name"] for r in honest]
        assert sure[0]["confidence"] > honest[0]["confidence"]
