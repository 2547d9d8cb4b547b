from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.errors import ConductorError, Problem, Severity
from bot.project.annotations import format_annotated, parse_annotated
from bot.project.nlu_data import EntitySpan


def span(start: int, end: int, text: str, entity: str, value: str | None = None, role: str | None = None,
         group: str | None = None) -> EntitySpan:
    return EntitySpan(start, end, text, entity, text if value is None else value, role, group)


# --- reading ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("annotated", "plain", "entities"),
    [
        ("no markup at all", "no markup at all", []),
        ("fly to [Berlin](city)", "fly to Berlin", [span(7, 13, "Berlin", "city")]),
        ("[NYC](city:New York) now", "NYC now", [span(0, 3, "NYC", "city", "New York")]),
        ("[a](t:x:y)", "a", [span(0, 1, "a", "t", "x:y")]),
        (
            '[LA]{"entity": "city", "value": "Los Angeles", "role": "to", "group": "2"} ok',
            "LA ok",
            [span(0, 2, "LA", "city", "Los Angeles", "to", "2")],
        ),
        ('[LA]{"entity":"city"}', "LA", [span(0, 2, "LA", "city")]),
        (
            'book [Paris][{"entity": "city"}, {"entity": "city", "role": "destination"}]!',
            "book Paris!",
            [span(5, 10, "Paris", "city"), span(5, 10, "Paris", "city", role="destination")],
        ),
        (
            "from [A](c) to [B]{\"entity\": \"c\", \"role\": \"to\"} via [C](c)",
            "from A to B via C",
            [span(5, 6, "A", "c"), span(10, 11, "B", "c", role="to"), span(16, 17, "C", "c")],
        ),
        ("my [bank](account_type) account", "my bank account", [span(3, 7, "bank", "account_type")]),
        ("entity names may have spaces: [x](my entity)", "entity names may have spaces: x",
         [span(30, 31, "x", "my entity")]),
    ],
)
def test_annotation_forms(annotated: str, plain: str, entities: list[EntitySpan]) -> None:
    assert parse_annotated(annotated) == (plain, entities)
    for entity in entities:
        assert plain[entity.start : entity.end] == entity.text


@pytest.mark.parametrize(
    "text",
    [
        "is there a travel alert for [country]",  # from financial-demo: brackets without an annotation
        "see [1] (page 2)",
        "a ] b ) c } d",
        "a lone [ bracket",
        "smile :-[",
        "(just) {braces} here",
        "[a] [b]",
    ],
)
def test_brackets_that_are_not_annotations_stay_text(text: str) -> None:
    assert parse_annotated(text) == (text, [])


def test_text_of_an_annotation_runs_to_the_first_closing_bracket_like_rasa() -> None:
    # Rasa's grammar: the text is everything between the first '[' and the first ']'
    assert parse_annotated("[a [b](e)") == ("a [b", [span(0, 4, "a [b", "e")])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fly to [Berlin](city", "'[Berlin](city' is missing its closing ')'"),
        ('fly to [Berlin]{"entity": "city"', "is missing its closing '}'"),
        ('fly to [Berlin][{"entity": "city"}', "is missing its closing ']'"),
        ("[Berlin]{entity: city}", "is not valid JSON"),
        ("[Berlin]{'entity': 'city'}", "is not valid JSON"),
        ("[Berlin][city]", "is not valid JSON"),
        ('[Berlin]{"role": "to"}', 'has no "entity" key'),
        ('[Berlin][{"entity": "city"}, {"role": "to"}]', 'has no "entity" key'),
        ("[Berlin]{}", 'has no "entity" key'),
        ("[Berlin]()", "has an empty entity name"),
        ("[Berlin]( )", "has an empty entity name"),
        ("[Berlin](:city)", "has an empty entity name"),
        ('[Berlin]{"entity": ""}', "has an empty entity name"),
        ('[Berlin]{"entity": "city", "value": 3}', '"value" in the annotation'),
        ('[Berlin]{"entity": ["city"]}', '"entity" in the annotation'),
        ('[Berlin]["city"]', "must hold JSON objects"),
        ("[Berlin][]", "lists no entities"),
        ("[Berlin](city:)", "has an empty value after ':'"),
        ("[](city)", "marks empty text"),
        ("[a](b [c](d)", "has brackets in its entity name"),
        ("[a][\n]", "cannot be read"),
    ],
)
def test_broken_annotations_are_errors_with_place(text: str, message: str) -> None:
    with pytest.raises(ConductorError) as caught:
        parse_annotated(text, "data/nlu.yml", 12)
    problem = caught.value.problems[0]
    assert message in problem.message
    assert (problem.file, problem.line) == ("data/nlu.yml", 12)
    assert problem.hint
    assert problem.severity is Severity.ERROR


