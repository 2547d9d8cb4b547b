"""NumberEntityExtractor: digits, decimals and English number words as `number` entities."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy

from bot.nlu.entities import NumberEntityExtractor
from bot.nlu.entity_numbers import find_numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("twenty five", [("twenty five", 25)]),
        ("twenty-five people", [("twenty-five", 25)]),
        ("3.5", [("3.5", 3.5)]),
        ("it is 3.0 now", [("3.0", 3.0)]),
        ("a hundred", [("a hundred", 100)]),
        ("one hundred and five", [("one hundred and five", 105)]),
        ("Two Thousand Three Hundred", [("Two Thousand Three Hundred", 2300)]),
        ("seventy seven thousand", [("seventy seven thousand", 77000)]),
        ("fifteen hundred", [("fifteen hundred", 1500)]),
        ("three point one four", [("three point one four", 3.14)]),
        ("5 million", [("5 million", 5_000_000)]),
        ("2.5 thousand", [("2.5 thousand", 2500)]),
        ("1.1 million", [("1.1 million", 1_100_000)]),
        ("12345678901234567890", [("12345678901234567890", 12345678901234567890)]),
        ("1,000,000 and -3", [("1,000,000", 1_000_000), ("-3", -3)]),
        ("zero", [("zero", 0)]),
        ("five six", [("five", 5), ("six", 6)]),
        ("five and six", [("five", 5), ("six", 6)]),
        ("10:30", [("10", 10), ("30", 30)]),
        ("I need 2 tickets for twelve people", [("2", 2), ("twelve", 12)]),
        ("a lot of one-way trips", [("one", 1)]),
        ("5th floor at 3pm in b12, version 3.5.1", []),
        ("someone is alone", []),
        ("", []),
    ],
)
def test_numbers(text: str, expected: list[tuple[str, int | float]]) -> None:
    found = [(text[start:end], value) for start, end, value in find_numbers(text)]
    assert found == expected
    assert [type(v) for _, v in found] == [type(v) for _, v in expected]


def test_entities_in_rasa_shape_through_unicode_and_a_long_text(tmp_path: Path) -> None:
    nlp = spacy.blank("en")
    extractor = NumberEntityExtractor()
    text = "🎉 vingt — ninety nine bottles ✨ "
    assert extractor.extract(text, nlp.make_doc(text)) == [
        {
            "entity": "number",
            "start": 10,
            "end": 21,
            "value": 99,
            "confidence_entity": 1.0,
            "extractor": "NumberEntityExtractor",
        }
    ]
    long_text = text * 320
    assert len(long_text) > 10_000
    assert len(extractor.extract(long_text, nlp.make_doc(long_text))) == 320
    extractor.save(tmp_path)
    loaded = NumberEntityExtractor.load(tmp_path)
    assert loaded.extract(text, nlp.make_doc(text)) == extractor.extract(text, nlp.make_doc(text))
