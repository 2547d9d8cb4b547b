"""The entity extractor registry and the rule combining several extractors' findings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import spacy

from bot.nlu.components import EntityDict, EntityExtractor
from bot.nlu.entities import (
    ENTITY_EXTRACTORS,
    EntityProcessor,
    EntitySynonymMapper,
    NumberEntityExtractor,
    RegexEntityExtractor,
    merge_entities,
)
from bot.nlu.entity_common import make_entity
from bot.project.nlu_data import EntitySpan, LookupTable, Message, TrainingData


@pytest.mark.parametrize("name", sorted(ENTITY_EXTRACTORS))
def test_registry_builds_components_that_keep_the_contract(name: str, tmp_path: Path) -> None:
    component_class: Any = ENTITY_EXTRACTORS[name]
    component = component_class()
    assert isinstance(component, EntityExtractor)
    assert component.name == name
    component.train(TrainingData(), spacy.blank("en"))
    component.save(tmp_path)
    assert isinstance(component_class.load(tmp_path), component_class)


def test_only_the_synonym_mapper_is_a_processor() -> None:
    assert [n for n, c in ENTITY_EXTRACTORS.items() if issubclass(c, EntityProcessor)] == ["EntitySynonymMapper"]


def _e(entity: str, start: int, end: int, extractor: str, confidence: float = 1.0) -> EntityDict:
    return make_entity(entity, "x" * (end - start), start, end, extractor, confidence)


def test_same_entity_on_the_same_span_is_kept_once_with_the_higher_confidence() -> None:
    crf = [_e("city", 0, 5, "CRFEntityExtractor", 0.8)]
    regex = [_e("city", 0, 5, "RegexEntityExtractor", 1.0)]
    assert merge_entities([crf, regex]) == regex


def test_equal_spans_and_confidence_keep_the_earlier_extractor() -> None:
    first, second = [_e("city", 0, 5, "A")], [_e("city", 0, 5, "B")]
    assert merge_entities([first, second]) == first
    assert merge_entities([second, first]) == second


def test_overlapping_spans_of_one_entity_keep_the_longer() -> None:
    short = [_e("city", 0, 3, "RegexEntityExtractor", 1.0)]
    long = [_e("city", 0, 8, "CRFEntityExtractor", 0.6)]
    assert merge_entities([short, long]) == long


def test_different_entities_on_one_span_are_all_kept_in_text_order() -> None:
    number = [_e("number", 4, 5, "NumberEntityExtractor"), _e("number", 0, 1, "NumberEntityExtractor")]
    guests = [_e("guests", 4, 5, "CRFEntityExtractor", 0.9)]
    merged = merge_entities([number, guests])
    assert [(e["entity"], e["start"]) for e in merged] == [("number", 0), ("number", 4), ("guests", 4)]


def test_roles_count_as_different_entities() -> None:
    departure = {**_e("city", 0, 5, "A"), "role": "departure"}
    destination = {**_e("city", 0, 5, "B"), "role": "destination"}
    assert merge_entities([[departure], [destination]]) == [departure, destination]


def test_extractors_then_synonyms_on_one_message() -> None:
    nlp = spacy.blank("en")
    data = TrainingData(
        examples=[Message("i live in nyc", "inform", [EntitySpan(10, 13, "nyc", "city", "New York")])],
        synonyms={"nyc": "New York"},
        lookups=[LookupTable("city", ["nyc", "berlin"])],
    )
    regex, numbers, synonyms = RegexEntityExtractor(), NumberEntityExtractor(), EntitySynonymMapper()
    for component in (regex, numbers, synonyms):
        component.train(data, nlp)
    text = "two tickets from NYC"
    doc = nlp.make_doc(text)
    merged = synonyms.process(merge_entities([regex.extract(text, doc), numbers.extract(text, doc)]))
    assert [(e["entity"], e["value"], e.get("processors")) for e in merged] == [
        ("number", 2, None),
        ("city", "New York", ["EntitySynonymMapper"]),
    ]
