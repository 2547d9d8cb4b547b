"""NumberEntityExtractor: numbers written in digits or in English words, as entity `number`.

Conductor's stand-in for Duckling's `number` dimension, without a Duckling server. It reads
* digits: `42`, `-3`, `3.5`, `1,000,000`, optionally followed by a scale word (`5 million`);
* English number words: `twenty five`, `twenty-five`, `a hundred`, `one hundred and five`,
  `two thousand three hundred`, `three point one four`.
The value is an int, or a float when the number has a decimal part. Digits glued to letters (`5th`, `3pm`,
`b12`) are not numbers. Words that cannot continue a number (`five six`) start a new one, so each of those is
its own entity.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.nlu.components import EntityDict
from bot.nlu.entity_common import ComponentOptions, make_entity
from bot.project.nlu_data import TrainingData

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

__all__ = ["NumberEntityExtractor", "find_numbers"]

ENTITY = "number"

_UNITS = {
    word: value
    for value, word in enumerate(("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"))
}
_TEENS = {
    word: value + 10
    for value, word in enumerate(
        ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
    )
}
_TENS = {
    word: (value + 2) * 10
    for value, word in enumerate(("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"))
}
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_HUNDRED = "hundred"

_TOKEN = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|[^\W\d_]+")


@dataclass
class _Token:
    text: str
    start: int
    end: int


@dataclass
class _Number:
    """A number being read token by token."""

    start: int
    end: int
    total: float = 0
    current: float = 0
    last: str = ""
    """The kind of the last token read: digits, unit, teen, ten, hundred or scale."""
    smallest_scale: int = 10**15
    written_decimal: bool = False
    """Digits with a decimal point and no scale word after them (`3.0`): the value stays a float."""

    @property
    def value(self) -> int | float:
        whole = self.total + self.current
        if isinstance(whole, float):
            whole = round(whole, 9)  # 1.1 million is 1100000, not 1100000.0000000002
        if self.written_decimal or not float(whole).is_integer():
            return float(whole)
        return int(whole)


def _kind(word: str) -> str | None:
    if word in _UNITS:
        return "unit"
    if word in _TEENS:
        return "teen"
    if word in _TENS:
        return "ten"
    if word == _HUNDRED:
        return "hundred"
    if word in _SCALES:
        return "scale"
    return None


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _can_follow(number: _Number, kind: str, word: str) -> bool:
    last = number.last
    if kind == "unit":
        return last in ("ten", "hundred", "scale") and word != "zero"
    if kind in ("teen", "ten"):
        return last in ("hundred", "scale")
    if kind == "hundred":
        return last in ("unit", "teen", "digits") and 0 < number.current < 100
    if kind == "scale":
        return last != "scale" and number.current > 0 and _SCALES[word] < number.smallest_scale
    return False


def _add(number: _Number, kind: str, word: str) -> None:
    if kind == "hundred":
        number.current *= 100
        number.written_decimal = False
    elif kind == "scale":
        scale = _SCALES[word]
        number.total += number.current * scale
        number.current = 0
        number.smallest_scale = scale
        number.written_decimal = False
    else:
        number.current += _UNITS.get(word) or _TEENS.get(word) or _TENS.get(word) or 0
    number.last = kind


class _Reader:
    """Reads the numbers of one text from its word and digit tokens, left to right."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = [_Token(m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
        self.found: list[tuple[int, int, int | float]] = []

    def read(self) -> list[tuple[int, int, int | float]]:
        index = 0
        while index < len(self.tokens):
            index = self._read_from(index)
        return self.found

    def _joined(self, index: int) -> bool:
        """Whether token `index` continues the one before it: only spaces or one hyphen between them."""
        gap = self.text[self.tokens[index - 1].end : self.tokens[index].start]
        return gap == "-" or (gap != "" and gap.isspace())

    def _word_at(self, index: int) -> str:
        return self.tokens[index].text if index < len(self.tokens) else ""

    def _read_from(self, index: int) -> int:
        """Read the number starting at token `index`, if any; return the index of the next unread token."""
        number, index = self._start(index)
        if number is None:
            return index
        while index < len(self.tokens) and self._joined(index):
            word = self.tokens[index].text
            if word == "and" and self._and_continues(number, index):
                index += 1
                continue
            if word == "point" and number.last != "digits":
                index = self._read_decimals(number, index)
                break
            kind = _kind(word)
            if kind is None or not _can_follow(number, kind, word):
                break
            _add(number, kind, word)
            number.end = self.tokens[index].end
            index += 1
        self.found.append((number.start, number.end, number.value))
        return index

    def _start(self, index: int) -> tuple[_Number | None, int]:
        """The number begun by token `index` and the index after its first part, or (None, index + 1)."""
        token = self.tokens[index]
        if token.text[0].isdigit():
            return self._start_digits(token), index + 1
        if token.text in ("a", "an"):
            following = index + 1
            kind = _kind(self._word_at(following))
            if kind not in ("hundred", "scale") or not self._joined(following):
                return None, index + 1
            number = _Number(token.start, self.tokens[following].end, current=1, last="unit")
            _add(number, kind or "", self.tokens[following].text)
            return number, following + 1
        kind = _kind(token.text)
        if kind not in ("unit", "teen", "ten"):
            return None, index + 1
        number = _Number(token.start, token.end)
        _add(number, kind or "", token.text)
        return number, index + 1

    def _start_digits(self, token: _Token) -> _Number | None:
        text = self.text
        before = text[max(0, token.start - 2) : token.start]
        after = text[token.end : token.end + 2]
        glued_before = _is_word_char(before[-1:]) or (before[-1:] in ".," and before[:1].isdigit())
        glued_after = _is_word_char(after[:1]) or (after[:1] in ".," and after[1:2].isdigit())
        if glued_before or glued_after:
            return None
        negative = before[-1:] == "-" and not before[:1].isalnum()
        digits = token.text.replace(",", "")
        value = float(digits) if "." in digits else int(digits)
        return _Number(
            token.start - negative,
            token.end,
            current=-value if negative else value,
            last="digits",
            written_decimal="." in token.text,
        )

    def _and_continues(self, number: _Number, index: int) -> bool:
        """`and` belongs to the number in `one hundred and five`, not in `five and six`."""
        following = index + 1
        return (
            number.last in ("hundred", "scale")
            and following < len(self.tokens)
            and self._joined(following)
            and _kind(self.tokens[following].text) in ("unit", "teen", "ten")
        )

    def _read_decimals(self, number: _Number, index: int) -> int:
        """Read `point three five` after a whole number; return the index after it (`index` if no digit)."""
        digits = ""
        position = index + 1
        while position < len(self.tokens) and self.tokens[position].text in _UNITS and self._joined(position):
            digits += str(_UNITS[self.tokens[position].text])
            position += 1
        if digits:
            number.current = float(f"{int(number.total + number.current)}.{digits}")
            number.total = 0
            number.end = self.tokens[position - 1].end
        return position if digits else index


def find_numbers(text: str) -> list[tuple[int, int, int | float]]:
    """The numbers in `text` as (start, end, value), left to right."""
    return _Reader(text).read()


class NumberEntityExtractor:
    name = "NumberEntityExtractor"

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        ComponentOptions(self.name, config, {})

    def train(self, data: TrainingData, tokenizer: Language) -> None:
        """Nothing to learn: the number grammar is fixed."""

    def extract(self, text: str, doc: Doc) -> list[EntityDict]:
        return [make_entity(ENTITY, value, start, end, self.name) for start, end, value in find_numbers(text)]

    def save(self, directory: Path) -> None:
        """Nothing to save: the number grammar is fixed."""

    @classmethod
    def load(cls, directory: Path) -> NumberEntityExtractor:
        return cls()
