"""bot.jsonio: orjson where it can, the standard library where orjson declines, and the same values either way."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import pytest

from bot.jsonio import compact, compact_bytes, loads, loads_fast, lone_surrogate


def test_compact_text_matches_the_standard_library_for_plain_values() -> None:
    value = {"text": "héllo 😀", "n": [1, 2.5, True, None], "nested": {"k": "v"}, 3: "three"}
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert compact(value) == expected
    assert compact_bytes(value) == expected.encode()


def test_what_orjson_declines_goes_through_the_standard_library() -> None:
    assert json.loads(compact({"score": np.float64(0.25)})) == {"score": 0.25}
    assert compact({"big": 2**70 + 1}) == '{"big":1180591620717411303425}'
    assert compact_bytes([2**64]) == b"[18446744073709551616]"


@pytest.mark.parametrize("value", [date(2024, 1, 1), {1, 2}, object(), np.int64(3)])
def test_values_json_cannot_hold_are_refused(value: object) -> None:
    with pytest.raises(TypeError):
        compact({"value": value})
    with pytest.raises(TypeError):
        compact_bytes({"value": value})


def test_dataclasses_are_refused_not_turned_into_objects() -> None:
    @dataclass
    class Point:
        x: int

    with pytest.raises(TypeError):
        compact(Point(1))


def test_nan_and_infinities_become_null() -> None:
    assert compact([math.nan, math.inf, -math.inf, 1.5]) == "[null,null,null,1.5]"


def test_long_integers_are_read_exactly() -> None:
    assert loads('{"id":1180591620717411303425}') == {"id": 2**70 + 1}
    assert loads(b"[12345678901234567890123]") == [12345678901234567890123]
    with pytest.raises(ValueError):
        loads_fast(b"[12345678901234567890123]")


def test_what_only_the_standard_library_reads_is_read() -> None:
    value = loads('{"confidence": NaN}')  # as Rasa's stores may have written it
    assert math.isnan(value["confidence"])
    with pytest.raises(json.JSONDecodeError):
        loads("{not json")


def test_loads_fast_reads_utf8_json() -> None:
    assert loads_fast('{"a":"ü","t":1795681284.3829937}'.encode()) == {"a": "ü", "t": 1795681284.3829937}
    with pytest.raises(ValueError):
        loads_fast(b'{"a": NaN}')


def test_lone_surrogates_are_found_in_strings_and_keys_at_any_depth() -> None:
    assert lone_surrogate(json.loads('{"a": [1, {"b": "x \\ud800"}]}')) == "\\ud800"
    assert lone_surrogate({"k\udc00": 1}) == "\\udc00"
    assert lone_surrogate(json.loads('["\\ud83d\\ude00", "é", null, 2.5]')) is None  # a pair is one character