def test_unknown_keys_are_ignored_like_rasa_and_reported_when_asked() -> None:
    warnings: list[Problem] = []
    text = '[LA]{"entity": "city", "rol": "to"}'
    assert parse_annotated(text, "nlu.yml", 3, warnings=warnings) == ("LA", [span(0, 2, "LA", "city")])
    assert [(w.severity, w.line) for w in warnings] == [(Severity.WARNING, 3)]
    assert "rol" in warnings[0].message
    assert parse_annotated(text) == ("LA", [span(0, 2, "LA", "city")])


# --- writing ----------------------------------------------------------------------------------------------

def test_format_uses_the_shortest_form_that_keeps_everything() -> None:
    text = "from Paris to NYC"
    entities = [
        span(5, 10, "Paris", "city", role="from"),
        span(14, 17, "NYC", "city", "New York"),
    ]
    assert format_annotated(text, entities) == (
        'from [Paris]{"entity": "city", "role": "from"} to [NYC]{"entity": "city", "value": "New York"}'
    )
    assert format_annotated("fly to Berlin", [span(7, 13, "Berlin", "city")]) == "fly to [Berlin](city)"
    assert format_annotated("x", [span(0, 1, "x", "a:b")]) == '[x]{"entity": "a:b"}'


def test_format_writes_entities_of_one_span_as_a_list_and_sorts_by_position() -> None:
    entities = [span(4, 5, "b", "e"), span(0, 1, "a", "city"), span(0, 1, "a", "city", role="to")]
    assert format_annotated("a - b", entities) == (
        '[a][{"entity": "city"}, {"entity": "city", "role": "to"}] - [b](e)'
    )


def test_format_escapes_closing_brackets_inside_json_strings() -> None:
    entities = [span(0, 1, "a", "e", "x}y]z"), span(0, 1, "a", "f")]
    written = format_annotated("a", entities)
    assert "x}" not in written and "y]" not in written
    assert parse_annotated(written) == ("a", entities)


def test_format_leaves_out_what_the_markup_cannot_express() -> None:
    entities = [span(0, 5, "hello", "a"), span(3, 8, "lo wo", "b"), span(2, 2, "", "c")]
    assert format_annotated("hello world", entities) == "[hello](a) world"


# --- properties -------------------------------------------------------------------------------------------

_FRAGMENTS = [
    "[", "]", "(", ")", "{", "}", "](", "]{", "][", "a b", "e", ":", ",", '"entity"', '"value"', '"x"',
    '{"entity": "e"}', "\n", "\\", " ",
]
_NEAR_MARKUP = st.lists(st.sampled_from(_FRAGMENTS), max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(_NEAR_MARKUP | st.text(alphabet=st.sampled_from(list("[](){}:e ")) | st.characters(), max_size=40))
def test_arbitrary_text_raises_nothing_but_conductor_error(text: str) -> None:
    try:
        plain, entities = parse_annotated(text, "f.yml", 1)
    except ConductorError as exc:
        assert all(p.file == "f.yml" and p.line == 1 for p in exc.problems)
        return
    for entity in entities:
        assert plain[entity.start : entity.end] == entity.text
        assert entity.entity.strip()


_PLAIN = st.text(alphabet=st.characters(blacklist_characters="[]"), max_size=12)
_NAME = st.text(min_size=1, max_size=12).filter(lambda name: bool(name.strip()))
_OPTIONAL = st.none() | st.text(max_size=8)


@st.composite
def annotated_examples(draw: st.DrawFn) -> tuple[str, list[EntitySpan]]:
    pieces: list[str] = []
    entities: list[EntitySpan] = []
    length = 0
    for _ in range(draw(st.integers(0, 4))):
        before = draw(_PLAIN)
        pieces.append(before)
        length += len(before)
        entity_text = draw(st.text(alphabet=st.characters(blacklist_characters="]"), min_size=1, max_size=10))
        for _ in range(draw(st.integers(1, 2))):
            value = draw(_OPTIONAL)
            entities.append(
                EntitySpan(length, length + len(entity_text), entity_text, draw(_NAME),
                           entity_text if value is None else value, draw(_OPTIONAL), draw(_OPTIONAL))
            )
        pieces.append(entity_text)
        length += len(entity_text)
    pieces.append(draw(_PLAIN))
    return "".join(pieces), entities


@settings(max_examples=300, deadline=None)
@given(annotated_examples())
def test_format_then_parse_gives_back_text_and_entities(example: tuple[str, list[EntitySpan]]) -> None:
    text, entities = example
    assert parse_annotated(format_annotated(text, entities)) == (text, entities)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_parse_format_parse_is_stable(text: str) -> None:
    try:
        plain, entities = parse_annotated(text)
    except ConductorError:
        return
    assume("[" not in plain and "]" not in plain)
    assert parse_annotated(format_annotated(plain, entities)) == (plain, entities)
