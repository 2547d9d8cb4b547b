from __future__ import annotations

import contextlib
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import ConductorError
from bot.yamlio import MAX_FILE_BYTES, YamlList, YamlMap, parse_yaml, read_yaml, substitute_env


def problem(exc: pytest.ExceptionInfo[ConductorError]) -> tuple[str, int | None]:
    first = exc.value.problems[0]
    return first.message, first.line


def test_yaml_1_2_scalars_like_rasa() -> None:
    data = parse_yaml("a: yes\nb: no\nc: on\nd: true\ne: False\nf: 12\ng: 1.5\nh: null\ni: ~\nj: 0o17\nk: .inf\n")
    assert data == {
        "a": "yes", "b": "no", "c": "on", "d": True, "e": False, "f": 12, "g": 1.5, "h": None, "i": None,
        "j": 15, "k": math.inf,
    }


def test_line_numbers_of_keys_and_items() -> None:
    data = parse_yaml("top:\n  - one\n  - two: 2\n    three: 3\nother: x\n")
    assert isinstance(data, YamlMap)
    assert data.line_of("top") == 1
    assert data.line_of("other") == 5
    items = data["top"]
    assert isinstance(items, YamlList)
    assert items.line_of(0) == 2
    assert items.line_of(1) == 3
    assert items[1].line_of("three") == 4


def test_duplicate_key_is_an_error_with_both_lines(tmp_path: Path) -> None:
    with pytest.raises(ConductorError) as exc:
        parse_yaml("a: 1\nb: 2\na: 3\n", "f.yml")
    message, line = problem(exc)
    assert line == 3 and "first on line 1" in message


def test_malformed_yaml_names_the_line() -> None:
    with pytest.raises(ConductorError) as exc:
        parse_yaml("intents:\n  - greet\n bad: [\n", "domain.yml")
    assert exc.value.problems[0].file == "domain.yml"
    assert exc.value.problems[0].line in (3, 4)


def test_alias_bomb_is_refused_quickly() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i, name in enumerate("bcdefghij"):
        prev = "abcdefghij"[i]
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    with pytest.raises(ConductorError) as exc:
        parse_yaml("\n".join(levels))
    assert "alias" in problem(exc)[0]


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(ConductorError):
        parse_yaml("a: &a\n  b: *a\n")


def test_python_tags_are_refused() -> None:
    with pytest.raises(ConductorError) as exc:
        parse_yaml("a: !!python/object/apply:os.system ['echo hi']\n")
    assert "not valid YAML" in problem(exc)[0] or "tag" in problem(exc)[0]


def test_missing_empty_binary_and_huge_files(tmp_path: Path) -> None:
    with pytest.raises(ConductorError, match="does not exist"):
        read_yaml(tmp_path / "nope.yml")
    empty = tmp_path / "empty.yml"
    empty.write_text("")
    assert read_yaml(empty) is None
    binary = tmp_path / "bin.yml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(ConductorError, match="binary"):
        read_yaml(binary)
    latin = tmp_path / "latin.yml"
    latin.write_bytes("a: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConductorError, match="UTF-8"):
        read_yaml(latin)
    huge = tmp_path / "huge.yml"
    with huge.open("wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(ConductorError, match="limit"):
        read_yaml(huge)
    with pytest.raises(ConductorError, match="folder"):
        read_yaml(tmp_path)


def test_env_substitution_and_missing_variable() -> None:
    data = parse_yaml("slack:\n  token: ${TOKEN}\n  other: plain ${A}-${A}\n", "credentials.yml")
    out = substitute_env(data, "credentials.yml", {"TOKEN": "xoxb-1", "A": "z"})
    assert out["slack"] == {"token": "xoxb-1", "other": "plain z-z"}
    data = parse_yaml("slack:\n  token: ${MISSING_TOKEN}\n", "credentials.yml")
    with pytest.raises(ConductorError) as exc:
        substitute_env(data, "credentials.yml", {})
    first = exc.value.problems[0]
    assert "MISSING_TOKEN" in first.message and first.file == "credentials.yml" and first.line == 2


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_raises_only_conductor_error(text: str) -> None:
    with contextlib.suppress(ConductorError):
        parse_yaml(text)


# YAML forbids control characters and lone surrogates even when escaped, so printable text only.
printable = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=20)
yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | printable,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(printable, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(yaml_values)
def test_round_trip_through_json_compatible_yaml(value: object) -> None:
    import json

    # JSON is valid YAML 1.2: whatever we dump as JSON must read back equal.
    assert parse_yaml(json.dumps(value, ensure_ascii=False)) == value
