"""EntitySynonymMapper: canonical values for extracted entities."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy

from bot.errors import ConductorError
from bot.nlu.components import EntityDict
from bot.nlu.entities import EntitySynonymMapper
from bot.nlu.entity_common import make_entity
from bot.project.nlu_data import TrainingData


def _mapper() -> EntitySynonymMapper:
    mapper = EntitySynonymMapper()
    mapper.train(TrainingData(synonyms={"nyc": "New York", "big apple": "New York", "ü-bahn": "U-Bahn"}),
                 spacy.blank("en"))
    return mapper


def _entity(value: object, **extra: object) -> EntityDict:
    return {**make_entity("city", value, 0, 3, "CRFEntityExtractor"), **extra}


def test_maps_values_case_insensitively_and_notes_itself() -> None:
    mapped = _mapper().process([_entity("NYC"), _entity("Big Apple"), _entity("Ü-BAHN")])
    assert [e["value"] for e in mapped] == ["New York", "New York", "U-Bahn"]
    assert all(e["processors"] == ["EntitySynonymMapper"] for e in mapped)


def test_leaves_other_values_and_entities_alone() -> None:
    entities = [_entity("Berlin"), _entity(25), _entity("New York")]
    assert _mapper().process(entities) == entities
    assert all("processors" not in e for e in entities)


def test_keeps_earlier_processors() -> None:
    [mapped] = _mapper().process([_entity("nyc", processors=["SomethingElse"])])
    assert mapped["processors"] == ["SomethingElse", "EntitySynonymMapper"]


def test_finds_no_entities_itself() -> None:
    nlp = spacy.blank("en")
    assert _mapper().extract("nyc", nlp.make_doc("nyc")) == []


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    _mapper().save(tmp_path)
    assert EntitySynonymMapper.load(tmp_path).process([_entity("nyc")])[0]["value"] == "New York"


def test_malformed_saved_synonyms_are_reported(tmp_path: Path) -> None:
    (tmp_path / "synonyms.json").write_text('{"nyc": 3}', encoding="utf-8")
    with pytest.raises(ConductorError, match="malformed model file"):
        EntitySynonymMapper.load(tmp_path)
