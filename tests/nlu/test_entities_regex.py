"""RegexEntityExtractor: regexes and lookup tables as Rasa's component uses them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
import spacy
from spacy.language import Language

from bot.errors import ConductorError
from bot.nlu.components import EntityDict
from bot.nlu.entities import RegexEntityExtractor
from bot.project.annotations import parse_annotated
from bot.project.nlu_data import LookupTable, Message, RegexPattern, TrainingData


@pytest.fixture(scope="module")
def nlp() -> Language:
    return spacy.blank("en")


def _data(regexes: Sequence[RegexPattern], lookups: Sequence[LookupTable]) -> TrainingData:
    examples = []
    for line in ("my zip is [12345](zipcode)", "i live in [berlin](city)", "account [abc-1](account_no)"):
        text, entities = parse_annotated(line)
        examples.append(Message(text, "inform", entities))
    return TrainingData(examples=examples, regexes=list(regexes), lookups=list(lookups))


CITIES = LookupTable("city", ["York", "New York", "Berlin", "  ", "São Paulo"])
ZIP = RegexPattern("zipcode", r"\d{5}")
HELP_WORDS = RegexPattern("help", r"\bhelp\b")  # a regex feature, not an annotated entity


def _trained(
    nlp: Language,
    options: dict[str, object] | None = None,
    *,
    regexes: Sequence[RegexPattern] = (),
    lookups: Sequence[LookupTable] = (),
) -> RegexEntityExtractor:
    extractor = RegexEntityExtractor(options)
    extractor.train(_data(regexes, lookups), nlp)
    return extractor


def _run(extractor: RegexEntityExtractor, nlp: Language, text: str) -> list[EntityDict]:
    return extractor.extract(text, nlp.make_doc(text))


def _values(found: list[EntityDict]) -> list[tuple[str, str]]:
    return [(e["entity"], e["value"]) for e in found]


def test_regex_named_after_an_entity_extracts_it(nlp: Language) -> None:
    extractor = _trained(nlp, regexes=[ZIP, HELP_WORDS])
    found = _run(extractor, nlp, "help me, send it to 10115 please")
    assert found == [
        {
            "entity": "zipcode",
            "start": 20,
            "end": 25,
            "value": "10115",
            "confidence_entity": 1.0,
            "extractor": "RegexEntityExtractor",
        }
    ]


def test_lookup_matches_whole_words_ignoring_case_longest_first(nlp: Language) -> None:
    extractor = _trained(nlp, lookups=[CITIES])
    assert _values(_run(extractor, nlp, "From NEW YORK to berlin")) == [("city", "NEW YORK"), ("city", "berlin")]
    assert _run(extractor, nlp, "yorkshire pudding in berliner style") == []
    assert _values(_run(extractor, nlp, "voo para são paulo 🇧🇷")) == [("city", "são paulo")]


def test_lookup_falls_back_to_a_shorter_element_at_a_word_boundary(nlp: Language) -> None:
    table = LookupTable("city", ["new york city", "new york", "new", "newark"])
    extractor = _trained(nlp, lookups=[table])
    assert _values(_run(extractor, nlp, "new york cityscape, new york city and newark")) == [
        ("city", "new york"),
        ("city", "new york city"),
        ("city", "newark"),
    ]


def test_lookup_elements_with_regex_characters_match_literally(nlp: Language) -> None:
    extractor = _trained(nlp, lookups=[LookupTable("city", ["st. louis (mo)", "a+b"])])
    assert _values(_run(extractor, nlp, "to St. Louis (MO) or stX louis")) == [("city", "St. Louis (MO)")]


def test_without_word_boundaries_lookup_matches_inside_words(nlp: Language) -> None:
    extractor = _trained(nlp, {"use_word_boundaries": False}, lookups=[CITIES])
    assert _values(_run(extractor, nlp, "yorkshire")) == [("city", "york")]


def test_case_sensitive_matching(nlp: Language) -> None:
    extractor = _trained(nlp, {"case_sensitive": True}, lookups=[CITIES])
    assert _values(_run(extractor, nlp, "new york, New York and York")) == [("city", "New York"), ("city", "York")]


def test_regexes_and_lookups_can_be_switched_off(nlp: Language) -> None:
    no_regex = _trained(nlp, {"use_regexes": False}, regexes=[ZIP], lookups=[CITIES])
    assert _values(_run(no_regex, nlp, "berlin 10115")) == [("city", "berlin")]
    no_lookup = _trained(nlp, {"use_lookup_tables": False}, regexes=[ZIP], lookups=[CITIES])
    assert _values(_run(no_lookup, nlp, "berlin 10115")) == [("zipcode", "10115")]


def test_empty_long_and_unicode_text(nlp: Language) -> None:
    extractor = _trained(nlp, regexes=[ZIP], lookups=[CITIES])
    assert _run(extractor, nlp, "") == []
    text = "ping 🚀 berlin 10115 " * 500
    found = _run(extractor, nlp, text)
    assert len(text) >= 10_000 and len(found) == 1000
    assert all(text[e["start"] : e["end"]] == e["value"] for e in found)


def test_invalid_regex_is_reported_with_its_place(nlp: Language) -> None:
    broken = RegexPattern("zipcode", r"(\d{5}", file="data/nlu.yml", line=12)
    with pytest.raises(ConductorError) as caught:
        _trained(nlp, regexes=[broken])
    assert "data/nlu.yml:12" in str(caught.value) and "'zipcode'" in str(caught.value)


def test_save_and_load_round_trip(nlp: Language, tmp_path: Path) -> None:
    extractor = _trained(nlp, {"case_sensitive": True}, regexes=[ZIP], lookups=[CITIES])
    extractor.save(tmp_path)
    loaded = RegexEntityExtractor.load(tmp_path)
    assert loaded.case_sensitive
    text = "New York 10115 new york"
    assert _run(loaded, nlp, text) == _run(extractor, nlp, text)


def test_malformed_saved_patterns_are_reported(tmp_path: Path) -> None:
    (tmp_path / "patterns.json").write_text(json.dumps({"patterns": "oops"}), encoding="utf-8")
    with pytest.raises(ConductorError, match="malformed model file"):
        RegexEntityExtractor.load(tmp_path)


def test_unknown_option_is_reported() -> None:
    with pytest.raises(ConductorError, match="unknown option"):
        RegexEntityExtractor({"use_lookups": True})
